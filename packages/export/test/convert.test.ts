// layersModelToGraph: the converted graph, run as a TensorFlow graph by predict-local's executor, must
// compute what the TF.js model computes; node names follow layer names; every node passes TensorFlow's
// OpDefs; what cannot be converted fails with the layer's name.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '@tensorsky/predict-local';
import { DataType, GraphBuilder, validateGraph, writeSavedModel, type NodeDef } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONVERTED_LAYER_CLASSES,
  initTfjs,
  LayerConversionError,
  layersModelToGraph,
  randomWeights,
  SUPPORTED_LAYER_CLASSES,
  type ConvertOptions,
} from '../src/index.js';
import { buildDecoderSequenceZoo, buildLayerZoo, maxAbsDiff } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  await initTfjs('wasm');
  temp = await makeTempDir('convert');
});
afterAll(() => temp.cleanup());

interface Converted {
  nodes: NodeDef[];
  folded: { batchNorm: string; into: string }[];
  run: (x: tf.Tensor) => Promise<Float32Array>;
}

let count = 0;
/** Converts `model` behind a float Placeholder "x" and saves it as a SavedModel run by the local executor. */
async function convert(model: tf.LayersModel, options: ConvertOptions = {}): Promise<Converted> {
  const g = new GraphBuilder();
  const x = g.placeholder('x', DataType.DT_FLOAT, model.inputs[0].shape.map((d) => d ?? -1));
  const { output, foldedBatchNorms } = layersModelToGraph(model, g, x, options);
  const graphDef = g.toGraphDef();
  const signature = g.signature({ x }, { y: output });
  expect(validateGraph(graphDef, undefined, { signatures: { serving_default: signature } }).issues).toEqual([]);
  const dir = join(temp.dir, `model-${count++}`);
  await writeSavedModel(dir, {
    savedModel: { meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }] },
  });
  return {
    nodes: graphDef.node ?? [],
    folded: foldedBatchNorms,
    run: async (input) => {
      const executor = await loadModel(dir, { backend: 'wasm' });
      try {
        return (await executor.predict({ x: input })).y.data as Float32Array;
      } finally {
        executor.dispose();
      }
    },
  };
}

/** Seeded inputs in the [-1, 1] range the zoo's classifier is calibrated for. */
function images(n: number, model: tf.LayersModel): tf.Tensor {
  return tf.randomUniform([n, ...(model.inputs[0].shape.slice(1) as number[])], -1, 1, 'float32', 42);
}

async function expectSameOutputs(model: tf.LayersModel, converted: Converted, tolerance: number): Promise<void> {
  const x = images(3, model);
  const expected = model.predict(x) as tf.Tensor;
  expect(maxAbsDiff(await converted.run(x), await expected.data())).toBeLessThanOrEqual(tolerance);
  tf.dispose([x, expected]);
}

describe('layersModelToGraph', () => {
  let zoo: tf.LayersModel;
  beforeAll(async () => {
    zoo = buildLayerZoo();
    await randomWeights(zoo, 5);
  });
  afterAll(() => zoo.dispose());

  it('converts every supported layer class to ops that compute what TF.js computes', async () => {
    const converted = await convert(zoo);
    expect(converted.folded).toEqual([]);
    await expectSameOutputs(zoo, converted, 1e-6);
  });

  it('refuses Conv1D with causal padding (TF.js cannot compute it either, so there is no reference)', async () => {
    const model = tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [8, 3], filters: 2, kernelSize: 3, padding: 'causal', name: 'causal' })] });
    try {
      expect(() => layersModelToGraph(model, new GraphBuilder(), new GraphBuilder().placeholder('x', DataType.DT_FLOAT, [-1, 8, 3]))).toThrow(
        "layer 'causal' (Conv1D) uses padding 'causal'; only 'same' and 'valid' are supported",
      );
    } finally {
      model.dispose();
    }
  });

  it('converts the decoder and sequence layers (Conv2DTranspose, UpSampling2D, Conv1D, LayerNormalization, ...) like TF.js', async () => {
    const model = buildDecoderSequenceZoo();
    await randomWeights(model, 6);
    try {
      const converted = await convert(model);
      await expectSameOutputs(model, converted, 1e-6);
      const ops = new Map(converted.nodes.map((n) => [n.name, n.op]));
      expect(ops.get('up_conv/conv2d_transpose')).toBe('Conv2DBackpropInput');
      expect(ops.get('up_conv/gelu/Erf')).toBe('Erf');
      expect(ops.get('leaky/LeakyRelu')).toBe('LeakyRelu');
      expect(ops.get('down/mish/Softplus')).toBe('Softplus');
      expect(ops.get('upsample/ResizeNearestNeighbor')).toBe('ResizeNearestNeighbor');
      expect(ops.get('causal/conv1d')).toBe('Conv2D');
      expect(ops.get('causal/conv1d/Squeeze')).toBe('Squeeze');
      expect(ops.get('layer_norm/batchnorm/Rsqrt')).toBe('Rsqrt');
      expect(ops.get('gap1d/Mean')).toBe('Mean');
      const attr = (name: string) => converted.nodes.find((n) => n.name === name)!.attr!;
      expect(attr('causal/conv1d').dilations!.list!.i).toEqual([1, 1, 2, 1]);
      expect(attr('strided/conv1d').strides!.list!.i).toEqual([1, 1, 2, 1]);
      expect(attr('leaky/LeakyRelu').alpha!.f).toBeCloseTo(0.1, 7);
      expect(attr('upsample/ResizeNearestNeighbor').half_pixel_centers!.b).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('converts exactly the layer classes the model loaders accept, each covered by a test model', () => {
    expect(SUPPORTED_LAYER_CLASSES).toBe(CONVERTED_LAYER_CLASSES);
    const more = buildDecoderSequenceZoo();
    const zooClasses = new Set([...zoo.layers, ...more.layers].map((l) => l.getClassName()));
    more.dispose();
    expect(CONVERTED_LAYER_CLASSES.filter((c) => !zooClasses.has(c))).toEqual([]);
  });

  it('names nodes after Keras layers', async () => {
    const { nodes } = await convert(zoo);
    const ops = new Map(nodes.map((n) => [n.name, n.op]));
    expect(Object.fromEntries(
      [
        'stem/kernel', 'stem/Conv2D', 'stem/BiasAdd', 'stem_bn/FusedBatchNormV3', 'stem_relu6/Relu6', 'pad/Pad',
        'dw/depthwise', 'dw_elu/Elu', 'sep/separable_conv2d/depthwise', 'sep/separable_conv2d', 'sep/BiasAdd',
        'sep_swish/Sigmoid', 'sep_swish/swish', 'conv_relu/Relu', 'residual/add', 'max_pool/MaxPool', 'avg_pool/AvgPool',
        'mixed/concat', 'dilated/Tanh', 'gate/Sigmoid', 'gated/mul', 'selu_conv/Selu', 'gap/Mean', 'gmp/Max',
        'flatten/Reshape', 'reshape/Reshape', 'clip3/clip', 'fc/MatMul', 'fc_relu_bn/Mul', 'fc_relu_bn/AddV2',
        'dropout/Identity', 'predictions/MatMul', 'predictions/BiasAdd', 'predictions/Softmax',
      ].map((name) => [name, ops.get(name)]),
    )).toEqual({
      'stem/kernel': 'Const', 'stem/Conv2D': 'Conv2D', 'stem/BiasAdd': 'BiasAdd', 'stem_bn/FusedBatchNormV3': 'FusedBatchNormV3',
      'stem_relu6/Relu6': 'Relu6', 'pad/Pad': 'Pad', 'dw/depthwise': 'DepthwiseConv2dNative', 'dw_elu/Elu': 'Elu',
      'sep/separable_conv2d/depthwise': 'DepthwiseConv2dNative', 'sep/separable_conv2d': 'Conv2D', 'sep/BiasAdd': 'BiasAdd',
      'sep_swish/Sigmoid': 'Sigmoid', 'sep_swish/swish': 'Mul', 'conv_relu/Relu': 'Relu', 'residual/add': 'AddV2',
      'max_pool/MaxPool': 'MaxPool', 'avg_pool/AvgPool': 'AvgPool', 'mixed/concat': 'ConcatV2', 'dilated/Tanh': 'Tanh',
      'gate/Sigmoid': 'Sigmoid', 'gated/mul': 'Mul', 'selu_conv/Selu': 'Selu', 'gap/Mean': 'Mean', 'gmp/Max': 'Max',
      'flatten/Reshape': 'Reshape', 'reshape/Reshape': 'Reshape', 'clip3/clip': 'Minimum', 'fc/MatMul': 'MatMul',
      'fc_relu_bn/Mul': 'Mul', 'fc_relu_bn/AddV2': 'AddV2', 'dropout/Identity': 'Identity', 'predictions/MatMul': 'MatMul',
      'predictions/BiasAdd': 'BiasAdd', 'predictions/Softmax': 'Softmax',
    });
    const attr = (name: string) => nodes.find((n) => n.name === name)!.attr!;
    expect(attr('dilated/Conv2D').dilations!.list!.i).toEqual([1, 2, 2, 1]);
    expect(attr('dw/depthwise').strides!.list!.i).toEqual([1, 2, 2, 1]);
    expect(Buffer.from(attr('dw/depthwise').padding!.s!).toString()).toBe('VALID');
    expect(attr('avg_pool/AvgPool').ksize!.list!.i).toEqual([1, 3, 3, 1]);
    expect(Buffer.from(attr('avg_pool/AvgPool').padding!.s!).toString()).toBe('SAME');
    expect(attr('stem_bn/FusedBatchNormV3').is_training!.b).toBe(false);
    expect(attr('stem_bn/FusedBatchNormV3').epsilon!.f).toBeCloseTo(0.001, 9);
  });

  it('folds batch norms into linear Conv2D, DepthwiseConv2D, SeparableConv2D and Dense when asked', async () => {
    const converted = await convert(zoo, { foldBatchNorms: true });
    expect(converted.folded).toEqual([
      { batchNorm: 'stem_bn', into: 'stem' },
      { batchNorm: 'dw_bn', into: 'dw' },
      { batchNorm: 'sep_bn', into: 'sep' },
      { batchNorm: 'fc_bn', into: 'fc' },
    ]);
    const names = new Set(converted.nodes.map((n) => n.name));
    for (const bn of ['stem_bn', 'dw_bn', 'sep_bn', 'fc_bn']) expect([...names].filter((n) => n.startsWith(`${bn}/`))).toEqual([]);
    // conv_relu has an activation between it and its batch norm, fc_relu_bn follows an Activation layer.
    expect(names.has('conv_relu_bn/FusedBatchNormV3')).toBe(true);
    expect(names.has('fc_relu_bn/Mul')).toBe(true);
    // The depthwise layer had no bias: folding gives it one.
    expect(names.has('dw/bias') && names.has('dw/BiasAdd')).toBe(true);
    expect(converted.nodes.filter((n) => n.op === 'FusedBatchNormV3')).toHaveLength(1);
    // Folding is exact up to float32 rounding in each folded layer.
    await expectSameOutputs(zoo, converted, 1e-5);
  });

  it('does not fold a batch norm whose input is also read elsewhere', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 3, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(conv) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'sum' }).apply([conv, bn]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: sum });
    await randomWeights(model, 2);
    const converted = await convert(model, { foldBatchNorms: true });
    expect(converted.folded).toEqual([]);
    expect(converted.nodes.map((n) => n.op)).toContain('FusedBatchNormV3');
    await expectSameOutputs(model, converted, 1e-6);
    model.dispose();
  });

  it('converts nested models under the nested model’s name', async () => {
    const head = tf.sequential({
      name: 'head',
      layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax', name: 'scores' })],
    });
    const input = tf.input({ shape: [5, 5, 3] });
    const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(
      tf.layers.conv2d({ name: 'features', filters: 4, kernelSize: 3, activation: 'relu' }).apply(input),
    ) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: head.apply(pooled) as tf.SymbolicTensor });
    await randomWeights(model, 4);
    const converted = await convert(model);
    expect(converted.nodes.map((n) => n.name)).toEqual(expect.arrayContaining(['head/scores/MatMul', 'head/scores/Softmax']));
    await expectSameOutputs(model, converted, 1e-6);
    model.dispose();
  });

  it('resolves -1 in Reshape from the input size', async () => {
    const model = tf.sequential({ layers: [tf.layers.reshape({ inputShape: [6, 6, 3], targetShape: [-1, 4], name: 'rows' })] });
    const converted = await convert(model);
    const shape = converted.nodes.find((n) => n.name === 'rows/Reshape/shape')!;
    expect(Array.from(new Int32Array(shape.attr!.value!.tensor!.tensor_content!.slice().buffer))).toEqual([-1, 27, 4]);
    await expectSameOutputs(model, converted, 0);
    model.dispose();
  });

  it.each([
    [
      'an unknown layer class',
      () => tf.sequential({ layers: [tf.layers.cropping2D({ inputShape: [4, 4, 3], cropping: 1, name: 'crop' })] }),
      "layer 'crop' has class Cropping2D, which tensorsky export cannot convert; supported: InputLayer, Conv2D,",
    ],
    [
      'an unknown activation',
      () => tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 1, activation: 'softplus', name: 'soft' })] }),
      "layer 'soft' (Conv2D) uses activation 'softplus', which tensorsky export cannot convert",
    ],
    [
      'Dense on a 4-D tensor',
      () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4, 4, 3], units: 2, name: 'fc' })] }),
      "layer 'fc' (Dense) gets a rank-4 input; Dense is converted only on [batch, features] inputs",
    ],
    [
      'a shared layer',
      () => {
        const input = tf.input({ shape: [4, 4, 3] });
        const conv = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'twice' });
        return tf.model({ inputs: input, outputs: conv.apply(conv.apply(input)) as tf.SymbolicTensor });
      },
      "layer 'twice' (Conv2D) is called 2 times (a shared layer); tensorsky export converts layers used exactly once",
    ],
    [
      'two inputs',
      () => {
        const a = tf.input({ shape: [4, 4, 3] });
        const b = tf.input({ shape: [4, 4, 3] });
        return tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([a, b]) as tf.SymbolicTensor, name: 'pair' });
      },
      "model 'pair' has 2 inputs and 1 outputs; tensorsky export converts models with one image input and one output",
    ],
  ])('refuses %s with the layer named', (_, build, message) => {
    const model = build();
    const g = new GraphBuilder();
    const x = g.placeholder('x', DataType.DT_FLOAT, [-1, 4, 4, 3]);
    let error: unknown;
    try {
      layersModelToGraph(model, g, x);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LayerConversionError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain('\n');
    model.dispose();
  });
});
