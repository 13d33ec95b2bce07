// The pixel preprocessing an exported model applies, as data: Keras's preprocess_input modes as steps.
// The exported graph (@tensorsky/export's serving input) builds its ops from these steps, and
// preprocessImagesReference runs the same steps in TF.js: the reference clients and tests compare against.
import type * as tfjs from '@tensorflow/tfjs-core';
import { resizeArea, resizeBicubic, resizeNearestNeighbor, scaleAndTranslate } from '@tensorsky/image';
import { ImageInputGraphError } from './modes.js';
import {
  ANTIALIAS_KERNELS,
  centralCropOffset,
  resizeAttrs,
  resolvePreprocessing,
  shortSideSize,
  type Preprocessing,
  type PreprocessOptions,
} from './pipeline.js';

/** Checks the options, returning the channel count. */
export function checkPreprocessOptions(options: PreprocessOptions): 1 | 3 {
  return resolvePreprocessing(options).channels;
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
 * What the exported model's serving input computes from already decoded pixels, in TF.js and plain
 * arithmetic: per image the geometry (crop/pad offsets by TensorFlow's integer rules), the resize
 * (TF.js's tf.image.resizeBilinear with the same flags for bilinear, @tensorsky/image's ports of
 * TensorFlow's kernels for the others), stacked, then the normalization steps.
 * Returns float32 [n, height, width, channels].
 */
export function preprocessImagesReference(
  tf: typeof tfjs,
  images: readonly ReferenceImage[],
  options: PreprocessOptions,
): tfjs.Tensor4D {
  const p = resolvePreprocessing(options);
  return tf.tidy(() => {
    const resized = images.map((image) => {
      if ((image.channels ?? 3) !== p.channels) {
        throw new ImageInputGraphError(`reference images must have ${p.channels} channels, got ${image.channels ?? 3}`);
      }
      return referenceGeometry(tf, tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, p.channels]), p);
    });
    let x: tfjs.Tensor4D = tf.stack(resized) as tfjs.Tensor4D;
    for (const step of p.normalize) {
      if (step.kind === 'rgbToBgr') {
        x = tf.gather(x, [2, 1, 0], 3);
        continue;
      }
      const operand = typeof step.value === 'number' ? tf.scalar(step.value) : tf.tensor1d(step.value as number[]);
      x = { div: tf.div, sub: tf.sub, mul: tf.mul, add: tf.add }[step.kind](x, operand);
    }
    return x;
  });
}

function referenceGeometry(tf: typeof tfjs, pixels: tfjs.Tensor3D, p: Preprocessing): tfjs.Tensor3D {
  const [h, w] = pixels.shape;
  const resize = (image: tfjs.Tensor3D, size: [number, number]) => referenceResize(tf, image, size, p);
  switch (p.geometry.kind) {
    case 'stretch':
      return resize(pixels, [p.height, p.width]);
    case 'central_crop': {
      const top = centralCropOffset(h, p.geometry.fraction);
      const left = centralCropOffset(w, p.geometry.fraction);
      return resize(tf.slice(pixels, [top, left, 0], [h - 2 * top, w - 2 * left, -1]), [p.height, p.width]);
    }
    case 'pad_to_square': {
      const side = Math.max(h, w);
      const top = Math.floor((side - h) / 2);
      const left = Math.floor((side - w) / 2);
      return resize(tf.pad(pixels, [[top, side - h - top], [left, side - w - left], [0, 0]]), [p.height, p.width]);
    }
    case 'short_side':
    case 'resize_then_crop': {
      const [rh, rw] = p.geometry.kind === 'short_side' ? shortSideSize(h, w, p.geometry.shortSide) : [p.geometry.height, p.geometry.width];
      // Keras's CenterCrop and tf.image.resize_with_crop_or_pad: offsets (size - target) // 2.
      const top = Math.floor((rh - p.height) / 2);
      const left = Math.floor((rw - p.width) / 2);
      return tf.slice(resize(pixels, [rh, rw]), [top, left, 0], [p.height, p.width, -1]);
    }
  }
}

function referenceResize(tf: typeof tfjs, image: tfjs.Tensor3D, [height, width]: [number, number], p: Preprocessing): tfjs.Tensor3D {
  const [h, w, c] = image.shape;
  if (p.antialias) {
    // tf.image.resize's scale: float32 output size / input size.
    const scale = [Math.fround(height / h), Math.fround(width / w)] as const;
    const data = image.dataSync() as Float32Array;
    const out = scaleAndTranslate({ data, shape: [1, h, w, c] }, height, width, { scale, kernelType: ANTIALIAS_KERNELS[p.resize], antialias: true });
    return tf.tensor3d(out, [height, width, c]);
  }
  const flags = resizeAttrs(p.resize, p.grid);
  if (p.resize === 'bilinear') return tf.image.resizeBilinear(image, [height, width], flags.alignCorners, flags.halfPixelCenters);
  const kernel = { nearest: resizeNearestNeighbor, bicubic: resizeBicubic, area: resizeArea }[p.resize];
  const out = kernel({ data: image.dataSync() as Float32Array, shape: [1, h, w, c] }, height, width, flags);
  return tf.tensor3d(out, [height, width, c]);
}
