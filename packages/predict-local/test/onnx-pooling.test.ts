// Pooling and reductions translated to ONNX (MaxPool, AvgPool with TensorFlow's SAME semantics, Mean/Max/
// Sum/Min/Prod, ArgMax) against this package's TF.js executor, plus a hand-computed AvgPool SAME case.
// Tolerance: max abs diff ≤ 1e-5.
import { afterAll, describe, expect, it } from 'vitest';
import { DataType } from '@tensorsky/saved-model';
import { buildGraph, compare, onnxOps, runOrt, translate, uniform } from './onnx-support.js';

const TOLERANCE = 1e-5;
const worst: Record<string, number> = {};
const note = (family: string, diff: number) => (worst[family] = Math.max(worst[family] ?? 0, diff));
afterAll(() => console.log(`onnx pooling/reduce max abs diffs vs TF.js: ${JSON.stringify(worst)}`));

const POOLS = [
  { ksize: [1, 3, 3, 1], strides: [1, 2, 2, 1], padding: 'SAME' as const, input: [9, 10, 3] },
  { ksize: [1, 3, 3, 1], strides: [1, 2, 2, 1], padding: 'VALID' as const, input: [9, 10, 3] },
  { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'SAME' as const, input: [7, 7, 2] },
  { ksize: [1, 3, 3, 1], strides: [1, 1, 1, 1], padding: 'SAME' as const, input: [5, 6, 4] },
  { ksize: [1, 5, 3, 1], strides: [1, 3, 2, 1], padding: 'SAME' as const, input: [11, 8, 2] },
];

describe.each(['MaxPool', 'AvgPool'] as const)('%s', (op) => {
  for (const p of POOLS) {
    for (const batch of [1, 3]) {
      it(`ksize ${p.ksize.slice(1, 3).join('x')} strides ${p.strides[1]},${p.strides[2]} ${p.padding} on ${p.input.join('x')}, batch ${batch}`, async () => {
        const graph = buildGraph((b) => {
          const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...p.input]);
          const opts = { ksize: p.ksize, strides: p.strides, padding: p.padding, name: 'pool' };
          return { inputs: { x }, outputs: { y: op === 'MaxPool' ? b.maxPool(x, opts) : b.avgPool(x, opts) } };
        });
        const feeds = { x: uniform([batch, ...p.input], 3) };
        const { diffs, model } = await compare(graph, feeds);
        note(op, diffs.y);
        expect(diffs.y).toBeLessThanOrEqual(TOLERANCE);
        expect(await onnxOps(model)).toEqual(['Transpose', op === 'MaxPool' ? 'MaxPool' : 'AveragePool', 'Transpose']);
        const dynamic = await compare(graph, feeds, { x: [-1, -1, -1, p.input[2]] });
        expect(dynamic.diffs.y).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }
});

describe('AvgPool SAME, hand-computed (TensorFlow divides by the real pixels in the window)', () => {
  it('2x2 window, stride 1, on a 3x3 image: the last row and column average fewer pixels', async () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [1, 3, 3, 1]);
      return { inputs: { x }, outputs: { y: b.avgPool(x, { ksize: [1, 2, 2, 1], strides: [1, 1, 1, 1], padding: 'SAME', name: 'pool' }) } };
    });
    // SAME: total pad 1 per axis, all of it after (floor(1/2) = 0 before).
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const expected = [(1 + 2 + 4 + 5) / 4, (2 + 3 + 5 + 6) / 4, (3 + 6) / 2, (4 + 5 + 7 + 8) / 4, (5 + 6 + 8 + 9) / 4, (6 + 9) / 2, (7 + 8) / 2, (8 + 9) / 2, 9];
    const out = await runOrt(translate(graph), graph, { x: { data: Float32Array.from(x), shape: [1, 3, 3, 1] } });
    expect(Array.from(out.y as Float32Array)).toEqual(expected);
  });
});

describe('reductions', () => {
  const feeds = { x: uniform([3, 7, 9, 5], 4) };
  const reductions = [
    { op: 'Mean', axes: [1, 2], keepDims: false, onnx: ['Transpose', 'GlobalAveragePool', 'Squeeze'] },
    { op: 'Mean', axes: [1, 2], keepDims: true, onnx: ['Transpose', 'GlobalAveragePool', 'Transpose'] },
    { op: 'Max', axes: [1, 2], keepDims: false, onnx: ['Transpose', 'GlobalMaxPool', 'Squeeze'] },
    { op: 'Mean', axes: [-1], keepDims: false, onnx: ['Transpose', 'ReduceMean'] },
    { op: 'Sum', axes: [1], keepDims: false, onnx: ['Transpose', 'Transpose', 'ReduceSum'] },
    { op: 'Sum', axes: [2], keepDims: true, onnx: ['Transpose', 'ReduceSum', 'Transpose'] },
    { op: 'Min', axes: [0, 3], keepDims: false, onnx: ['Transpose', 'ReduceMin'] },
    { op: 'Prod', axes: [3], keepDims: false, onnx: ['Transpose', 'ReduceProd'] },
    { op: 'Max', axes: [], keepDims: false, onnx: ['Transpose', 'Transpose'] },
  ];
  for (const r of reductions) {
    it(`${r.op} over [${r.axes.join(', ')}] keep_dims ${r.keepDims} after a Relu6 on NCHW`, async () => {
      // A 1x1 MaxPool puts the tensor in NCHW first, as a convolution would.
      const graph = buildGraph((b) => {
        const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 7, 9, 5]);
        const held = b.maxPool(x, { ksize: [1, 1, 1, 1], strides: [1, 1, 1, 1], padding: 'VALID', name: 'pool' });
        const y = b.op(r.op, [held, b.constant('axes', Int32Array.from(r.axes), [r.axes.length])], { keep_dims: r.keepDims }, { name: 'reduce' }).outputs[0];
        return { inputs: { x }, outputs: { y } };
      });
      const { diffs, model } = await compare(graph, feeds);
      note('reduce', diffs.y);
      expect(diffs.y).toBeLessThanOrEqual(TOLERANCE);
      expect((await onnxOps(model)).filter((op) => op !== 'MaxPool')).toEqual(r.onnx);
    });
  }

  it('ArgMax over channels of an NCHW tensor, int32 and int64 outputs', async () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 7, 9, 5]);
      const held = b.maxPool(x, { ksize: [1, 1, 1, 1], strides: [1, 1, 1, 1], padding: 'VALID', name: 'pool' });
      const axis = b.constant('axis', 3, [], DataType.DT_INT32);
      const i64 = b.op('ArgMax', [held, axis], {}, { name: 'argmax64' }).outputs[0];
      const i32 = b.op('ArgMax', [held, axis], { output_type: DataType.DT_INT32 }, { name: 'argmax32' }).outputs[0];
      return { inputs: { x }, outputs: { i64, i32 } };
    });
    const { diffs, onnx, model } = await compare(graph, feeds);
    expect(diffs).toEqual({ i64: 0, i32: 0 });
    expect(onnx.i64).toBeInstanceOf(BigInt64Array);
    expect(onnx.i32).toBeInstanceOf(Int32Array);
    expect((await onnxOps(model)).filter((op) => op === 'Transpose')).toHaveLength(1);
  });
});
