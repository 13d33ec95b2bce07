// MobileNetV2 (alpha 1.0) built with TF.js layers, layer for layer as keras.applications.mobilenet_v2
// builds it: same layer names, creation order and hyper-parameters, so Keras's .h5 weights load by order.
import * as tf from '@tensorflow/tfjs';
import { ApplicationError, applyLayer as apply, checkApplicationOptions, type ApplicationOptions } from './layers.js';

type SymbolicTensor = tf.SymbolicTensor;

export const MOBILENET_V2_INPUT_SHAPE: [number, number, number] = [224, 224, 3];

/** keras _make_divisible: round to the nearest multiple of `divisor`, never more than 10% down. */
function makeDivisible(v: number, divisor: number): number {
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/** imagenet_utils.correct_pad: the ZeroPadding2D that makes a stride-2 'valid' conv behave like TF's SAME. */
export function correctPad(x: SymbolicTensor, kernel: number): [[number, number], [number, number]] {
  const [, rows, cols] = x.shape;
  const adjust = [rows == null ? 1 : 1 - (rows % 2), cols == null ? 1 : 1 - (cols % 2)];
  const half = Math.floor(kernel / 2);
  return [
    [half - adjust[0], half],
    [half - adjust[1], half],
  ];
}

export function buildMobileNetV2(options: ApplicationOptions = {}): tf.LayersModel {
  const { classes = 1000, inputShape = MOBILENET_V2_INPUT_SHAPE, includeTop = true } = options;
  checkApplicationOptions('MobileNetV2', inputShape, classes, 32);
  const batchNorm = (x: SymbolicTensor, name: string) =>
    apply(tf.layers.batchNormalization({ axis: 3, epsilon: 1e-3, momentum: 0.999, name }), x);
  const relu6 = (x: SymbolicTensor, name: string) => apply(tf.layers.reLU({ maxValue: 6, name }), x);
  const conv1x1 = (x: SymbolicTensor, filters: number, name: string) =>
    apply(tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: 'zeros', name }), x);

  const invertedResBlock = (inputs: SymbolicTensor, expansion: number, stride: number, filters: number, blockId: number) => {
    const inChannels = inputs.shape[3] as number;
    const pointwiseFilters = makeDivisible(filters, 8);
    let x = inputs;
    let prefix = `block_${blockId}_`;
    if (blockId) {
      x = conv1x1(x, expansion * inChannels, `${prefix}expand`);
      x = batchNorm(x, `${prefix}expand_BN`);
      x = relu6(x, `${prefix}expand_relu`);
    } else {
      prefix = 'expanded_conv_';
    }
    if (stride === 2) {
      x = apply(tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: `${prefix}pad` }), x);
    }
    x = apply(
      tf.layers.depthwiseConv2d({
        kernelSize: 3,
        strides: stride,
        useBias: false,
        padding: stride === 1 ? 'same' : 'valid',
        depthwiseInitializer: 'zeros',
        name: `${prefix}depthwise`,
      }),
      x,
    );
    x = batchNorm(x, `${prefix}depthwise_BN`);
    x = relu6(x, `${prefix}depthwise_relu`);
    x = conv1x1(x, pointwiseFilters, `${prefix}project`);
    x = batchNorm(x, `${prefix}project_BN`);
    if (inChannels === pointwiseFilters && stride === 1) {
      return apply(tf.layers.add({ name: `${prefix}add` }), [inputs, x]);
    }
    return x;
  };

  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = apply(
    tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: 'zeros', name: 'Conv1' }),
    input,
  );
  x = batchNorm(x, 'bn_Conv1');
  x = relu6(x, 'Conv1_relu');
  // [filters, stride, expansion] per block, blocks 0..16 as in the Keras source.
  const blocks: [number, number, number][] = [
    [16, 1, 1],
    [24, 2, 6], [24, 1, 6],
    [32, 2, 6], [32, 1, 6], [32, 1, 6],
    [64, 2, 6], [64, 1, 6], [64, 1, 6], [64, 1, 6],
    [96, 1, 6], [96, 1, 6], [96, 1, 6],
    [160, 2, 6], [160, 1, 6], [160, 1, 6],
    [320, 1, 6],
  ];
  blocks.forEach(([filters, stride, expansion], blockId) => {
    x = invertedResBlock(x, expansion, stride, filters, blockId);
  });
  x = conv1x1(x, 1280, 'Conv_1');
  x = batchNorm(x, 'Conv_1_bn');
  x = relu6(x, 'out_relu');
  if (includeTop) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }), x);
    x = apply(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: 'zeros', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: `mobilenetv2_1.00_${inputShape[0]}` });
}

export { ApplicationError };
