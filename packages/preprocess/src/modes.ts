// Keras's preprocess_input modes as normalization steps: the presets every preprocessing description
// (pipeline.ts), the serving graph and the TF.js reference start from.

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
export type PreprocessStep = { kind: 'div' | 'sub' | 'mul' | 'add'; value: number | readonly number[] } | { kind: 'rgbToBgr' };

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

export class ImageInputGraphError extends Error {
  override name = 'ImageInputGraphError';
}
