// Elementwise ops translated to ONNX against this package's TF.js executor: activations and unary math,
// broadcasting binary arithmetic between an NCHW-held tensor and constants / runtime tensors of every
// rank (the layout cases), comparisons, logic, Select, AddN, int32 arithmetic.
// Tolerance: max abs diff ≤ 1e-5 (outputs are O(1); exact 0 for integer and boolean results).
import { afterAll, describe, expect, it } from 'vitest';
import { DataType, type GraphBuilder, type GraphTensor } from '@tensorsky/saved-model';
import { buildGraph, compare, maxAbsDiff, onnxOps, runOrt, translate, uniform, type HostTensor } from './onnx-support.js';

const TOLERANCE = 1e-5;
let worst = 0;
afterAll(() => console.log(`onnx elementwise max abs diff vs TF.js: ${worst}`));

/** [N, H, W, C] input held NCHW inside the ONNX graph (a 1x1 MaxPool is layout-sensitive). */
function heldNchw(b: GraphBuilder, x: GraphTensor): GraphTensor {
  return b.maxPool(x, { ksize: [1, 1, 1, 1], strides: [1, 1, 1, 1], padding: 'VALID', name: 'to_nchw' });
}

const SHAPE = [3, 5, 7, 4];
const UNARY: { op: string; lo?: number; hi?: number; attrs?: Record<string, number> }[] = [
  { op: 'Relu' },
  { op: 'Relu6', lo: -8, hi: 8 },
  { op: 'Elu' },
  { op: 'Selu' },
  { op: 'LeakyRelu', attrs: { alpha: 0.1 } },
  { op: 'LeakyRelu' },
  { op: 'Sigmoid', lo: -6, hi: 6 },
  { op: 'Tanh' },
  { op: 'Softplus', lo: -20, hi: 20 },
  { op: 'Erf' },
  { op: 'Exp' },
  { op: 'Log', lo: 0.05, hi: 4 },
  { op: 'Sqrt', lo: 0, hi: 4 },
  { op: 'Rsqrt', lo: 0.1, hi: 4 },
  { op: 'Reciprocal', lo: 0.2, hi: 4 },
  { op: 'Square' },
  { op: 'Neg' },
  { op: 'Abs' },
  { op: 'Sign' },
  { op: 'Floor', lo: -5, hi: 5 },
  { op: 'Ceil', lo: -5, hi: 5 },
  { op: 'Sin', lo: -4, hi: 4 },
  { op: 'Cos', lo: -4, hi: 4 },
];

describe('unary ops, on an NCHW-held tensor and on a rank-2 one', () => {
  for (const u of UNARY) {
    it(`${u.op}${u.attrs ? ` ${JSON.stringify(u.attrs)}` : ''}`, async () => {
      const graph = buildGraph((b) => {
        const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...SHAPE.slice(1)]);
        const m = b.placeholder('m', DataType.DT_FLOAT, [-1, 6]);
        const apply = (t: GraphTensor, name: string) => b.op(u.op, [t], u.attrs ?? {}, { name }).outputs[0];
        return { inputs: { x, m }, outputs: { y: apply(heldNchw(b, x), 'y'), z: apply(m, 'z') } };
      });
      const { diffs, model } = await compare(graph, { x: uniform(SHAPE, 7, u.lo, u.hi), m: uniform([2, 6], 8, u.lo, u.hi) });
      worst = Math.max(worst, diffs.y, diffs.z);
      expect(diffs.y).toBeLessThanOrEqual(TOLERANCE);
      expect(diffs.z).toBeLessThanOrEqual(TOLERANCE);
      // One Transpose in, one out: the op itself runs on NCHW.
      expect((await onnxOps(model)).filter((op) => op === 'Transpose')).toHaveLength(2);
    });
  }

  it('Softsign (TF.js has no kernel for it): against x / (1 + |x|) computed here', async () => {
    const graph = buildGraph((b) => {
      const m = b.placeholder('m', DataType.DT_FLOAT, [-1, 6]);
      return { inputs: { m }, outputs: { y: b.op('Softsign', [m], {}, { name: 'y' }).outputs[0] } };
    });
    const m = uniform([4, 6], 3, -10, 10);
    const out = await runOrt(translate(graph), graph, { m });
    const expected = Array.from(m.data as Float32Array, (v) => v / (1 + Math.abs(v)));
    expect(maxAbsDiff(out.y, expected)).toBeLessThanOrEqual(1e-6);
  });

  it('Round: half to even in both', async () => {
    const graph = buildGraph((b) => {
      const m = b.placeholder('m', DataType.DT_FLOAT, [-1]);
      return { inputs: { m }, outputs: { y: b.op('Round', [m], {}, { name: 'y' }).outputs[0] } };
    });
    const halves = Float32Array.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -3.7]);
    const { diffs, onnx } = await compare(graph, { m: { data: halves, shape: [8] } });
    expect(diffs.y).toBe(0);
    expect(Array.from(onnx.y as Float32Array)).toEqual([-2, -2, -0, 0, 2, 2, 0, -4]);
  });
});

type Other = { kind: 'const'; shape: number[] } | { kind: 'runtime'; shape: number[] };
const BROADCASTS: { name: string; other: Other; transposes: number }[] = [
  { name: 'constant [C]', other: { kind: 'const', shape: [4] }, transposes: 2 },
  { name: 'constant [1, 1, 1, C]', other: { kind: 'const', shape: [1, 1, 1, 4] }, transposes: 2 },
  { name: 'constant [W, C]', other: { kind: 'const', shape: [7, 4] }, transposes: 2 },
  { name: 'constant [H, W, 1]', other: { kind: 'const', shape: [5, 7, 1] }, transposes: 2 },
  { name: 'constant scalar', other: { kind: 'const', shape: [] }, transposes: 2 },
  { name: 'constant [N, H, W, C]', other: { kind: 'const', shape: SHAPE }, transposes: 2 },
  { name: 'runtime [N, H, W, C] (transposed to NCHW)', other: { kind: 'runtime', shape: SHAPE }, transposes: 3 },
  { name: 'runtime [N, 1, 1, C]', other: { kind: 'runtime', shape: [3, 1, 1, 4] }, transposes: 3 },
  { name: 'runtime [C] (unsqueezed, transposed)', other: { kind: 'runtime', shape: [4] }, transposes: 3 },
];
const BINARY = ['AddV2', 'Add', 'Sub', 'Mul', 'RealDiv', 'Div', 'Maximum', 'Minimum', 'Pow', 'SquaredDifference', 'FloorDiv'];

describe('binary ops: NCHW-held tensor against each kind of operand, both operand orders', () => {
  for (const op of BINARY) {
    for (const c of BROADCASTS) {
      it(`${op} with ${c.name}`, async () => {
        const positive = op === 'Pow' || op === 'RealDiv' || op === 'Div' || op === 'FloorDiv';
        const [lo, hi] = positive ? [0.5, 2] : [-1, 1];
        const otherData = uniform(c.other.shape, 17, lo, hi);
        const graph = buildGraph((b) => {
          const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...SHAPE.slice(1)]);
          const inputs: Record<string, GraphTensor> = { x };
          let other: GraphTensor;
          if (c.other.kind === 'const') other = b.constant('other', otherData.data as Float32Array, c.other.shape);
          else other = inputs.o = b.placeholder('o', DataType.DT_FLOAT, c.other.shape);
          const held = heldNchw(b, x);
          const left = b.op(op, [held, other], {}, { name: 'left' }).outputs[0];
          const right = b.op(op, [other, held], {}, { name: 'right' }).outputs[0];
          return { inputs, outputs: { left, right } };
        });
        const feeds: Record<string, HostTensor> = { x: uniform(SHAPE, 9, lo, hi) };
        if (c.other.kind === 'runtime') feeds.o = otherData;
        const { diffs, model } = await compare(graph, feeds);
        worst = Math.max(worst, diffs.left, diffs.right);
        expect(diffs.left).toBeLessThanOrEqual(TOLERANCE);
        expect(diffs.right).toBeLessThanOrEqual(TOLERANCE);
        // In, out (left), out (right), and one for a runtime operand brought to NCHW.
        expect((await onnxOps(model)).filter((o) => o === 'Transpose')).toHaveLength(c.transposes + 1);
      });
    }
  }

  it('in TensorFlow layout (no NCHW anywhere): rank-3 against rank-1 and scalar', async () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 6, 5]);
      const y = b.placeholder('y', DataType.DT_FLOAT, [5]);
      const s = b.add(b.mul(x, y, { name: 'mul' }), b.constant('k', 2.5), { name: 'sum' });
      return { inputs: { x, y }, outputs: { s } };
    });
    const { diffs, model } = await compare(graph, { x: uniform([2, 6, 5], 1), y: uniform([5], 2) });
    expect(diffs.s).toBeLessThanOrEqual(TOLERANCE);
    expect(await onnxOps(model)).toEqual(['Mul', 'Add']);
  });

  it('int32 arithmetic', async () => {
    const graph = buildGraph((b) => {
      const i = b.placeholder('i', DataType.DT_INT32, [-1]);
      const j = b.placeholder('j', DataType.DT_INT32, [-1]);
      const three = b.constant('three', 3, [], DataType.DT_INT32);
      return { inputs: { i, j }, outputs: { y: b.sub(b.mul(b.add(i, j), three), b.apply('Maximum', [i, j])), z: b.apply('Minimum', [i, three]) } };
    });
    const ints = (seed: number) => ({ data: Int32Array.from(uniform([9], seed).data as Float32Array, (v) => Math.round(v * 1000)), shape: [9] });
    const { diffs } = await compare(graph, { i: ints(3), j: ints(4) });
    expect(diffs).toEqual({ y: 0, z: 0 });
  });
});

describe('comparisons, logic, Select, AddN', () => {
  it('Less/Greater/Equal/NotEqual/LessEqual/GreaterEqual → LogicalAnd/Or/Not → SelectV2, on NCHW', async () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...SHAPE.slice(1)]);
      const held = heldNchw(b, x);
      const zero = b.constant('zero', new Float32Array([0, 0.25, -0.25, 0.5]), [4]);
      const cmp = (op: string) => b.op(op, [held, zero], {}, { name: op }).outputs[0];
      const both = b.op('LogicalAnd', [cmp('Less'), cmp('NotEqual')], {}, { name: 'and' }).outputs[0];
      const either = b.op('LogicalOr', [cmp('Greater'), cmp('Equal')], {}, { name: 'or' }).outputs[0];
      const neither = b.op('LogicalNot', [b.op('LogicalOr', [cmp('LessEqual'), cmp('GreaterEqual')], {}, { name: 'or2' }).outputs[0]], {}, { name: 'not' }).outputs[0];
      const picked = b.op('SelectV2', [both, held, b.constant('minus', -7)], {}, { name: 'select' }).outputs[0];
      return { inputs: { x }, outputs: { picked, either: b.cast(either, DataType.DT_FLOAT, { name: 'f' }), neither: b.cast(neither, DataType.DT_FLOAT, { name: 'g' }) } };
    });
    // Values on a grid so that equality happens.
    const x = uniform(SHAPE, 5);
    const grid = Float32Array.from(x.data as Float32Array, (v) => Math.round(v * 4) / 4);
    const { diffs, model } = await compare(graph, { x: { data: grid, shape: SHAPE } });
    expect(diffs).toEqual({ picked: 0, either: 0, neither: 0 });
    expect((await onnxOps(model)).filter((o) => o === 'Transpose')).toHaveLength(4);
  });

  it('AddN of three NCHW tensors', async () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...SHAPE.slice(1)]);
      const held = heldNchw(b, x);
      const twice = b.mul(held, b.constant('two', 2), { name: 'twice' });
      return { inputs: { x }, outputs: { y: b.op('AddN', [[held, twice, b.relu(held)]], {}, { name: 'sum' }).outputs[0] } };
    });
    const { diffs, model } = await compare(graph, { x: uniform(SHAPE, 6) });
    expect(diffs.y).toBeLessThanOrEqual(TOLERANCE);
    expect((await onnxOps(model)).filter((o) => o === 'Transpose')).toHaveLength(2);
  });
});
