// Convolution family translated to ONNX (Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput, BiasAdd and
// FusedBatchNormV3 after them) against this package's TF.js executor, an independent implementation of
// TensorFlow's kernels. Tolerance: max abs diff ≤ 1e-5 (values in [-1, 1], at most ~300 products summed).
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { DataType, type GraphBuilder, type GraphTensor } from '@tensorsky/saved-model';
import { buildGraph, compare, ints, maxAbsDiff, nodesGraph, onnxOps, runOrt, size, str, T, translate, uniform, values } from './onnx-support.js';

const TOLERANCE = 1e-5;
const worst: Record<string, number> = {};
afterAll(() => console.log(`onnx conv-family max abs diffs vs TF.js (or the hand-written reference): ${JSON.stringify(worst)}`));
function within(family: string, diff: number) {
  worst[family] = Math.max(worst[family] ?? 0, diff);
  expect(diff).toBeLessThanOrEqual(TOLERANCE);
}

interface ConvCase {
  name: string;
  input: number[];
  filter: number[];
  strides: number[];
  padding: 'SAME' | 'VALID' | 'EXPLICIT';
  explicit?: number[];
  dilations?: number[];
}

// Odd and even sizes, strides 2 and 3, asymmetric SAME pads (in 10, k 3, s 2: 0 before, 1 after).
const CONVS: ConvCase[] = [
  { name: '3x3 stride 2 SAME, odd/even sizes', input: [10, 11, 3], filter: [3, 3, 3, 5], strides: [1, 2, 2, 1], padding: 'SAME' },
  { name: '3x3 stride 1 VALID', input: [9, 7, 4], filter: [3, 3, 4, 6], strides: [1, 1, 1, 1], padding: 'VALID' },
  { name: '2x4 strides 2,1 SAME (asymmetric pads)', input: [9, 8, 3], filter: [2, 4, 3, 4], strides: [1, 2, 1, 1], padding: 'SAME' },
  { name: '5x5 stride 3 SAME', input: [13, 14, 2], filter: [5, 5, 2, 3], strides: [1, 3, 3, 1], padding: 'SAME' },
  { name: '1x1 stride 2 VALID', input: [9, 9, 8], filter: [1, 1, 8, 16], strides: [1, 2, 2, 1], padding: 'VALID' },
  { name: '3x3 dilation 2 SAME', input: [11, 10, 3], filter: [3, 3, 3, 4], strides: [1, 1, 1, 1], padding: 'SAME', dilations: [1, 2, 2, 1] },
  { name: '3x3 EXPLICIT pads 1,2 / 0,1', input: [8, 9, 3], filter: [3, 3, 3, 4], strides: [1, 2, 2, 1], padding: 'EXPLICIT', explicit: [0, 0, 1, 2, 0, 1, 0, 0] },
];

function convGraph(c: ConvCase, op: 'Conv2D' | 'DepthwiseConv2dNative', then?: (b: GraphBuilder, y: GraphTensor) => GraphTensor) {
  return buildGraph((b) => {
    const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...c.input]);
    const filter = b.constant('filter', values(size(c.filter), 11), c.filter);
    const opts = { strides: c.strides, padding: c.padding, explicitPaddings: c.explicit, dilations: c.dilations, name: 'conv' };
    const y = op === 'Conv2D' ? b.conv2d(x, filter, opts) : b.depthwiseConv2dNative(x, filter, opts);
    return { inputs: { x }, outputs: { y: then ? then(b, y) : y } };
  });
}

describe('Conv2D', () => {
  for (const c of CONVS) {
    for (const batch of [1, 3]) {
      it(`${c.name}, batch ${batch}`, async () => {
        const graph = convGraph(c, 'Conv2D');
        const feeds = { x: uniform([batch, ...c.input], 5) };
        // Static spatial sizes (explicit pads) ...
        const { diffs, model } = await compare(graph, feeds);
        within('Conv2D', diffs.y);
        expect(await onnxOps(model)).toEqual(['Transpose', 'Conv', 'Transpose']);
        // ... and unknown ones (auto_pad SAME_UPPER, or static pads for stride 1), where TensorFlow's rule must hold too.
        if (c.padding !== 'EXPLICIT') {
          const dynamic = await compare(graph, feeds, { x: [-1, -1, -1, c.input[2]] });
          within('Conv2D', dynamic.diffs.y);
        }
      });
    }
  }

  it('grouped convolution (filter input channels < input channels), against per-group TF.js convolutions', async () => {
    const filterShape = [3, 3, 2, 6];
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 7, 7, 4]);
      const filter = b.constant('filter', values(size(filterShape), 3), filterShape);
      return { inputs: { x }, outputs: { y: b.conv2d(x, filter, { strides: [1, 2, 2, 1], padding: 'SAME', name: 'conv' }) } };
    });
    const feeds = { x: uniform([2, 7, 7, 4], 9) };
    const model = translate(graph);
    const onnx = await runOrt(model, graph, feeds);
    // TensorFlow: group g convolves input channels [2g, 2g+2) with output channels [3g, 3g+3).
    const expected = tf.tidy(() => {
      const x = tf.tensor4d(feeds.x.data as Float32Array, [2, 7, 7, 4]);
      const filter = tf.tensor4d(values(size(filterShape), 3), filterShape as [number, number, number, number]);
      const groups = [0, 1].map((g) =>
        tf.conv2d(x.slice([0, 0, 0, 2 * g], [-1, -1, -1, 2]), filter.slice([0, 0, 0, 3 * g], [-1, -1, -1, 3]), 2, 'same'),
      );
      return tf.concat(groups, 3).dataSync();
    });
    within('Conv2D grouped', maxAbsDiff(onnx.y, expected));
  });
});

describe('DepthwiseConv2dNative', () => {
  const cases: ConvCase[] = [
    { name: '3x3 multiplier 2 stride 2 SAME', input: [9, 10, 3], filter: [3, 3, 3, 2], strides: [1, 2, 2, 1], padding: 'SAME' },
    { name: '3x3 multiplier 1 stride 1 VALID', input: [7, 7, 4], filter: [3, 3, 4, 1], strides: [1, 1, 1, 1], padding: 'VALID' },
    { name: '5x5 multiplier 3 stride 2 SAME', input: [11, 11, 2], filter: [5, 5, 2, 3], strides: [1, 2, 2, 1], padding: 'SAME' },
  ];
  for (const c of cases) {
    for (const batch of [1, 3]) {
      it(`${c.name}, batch ${batch}`, async () => {
        const graph = convGraph(c, 'DepthwiseConv2dNative');
        const feeds = { x: uniform([batch, ...c.input], 6) };
        const { diffs, model } = await compare(graph, feeds);
        within('DepthwiseConv2dNative', diffs.y);
        expect(await onnxOps(model)).toEqual(['Transpose', 'Conv', 'Transpose']);
        const dynamic = await compare(graph, feeds, { x: [-1, -1, -1, c.input[2]] });
        within('DepthwiseConv2dNative', dynamic.diffs.y);
      });
    }
  }
});

describe('Conv2DBackpropInput (ConvTranspose)', () => {
  // Forward convolutions of input_sizes [N, H, W, I]; out_backprop is the forward output.
  const cases = [
    { name: 'stride 2 SAME, odd output 9x7', sizes: [9, 7], dy: [5, 4], filter: [3, 3, 4, 2], strides: [1, 2, 2, 1], padding: 'SAME' },
    { name: 'stride 2 SAME, even output 8x10', sizes: [8, 10], dy: [4, 5], filter: [4, 4, 3, 5], strides: [1, 2, 2, 1], padding: 'SAME' },
    { name: 'stride 3 VALID, output 11x10', sizes: [11, 10], dy: [3, 3], filter: [3, 3, 2, 3], strides: [1, 3, 3, 1], padding: 'VALID' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const [fi, fo] = [c.filter[2], c.filter[3]];
      const batch = 2;
      const graph = nodesGraph(
        [
          { name: 'dy', op: 'Placeholder', attr: { dtype: T(DataType.DT_FLOAT), shape: { shape: { unknown_rank: true } } } },
          { name: 'sizes', op: 'Const', attr: { dtype: T(DataType.DT_INT32), value: { tensor: { dtype: DataType.DT_INT32, tensor_shape: { dim: [{ size: 4 }] }, int_val: [batch, ...c.sizes, fi] } } } },
          {
            name: 'filter',
            op: 'Const',
            attr: {
              dtype: T(DataType.DT_FLOAT),
              value: { tensor: { dtype: DataType.DT_FLOAT, tensor_shape: { dim: c.filter.map((d) => ({ size: d })) }, float_val: [...values(size(c.filter), 4)] } },
            },
          },
          {
            name: 'deconv',
            op: 'Conv2DBackpropInput',
            input: ['sizes', 'filter', 'dy'],
            attr: {
              T: T(DataType.DT_FLOAT),
              strides: ints(...c.strides),
              padding: str(c.padding),
              data_format: str('NHWC'),
              dilations: ints(1, 1, 1, 1),
              use_cudnn_on_gpu: { b: true },
              explicit_paddings: { list: {} },
            },
          },
        ],
        { dy: { tensor: 'dy:0', dtype: DataType.DT_FLOAT, shape: [-1, ...c.dy, fo] } },
        { y: { tensor: 'deconv:0', dtype: DataType.DT_FLOAT } },
      );
      const { diffs, tfjs } = await compare(graph, { dy: uniform([batch, ...c.dy, fo], 8) });
      expect(tfjs.y.length).toBe(batch * c.sizes[0] * c.sizes[1] * fi);
      within('Conv2DBackpropInput', diffs.y);
    });
  }
});

describe('BiasAdd and FusedBatchNormV3 after a convolution', () => {
  const c = CONVS[0];
  const bias = (b: GraphBuilder, y: GraphTensor) => b.biasAdd(y, b.constant('bias', values(5, 21), [5]), { name: 'bias_add' });
  const bn = (b: GraphBuilder, y: GraphTensor, name = 'bn') => {
    const channel = (seed: number, lo: number) => Float32Array.from(values(5, seed), (v) => lo + Math.abs(v));
    return b.fusedBatchNormV3(
      y,
      b.constant(`${name}/gamma`, channel(31, 0.5), [5]),
      b.constant(`${name}/beta`, values(5, 32), [5]),
      b.constant(`${name}/mean`, values(5, 33), [5]),
      b.constant(`${name}/variance`, channel(34, 0.2), [5]),
      { epsilon: 0.001, name },
    );
  };
  const feeds = { x: uniform([3, ...c.input], 12) };

  it('folds BiasAdd → Relu into the Conv (bias input)', async () => {
    const graph = convGraph(c, 'Conv2D', (b, y) => b.relu(bias(b, y), { name: 'relu' }));
    const { diffs, model } = await compare(graph, feeds);
    within('BiasAdd/FusedBatchNormV3', diffs.y);
    expect(await onnxOps(model)).toEqual(['Transpose', 'Conv', 'Relu', 'Transpose']);
  });

  it('folds FusedBatchNormV3 into the Conv weights and bias, also after a BiasAdd', async () => {
    for (const then of [(b: GraphBuilder, y: GraphTensor) => bn(b, y), (b: GraphBuilder, y: GraphTensor) => bn(b, bias(b, y))]) {
      const graph = convGraph(c, 'Conv2D', (b, y) => b.relu(then(b, y), { name: 'relu' }));
      const { diffs, model } = await compare(graph, feeds);
      within('BiasAdd/FusedBatchNormV3', diffs.y);
      expect(await onnxOps(model)).toEqual(['Transpose', 'Conv', 'Relu', 'Transpose']);
    }
  });

  it('folds into a depthwise convolution (channels c*M+m)', async () => {
    const dw: ConvCase = { name: 'dw', input: [9, 9, 5], filter: [3, 3, 5, 1], strides: [1, 2, 2, 1], padding: 'SAME' };
    const graph = convGraph(dw, 'DepthwiseConv2dNative', (b, y) => bn(b, y));
    const { diffs, model } = await compare(graph, { x: uniform([2, 9, 9, 5], 13) });
    within('BiasAdd/FusedBatchNormV3', diffs.y);
    expect(await onnxOps(model)).toEqual(['Transpose', 'Conv', 'Transpose']);
  });

  it('keeps BatchNormalization and Add where the convolution output is also read elsewhere', async () => {
    const graph = buildGraph((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...c.input]);
      const filter = b.constant('filter', values(size(c.filter), 11), c.filter);
      const y = b.conv2d(x, filter, { strides: c.strides, padding: 'SAME', name: 'conv' });
      const normalized = bn(b, y);
      const biased = bias(b, y);
      return { inputs: { x }, outputs: { y: b.add(normalized, biased, { name: 'sum' }), conv: y } };
    });
    const { diffs, model } = await compare(graph, feeds);
    within('BiasAdd/FusedBatchNormV3', diffs.y);
    within('BiasAdd/FusedBatchNormV3', diffs.conv);
    const ops = await onnxOps(model);
    expect(ops.filter((op) => op === 'BatchNormalization')).toHaveLength(1);
    expect(ops.filter((op) => op === 'Transpose')).toHaveLength(3);
  });
});
