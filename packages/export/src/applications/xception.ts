// Xception built with TF.js layers, layer for layer as keras.applications.xception builds it: same
// layer names, creation order and hyper-parameters, so Keras's .h5 weights load by order. The residual
// 1x1 convolutions and their batch norms are unnamed in Keras; they get Keras 2.0's automatic names.
import * as tf from '@tensorflow/tfjs';
import { applyLayer as apply, checkApplicationOptions, KerasNamer, type ApplicationOptions } from './layers.js';

type SymbolicTensor = tf.SymbolicTensor;

export const XCEPTION_INPUT_SHAPE: [number, number, number] = [299, 299, 3];

export function buildXception(options: ApplicationOptions = {}): tf.LayersModel {
  const { classes = 1000, inputShape = XCEPTION_INPUT_SHAPE, includeTop = true } = options;
  checkApplicationOptions('Xception', inputShape, classes, 71);
  const names = new KerasNamer();
  // Keras's default BatchNormalization epsilon (1e-3) applies: Xception does not set one.
  const batchNorm = (x: SymbolicTensor, name?: string) =>
    apply(tf.layers.batchNormalization({ axis: 3, name: name ?? names.next('batch_normalization') }), x);
  const relu = (x: SymbolicTensor, name: string) => apply(tf.layers.activation({ activation: 'relu', name }), x);
  const sepConv = (x: SymbolicTensor, filters: number, name: string) =>
    apply(
      tf.layers.separableConv2d({
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        depthwiseInitializer: 'zeros',
        pointwiseInitializer: 'zeros',
        name,
      }),
      x,
    );
  const residualOf = (x: SymbolicTensor, filters: number) =>
    batchNorm(
      apply(
        tf.layers.conv2d({ filters, kernelSize: 1, strides: 2, padding: 'same', useBias: false, kernelInitializer: 'zeros', name: names.next('conv2d') }),
        x,
      ),
    );
  const add = (a: SymbolicTensor, b: SymbolicTensor) => apply(tf.layers.add({ name: names.next('add') }), [a, b]);
  const pool = (x: SymbolicTensor, name: string) =>
    apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name }), x);

  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: 'zeros', name: 'block1_conv1' }), input);
  x = relu(batchNorm(x, 'block1_conv1_bn'), 'block1_conv1_act');
  x = apply(tf.layers.conv2d({ filters: 64, kernelSize: 3, useBias: false, kernelInitializer: 'zeros', name: 'block1_conv2' }), x);
  x = relu(batchNorm(x, 'block1_conv2_bn'), 'block1_conv2_act');

  // Entry flow: block 2 starts without an activation (x is already ReLU'd), blocks 3 and 4 with one.
  for (const [block, filters] of [[2, 128], [3, 256], [4, 728]] as const) {
    const residual = residualOf(x, filters);
    if (block !== 2) x = relu(x, `block${block}_sepconv1_act`);
    x = batchNorm(sepConv(x, filters, `block${block}_sepconv1`), `block${block}_sepconv1_bn`);
    x = relu(x, `block${block}_sepconv2_act`);
    x = batchNorm(sepConv(x, filters, `block${block}_sepconv2`), `block${block}_sepconv2_bn`);
    x = add(pool(x, `block${block}_pool`), residual);
  }

  // Middle flow: eight identity-shortcut blocks of three separable convolutions.
  for (let i = 0; i < 8; i++) {
    const residual = x;
    const prefix = `block${i + 5}`;
    for (const n of [1, 2, 3]) {
      x = relu(x, `${prefix}_sepconv${n}_act`);
      x = batchNorm(sepConv(x, 728, `${prefix}_sepconv${n}`), `${prefix}_sepconv${n}_bn`);
    }
    x = add(x, residual);
  }

  // Exit flow.
  const residual = residualOf(x, 1024);
  x = relu(x, 'block13_sepconv1_act');
  x = batchNorm(sepConv(x, 728, 'block13_sepconv1'), 'block13_sepconv1_bn');
  x = relu(x, 'block13_sepconv2_act');
  x = batchNorm(sepConv(x, 1024, 'block13_sepconv2'), 'block13_sepconv2_bn');
  x = add(pool(x, 'block13_pool'), residual);
  x = relu(batchNorm(sepConv(x, 1536, 'block14_sepconv1'), 'block14_sepconv1_bn'), 'block14_sepconv1_act');
  x = relu(batchNorm(sepConv(x, 2048, 'block14_sepconv2'), 'block14_sepconv2_bn'), 'block14_sepconv2_act');
  if (includeTop) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: 'zeros', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'xception' });
}
