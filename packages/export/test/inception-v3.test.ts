import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildInceptionV3, initTfjs } from '../src/index.js';
import { KERAS_INCEPTION_V3_LAYER_ORDER } from './helpers/keras-inception-v3-order.js';

describe('buildInceptionV3', () => {
  let model: tf.LayersModel;
  beforeAll(async () => {
    await initTfjs();
    model = buildInceptionV3();
  });

  it('has the parameter count of keras.applications.InceptionV3 (23,851,784)', () => {
    expect(model.countParams()).toBe(23_851_784);
    // Keras 2 summary: Non-trainable params: 34,432 (BN moving statistics; 1000-class top has none).
    const nonTrainable = model.nonTrainableWeights.reduce((sum, w) => sum + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
    expect(nonTrainable).toBe(34_432);
  });

  it('orders all 313 layers exactly as Keras 2.0.6 model.summary() lists them', () => {
    expect(KERAS_INCEPTION_V3_LAYER_ORDER).toHaveLength(313);
    expect(model.layers.map((l) => l.name)).toEqual(KERAS_INCEPTION_V3_LAYER_ORDER);
  });

  it('puts weighted layers where the ImageNet weights file expects them', () => {
    const weighted = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(weighted).toHaveLength(94 * 2 + 1);
    expect(weighted.slice(0, 10)).toEqual([
      'conv2d_1', 'batch_normalization_1', 'conv2d_2', 'batch_normalization_2', 'conv2d_3',
      'batch_normalization_3', 'conv2d_4', 'batch_normalization_4', 'conv2d_5', 'batch_normalization_5',
    ]);
    // mixed0 starts with its deepest branch (3x3dbl), as Keras orders by depth.
    expect(weighted.slice(10, 13)).toEqual(['conv2d_9', 'batch_normalization_9', 'conv2d_7']);
    expect(weighted.at(-1)).toBe('predictions');
    expect(weighted.at(-2)).toBe('batch_normalization_94');
  });

  it('uses conv2d_bn blocks: Conv2D without bias, BatchNormalization(axis=3, scale=False, epsilon=1e-3), relu', () => {
    const conv = model.getLayer('conv2d_1');
    expect(conv.getClassName()).toBe('Conv2D');
    expect(conv.getConfig()).toMatchObject({ filters: 32, kernelSize: [3, 3], strides: [2, 2], padding: 'valid', useBias: false });
    expect(conv.weights.map((w) => w.shape)).toEqual([[3, 3, 3, 32]]);
    const bn = model.getLayer('batch_normalization_1');
    expect(bn.getConfig()).toMatchObject({ axis: 3, scale: false, center: true, epsilon: 0.001 });
    expect(bn.weights.map((w) => w.originalName)).toEqual([
      'batch_normalization_1/beta', 'batch_normalization_1/moving_mean', 'batch_normalization_1/moving_variance',
    ]);
    expect(model.getLayer('activation_1').getConfig()).toMatchObject({ activation: 'relu' });
    // Asymmetric 1x7 / 7x1 kernels of the 17x17 blocks (mixed4, first 7x7 branch).
    expect(model.getLayer('conv2d_33').weights[0].shape).toEqual([1, 7, 128, 128]);
    expect(model.getLayer('conv2d_34').weights[0].shape).toEqual([7, 1, 128, 192]);
  });

  it('produces the block shapes documented in keras inception_v3.py', () => {
    const shape = (name: string) => model.getLayer(name).output as tf.SymbolicTensor;
    expect(shape('mixed0').shape).toEqual([null, 35, 35, 256]);
    expect(shape('mixed1').shape).toEqual([null, 35, 35, 288]);
    expect(shape('mixed2').shape).toEqual([null, 35, 35, 288]);
    for (const name of ['mixed3', 'mixed4', 'mixed5', 'mixed6', 'mixed7']) expect(shape(name).shape).toEqual([null, 17, 17, 768]);
    expect(shape('mixed8').shape).toEqual([null, 8, 8, 1280]);
    expect(shape('mixed9').shape).toEqual([null, 8, 8, 2048]);
    expect(shape('mixed10').shape).toEqual([null, 8, 8, 2048]);
    expect(model.outputs[0].shape).toEqual([null, 1000]);
    expect(model.getLayer('predictions').getConfig()).toMatchObject({ units: 1000, activation: 'softmax' });
  });

  it('builds the headless variant and custom class counts', () => {
    const notop = buildInceptionV3({ includeTop: false, inputShape: [150, 150, 3] });
    // Keras: InceptionV3(include_top=False) has 21,802,784 params (weights file ..._notop.h5).
    expect(notop.countParams()).toBe(21_802_784);
    expect(notop.outputs[0].shape).toEqual([null, 3, 3, 2048]);
    const flowers = buildInceptionV3({ classes: 5 });
    expect(flowers.countParams()).toBe(21_802_784 + 2048 * 5 + 5);
    expect(() => buildInceptionV3({ inputShape: [64, 64, 3] })).toThrow(/>= 75/);
  });
});
