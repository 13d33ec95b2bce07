/** The image formats TensorFlow's DecodeImage accepts, and so the only ones we send to a model. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'bmp';

export interface ImageSize {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

/** A problem with one input image (unreadable, not an image, too large, undecodable). */
export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

/** Default pixel limit: 50 megapixels, far above any classifier input and below decompression-bomb sizes. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'JPEG', png: 'PNG', gif: 'GIF', bmp: 'BMP' };
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// BMP DIB header sizes: BITMAPCOREHEADER, BITMAPINFOHEADER, V2, V3, OS/2 2.x, V4, V5.
const BMP_DIB_HEADER_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]);

export function formatName(format: ImageFormat): string {
  return FORMAT_NAMES[format];
}

/** The image format from the leading magic bytes, or undefined when they are not JPEG, PNG, GIF or BMP. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'gif';
  // "BM" alone is too weak (a text file may start with it), so also require a known DIB header size.
  if (startsWith(bytes, ascii('BM')) && bytes.length >= 18 && BMP_DIB_HEADER_SIZES.has(u32le(bytes, 14))) {
    return 'bmp';
  }
  return undefined;
}

/** "starts with ff 00 68 69 …" plus the text when the bytes are printable, for not-an-image messages. */
export function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 8);
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const printable = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
  const text = printable ? ` ${JSON.stringify(String.fromCharCode(...head))}` : '';
  return `starts with ${hex}${bytes.length > 8 ? ' …' : ''}${text}`;
}

export function notAnImageMessage(name: string, bytes: Uint8Array): string {
  if (bytes.length === 0) return `${name} is empty (0 bytes)`;
  return `${name} is not a JPEG, PNG, GIF or BMP image (${describeStart(bytes)})`;
}

/**
 * Width and height read from the image header without decoding pixels, so oversized images can be
 * rejected before any allocation. `name` is used in error messages.
 */
export function probeImageSize(bytes: Uint8Array, name = 'image'): ImageSize {
  const format = detectImageFormat(bytes);
  if (format === undefined) throw new ImageInputError(notAnImageMessage(name, bytes));
  const truncated = (what: string) =>
    new ImageInputError(`${name}: ${FORMAT_NAMES[format]} data ends before the ${what} (file truncated?)`);
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
    case 'bmp':
      return { format, ...bmpHeaderSize(bytes, truncated) };
  }
}

/**
 * Rejects images with no pixels or more than maxPixels pixels. `name` is used in error messages.
 */
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

function bmpHeaderSize(
  bytes: Uint8Array,
  truncated: (what: string) => ImageInputError,
): { width: number; height: number } {
  if (u32le(bytes, 14) === 12) {
    if (bytes.length < 22) throw truncated('BITMAPCOREHEADER');
    return { width: u16le(bytes, 18), height: u16le(bytes, 20) };
  }
  if (bytes.length < 26) throw truncated('BITMAPINFOHEADER');
  // Negative height means rows are stored top-down; the size is its magnitude.
  return { width: i32le(bytes, 18), height: Math.abs(i32le(bytes, 22)) };
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

export function u16le(bytes: Uint8Array, i: number): number {
  return bytes[i] | (bytes[i + 1] << 8);
}

export function u32le(bytes: Uint8Array, i: number): number {
  return (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0;
}

export function i32le(bytes: Uint8Array, i: number): number {
  return bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
}

function u16be(bytes: Uint8Array, i: number): number {
  return (bytes[i] << 8) | bytes[i + 1];
}

function u32be(bytes: Uint8Array, i: number): number {
  return ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
}
