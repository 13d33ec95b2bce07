// What the translator refuses: ops without a translator and attr values it cannot translate exactly are
// all listed, once each, in one UntranslatableGraphError; nothing downstream of them is reported twice.
import { describe, expect, it } from 'vitest';
import { DataType } from '@tensorsky/saved-model';
import { UntranslatableGraphError } from '../src/onnx/index.js';
import { buildGraph, ints, nodesGraph, str, T, translate, values } from './onnx-support.js';

function refused(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UntranslatableGraphError);
    return (err as UntranslatableGraphError).ops;
  }
  throw new Error('translation did not fail');
}

describe('UntranslatableGraphError', () => {
  it('names an op without a translator, once, however often it occurs', () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 6]);
      const axis = b.constant('axis', 1, [], DataType.DT_INT32);
      const c1 = b.op('Cumsum', [x, axis], {}, { name: 'c1' }).outputs[0];
      const c2 = b.op('Cumsum', [b.relu(c1), axis], {}, { name: 'c2' }).outputs[0];
      return { inputs: { x }, outputs: { y: b.add(c2, x) } };
    });
    expect(refused(() => translate(graph))).toEqual(['Cumsum']);
  });

  it('lists every refused op and attr value, including after an untranslatable one', () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 8, 8, 3]);
      const filter = b.constant('filter', values(3 * 3 * 3 * 4, 1), [3, 3, 3, 4]);
      const nchw = b.conv2d(x, filter, { strides: [1, 1, 1, 1], padding: 'SAME', dataFormat: 'NCHW', name: 'conv_nchw' });
      const paddings = b.constant('paddings', Int32Array.from([0, 0, 1, 1, 1, 1, 0, 0]), [4, 2]);
      const symmetric = b.op('MirrorPad', [x, paddings], { mode: 'SYMMETRIC' }, { name: 'mirror' }).outputs[0];
      const axis = b.constant('axis', 1, [], DataType.DT_INT32);
      // An unknown op after an untranslatable one is still named; a known one (Relu) is not.
      const after = b.op('Cumsum', [b.relu(nchw), axis], {}, { name: 'cumsum' }).outputs[0];
      const trained = b.op(
        'FusedBatchNormV3',
        [x, ...['scale', 'offset', 'mean', 'variance'].map((n) => b.constant(n, new Float32Array(3), [3]))],
        { epsilon: 0.001, is_training: true },
        { name: 'bn' },
      ).outputs[0];
      return { inputs: { x }, outputs: { a: after, b: symmetric, c: trained } };
    });
    expect(refused(() => translate(graph)).sort()).toEqual(['Conv2D(data_format=NCHW)', 'Cumsum', 'FusedBatchNormV3(is_training=true)', 'MirrorPad(mode=SYMMETRIC)']);
  });

  it('refuses non-constant slice parameters, dtypes ONNX Runtime lacks here, unfed placeholders', () => {
    const graph = nodesGraph(
      [
        { name: 'x', op: 'Placeholder', attr: { dtype: T(DataType.DT_FLOAT), shape: { shape: { unknown_rank: true } } } },
        { name: 'begin', op: 'Placeholder', attr: { dtype: T(DataType.DT_INT32), shape: { shape: { unknown_rank: true } } } },
        { name: 'other', op: 'Placeholder', attr: { dtype: T(DataType.DT_FLOAT), shape: { shape: { unknown_rank: true } } } },
        { name: 'size', op: 'Const', attr: { dtype: T(DataType.DT_INT32), value: { tensor: { dtype: DataType.DT_INT32, tensor_shape: { dim: [{ size: 1 }] }, int_val: [2] } } } },
        { name: 'slice', op: 'Slice', input: ['x', 'begin', 'size'], attr: { T: T(DataType.DT_FLOAT), Index: T(DataType.DT_INT32) } },
        { name: 'c', op: 'Const', attr: { dtype: T(DataType.DT_COMPLEX64), value: { tensor: { dtype: DataType.DT_COMPLEX64, tensor_shape: { dim: [{ size: 1 }] }, scomplex_val: [1, 2] } } } },
        { name: 'complex', op: 'Identity', input: ['c'], attr: { T: T(DataType.DT_COMPLEX64) } },
        { name: 'sum', op: 'AddV2', input: ['slice', 'other'], attr: { T: T(DataType.DT_FLOAT) } },
        {
          name: 'conv',
          op: 'Conv2D',
          input: ['x', 'x'],
          attr: { T: T(DataType.DT_FLOAT), strides: ints(1, 2, 2, 1), padding: str('SAME'), dilations: ints(1, 2, 2, 1) },
        },
      ],
      { x: { tensor: 'x:0', dtype: DataType.DT_FLOAT }, begin: { tensor: 'begin:0', dtype: DataType.DT_INT32 } },
      { s: { tensor: 'sum:0', dtype: DataType.DT_FLOAT }, c: { tensor: 'complex:0', dtype: DataType.DT_COMPLEX64 }, conv: { tensor: 'conv:0', dtype: DataType.DT_FLOAT } },
    );
    // "other" is a Placeholder outside the signature: nothing feeds it.
    const ops = refused(() => translate(graph));
    expect(ops.sort()).toEqual(['Const(dtype=DT_COMPLEX64)', 'Conv2D(filter of unknown shape)', 'Placeholder(not fed)', 'Slice(non-constant begin)']);
  });
});
