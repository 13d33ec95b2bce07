// ResNet50 (v1) built with TF.js layers, layer for layer as keras.applications.resnet builds it: same
// layer names, creation order and hyper-parameters, so Keras's .h5 weights load by order.
import * as tf from '@tensorflow/tfjs';
import { applyLayer as apply, checkApplicationOptions, type ApplicationOptions } from './layers.js';

type SymbolicTensor = tf.SymbolicTensor;

export const RESNET50_INPUT_SHAPE: [number, number, number] = [224, 224, 3];

const BN_EPSILON = 1.001e-5;

export function buildResNet50(options: ApplicationOptions = {}): tf.LayersModel {
  const { classes = 1000, inputShape = RESNET50_INPUT_SHAPE, includeTop = true } = options;
  checkApplicationOptions('ResNet50', inputShape, classes, 32);
  const conv = (x: SymbolicTensor, filters: number, kernelSize: number, name: string, strides = 1, padding: 'valid' | 'same' = 'valid') =>
    apply(tf.layers.conv2d({ filters, kernelSize, strides, padding, kernelInitializer: 'zeros', name }), x);
  const batchNorm = (x: SymbolicTensor, name: string) => apply(tf.layers.batchNormalization({ axis: 3, epsilon: BN_EPSILON, name }), x);
  const relu = (x: SymbolicTensor, name: string) => apply(tf.layers.activation({ activation: 'relu', name }), x);

  /** residual_block_v1: 1x1 -> 3x3 -> 1x1 bottleneck, shortcut conv on the first block of a stack. */
  const block = (input: SymbolicTensor, filters: number, stride: number, convShortcut: boolean, name: string) => {
    let shortcut = input;
    if (convShortcut) {
      shortcut = conv(input, 4 * filters, 1, `${name}_0_conv`, stride);
      shortcut = batchNorm(shortcut, `${name}_0_bn`);
    }
    let x = conv(input, filters, 1, `${name}_1_conv`, stride);
    x = relu(batchNorm(x, `${name}_1_bn`), `${name}_1_relu`);
    x = conv(x, filters, 3, `${name}_2_conv`, 1, 'same');
    x = relu(batchNorm(x, `${name}_2_bn`), `${name}_2_relu`);
    x = conv(x, 4 * filters, 1, `${name}_3_conv`);
    x = batchNorm(x, `${name}_3_bn`);
    x = apply(tf.layers.add({ name: `${name}_add` }), [shortcut, x]);
    return relu(x, `${name}_out`);
  };
  const stack = (input: SymbolicTensor, filters: number, blocks: number, stride1: number, name: string) => {
    let x = block(input, filters, stride1, true, `${name}_block1`);
    for (let i = 2; i <= blocks; i++) x = block(x, filters, 1, false, `${name}_block${i}`);
    return x;
  };

  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = apply(tf.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }), input);
  x = conv(x, 64, 7, 'conv1_conv', 2);
  x = relu(batchNorm(x, 'conv1_bn'), 'conv1_relu');
  x = apply(tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), x);
  x = stack(x, 64, 3, 1, 'conv2');
  x = stack(x, 128, 4, 2, 'conv3');
  x = stack(x, 256, 6, 2, 'conv4');
  x = stack(x, 512, 3, 2, 'conv5');
  if (includeTop) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: 'zeros', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'resnet50' });
}
