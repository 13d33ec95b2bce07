// Image dimensions read from the header, without decoding pixels, and the limits checked against them
// (pixels per image and per request, images per request, GIF frames), so that oversized images
// (decompression bombs) are refused before any allocation.
import { readBmpHeader } from './bmp.js';
import { u16be, u16le, u32be, u32le } from './bytes.js';
import { ImageInputError, detectImageFormat, formatName, notAnImageMessage, type ImageFormat } from './format.js';

export interface ImageSize {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

/** Default pixel limit: 50 megapixels, far above any classifier input and below decompression-bomb sizes. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/**
 * What decoding the images of one request (a batch) may allocate, checked from the headers before any
 * pixel is: a few hundred bytes can claim gigapixels (decompression bombs).
 */
export interface ImageLimits {
  /** Pixels of one image, width x height x the frames decoded. */
  readonly maxImagePixels: number;
  /** Pixels of all the images of one request together. */
  readonly maxRequestPixels: number;
  /** Images in one request. */
  readonly maxImages: number;
  /** Frames of an animated GIF decoded whole. */
  readonly maxGifFrames: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxImagePixels: DEFAULT_MAX_PIXELS,
  maxRequestPixels: 200_000_000,
  maxImages: 256,
  maxGifFrames: 256,
};

/** The flag that sets each limit (tensorsky serve's), so that a refusal says how to raise it. */
export const IMAGE_LIMIT_FLAGS: Readonly<Record<keyof ImageLimits, string>> = {
  maxImagePixels: '--max_image_pixels',
  maxRequestPixels: '--max_request_pixels',
  maxImages: '--max_images_per_request',
  maxGifFrames: '--max_gif_frames',
};

/** Limits with the defaults filled in; throws RangeError when one is not a positive integer. */
export function imageLimits(partial: Partial<ImageLimits> = {}): ImageLimits {
  const limits = { ...DEFAULT_IMAGE_LIMITS, ...partial };
  for (const key of Object.keys(DEFAULT_IMAGE_LIMITS) as (keyof ImageLimits)[]) {
    if (!(Number.isInteger(limits[key]) && limits[key] > 0)) {
      throw new RangeError(`${IMAGE_LIMIT_FLAGS[key]} must be a positive integer, got ${String(limits[key])}`);
    }
  }
  return limits;
}

/**
 * Checks one image's header against `limits`: it must have pixels, at most maxGifFrames frames when
 * `allFrames` are decoded, and at most maxImagePixels pixels (all its decoded frames). Returns the pixels
 * decoding will produce. `name` ("instance 3") is used in error messages.
 */
export function checkImageHeader(bytes: Uint8Array, limits: ImageLimits, name = 'image', allFrames = false): number {
  const size = probeImageSize(bytes, name);
  const { width, height } = size;
  if (!(width > 0 && height > 0)) throw new ImageInputError(`${name} has no pixels (its header says ${width}x${height})`);
  const frames = size.format === 'gif' && allFrames ? countGifFrames(bytes, limits.maxGifFrames + 1) : 1;
  if (frames > limits.maxGifFrames) {
    throw new ImageInputError(
      `${name} is a GIF of more than ${limits.maxGifFrames} frames, the limit (${IMAGE_LIMIT_FLAGS.maxGifFrames}); send fewer frames`,
    );
  }
  const pixels = width * height * frames;
  if (pixels > limits.maxImagePixels) {
    const frameText = frames > 1 ? ` x ${frames} frames` : '';
    throw new ImageInputError(
      `${name} is ${width}x${height}${frameText} = ${groupDigits(pixels)} pixels, more than the limit of ` +
        `${groupDigits(limits.maxImagePixels)} per image (${IMAGE_LIMIT_FLAGS.maxImagePixels}); send a smaller image`,
    );
  }
  return pixels;
}

/**
 * Checks the images of one request against `limits` before any is decoded: their count, each header
 * (checkImageHeader, first frames) and their pixels together. `name(i)` names image i in messages.
 */
export function checkRequestImages(images: readonly Uint8Array[], limits: ImageLimits, name: (index: number) => string): void {
  if (images.length > limits.maxImages) {
    throw new ImageInputError(
      `the request has ${images.length} images, more than the limit of ${limits.maxImages} per request ` +
        `(${IMAGE_LIMIT_FLAGS.maxImages}); send them in several requests`,
    );
  }
  let total = 0;
  for (const [i, bytes] of images.entries()) {
    total += checkImageHeader(bytes, limits, name(i));
    if (total > limits.maxRequestPixels) {
      throw new ImageInputError(
        `the images of the request up to ${name(i)} have ${groupDigits(total)} pixels, more than the limit of ` +
          `${groupDigits(limits.maxRequestPixels)} per request (${IMAGE_LIMIT_FLAGS.maxRequestPixels}); send fewer or smaller images per request`,
      );
    }
  }
}

/**
 * Width and height read from the image header without decoding pixels, so oversized images can be
 * rejected before any allocation. `name` is used in error messages.
 */
export function probeImageSize(bytes: Uint8Array, name = 'image'): ImageSize {
  const format = detectImageFormat(bytes);
  if (format === undefined) throw new ImageInputError(notAnImageMessage(name, bytes));
  const truncated = (what: string) =>
    new ImageInputError(`${name}: ${formatName(format)} data ends before the ${what} (file truncated?)`);
  switch (format) {
    case 'jpeg':
      return { format, ...jpegFrameSize(bytes, name) };
    case 'png':
      if (bytes.length < 24) throw truncated('IHDR chunk');
      if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
        throw new ImageInputError(`${name}: PNG does not start with an IHDR chunk`);
      }
      return { format, width: u32be(bytes, 16), height: u32be(bytes, 20) };
    case 'gif':
      if (bytes.length < 10) throw truncated('logical screen descriptor');
      return { format, width: u16le(bytes, 6), height: u16le(bytes, 8) };
    case 'bmp': {
      const core = u32le(bytes, 14) === 12;
      if (bytes.length < (core ? 22 : 26)) throw truncated(core ? 'BITMAPCOREHEADER' : 'BITMAPINFOHEADER');
      const { width, height } = readBmpHeader(bytes);
      // Negative height means rows are stored top-down; the size is its magnitude.
      return { format, width, height: Math.abs(height) };
    }
  }
}

/** Rejects images with no pixels or more than maxPixels pixels. `name` is used in error messages. */
export function checkImageSize(
  size: { readonly width: number; readonly height: number },
  maxPixels: number = DEFAULT_MAX_PIXELS,
  name = 'image',
): void {
  if (!(maxPixels > 0)) throw new RangeError(`maxPixels must be a positive number, got ${maxPixels}`);
  const { width, height } = size;
  if (!(width > 0 && height > 0)) {
    throw new ImageInputError(`${name} has no pixels (its header says ${width}x${height})`);
  }
  if (width * height > maxPixels) {
    throw new ImageInputError(
      `${name} is ${width}x${height} = ${groupDigits(width * height)} pixels, more than the limit of ` +
        `${groupDigits(maxPixels)}; raise the pixel limit if the image is genuine`,
    );
  }
}

function groupDigits(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Image descriptors of a GIF, counted by walking its blocks without decompressing them; stops at `stop`.
 * A truncated file counts the frames it has (the decoder reports the truncation).
 */
function countGifFrames(bytes: Uint8Array, stop: number): number {
  const subBlocks = (at: number) => {
    while (at < bytes.length && bytes[at] !== 0) at += bytes[at] + 1;
    return at + 1;
  };
  const colorTable = (packed: number) => (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
  let i = 13 + colorTable(bytes[10]);
  let frames = 0;
  while (i < bytes.length && frames < stop) {
    const block = bytes[i];
    if (block === 0x2c) {
      frames++;
      // Descriptor (10 bytes), local color table, LZW minimum code size, then the data sub-blocks.
      i = subBlocks(i + 10 + colorTable(bytes[i + 9]) + 1);
    } else if (block === 0x21) {
      i = subBlocks(i + 2);
    } else {
      break; // trailer (0x3b) or garbage
    }
  }
  return frames;
}

// Walks JPEG marker segments up to the first SOFn (frame header), which holds the image size.
function jpegFrameSize(bytes: Uint8Array, name: string): { width: number; height: number } {
  let i = 2;
  for (;;) {
    if (i >= bytes.length) break;
    if (bytes[i] !== 0xff) throw new ImageInputError(`${name}: JPEG has no marker at byte ${i} (corrupt header)`);
    while (bytes[i] === 0xff) i++; // fill bytes
    if (i >= bytes.length) break;
    const marker = bytes[i++];
    // Markers without a length: TEM, RSTn, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xda || marker === 0xd9) {
      throw new ImageInputError(`${name}: JPEG has no frame header (SOF) before its image data`);
    }
    if (i + 2 > bytes.length) break;
    const length = u16be(bytes, i);
    if (length < 2) throw new ImageInputError(`${name}: JPEG segment at byte ${i - 2} has invalid length ${length}`);
    // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc): length, precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 7 > bytes.length) break;
      return { height: u16be(bytes, i + 3), width: u16be(bytes, i + 5) };
    }
    i += length;
  }
  throw new ImageInputError(`${name}: JPEG data ends before the frame header (file truncated?)`);
}
