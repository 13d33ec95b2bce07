// Converts a TF.js LayersModel (Keras layers) into TensorFlow ops with frozen weights, one emitter per
// Keras layer class, the way tfjs-converter maps TensorFlow ops to kernels per op family.
//
// Node names follow Keras layer names: each layer's ops live under its name as a scope
// ("conv2d_1/Conv2D", "conv2d_1/kernel", "activation_1/Relu", "mixed0/concat", "predictions/Softmax").
// Batch norms become FusedBatchNormV3 (is_training=false) on 4-D tensors, or Mul + AddV2 with
// precomputed scale/offset otherwise; TensorFlow's grappler fuses Conv2D + FusedBatchNorm at load time.
// With foldBatchNorms, a BatchNormalization that directly follows a Conv2D, DepthwiseConv2D,
// SeparableConv2D or Dense without activation, and is that layer's only consumer, is folded into it:
// e.g. for InceptionV3's conv2d_1 → batch_normalization_1 the graph has conv2d_1/Conv2D with the
// BN-scaled kernel and conv2d_1/BiasAdd with the BN offset, and no batch_normalization_1 nodes.
// Folding is not the default because it is exact only up to float32 rounding in every folded layer,
// which deep networks can amplify: for InceptionV3 with seeded random weights it moves probabilities
// by up to ~1.5e-4, while with FusedBatchNormV3 predict-local gives the TF.js model's probabilities exactly.
import * as tf from '@tensorflow/tfjs';
import { DataType, type GraphBuilder, type GraphTensor, type Padding } from '@tensorsky/saved-model';
import { KERAS_EPSILON, KerasLeakyRelu } from '../keras-layers.js';
import { batchNormAffine, foldBatchNorm, type BatchNormParams } from './fold.js';

export class LayerConversionError extends Error {
  override name = 'LayerConversionError';
}

export interface ConvertOptions {
  /** Fold batch norms into the convolution or dense layer before them (default false; see above). */
  foldBatchNorms?: boolean;
}

export interface ConvertedModel {
  /** The model's output in the graph. */
  output: GraphTensor;
  /** Batch norms folded into the layer before them (with foldBatchNorms). */
  foldedBatchNorms: { batchNorm: string; into: string }[];
}

type Layer = tf.layers.Layer;
type LayerNode = Layer['inboundNodes'][number];
type Shape = (number | null)[];
type Config = Record<string, unknown>;

/** A layer's weights by Keras role ('kernel', 'bias', 'gamma', 'moving_mean', ...). */
type Weights = Map<string, { values: Float32Array; shape: number[] }>;

interface LayerContext {
  g: GraphBuilder;
  layer: Layer;
  className: string;
  config: Config;
  inputs: GraphTensor[];
  inputShapes: Shape[];
  outputShape: Shape;
  weights: Weights;
  /** Batch norm to fold into this layer's (linear) output. */
  foldedBatchNorm?: BatchNormParams;
}

type Emitter = (ctx: LayerContext) => GraphTensor;

/** Layers whose linear output a following batch norm can be folded into (the kernel's last axis is the output channel). */
const FOLDABLE = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);

const EMITTERS: Readonly<Record<string, Emitter>> = {
  Conv2D: (ctx) => {
    const { kernel, bias } = kernelAndBias(ctx, 'kernel');
    const y = ctx.g.conv2d(ctx.inputs[0], kernel, convOptions(ctx));
    return activate(ctx, bias ? ctx.g.biasAdd(y, bias) : y);
  },
  DepthwiseConv2D: (ctx) => {
    const { kernel, bias } = kernelAndBias(ctx, 'depthwise_kernel');
    const y = ctx.g.depthwiseConv2dNative(ctx.inputs[0], kernel, { ...convOptions(ctx), name: 'depthwise' });
    return activate(ctx, bias ? ctx.g.biasAdd(y, bias) : y);
  },
  // tf.nn.separable_conv2d: depthwise with the layer's strides and padding, then a 1x1 convolution.
  SeparableConv2D: (ctx) => {
    const depthwiseKernel = constant(ctx, 'depthwise_kernel', weight(ctx, 'depthwise_kernel'));
    const depthwise = ctx.g.depthwiseConv2dNative(ctx.inputs[0], depthwiseKernel, { ...convOptions(ctx), name: 'separable_conv2d/depthwise' });
    const { kernel, bias } = kernelAndBias(ctx, 'pointwise_kernel');
    const y = ctx.g.conv2d(depthwise, kernel, { padding: 'VALID', name: 'separable_conv2d' });
    return activate(ctx, bias ? ctx.g.biasAdd(y, bias) : y);
  },
  // tf.nn.conv2d_transpose: Conv2DBackpropInput, whose input_sizes Keras builds at run time from the
  // input's batch size and the static output size (Keras's deconv_output_length, which TF.js computed).
  Conv2DTranspose: (ctx) => {
    checkChannelsLast(ctx);
    if (ctx.config.outputPadding != null) fail(ctx, 'sets output_padding; only output_padding=None is supported');
    if (nhwc(ctx.config.dilationRate).some((d) => d !== 1)) fail(ctx, 'uses a dilation rate; transposed convolutions are converted without dilation');
    const [, height, width, filters] = ctx.outputShape;
    if (!height || !width || !filters) fail(ctx, `has output shape [${ctx.outputShape.map((d) => d ?? 'None').join(', ')}] with unknown sizes`);
    const { g } = ctx;
    const batch = g.stridedSlice(g.shape(ctx.inputs[0]), [0], [1], [1], { shrinkAxisMask: 1, name: 'strided_slice' });
    const size = (name: string, value: number) => g.constant(name, value, [], DataType.DT_INT32);
    const outputShape = g.apply('Pack', [[batch, size('height', height!), size('width', width!), size('filters', filters!)]], { axis: 0 }, { name: 'stack' });
    const { kernel, bias } = kernelAndBias(ctx, 'kernel');
    const y = g.apply('Conv2DBackpropInput', [outputShape, kernel, ctx.inputs[0]], { strides: nhwc(ctx.config.strides), padding: tfPadding(ctx) }, { name: 'conv2d_transpose' });
    return activate(ctx, bias ? g.biasAdd(y, bias) : y);
  },
  // tf.nn.conv1d: the [batch, steps, channels] input and the kernel get a height axis of 1, then Conv2D
  // and Squeeze. ('causal' padding is refused: TF.js, which runs the source model, cannot compute it.)
  Conv1D: (ctx) => {
    const format = ctx.config.dataFormat;
    if (format !== undefined && format !== 'channelsLast') fail(ctx, `uses data format ${String(format)}; only channels-last is supported`);
    const first = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : ((v as number | undefined) ?? 1));
    const [stride, dilation] = [first(ctx.config.strides), first(ctx.config.dilationRate)];
    const { g } = ctx;
    const x = ctx.inputs[0];
    const padding = tfPadding(ctx);
    const w = weight(ctx, 'kernel');
    const kernel = constant(ctx, 'kernel', { values: w.values, shape: [1, ...w.shape] });
    const bias = ctx.weights.get('bias');
    const y = g.squeeze(g.conv2d(g.expandDims(x, 1, { name: 'conv1d/ExpandDims' }), kernel, { strides: [1, 1, stride, 1], padding, dilations: [1, 1, dilation, 1], name: 'conv1d' }), { axis: [1], name: 'conv1d/Squeeze' });
    return activate(ctx, bias ? g.biasAdd(y, constant(ctx, 'bias', bias)) : y);
  },
  Dense: (ctx) => {
    const rank = ctx.inputShapes[0].length;
    if (rank !== 2) {
      fail(ctx, `gets a rank-${rank} input; Dense is converted only on [batch, features] inputs (put Flatten or GlobalAveragePooling2D before it)`);
    }
    const { kernel, bias } = kernelAndBias(ctx, 'kernel');
    const y = ctx.g.matMul(ctx.inputs[0], kernel);
    return activate(ctx, bias ? ctx.g.biasAdd(y, bias) : y);
  },
  BatchNormalization: (ctx) => {
    const bn = batchNormParams(ctx);
    const rank = ctx.inputShapes[0].length;
    if (rank === 4) {
      const channels = bn.movingMean.length;
      const gamma = constant(ctx, 'gamma', { values: bn.gamma ?? new Float32Array(channels).fill(1), shape: [channels] });
      const beta = constant(ctx, 'beta', { values: bn.beta ?? new Float32Array(channels), shape: [channels] });
      const mean = constant(ctx, 'moving_mean', { values: bn.movingMean, shape: [channels] });
      const variance = constant(ctx, 'moving_variance', { values: bn.movingVariance, shape: [channels] });
      return ctx.g.fusedBatchNormV3(ctx.inputs[0], gamma, beta, mean, variance, { epsilon: bn.epsilon });
    }
    const { scale, offset } = batchNormAffine(bn);
    const shape = [scale.length];
    const scaled = ctx.g.mul(ctx.inputs[0], constant(ctx, 'scale', { values: Float32Array.from(scale), shape }));
    return ctx.g.add(scaled, constant(ctx, 'offset', { values: Float32Array.from(offset), shape }));
  },
  Activation: (ctx) => activate(ctx, ctx.inputs[0]),
  ReLU: (ctx) => {
    const maxValue = ctx.config.maxValue as number | null | undefined;
    if (maxValue === null || maxValue === undefined) return ctx.g.relu(ctx.inputs[0]);
    if (maxValue === 6) return ctx.g.relu6(ctx.inputs[0]);
    return ctx.g.apply('Minimum', [ctx.g.relu(ctx.inputs[0]), ctx.g.constant('max_value', maxValue)], {}, { name: 'clip' });
  },
  // Keras's Rescaling: x * scale + offset (scale and offset scalars or per channel).
  Rescaling: (ctx) => {
    const { g } = ctx;
    const operand = (name: string, value: unknown) => {
      const values = typeof value === 'number' ? [value] : (value as number[]);
      return g.constant(name, Float32Array.from(values), typeof value === 'number' ? [] : [values.length]);
    };
    const scaled = g.mul(ctx.inputs[0], operand('scale', ctx.config.scale));
    const offset = ctx.config.offset ?? 0;
    return offset === 0 ? scaled : g.add(scaled, operand('offset', offset));
  },
  // Keras's Normalization: (x - mean) / max(sqrt(variance), epsilon). The divisor is a frozen constant,
  // computed in float32 as TensorFlow would (sqrt is exactly rounded either way).
  Normalization: (ctx) => {
    const { g } = ctx;
    const config = ctx.config as { mean?: number | number[] | null; variance?: number | number[] | null };
    const mean = ctx.weights.get('mean')?.values ?? Float32Array.from([config.mean ?? 0].flat());
    const variance = ctx.weights.get('variance')?.values ?? Float32Array.from([config.variance ?? 1].flat());
    const divisor = variance.map((v) => Math.max(Math.fround(Math.sqrt(v)), KERAS_EPSILON));
    const centered = g.sub(ctx.inputs[0], g.constant('mean', mean, [mean.length]));
    return g.apply('RealDiv', [centered, g.constant('divisor', divisor, [divisor.length])], {}, { name: 'truediv' });
  },
  LeakyReLU: (ctx) => ctx.g.apply('LeakyRelu', [ctx.inputs[0]], { alpha: (ctx.config.alpha as number | undefined) ?? 0.3 }),
  // tf.keras's layer normalization over the last axis as tf.nn.moments + tf.nn.batch_normalization:
  // x * inv + (beta - mean * inv) with inv = gamma * rsqrt(variance + epsilon).
  LayerNormalization: (ctx) => {
    const rank = ctx.inputShapes[0].length;
    if (!isLastAxis(ctx.config.axis, rank)) fail(ctx, `normalizes axis ${JSON.stringify(ctx.config.axis)}; only the last axis (-1) is supported`);
    const { g } = ctx;
    const x = ctx.inputs[0];
    const axis = [rank - 1];
    const mean = g.mean(x, axis, { keepDims: true, name: 'moments/mean' });
    const variance = g.mean(g.apply('SquaredDifference', [x, mean], {}, { name: 'moments/SquaredDifference' }), axis, { keepDims: true, name: 'moments/variance' });
    let inv = g.apply('Rsqrt', [g.add(variance, g.constant('epsilon', ctx.config.epsilon as number), { name: 'batchnorm/add' })], {}, { name: 'batchnorm/Rsqrt' });
    const gamma = ctx.weights.get('gamma');
    if (gamma) inv = g.mul(inv, constant(ctx, 'gamma', gamma), { name: 'batchnorm/mul' });
    const beta = ctx.weights.get('beta');
    const shifted = g.mul(mean, inv, { name: 'batchnorm/mul_2' });
    const scaled = g.mul(x, inv, { name: 'batchnorm/mul_1' });
    if (!beta) return g.sub(scaled, shifted, { name: 'batchnorm/sub' });
    return g.add(scaled, g.sub(constant(ctx, 'beta', beta), shifted, { name: 'batchnorm/sub' }), { name: 'batchnorm/add_1' });
  },
  // Keras resizes with tf.image.resize(method='nearest'): ResizeNearestNeighbor with half-pixel centers,
  // which for an integer factor repeats each pixel (as TF.js's UpSampling2D does).
  UpSampling2D: (ctx) => {
    checkChannelsLast(ctx);
    const interpolation = ctx.config.interpolation ?? 'nearest';
    if (interpolation !== 'nearest') fail(ctx, `uses interpolation '${String(interpolation)}'; only 'nearest' is supported`);
    const [, height, width] = ctx.outputShape;
    if (!height || !width) fail(ctx, 'has an output of unknown height or width');
    return ctx.g.apply('ResizeNearestNeighbor', [ctx.inputs[0], [height!, width!]], { half_pixel_centers: true });
  },
  MaxPooling2D: (ctx) => ctx.g.maxPool(ctx.inputs[0], poolOptions(ctx)),
  AveragePooling2D: (ctx) => ctx.g.avgPool(ctx.inputs[0], poolOptions(ctx)),
  // TF.js decides whether the pooled dimensions are kept; the output rank says what it did.
  GlobalAveragePooling2D: (ctx) => ctx.g.mean(ctx.inputs[0], [1, 2], { keepDims: ctx.outputShape.length === 4 }),
  GlobalAveragePooling1D: (ctx) => ctx.g.mean(ctx.inputs[0], [1], { keepDims: ctx.outputShape.length === 3 }),
  GlobalMaxPooling2D: (ctx) => ctx.g.apply('Max', [ctx.inputs[0], [1, 2]], { keep_dims: ctx.outputShape.length === 4 }),
  Concatenate: (ctx) => {
    const axis = (ctx.config.axis as number | undefined) ?? -1;
    const rank = ctx.inputShapes[0].length;
    return ctx.g.concatV2(ctx.inputs, axis < 0 ? axis + rank : axis, { name: 'concat' });
  },
  Add: (ctx) => ctx.inputs.slice(1).reduce((sum, x) => ctx.g.add(sum, x, { name: 'add' }), ctx.inputs[0]),
  Multiply: (ctx) => ctx.inputs.slice(1).reduce((product, x) => ctx.g.mul(product, x, { name: 'mul' }), ctx.inputs[0]),
  Dropout: (ctx) => ctx.g.identity(ctx.inputs[0]),
  Flatten: (ctx) => ctx.g.reshape(ctx.inputs[0], [-1, knownSize(ctx, ctx.inputShapes[0].slice(1))]),
  Reshape: (ctx) => {
    // TF.js leaves a -1 of target_shape unknown (null); the input size resolves it.
    const target = ctx.config.targetShape as Shape;
    const size = knownSize(ctx, ctx.inputShapes[0].slice(1));
    const known = target.reduce<number>((n, d) => (d === null || d < 0 ? n : n * d), 1);
    return ctx.g.reshape(ctx.inputs[0], [-1, ...target.map((d) => (d === null || d < 0 ? size / known : d))]);
  },
  ZeroPadding2D: (ctx) => {
    checkChannelsLast(ctx);
    const [[top, bottom], [left, right]] = ctx.config.padding as [[number, number], [number, number]];
    return ctx.g.pad(ctx.inputs[0], [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
  },
};

/** Keras class names the converter handles (nested Functional/Sequential models are converted layer by layer). */
export const CONVERTED_LAYER_CLASSES: readonly string[] = ['InputLayer', ...Object.keys(EMITTERS)];

/**
 * Adds the ops of `model` to `g`, fed by `input` (float32 [-1, height, width, channels] for an image
 * model). Layers are emitted in model.layers order, which TF.js keeps topological. Throws
 * LayerConversionError naming the layer for anything it cannot convert: unknown classes or
 * activations, layers called more than once (shared layers), several inputs or outputs.
 */
export function layersModelToGraph(
  model: tf.LayersModel,
  g: GraphBuilder,
  input: GraphTensor,
  options: ConvertOptions = {},
): ConvertedModel {
  const foldedBatchNorms: ConvertedModel['foldedBatchNorms'] = [];
  const output = convertModel(model, g, input, { fold: options.foldBatchNorms ?? false, folded: foldedBatchNorms });
  return { output, foldedBatchNorms };
}

interface Folding {
  fold: boolean;
  folded: ConvertedModel['foldedBatchNorms'];
}

function convertModel(model: tf.LayersModel, g: GraphBuilder, input: GraphTensor, folding: Folding): GraphTensor {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new LayerConversionError(
      `model '${model.name}' has ${model.inputs.length} inputs and ${model.outputs.length} outputs; tensorsky export converts models with one image input and one output`,
    );
  }
  const nodes = new Map(model.layers.map((layer) => [layer, nodeOf(layer)]));
  const tensors = new Map<number, GraphTensor>([[model.inputs[0].id, input]]);

  // How many layers (or the model output) read each tensor: a layer's output can absorb a batch norm
  // only when that batch norm is its sole reader.
  const readers = new Map<number, number>([[model.outputs[0].id, 1]]);
  for (const node of nodes.values()) for (const t of node.inputTensors) readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  const foldInto = new Map<Layer, Layer>();
  for (const [layer, node] of nodes) {
    if (!folding.fold || className(layer) !== 'BatchNormalization' || node.inboundLayers.length !== 1) continue;
    const producer = node.inboundLayers[0];
    if (
      FOLDABLE.has(className(producer)) &&
      producer.getConfig().activation === 'linear' &&
      readers.get(node.inputTensors[0].id) === 1 &&
      isLastAxis(layer.getConfig().axis, node.inputTensors[0].shape.length)
    ) {
      foldInto.set(producer, layer);
    }
  }
  const foldedLayers = new Set(foldInto.values());

  for (const [layer, node] of nodes) {
    const name = className(layer);
    if (name === 'InputLayer') {
      if (node.outputTensors[0].id !== model.inputs[0].id) {
        throw new LayerConversionError(`input layer '${layer.name}' is not the input of model '${model.name}'`);
      }
      continue;
    }
    const inputs = node.inputTensors.map((t) => {
      const converted = tensors.get(t.id);
      if (!converted) throw new LayerConversionError(`layer '${layer.name}' reads a tensor that no earlier layer of '${model.name}' produced`);
      return converted;
    });
    const outputs = node.outputTensors;
    if (outputs.length !== 1) throw new LayerConversionError(`layer '${layer.name}' (${name}) has ${outputs.length} outputs; only single-output layers are supported`);
    if (foldedLayers.has(layer)) {
      // Its producer already applied it: the batch norm's output is the producer's.
      tensors.set(outputs[0].id, tensors.get(node.inputTensors[0].id)!);
      continue;
    }
    const emitted = g.withScope(layer.name, () => {
      if (layer instanceof tf.LayersModel) return convertModel(layer, g, inputs[0], folding);
      const emit = EMITTERS[name];
      if (!emit) {
        throw new LayerConversionError(
          `layer '${layer.name}' has class ${name}, which tensorsky export cannot convert; supported: ${CONVERTED_LAYER_CLASSES.join(', ')}`,
        );
      }
      const bnLayer = foldInto.get(layer);
      const ctx: LayerContext = {
        g,
        layer,
        className: name,
        config: layer.getConfig() as Config,
        inputs,
        inputShapes: node.inputTensors.map((t) => t.shape),
        outputShape: outputs[0].shape,
        weights: readWeights(layer),
      };
      if (bnLayer) {
        ctx.foldedBatchNorm = batchNormParams({ ...ctx, layer: bnLayer, className: 'BatchNormalization', config: bnLayer.getConfig() as Config, weights: readWeights(bnLayer) });
        folding.folded.push({ batchNorm: bnLayer.name, into: layer.name });
      }
      return emit(ctx);
    });
    tensors.set(outputs[0].id, emitted);
  }
  const output = tensors.get(model.outputs[0].id);
  if (!output) throw new LayerConversionError(`no layer of model '${model.name}' produces its output`);
  return output;
}

/** The one call of `layer` in its model; a nested model also has the node TF.js creates for its own graph. */
function nodeOf(layer: Layer): LayerNode {
  const nested = layer instanceof tf.LayersModel;
  const calls = layer.inboundNodes.filter((n) => !(nested && n.inboundLayers.length === 0));
  if (calls.length !== 1) {
    throw new LayerConversionError(
      `layer '${layer.name}' (${className(layer)}) is ${calls.length === 0 ? 'never called' : `called ${calls.length} times (a shared layer)`}; tensorsky export converts layers used exactly once`,
    );
  }
  return calls[0];
}

function className(layer: Layer): string {
  return layer.getClassName();
}

function fail(ctx: LayerContext, problem: string): never {
  throw new LayerConversionError(`layer '${ctx.layer.name}' (${ctx.className}) ${problem}`);
}

function isLastAxis(axis: unknown, rank: number): boolean {
  const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  return typeof a === 'number' && (a === -1 || a === rank - 1);
}

// ---------------------------------------------------------------------------------------------
// Weights

function readWeights(layer: Layer): Weights {
  const weights: Weights = new Map();
  const values = layer.getWeights();
  layer.weights.forEach((variable, i) => {
    const role = variable.originalName.slice(variable.originalName.lastIndexOf('/') + 1);
    if (values[i].dtype !== 'float32') {
      throw new LayerConversionError(`layer '${layer.name}' weight ${variable.originalName} is ${values[i].dtype}; only float32 weights are supported`);
    }
    // getWeights() returns the variables' own tensors: read, never dispose.
    weights.set(role, { values: new Float32Array(values[i].dataSync() as Float32Array), shape: [...values[i].shape] });
  });
  return weights;
}

function weight(ctx: LayerContext, role: string): { values: Float32Array; shape: number[] } {
  const w = ctx.weights.get(role);
  if (!w) fail(ctx, `has no '${role}' weight (weights: ${[...ctx.weights.keys()].join(', ') || 'none'})`);
  return w!;
}

function constant(ctx: LayerContext, name: string, w: { values: Float32Array; shape: number[] }): GraphTensor {
  return ctx.g.constant(name, w.values, w.shape);
}

/** The layer's kernel and bias as constants, with a following batch norm folded in when planned. */
function kernelAndBias(ctx: LayerContext, kernelRole: string): { kernel: GraphTensor; bias?: GraphTensor } {
  const kernel = weight(ctx, kernelRole);
  const bias = ctx.weights.get('bias');
  if (!ctx.foldedBatchNorm) {
    return { kernel: constant(ctx, kernelRole, kernel), bias: bias && constant(ctx, 'bias', bias) };
  }
  const folded = foldBatchNorm(kernel.values, bias?.values, ctx.foldedBatchNorm);
  return {
    kernel: constant(ctx, kernelRole, { values: folded.kernel, shape: kernel.shape }),
    bias: constant(ctx, 'bias', { values: folded.bias, shape: [folded.bias.length] }),
  };
}

function batchNormParams(ctx: LayerContext): BatchNormParams {
  if (!isLastAxis(ctx.config.axis, ctx.inputShapes[0].length)) {
    fail(ctx, `normalizes axis ${JSON.stringify(ctx.config.axis)}; only the channels-last axis (-1) is supported`);
  }
  return {
    gamma: ctx.weights.get('gamma')?.values,
    beta: ctx.weights.get('beta')?.values,
    movingMean: weight(ctx, 'moving_mean').values,
    movingVariance: weight(ctx, 'moving_variance').values,
    epsilon: ctx.config.epsilon as number,
  };
}

// ---------------------------------------------------------------------------------------------
// Attributes

function checkChannelsLast(ctx: LayerContext): void {
  const format = ctx.config.dataFormat;
  if (format !== undefined && format !== 'channelsLast') fail(ctx, `uses data format ${String(format)}; only channels-last (NHWC) is supported`);
}

function tfPadding(ctx: LayerContext): 'SAME' | 'VALID' {
  const padding = ctx.config.padding;
  if (padding === 'same') return 'SAME';
  if (padding === 'valid') return 'VALID';
  return fail(ctx, `uses padding '${String(padding)}'; only 'same' and 'valid' are supported`);
}

/** [a, b] → [1, a, b, 1] (NHWC). */
function nhwc(pair: unknown, fallback: number[] = [1, 1]): number[] {
  const [a, b] = Array.isArray(pair) ? pair : typeof pair === 'number' ? [pair, pair] : fallback;
  return [1, a, b, 1];
}

function convOptions(ctx: LayerContext): { strides: number[]; padding: Padding; dilations: number[] } {
  checkChannelsLast(ctx);
  const groups = ctx.config.groups as number | undefined;
  if (groups !== undefined && groups !== 1) fail(ctx, `uses ${groups} groups; grouped convolutions are not supported`);
  return { strides: nhwc(ctx.config.strides), padding: tfPadding(ctx), dilations: nhwc(ctx.config.dilationRate) };
}

function poolOptions(ctx: LayerContext): { ksize: number[]; strides: number[]; padding: 'SAME' | 'VALID' } {
  checkChannelsLast(ctx);
  const poolSize = ctx.config.poolSize;
  return { ksize: nhwc(poolSize), strides: nhwc(ctx.config.strides ?? poolSize), padding: tfPadding(ctx) };
}

function knownSize(ctx: LayerContext, dims: Shape): number {
  if (dims.some((d) => d === null || d < 0)) fail(ctx, `has shape [${dims.map((d) => d ?? 'None').join(', ')}] with unknown sizes`);
  return (dims as number[]).reduce((a, b) => a * b, 1);
}

/** Keras activations that are one TensorFlow op. */
const ACTIVATION_OPS: Readonly<Record<string, string>> = {
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  selu: 'Selu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  softmax: 'Softmax',
};

/** The layer's activation (its own config's, or an Activation layer's), e.g. 'relu' → "<layer>/Relu". */
function activate(ctx: LayerContext, x: GraphTensor): GraphTensor {
  // TF.js names activations in camel case ('hardSilu'); Keras, and CONVERTED_ACTIVATIONS, in snake case.
  const activation = typeof ctx.config.activation === 'string' ? ctx.config.activation.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase() : ctx.config.activation;
  const { g } = ctx;
  const op = typeof activation === 'string' ? ACTIVATION_OPS[activation] : undefined;
  if (op) return g.apply(op, [x]);
  switch (activation) {
    case 'linear':
      return x;
    case 'swish':
      return g.mul(x, g.apply('Sigmoid', [x]), { name: 'swish' });
    // tf.keras gelu(approximate=False), TF.js's 'gelu': 0.5 * x * (1 + erf(x / sqrt(2))).
    case 'gelu': {
      const erf = g.apply('Erf', [g.apply('RealDiv', [x, g.constant('gelu/Cast', Math.SQRT2)], {}, { name: 'gelu/truediv' })], {}, { name: 'gelu/Erf' });
      const half = g.mul(g.constant('gelu/mul/x', 0.5), x, { name: 'gelu/mul' });
      return g.mul(half, g.add(g.constant('gelu/add/x', 1), erf, { name: 'gelu/add' }), { name: 'gelu/mul_1' });
    }
    case 'mish':
      return g.mul(x, g.apply('Tanh', [g.apply('Softplus', [x], {}, { name: 'mish/Softplus' })], {}, { name: 'mish/Tanh' }), { name: 'mish' });
    // Keras 3's TensorFlow backend: hard_silu(x) = x * hard_sigmoid(x), hard_sigmoid(x) = relu6(x + 3) / 6.
    case 'hard_silu': {
      const shifted = g.add(x, g.constant('hard_silu/add/y', 3), { name: 'hard_silu/add' });
      const relu6 = g.apply('Relu6', [shifted], {}, { name: 'hard_silu/Relu6' });
      const hardSigmoid = g.apply('RealDiv', [relu6, g.constant('hard_silu/truediv/y', 6)], {}, { name: 'hard_silu/truediv' });
      return g.mul(x, hardSigmoid, { name: 'hard_silu/mul' });
    }
    // Keras 3's leaky_relu activation: tf.nn.leaky_relu(x, alpha=negative_slope), negative_slope fixed at 0.2.
    case 'leaky_relu':
      return g.apply('LeakyRelu', [x], { alpha: KerasLeakyRelu.negativeSlope }, { name: 'leaky_relu' });
    default:
      return fail(ctx, `uses activation '${String(activation)}', which tensorsky export cannot convert; supported: ${CONVERTED_ACTIVATIONS.join(', ')}`);
  }
}

/** Keras activation names the converter handles (after normalizeKerasConfig maps Keras 3's 'silu' to 'swish' and 'hard_swish' to 'hard_silu'). */
export const CONVERTED_ACTIVATIONS: readonly string[] = ['linear', ...Object.keys(ACTIVATION_OPS), 'swish', 'gelu', 'mish', 'hard_silu', 'leaky_relu'];
