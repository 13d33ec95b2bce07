// Shared by the conversion, export and fidelity tests: a small "fine-tuned-style" classifier that uses
// every layer class the converter handles, saving it as a uint8-quantized TF.js layers model, running
// an exported SavedModel, and comparing probabilities.
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { loadModel } from '@tensorsky/predict-local';
import { KerasNormalization } from '../src/keras-layers.js';
import { writeTfjsLayersModel } from './helpers/tfjs-layers-writer.js';
import type { NamedWeight } from './helpers/keras-models.js';

type T = tf.SymbolicTensor;

/** A small convolutional classifier over [size, size, 3] images (give it weights with randomWeights). */
export function smallClassifier(size: number, classes: number, name?: string): tf.LayersModel {
  const L = tf.layers;
  return tf.sequential({
    ...(name === undefined ? {} : { name }),
    layers: [
      L.conv2d({ inputShape: [size, size, 3], filters: 8, kernelSize: 3, activation: 'relu', name: 'conv1' }),
      L.maxPooling2d({ poolSize: 2, name: 'pool' }),
      L.conv2d({ filters: 16, kernelSize: 3, activation: 'tanh', name: 'conv2' }),
      L.globalAveragePooling2d({ name: 'gap' }),
      L.dense({ units: classes, activation: 'softmax', name: 'predictions' }),
    ],
  });
}

/** The largest |a[i] - b[i]| of two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/**
 * A MobileNet/Inception-flavoured classifier (give it weights with randomWeights, which also sets
 * non-trivial batch-norm statistics) over [size, size, 3] images with `classes` softmax outputs.
 * Batch norms after linear Conv2D, DepthwiseConv2D, SeparableConv2D and Dense can be folded; the one
 * after conv_relu (which has an activation) and the one on a rank-2 tensor after an Activation layer
 * cannot. Every converted layer class and activation appears at least once.
 */
export function buildLayerZoo(size = 24, classes = 10): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [size, size, 3], name: 'image' });
  const apply = (layer: tf.layers.Layer, x: T | T[]) => layer.apply(x) as T;
  const bn = (name: string, x: T) => apply(L.batchNormalization({ name }), x);

  let x = apply(L.conv2d({ name: 'stem', filters: 8, kernelSize: 3, padding: 'same' }), input);
  x = apply(L.reLU({ name: 'stem_relu6', maxValue: 6 }), bn('stem_bn', x));
  x = apply(L.zeroPadding2d({ name: 'pad', padding: [[1, 0], [0, 1]] }), x);
  x = apply(L.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2, strides: 2, useBias: false }), x);
  const dw = apply(L.activation({ name: 'dw_elu', activation: 'elu' }), bn('dw_bn', x));
  let sep = apply(L.separableConv2d({ name: 'sep', filters: 12, kernelSize: 3, padding: 'same' }), dw);
  sep = apply(L.activation({ name: 'sep_swish', activation: 'swish' }), bn('sep_bn', sep));
  const relu = bn('conv_relu_bn', apply(L.conv2d({ name: 'conv_relu', filters: 12, kernelSize: 1, activation: 'relu' }), dw));
  const added = apply(L.add({ name: 'residual' }), [sep, relu]);
  const maxPool = apply(L.maxPooling2d({ name: 'max_pool', poolSize: 2 }), added);
  const avgPool = apply(L.averagePooling2d({ name: 'avg_pool', poolSize: 3, strides: 2, padding: 'same' }), added);
  const mixed = apply(L.concatenate({ name: 'mixed' }), [maxPool, avgPool]);
  const dilated = apply(L.conv2d({ name: 'dilated', filters: 6, kernelSize: 2, dilationRate: 2, padding: 'same', activation: 'tanh' }), mixed);
  const gate = apply(L.conv2d({ name: 'gate', filters: 6, kernelSize: 1, activation: 'sigmoid' }), mixed);
  const gated = apply(L.multiply({ name: 'gated' }), [dilated, gate]);
  const selu = apply(L.conv2d({ name: 'selu_conv', filters: 4, kernelSize: 3, activation: 'selu' }), gated);
  const [, h, w, c] = selu.shape as number[];
  const features = apply(L.concatenate({ name: 'features' }), [
    apply(L.globalAveragePooling2d({ name: 'gap' }), gated),
    apply(L.globalMaxPooling2d({ name: 'gmp' }), mixed),
    apply(L.flatten({ name: 'flatten' }), selu),
    apply(L.flatten({ name: 'flatten_2' }), apply(L.reshape({ name: 'reshape', targetShape: [h * w, c] }), apply(L.reLU({ name: 'clip3', maxValue: 3 }), selu))),
  ]);
  let head = bn('fc_bn', apply(L.dense({ name: 'fc', units: 16 }), features));
  head = bn('fc_relu_bn', apply(L.activation({ name: 'fc_relu', activation: 'relu' }), head));
  head = apply(L.activation({ name: 'fc_relu6', activation: 'relu6' }), head);
  head = apply(L.dropout({ name: 'dropout', rate: 0.3 }), head);
  const output = apply(L.dense({ name: 'predictions', units: classes, activation: 'softmax' }), head);
  return tf.model({ inputs: input, outputs: output, name: 'zoo' });
}

/**
 * The layer classes an image classifier uses less often, over [size, size, 3] images: Keras's Rescaling
 * and Normalization at the input, transposed and upsampling convolutions (decoder-style), LeakyReLU,
 * then the image read as a sequence for Conv1D (dilated 'valid', and strided 'same'), LayerNormalization
 * and GlobalAveragePooling1D, with gelu and mish activations.
 */
export function buildDecoderSequenceZoo(size = 12, classes = 10): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [size, size, 3], name: 'image' });
  const apply = (layer: tf.layers.Layer, x: T | T[]) => layer.apply(x) as T;
  // Keras preprocessing layers at the input: per-channel Rescaling, Normalization with adapted weights.
  let x = apply(L.rescaling({ name: 'rescale', scale: [0.5, 1, 2] as unknown as number, offset: 0.25 }), input);
  x = apply(new KerasNormalization({ name: 'normalize', axis: -1 }), x);
  x = apply(L.conv2dTranspose({ name: 'up_conv', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'gelu' }), x);
  x = apply(L.leakyReLU({ name: 'leaky', alpha: 0.1 }), x);
  x = apply(L.conv2d({ name: 'down', filters: 4, kernelSize: 3, strides: 2, activation: 'mish' }), x);
  x = apply(L.upSampling2d({ name: 'upsample', size: [2, 2] }), x);
  x = apply(L.conv2dTranspose({ name: 'valid_transpose', filters: 3, kernelSize: 2, padding: 'valid' }), x);
  const [, h, w, c] = x.shape as number[];
  x = apply(L.reshape({ name: 'to_sequence', targetShape: [h * w, c] }), x);
  x = apply(L.conv1d({ name: 'causal', filters: 5, kernelSize: 3, dilationRate: 2, activation: 'relu' }), x);
  x = apply(L.conv1d({ name: 'strided', filters: 5, kernelSize: 4, strides: 2, padding: 'same' }), x);
  x = apply(L.layerNormalization({ name: 'layer_norm', epsilon: 1e-3 }), x);
  x = apply(L.globalAveragePooling1d({ name: 'gap1d' }), x);
  const output = apply(L.dense({ name: 'predictions', units: classes, activation: 'softmax' }), x);
  return tf.model({ inputs: input, outputs: output, name: 'decoder_sequence_zoo' });
}

/** Saves `model` the way tensorflowjs_converter writes a layers model with --quantize_uint8. */
export async function saveQuantizedLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  const topology = model.toJSON(undefined, false);
  const values = model.getWeights();
  const weights: NamedWeight[] = model.weights.map((w, i) => {
    const name = w.originalName;
    const slash = name.lastIndexOf('/');
    return { layer: name.slice(0, slash), role: name.slice(slash + 1), shape: [...w.shape] as number[], data: values[i].dataSync() as Float32Array };
  });
  await writeTfjsLayersModel(dir, topology, weights, { quantization: 'uint8' });
}

/** Runs an exported SavedModel on the wasm executor. */
export async function predictExported(dir: string, inputs: (string | Uint8Array)[]): Promise<{ shape: number[]; data: Float32Array }> {
  const model = await loadModel(dir, { backend: 'wasm' });
  try {
    const { outputs } = await model.predict({ inputs });
    return { shape: outputs.shape, data: outputs.data as Float32Array };
  } finally {
    model.dispose();
  }
}

export interface ProbabilityComparison {
  maxAbsDiff: number;
  /** Top-1 class per image (of the reference). */
  top1: number[];
  /** Images whose top-5 classes (in order) differ, with both lists. */
  top5Mismatches: { image: number; actual: number[]; expected: number[] }[];
}

export function topK(row: ArrayLike<number>, k: number): number[] {
  return Array.from(row, (p, i) => [p, i])
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}

export function compareProbabilities(actual: Float32Array, expected: Float32Array, classes: number): ProbabilityComparison {
  if (actual.length !== expected.length) throw new Error(`${actual.length} probabilities vs ${expected.length} expected`);
  let maxAbsDiff = 0;
  for (let i = 0; i < actual.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - expected[i]));
  const top1: number[] = [];
  const top5Mismatches: ProbabilityComparison['top5Mismatches'] = [];
  for (let image = 0; image < actual.length / classes; image++) {
    const a = topK(actual.subarray(image * classes, (image + 1) * classes), 5);
    const e = topK(expected.subarray(image * classes, (image + 1) * classes), 5);
    top1.push(e[0]);
    if (a.join() !== e.join()) top5Mismatches.push({ image, actual: a, expected: e });
  }
  return { maxAbsDiff, top1, top5Mismatches };
}
