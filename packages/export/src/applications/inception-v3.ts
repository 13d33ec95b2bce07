// InceptionV3 built with TF.js layers, layer for layer as keras.applications.inception_v3 builds it.
//
// Keras loads an .h5 weights file by zipping the model's weighted layers (in model.layers order) with
// the file's weighted layer groups, so the graph must match Keras exactly: same layers, same branch
// creation order and the same concat input order. TF.js orders model.layers with the same algorithm
// as Keras (depth, then traversal order), so an identical graph gives an identical order.
// Layer names follow Keras 2.0's per-class counters (conv2d_1, batch_normalization_1, ...), the names
// used in inception_v3_weights_tf_dim_ordering_tf_kernels.h5.
import * as tf from '@tensorflow/tfjs';
import { checkApplicationOptions, KerasNamer, type ApplicationOptions } from './layers.js';

export const INCEPTION_V3_INPUT_SHAPE: [number, number, number] = [299, 299, 3];

type SymbolicTensor = tf.SymbolicTensor;

/**
 * The architecture with all-zero kernels: every caller loads weights next (ImageNet, an .h5 file or
 * seeded random ones), and TF.js's default initializers would spend over a second of each export on
 * 23.8M truncated-normal samples that are overwritten at once.
 */
export function buildInceptionV3(options: ApplicationOptions = {}): tf.LayersModel {
  const { classes = 1000, inputShape = INCEPTION_V3_INPUT_SHAPE, includeTop = true } = options;
  checkApplicationOptions('InceptionV3', inputShape, classes, 75);

  const names = new KerasNamer();
  const concat = (inputs: SymbolicTensor[], name?: string): SymbolicTensor =>
    tf.layers.concatenate({ axis: 3, name: name ?? names.next('concatenate') }).apply(inputs) as SymbolicTensor;
  const maxPool = (x: SymbolicTensor): SymbolicTensor =>
    tf.layers.maxPooling2d({ poolSize: [3, 3], strides: [2, 2], padding: 'valid', name: names.next('max_pooling2d') }).apply(x) as SymbolicTensor;
  const avgPoolSame = (x: SymbolicTensor): SymbolicTensor =>
    tf.layers.averagePooling2d({ poolSize: [3, 3], strides: [1, 1], padding: 'same', name: names.next('average_pooling2d') }).apply(x) as SymbolicTensor;

  /** keras conv2d_bn: Conv2D(use_bias=False) -> BatchNormalization(axis=3, scale=False) -> relu. */
  const conv2dBn = (
    x: SymbolicTensor,
    filters: number,
    rows: number,
    cols: number,
    padding: 'same' | 'valid' = 'same',
    strides: [number, number] = [1, 1],
  ): SymbolicTensor => {
    let y = tf.layers
      .conv2d({ filters, kernelSize: [rows, cols], strides, padding, useBias: false, kernelInitializer: 'zeros', name: names.next('conv2d') })
      .apply(x) as SymbolicTensor;
    y = tf.layers.batchNormalization({ axis: 3, scale: false, name: names.next('batch_normalization') }).apply(y) as SymbolicTensor;
    return tf.layers.activation({ activation: 'relu', name: names.next('activation') }).apply(y) as SymbolicTensor;
  };

  const input = tf.input({ shape: inputShape, name: names.next('input') });

  let x = conv2dBn(input, 32, 3, 3, 'valid', [2, 2]);
  x = conv2dBn(x, 32, 3, 3, 'valid');
  x = conv2dBn(x, 64, 3, 3);
  x = maxPool(x);
  x = conv2dBn(x, 80, 1, 1, 'valid');
  x = conv2dBn(x, 192, 3, 3, 'valid');
  x = maxPool(x);

  // mixed 0, 1, 2: 35 x 35 x 256/288/288
  for (const [index, poolFilters] of [[0, 32], [1, 64], [2, 64]] as const) {
    const branch1x1 = conv2dBn(x, 64, 1, 1);
    let branch5x5 = conv2dBn(x, 48, 1, 1);
    branch5x5 = conv2dBn(branch5x5, 64, 5, 5);
    let branch3x3dbl = conv2dBn(x, 64, 1, 1);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3);
    const branchPool = conv2dBn(avgPoolSame(x), poolFilters, 1, 1);
    x = concat([branch1x1, branch5x5, branch3x3dbl, branchPool], `mixed${index}`);
  }

  // mixed 3: 17 x 17 x 768
  {
    const branch3x3 = conv2dBn(x, 384, 3, 3, 'valid', [2, 2]);
    let branch3x3dbl = conv2dBn(x, 64, 1, 1);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3, 'valid', [2, 2]);
    const branchPool = maxPool(x);
    x = concat([branch3x3, branch3x3dbl, branchPool], 'mixed3');
  }

  // mixed 4, 5, 6, 7: 17 x 17 x 768
  for (const [index, width7x7] of [[4, 128], [5, 160], [6, 160], [7, 192]] as const) {
    const branch1x1 = conv2dBn(x, 192, 1, 1);
    let branch7x7 = conv2dBn(x, width7x7, 1, 1);
    branch7x7 = conv2dBn(branch7x7, width7x7, 1, 7);
    branch7x7 = conv2dBn(branch7x7, 192, 7, 1);
    let branch7x7dbl = conv2dBn(x, width7x7, 1, 1);
    branch7x7dbl = conv2dBn(branch7x7dbl, width7x7, 7, 1);
    branch7x7dbl = conv2dBn(branch7x7dbl, width7x7, 1, 7);
    branch7x7dbl = conv2dBn(branch7x7dbl, width7x7, 7, 1);
    branch7x7dbl = conv2dBn(branch7x7dbl, 192, 1, 7);
    const branchPool = conv2dBn(avgPoolSame(x), 192, 1, 1);
    x = concat([branch1x1, branch7x7, branch7x7dbl, branchPool], `mixed${index}`);
  }

  // mixed 8: 8 x 8 x 1280
  {
    let branch3x3 = conv2dBn(x, 192, 1, 1);
    branch3x3 = conv2dBn(branch3x3, 320, 3, 3, 'valid', [2, 2]);
    let branch7x7x3 = conv2dBn(x, 192, 1, 1);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 1, 7);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 7, 1);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 3, 3, 'valid', [2, 2]);
    const branchPool = maxPool(x);
    x = concat([branch3x3, branch7x7x3, branchPool], 'mixed8');
  }

  // mixed 9, 10: 8 x 8 x 2048
  for (const i of [0, 1]) {
    const branch1x1 = conv2dBn(x, 320, 1, 1);
    const branch3x3 = conv2dBn(x, 384, 1, 1);
    const branch3x3Out = concat([conv2dBn(branch3x3, 384, 1, 3), conv2dBn(branch3x3, 384, 3, 1)], `mixed9_${i}`);
    let branch3x3dbl = conv2dBn(x, 448, 1, 1);
    branch3x3dbl = conv2dBn(branch3x3dbl, 384, 3, 3);
    const branch3x3dblOut = concat([conv2dBn(branch3x3dbl, 384, 1, 3), conv2dBn(branch3x3dbl, 384, 3, 1)]);
    const branchPool = conv2dBn(avgPoolSame(x), 192, 1, 1);
    x = concat([branch1x1, branch3x3Out, branch3x3dblOut, branchPool], `mixed${9 + i}`);
  }

  if (includeTop) {
    x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as SymbolicTensor;
    x = tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: 'zeros', name: 'predictions' }).apply(x) as SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: x, name: 'inception_v3' });
}
