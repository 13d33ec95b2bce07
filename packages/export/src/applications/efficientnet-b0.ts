// EfficientNetB0 built with TF.js layers, layer for layer as keras.applications.efficientnet builds it
// with weights="imagenet": the model takes pixels in [0, 255] and scales them itself (Rescaling 1/255,
// Normalization with ImageNet's mean and variance as weights, then Rescaling by 1/sqrt(stddev), which
// Keras adds for its ImageNet weights: tensorflow/tensorflow#49930). Same layer names, creation order
// and hyper-parameters, so Keras's .h5 weights load by order.
import * as tf from '@tensorflow/tfjs';
import { KerasNormalization } from '../keras-layers.js';
import { applyLayer as apply, checkApplicationOptions, type ApplicationOptions } from './layers.js';
import { correctPad } from './mobilenet-v2.js';

type SymbolicTensor = tf.SymbolicTensor;

export const EFFICIENTNET_B0_INPUT_SHAPE: [number, number, number] = [224, 224, 3];

const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

/** DEFAULT_BLOCKS_ARGS of keras.applications.efficientnet (B0: width and depth coefficients 1.0). */
const BLOCKS = [
  { kernelSize: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expandRatio: 1, strides: 1 },
  { kernelSize: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expandRatio: 6, strides: 2 },
  { kernelSize: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expandRatio: 6, strides: 2 },
  { kernelSize: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expandRatio: 6, strides: 2 },
  { kernelSize: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expandRatio: 6, strides: 1 },
  { kernelSize: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expandRatio: 6, strides: 2 },
  { kernelSize: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expandRatio: 6, strides: 1 },
] as const;
const SE_RATIO = 0.25;
const DROP_CONNECT_RATE = 0.2;

export function buildEfficientNetB0(options: ApplicationOptions = {}): tf.LayersModel {
  const { classes = 1000, inputShape = EFFICIENTNET_B0_INPUT_SHAPE, includeTop = true } = options;
  checkApplicationOptions('EfficientNetB0', inputShape, classes, 32);
  const conv = (x: SymbolicTensor, filters: number, name: string, activation?: 'swish' | 'sigmoid') =>
    apply(
      tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: activation !== undefined, activation, kernelInitializer: 'zeros', name }),
      x,
    );
  const batchNorm = (x: SymbolicTensor, name: string) => apply(tf.layers.batchNormalization({ axis: 3, name }), x);
  const swish = (x: SymbolicTensor, name: string) => apply(tf.layers.activation({ activation: 'swish', name }), x);

  const block = (inputs: SymbolicTensor, args: (typeof BLOCKS)[number], strides: number, filtersIn: number, dropRate: number, name: string) => {
    const filters = filtersIn * args.expandRatio;
    let x = inputs;
    if (args.expandRatio !== 1) {
      x = swish(batchNorm(conv(x, filters, `${name}expand_conv`), `${name}expand_bn`), `${name}expand_activation`);
    }
    if (strides === 2) x = apply(tf.layers.zeroPadding2d({ padding: correctPad(x, args.kernelSize), name: `${name}dwconv_pad` }), x);
    x = apply(
      tf.layers.depthwiseConv2d({
        kernelSize: args.kernelSize,
        strides,
        padding: strides === 2 ? 'valid' : 'same',
        useBias: false,
        depthwiseInitializer: 'zeros',
        name: `${name}dwconv`,
      }),
      x,
    );
    x = swish(batchNorm(x, `${name}bn`), `${name}activation`);
    // Squeeze and excitation.
    const filtersSe = Math.max(1, Math.floor(filtersIn * SE_RATIO));
    let se = apply(tf.layers.globalAveragePooling2d({ name: `${name}se_squeeze` }), x);
    se = apply(tf.layers.reshape({ targetShape: [1, 1, filters], name: `${name}se_reshape` }), se);
    se = conv(se, filtersSe, `${name}se_reduce`, 'swish');
    se = conv(se, filters, `${name}se_expand`, 'sigmoid');
    x = apply(tf.layers.multiply({ name: `${name}se_excite` }), [x, se]);
    x = batchNorm(conv(x, args.filtersOut, `${name}project_conv`), `${name}project_bn`);
    if (strides === 1 && filtersIn === args.filtersOut) {
      // Keras's stochastic depth: a Dropout with noise_shape (None, 1, 1, 1), the identity at inference.
      if (dropRate > 0) x = apply(tf.layers.dropout({ rate: dropRate, name: `${name}drop` }), x);
      x = apply(tf.layers.add({ name: `${name}add` }), [x, inputs]);
    }
    return x;
  };

  const input = tf.input({ shape: inputShape, name: 'input_1' });
  let x = apply(tf.layers.rescaling({ scale: 1 / 255, name: 'rescaling' }), input);
  x = apply(new KerasNormalization({ axis: -1, name: 'normalization' }), x);
  // TF.js's Rescaling multiplies by its scale as given, so a per-channel list broadcasts over channels.
  const stddevScale = IMAGENET_STDDEV_RGB.map((s) => 1 / Math.sqrt(s)) as unknown as number;
  x = apply(tf.layers.rescaling({ scale: stddevScale, name: 'rescaling_1' }), x);
  x = apply(tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: 'stem_conv_pad' }), x);
  x = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, kernelInitializer: 'zeros', name: 'stem_conv' }), x);
  x = swish(batchNorm(x, 'stem_bn'), 'stem_activation');

  const blockCount = BLOCKS.reduce((n, b) => n + b.repeats, 0);
  let blockIndex = 0;
  for (const [i, args] of BLOCKS.entries()) {
    for (let j = 0; j < args.repeats; j++) {
      const name = `block${i + 1}${String.fromCharCode(97 + j)}_`;
      x = block(x, args, j > 0 ? 1 : args.strides, j > 0 ? args.filtersOut : args.filtersIn, (DROP_CONNECT_RATE * blockIndex) / blockCount, name);
      blockIndex++;
    }
  }
  x = swish(batchNorm(conv(x, 1280, 'top_conv'), 'top_bn'), 'top_activation');
  if (includeTop) {
    x = apply(tf.layers.globalAveragePooling2d({ name: 'avg_pool' }), x);
    x = apply(tf.layers.dropout({ rate: 0.2, name: 'top_dropout' }), x);
    x = apply(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: 'zeros', name: 'predictions' }), x);
  }
  return tf.model({ inputs: input, outputs: x, name: 'efficientnetb0' });
}
