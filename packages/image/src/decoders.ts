// One decoder per format, looked up in a table, each with the channel rules of TensorFlow's decoder
// for that format (decode_image_op.cc). A TF-exact decoder for a format replaces its entry here.
import { decodeBmp } from './bmp.js';
import { ImageInputError, type ImageFormat } from './format.js';
import { decodeJpegTurbo, type JpegDecodeOptions } from './jpeg-turbo.js';
import type { Pixels } from './pixels.js';
import { decodeGif } from './gif.js';
import { decodePng, type PngDecodeOptions } from './png.js';
import type { SharpDecodeOptions } from './sharp.js';

export interface DecodeOptions extends SharpDecodeOptions, Pick<JpegDecodeOptions, 'dctMethod' | 'fancyUpscaling' | 'ratio'>, Pick<PngDecodeOptions, 'bits'> {
  /** 0 (default): the image's own channel count; otherwise 1, 3 or 4. */
  readonly channels?: number;
}

export type ImageDecoder = (bytes: Uint8Array, options: DecodeOptions) => Promise<Pixels>;

export const DECODERS: Readonly<Record<ImageFormat, ImageDecoder>> = {
  // libjpeg-turbo with TensorFlow's IDCT choice (default the fast one), not sharp (always the accurate one).
  async jpeg(bytes, { channels = 0, failOn = 'truncated', ...options }) {
    if (channels === 4) throw new ImageInputError('JPEG does not support 4 channels');
    return decodeJpegTurbo(bytes, { ...options, channels, tryRecoverTruncated: failOn === 'none' });
  },
  // sharp's samples with libpng's transformations as TensorFlow asks for them (png.ts).
  async png(bytes, { channels = 0, bits, failOn, maxPixels }) {
    return decodePng(bytes, { channels, bits, failOn, maxPixels });
  },
  // TensorFlow's own canvas and compositing rules (gif.ts).
  async gif(bytes, { channels = 0, allFrames = false }) {
    if (channels !== 0 && channels !== 3) throw new ImageInputError(`channels must be 0 or 3 for GIF, got ${channels}`);
    return decodeGif(bytes, { allFrames });
  },
  async bmp(bytes, { channels = 0 }) {
    return decodeBmp(bytes, channels);
  },
};

/** Decodes `bytes`, whose format the caller has classified, with that format's decoder. */
export function decodePixels(bytes: Uint8Array, format: ImageFormat, options: DecodeOptions = {}): Promise<Pixels> {
  return DECODERS[format](bytes, options);
}
