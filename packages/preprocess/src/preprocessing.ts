// The pixel preprocessing an exported model applies, as data: Keras's preprocess_input modes as steps.
// The exported graph (@tensorsky/export's serving input) builds its ops from these steps, and
// preprocessImagesReference runs the same steps in TF.js: the reference clients and tests compare against.
import type * as tfjs from '@tensorflow/tfjs-core';

/** How pixel values 0-255 are scaled before the network, named after Keras's preprocess_input modes. */
export type PreprocessMode = 'inception' | 'unit' | 'caffe' | 'torch' | 'none';

export const PREPROCESS_MODES: Readonly<Record<PreprocessMode, string>> = {
  inception: 'x / 127.5 - 1 (Keras "tf" mode: InceptionV3, MobileNet, Xception)',
  unit: 'x / 255',
  caffe: 'RGB to BGR, then minus [103.939, 116.779, 123.68] (Keras "caffe" mode: VGG, ResNet50)',
  torch: 'x / 255, minus [0.485, 0.456, 0.406], divided by [0.229, 0.224, 0.225] (Keras "torch" mode: DenseNet)',
  none: 'pixel values 0-255 as they are',
};

/** One normalization step on float pixels; vectors are per channel (RGB order unless after rgbToBgr). */
export type PreprocessStep = { kind: 'div' | 'sub'; value: number | readonly number[] } | { kind: 'rgbToBgr' };

// Same operations in the same order as Keras's preprocess_input, so float32 results match it exactly.
export const PREPROCESS_STEPS: Readonly<Record<PreprocessMode, readonly PreprocessStep[]>> = {
  inception: [
    { kind: 'div', value: 127.5 },
    { kind: 'sub', value: 1 },
  ],
  unit: [{ kind: 'div', value: 255 }],
  caffe: [{ kind: 'rgbToBgr' }, { kind: 'sub', value: [103.939, 116.779, 123.68] }],
  torch: [
    { kind: 'div', value: 255 },
    { kind: 'sub', value: [0.485, 0.456, 0.406] },
    { kind: 'div', value: [0.229, 0.224, 0.225] },
  ],
  none: [],
};

export interface PreprocessOptions {
  /** The network's input size. */
  height: number;
  width: number;
  preprocess: PreprocessMode;
  /** 3 (RGB, default) or 1 (grayscale, TensorFlow's luma). */
  channels?: 1 | 3;
}

export class ImageInputGraphError extends Error {
  override name = 'ImageInputGraphError';
}

/** Checks the size, mode and channels, returning the channel count. */
export function checkPreprocessOptions(options: PreprocessOptions): 1 | 3 {
  const { height, width, preprocess, channels = 3 } = options;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ImageInputGraphError(`image size must be positive integers, got ${height}x${width}`);
  }
  if (!(preprocess in PREPROCESS_STEPS)) {
    throw new ImageInputGraphError(`unknown preprocessing '${preprocess}'; use one of ${Object.keys(PREPROCESS_STEPS).join(', ')}`);
  }
  if (channels !== 1 && channels !== 3) throw new ImageInputGraphError(`images must have 1 or 3 channels, got ${channels}`);
  if (channels === 1 && PREPROCESS_STEPS[preprocess].some((s) => s.kind === 'rgbToBgr' || Array.isArray((s as { value?: unknown }).value))) {
    throw new ImageInputGraphError(`preprocessing '${preprocess}' works on RGB images; a grayscale model needs inception, unit or none`);
  }
  return channels;
}

/** Decoded pixels: height x width x channels uint8, row-major (as decodeImageToRgb returns for RGB). */
export interface ReferenceImage {
  readonly data: Uint8Array;
  readonly height: number;
  readonly width: number;
  /** Default 3. */
  readonly channels?: number;
}

/**
 * What the exported model's serving input computes from already decoded pixels, in TF.js:
 * tf.image.resizeBilinear(float pixels, [height, width], alignCorners=false, halfPixelCenters=true)
 * per image, stacked, then the same normalization steps. Returns float32 [n, height, width, channels].
 */
export function preprocessImagesReference(
  tf: typeof tfjs,
  images: readonly ReferenceImage[],
  options: PreprocessOptions,
): tfjs.Tensor4D {
  const channels = checkPreprocessOptions(options);
  const { height, width } = options;
  return tf.tidy(() => {
    const resized = images.map((image) => {
      if ((image.channels ?? 3) !== channels) {
        throw new ImageInputGraphError(`reference images must have ${channels} channels, got ${image.channels ?? 3}`);
      }
      const pixels = tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, channels]);
      return tf.image.resizeBilinear(pixels, [height, width], false, true);
    });
    let x: tfjs.Tensor4D = tf.stack(resized) as tfjs.Tensor4D;
    for (const step of PREPROCESS_STEPS[options.preprocess]) {
      if (step.kind === 'rgbToBgr') {
        x = tf.gather(x, [2, 1, 0], 3);
        continue;
      }
      const operand = typeof step.value === 'number' ? tf.scalar(step.value) : tf.tensor1d(step.value as number[]);
      x = step.kind === 'div' ? tf.div(x, operand) : tf.sub(x, operand);
    }
    return x;
  });
}
