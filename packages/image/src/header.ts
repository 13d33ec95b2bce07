// Image dimensions read from the header, without decoding pixels, so that oversized images (decompression
// bombs) are refused before any allocation.
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
