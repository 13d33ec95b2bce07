// Ops whose TensorFlow semantics need more than tfjs-converter's defaults: TF2 functional control flow
// (StatelessWhile with library functions, executed by tfjs itself) and Cast to narrow integer types.
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, GraphBuilder, tensorProto, writeSavedModel, type FunctionDef, type GraphDef, type NodeDef, type SignatureDef } from '@tensorsky/saved-model';
import { loadModel } from '../src/index.js';

async function saveModel(graphDef: GraphDef, signature: SignatureDef): Promise<string> {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-')), 'model');
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }],
    },
  });
  return dir;
}

const T = (type: DataType) => ({ type });
const constNode = (name: string, dtype: DataType, value: number): NodeDef => ({
  name,
  op: 'Const',
  attr: { dtype: T(dtype), value: { tensor: tensorProto(dtype, [], [value]) } },
});

// cond(i, x) = i < 5; body(i, x) = (i + 1, x * 2). Both functions have a Const named "k", as TensorFlow
// names them independently per function.
const cond: FunctionDef = {
  signature: {
    name: 'cond',
    input_arg: [{ name: 'i', type: DataType.DT_INT32 }, { name: 'x', type: DataType.DT_FLOAT }],
    output_arg: [{ name: 'r', type: DataType.DT_BOOL }],
  },
  node_def: [constNode('k', DataType.DT_INT32, 5), { name: 'less', op: 'Less', input: ['i', 'k:output:0'], attr: { T: T(DataType.DT_INT32) } }],
  ret: { r: 'less:z:0' },
};
const body: FunctionDef = {
  signature: {
    name: 'body',
    input_arg: [{ name: 'i', type: DataType.DT_INT32 }, { name: 'x', type: DataType.DT_FLOAT }],
    output_arg: [{ name: 'i_next', type: DataType.DT_INT32 }, { name: 'x_next', type: DataType.DT_FLOAT }],
  },
  node_def: [
    constNode('one', DataType.DT_INT32, 1),
    { name: 'add', op: 'AddV2', input: ['i', 'one:output:0'], attr: { T: T(DataType.DT_INT32) } },
    constNode('k', DataType.DT_FLOAT, 2),
    { name: 'mul', op: 'Mul', input: ['x', 'k:output:0'], attr: { T: T(DataType.DT_FLOAT) } },
  ],
  ret: { i_next: 'add:z:0', x_next: 'mul:z:0' },
};

describe('StatelessWhile (TF2 control flow)', () => {
  it('runs cond and body functions: x * 2^5', async () => {
    const nodes: NodeDef[] = [
      { name: 'x', op: 'Placeholder', attr: { dtype: T(DataType.DT_FLOAT), shape: { shape: { unknown_rank: true } } } },
      constNode('k', DataType.DT_INT32, 0),
      {
        name: 'while',
        op: 'StatelessWhile',
        input: ['k', 'x'],
        attr: {
          T: { list: { type: [DataType.DT_INT32, DataType.DT_FLOAT] } },
          cond: { func: { name: 'cond' } },
          body: { func: { name: 'body' } },
          output_shapes: { list: { shape: [{}, { unknown_rank: true }] } },
          parallel_iterations: { i: 10 },
        },
      },
      { name: 'y', op: 'Identity', input: ['while:1'], attr: { T: T(DataType.DT_FLOAT) } },
    ];
    const dir = await saveModel(
      { node: nodes, library: { function: [cond, body] }, versions: { producer: 1286, min_consumer: 12 } },
      {
        inputs: { x: { name: 'x:0', dtype: DataType.DT_FLOAT, tensor_shape: { unknown_rank: true } } },
        outputs: { y: { name: 'y:0', dtype: DataType.DT_FLOAT, tensor_shape: { unknown_rank: true } } },
        method_name: 'tensorflow/serving/predict',
      },
    );
    const model = await loadModel(dir, { backend: 'cpu' });
    const out = await model.predict({ x: [1, -3] });
    expect(out.y).toEqual({ dtype: 'DT_FLOAT', shape: [2], data: new Float32Array([32, -96]) });
    model.dispose();
  });
});

describe('TF1 cond (Switch/Merge)', () => {
  it('runs only the taken branch', async () => {
    // tf.cond(pred, lambda: x * 2, lambda: x + 100) as TensorFlow 1 builds it.
    const b = new GraphBuilder();
    const x = b.placeholder('x', DataType.DT_FLOAT, [-1]);
    const pred = b.placeholder('pred', DataType.DT_BOOL, []);
    const [xFalse, xTrue] = b.switch(x, pred, { name: 'cond/Switch' });
    const doubled = b.mul(b.identity(xTrue, { name: 'cond/switch_t' }), b.constant('cond/two', new Float32Array([2]), []));
    const shifted = b.add(b.identity(xFalse, { name: 'cond/switch_f' }), b.constant('cond/hundred', new Float32Array([100]), []));
    const [y] = b.merge([shifted, doubled], { name: 'cond/Merge' });
    const model = await loadModel(await saveModel(b.toGraphDef(), b.signature({ x, pred }, { y })), { backend: 'cpu' });
    expect(Array.from((await model.predict({ x: [1, 2], pred: true })).y.data as Float32Array)).toEqual([2, 4]);
    expect(Array.from((await model.predict({ x: [1, 2], pred: false })).y.data as Float32Array)).toEqual([101, 102]);
    model.dispose();
  });
});

describe('Cast', () => {
  it('wraps narrowing integer casts modulo 2^bits and truncates floats, as static_cast does', async () => {
    const b = new GraphBuilder();
    const ints = b.placeholder('ints', DataType.DT_INT32, [-1]);
    const floats = b.placeholder('floats', DataType.DT_FLOAT, [-1]);
    const u8 = b.cast(ints, DataType.DT_UINT8, { name: 'u8' });
    const i8 = b.cast(ints, DataType.DT_INT8, { name: 'i8' });
    const i32 = b.cast(floats, DataType.DT_INT32, { name: 'i32' });
    const f32 = b.cast(u8, DataType.DT_FLOAT, { name: 'f32' });
    const model = await loadModel(await saveModel(b.toGraphDef(), b.signature({ ints, floats }, { u8, i8, i32, f32 })), { backend: 'cpu' });
    const out = await model.predict({ ints: [300, -1, 255, 128], floats: [2.7, -2.7, 0.5] });
    expect(out.u8).toEqual({ dtype: 'DT_UINT8', shape: [4], data: new Int32Array([44, 255, 255, 128]) });
    expect(out.i8).toEqual({ dtype: 'DT_INT8', shape: [4], data: new Int32Array([44, -1, -1, -128]) });
    expect(out.i32).toEqual({ dtype: 'DT_INT32', shape: [3], data: new Int32Array([2, -2, 0]) });
    expect(out.f32).toEqual({ dtype: 'DT_FLOAT', shape: [4], data: new Float32Array([44, 255, 255, 128]) });
    model.dispose();
  });
});

describe('tfjs-converter kernels against TensorFlow definitions (hand-computed)', () => {
  it('ResizeBilinear: legacy and half-pixel-center sampling', async () => {
    // 1x2 image [a, b] resized to width 3. TensorFlow maps output x to input x*scale (legacy) or
    // (x+0.5)*scale-0.5 (half_pixel_centers), scale = 2/3, clamping the lower index at 0.
    const b = new GraphBuilder();
    const image = b.placeholder('image', DataType.DT_FLOAT, [1, 1, 2, 1]);
    const legacy = b.resizeBilinear(image, [1, 3], { name: 'legacy' });
    const half = b.resizeBilinear(image, [1, 3], { halfPixelCenters: true, name: 'half' });
    const model = await loadModel(await saveModel(b.toGraphDef(), b.signature({ image }, { legacy, half })), { backend: 'cpu' });
    const [a, c] = [10, 40];
    const out = await model.predict({ image: [[[[a], [c]]]] });
    expect(Array.from(out.legacy.data as Float32Array)).toEqual([a, a + ((c - a) * 2) / 3, c].map(Math.fround));
    expect(Array.from(out.half.data as Float32Array)).toEqual([a, (a + c) / 2, c]);
    model.dispose();
  });

  it('FusedBatchNormV3 (inference) and DepthwiseConv2dNative', async () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DataType.DT_FLOAT, [1, 1, 2, 2]);
    const bn = b.fusedBatchNormV3(
      x,
      b.constant('scale', new Float32Array([2, 3])),
      b.constant('offset', new Float32Array([1, -1])),
      b.constant('mean', new Float32Array([1, 10])),
      b.constant('variance', new Float32Array([4, 9])),
      { epsilon: 0.001, name: 'bn' },
    );
    // Filter [1, 2, in=2, multiplier=2]: output channel c*2+m = sum over kw of x[kw][c] * f[kw][c][m].
    const f = Float32Array.from({ length: 8 }, (_, i) => i + 1);
    const dw = b.depthwiseConv2dNative(x, b.constant('filter', f, [1, 2, 2, 2]), { padding: 'VALID', name: 'dw' });
    const model = await loadModel(await saveModel(b.toGraphDef(), b.signature({ x }, { bn, dw })), { backend: 'cpu' });
    const xs = [1, 10, 2, 20]; // [w0c0, w0c1, w1c0, w1c1]
    const out = await model.predict({ x: [[[[1, 10], [2, 20]]]] });
    const scale = [2, 3], offset = [1, -1], mean = [1, 10], variance = [4, 9];
    const expectedBn = xs.map((v, i) => ((v - mean[i % 2]) / Math.sqrt(variance[i % 2] + 0.001)) * scale[i % 2] + offset[i % 2]);
    (out.bn.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(expectedBn[i], 5));
    const filter = (kw: number, c: number, m: number) => f[kw * 4 + c * 2 + m];
    const expectedDw = [0, 1].flatMap((c) => [0, 1].map((m) => xs[c] * filter(0, c, m) + xs[2 + c] * filter(1, c, m)));
    expect(out.dw.shape).toEqual([1, 1, 1, 4]);
    expect(Array.from(out.dw.data as Float32Array)).toEqual(expectedDw);
    model.dispose();
  });
});
