// BMP, which libvips (and so sharp) cannot read, decoded by hand: uncompressed 8, 24 or 32 bit, BGR(A)
// rows padded to 4 bytes, bottom-up unless the height is negative. One pixel loop; two sets of checks,
// TensorFlow's DecodeBMP() (for the model side, with its messages) and the client's, which refuses
// what TensorFlow would misread (palettes, compression) and accepts either DIB header.
import { i32le, u16le, u32le } from './bytes.js';
import { ImageInputError } from './format.js';
import type { Pixels } from './pixels.js';

export interface BmpHeader {
  /** Where the pixel rows start (bfOffBits). */
  readonly dataOffset: number;
  readonly width: number;
  /** Negative: rows stored top-down. */
  readonly height: number;
  readonly bitsPerPixel: number;
  /** biCompression: 0 BI_RGB, 3 BI_BITFIELDS (always 0 for a BITMAPCOREHEADER). */
  readonly compression: number;
}

/** The file and DIB header fields, from a BITMAPCOREHEADER (12 bytes) or a BITMAPINFOHEADER and its successors. */
export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  const dataOffset = u32le(bytes, 10);
  if (u32le(bytes, 14) === 12) {
    return { dataOffset, width: u16le(bytes, 18), height: u16le(bytes, 20), bitsPerPixel: u16le(bytes, 24), compression: 0 };
  }
  return { dataOffset, width: i32le(bytes, 18), height: i32le(bytes, 22), bitsPerPixel: u16le(bytes, 28), compression: u32le(bytes, 30) };
}

/** Rows of `inChannels`-byte BGR(A) or gray pixels, each padded to 4 bytes → `outChannels` RGB(A) top row first. */
function unpackRows(src: Uint8Array, width: number, height: number, inChannels: number, outChannels: number): Pixels {
  const absHeight = Math.abs(height);
  const rowSize = Math.floor((inChannels * width + 3) / 4) * 4;
  const topDown = height < 0;
  const out = new Uint8Array(absHeight * width * outChannels);
  for (let i = 0; i < absHeight; i++) {
    const row = (topDown ? i : absHeight - 1 - i) * rowSize;
    for (let j = 0; j < width; j++) {
      const s = row + j * inChannels;
      const d = (i * width + j) * outChannels;
      if (inChannels === 1) {
        out[d] = src[s];
        if (outChannels >= 3) out[d + 1] = out[d + 2] = src[s];
        if (outChannels === 4) out[d + 3] = 0xff;
      } else {
        out[d] = src[s + 2];
        out[d + 1] = src[s + 1];
        out[d + 2] = src[s];
        if (outChannels === 4) out[d + 3] = inChannels === 4 ? src[s + 3] : 0xff;
      }
    }
  }
  return { height: absHeight, width, channels: outChannels, frames: 1, data: out };
}

/**
 * DecodeBMP() of decode_image_op.cc, byte for byte: its header fields at fixed offsets, its checks and
 * messages (the file size must match the header exactly). `channels` 0 keeps the inherent count.
 */
export function decodeBmp(bytes: Uint8Array, channels: number): Pixels {
  if (channels === 1) throw new ImageInputError('`channels` must be 0, 3 or 4 for BMP, but got 1');
  if (bytes.length < 32) {
    throw new ImageInputError(`Incomplete bmp content, requires at least 32 bytes to find the header size, width, height, and bpp, got ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const headerSize = view.getInt32(10, true);
  const width = view.getInt32(18, true);
  const height = view.getInt32(22, true);
  const bpp = view.getInt16(28, true);
  const inChannels = Math.trunc(bpp / 8);
  if (inChannels !== 1 && inChannels !== 3 && inChannels !== 4) {
    throw new ImageInputError(`Number of channels inherent in the image must be 1, 3 or 4, was ${inChannels}`);
  }
  if (width <= 0) throw new ImageInputError('Width must be positive');
  if (height === 0) throw new ImageInputError('Height must be nonzero');
  if (headerSize < 0) throw new ImageInputError('header size must be nonnegative');
  const absHeight = Math.abs(height);
  if (width * absHeight >= Math.floor(0x7fffffff / 8)) throw new ImageInputError('Total possible pixel bytes must be less than 2^30');
  const rowSize = Math.floor((inChannels * width + 3) / 4) * 4;
  const sizeDiff = bytes.length - headerSize - rowSize * absHeight;
  if (sizeDiff !== 0) throw new ImageInputError(`Input size should match (header_size + row_size * abs_height) but they differ by ${sizeDiff}`);
  return unpackRows(bytes.subarray(headerSize), width, height, inChannels, channels || inChannels);
}

/**
 * Client-side BMP to RGB: uncompressed 24- or 32-bit only (TensorFlow reads an 8-bit BMP's palette
 * indices as gray, which is never what the picture shows), trailing bytes after the rows allowed.
 * The header must have been checked by probeImageSize. `name` is used in error messages.
 */
export function decodeBmpRgb(bytes: Uint8Array, name: string): Pixels {
  const { dataOffset, width, height, bitsPerPixel, compression } = readBmpHeader(bytes);
  // BI_BITFIELDS with the masks of plain BGRX is the same layout as BI_RGB.
  const plainBitfields =
    compression === 3 &&
    bitsPerPixel === 32 &&
    u32le(bytes, 54) === 0x00ff0000 &&
    u32le(bytes, 58) === 0x0000ff00 &&
    u32le(bytes, 62) === 0x000000ff;
  if (!((bitsPerPixel === 24 || bitsPerPixel === 32) && (compression === 0 || plainBitfields))) {
    throw new ImageInputError(
      `${name}: BMP with ${bitsPerPixel} bits per pixel and compression ${compression} is not supported ` +
        '(only uncompressed 24- and 32-bit BMP)',
    );
  }
  const bytesPerPixel = bitsPerPixel / 8;
  const rowStride = Math.ceil((width * bytesPerPixel) / 4) * 4;
  if (dataOffset + rowStride * (Math.abs(height) - 1) + width * bytesPerPixel > bytes.length) {
    throw new ImageInputError(`${name}: BMP pixel data is truncated`);
  }
  return unpackRows(bytes.subarray(dataOffset), width, height, bytesPerPixel, 3);
}
