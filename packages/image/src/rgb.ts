// Client-side (reference) decode to RGB, as TensorFlow's DecodeImage with channels=3 does.
import { decodeBmpRgb } from './bmp.js';
import { decodePixels } from './decoders.js';
import type { JpegDctMethod } from './jpeg-turbo.js';
import { ImageInputError, formatName } from './format.js';
import { DEFAULT_MAX_PIXELS, checkImageSize, probeImageSize } from './header.js';
import { toDtype, type Pixels } from './pixels.js';

/** Decoded pixels: height x width x 3 (RGB) uint8, row-major (HWC). */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly height: number;
  readonly width: number;
}

export interface DecodeImageOptions {
  /** Refuse images whose header claims more pixels than this (default DEFAULT_MAX_PIXELS). */
  readonly maxPixels?: number;
  /** Name used in error messages, e.g. the file path. */
  readonly name?: string;
  /** The IDCT for JPEGs: 'fast' (default, DecodeImage's) or 'accurate' (DecodeJpeg INTEGER_ACCURATE, PIL's and sharp's). */
  readonly dctMethod?: JpegDctMethod;
}

/**
 * Decodes a JPEG, PNG, GIF or BMP image to RGB, as TensorFlow's DecodeImage with channels=3 does: alpha
 * dropped, grayscale expanded, first GIF frame, no EXIF rotation, no ICC colour conversion. The header
 * size is checked against maxPixels before any pixel is decoded, and truncated or corrupt data is an
 * error, never a partial image.
 */
export async function decodeImageToRgb(bytes: Uint8Array, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const { maxPixels = DEFAULT_MAX_PIXELS, name = 'image', dctMethod = 'fast' } = options;
  const size = probeImageSize(bytes, name);
  checkImageSize(size, maxPixels, name);
  let pixels: Pixels;
  if (size.format === 'bmp') {
    pixels = decodeBmpRgb(bytes, name);
  } else {
    try {
      // failOn 'error': truncated or corrupt PNG/GIF data fails rather than decoding partially.
      pixels = await decodePixels(bytes, size.format, { channels: 3, failOn: 'error', maxPixels, dctMethod });
    } catch (err) {
      const reason = err instanceof ImageInputError && err.cause instanceof Error ? err.cause.message : (err as Error).message;
      throw new ImageInputError(`${name}: cannot decode ${formatName(size.format)}: ${reason.trim()}`);
    }
  }
  const { data } = toDtype(pixels, 'uint8', []);
  return { data: data as Uint8Array, height: pixels.height, width: pixels.width };
}
