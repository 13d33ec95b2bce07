export {
  DEFAULT_MAX_PIXELS,
  ImageInputError,
  checkImageSize,
  detectImageFormat,
  probeImageSize,
  type ImageFormat,
  type ImageSize,
} from './image-header.js';
export { expandImagePaths, readImageFile, type ImageFile } from './image-files.js';
export { Base64Error, fromBase64, toBase64, type Base64Alphabet, type ToBase64Options } from './base64.js';
export { decodeImageToRgb, type DecodeImageOptions, type RgbImage } from './decode-rgb.js';
export {
  buildImageInputGraph,
  ImageInputGraphError,
  INPUT_FORMATS,
  PREPROCESS_MODES,
  preprocessImagesReference,
  type ImageInputOptions,
  type InputFormat,
  type PreprocessMode,
  type ReferenceImage,
} from './graph.js';
