export {
  ImageInputError,
  classifyImageFormat,
  describeStart,
  detectImageFormat,
  formatName,
  notAnImageMessage,
  type ImageFormat,
} from './format.js';
export {
  DEFAULT_IMAGE_LIMITS,
  DEFAULT_MAX_PIXELS,
  IMAGE_LIMIT_FLAGS,
  checkImageHeader,
  checkImageSize,
  checkRequestImages,
  imageLimits,
  probeImageSize,
  type ImageLimits,
  type ImageSize,
} from './header.js';
export { convertChannels, toDtype, type DecodedImage, type ImageDtype, type Pixels } from './pixels.js';
export { DECODERS, decodePixels, type DecodeOptions, type ImageDecoder } from './decoders.js';
export { decodeJpegTurbo, type JpegDctMethod, type JpegDecodeOptions } from './jpeg-turbo.js';
export { decodeImageToRgb, type DecodeImageOptions, type RgbImage } from './rgb.js';
export {
  ResizeError,
  resizeArea,
  resizeBicubic,
  resizeNearestNeighbor,
  resizeScale,
  SAMPLING_KERNEL_TYPES,
  scaleAndTranslate,
  type ImageBatch,
  type ResizeFlags,
  type ScaleAndTranslateOptions,
} from './resize.js';
