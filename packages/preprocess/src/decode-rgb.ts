import sharp, { type OutputInfo } from 'sharp';
import {
  DEFAULT_MAX_PIXELS,
  ImageInputError,
  checkImageSize,
  formatName,
  i32le,
  probeImageSize,
  u16le,
  u32le,
} from './image-header.js';

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
}

/**
 * Client-side (reference) decode of a JPEG, PNG, GIF or BMP image to RGB, as TensorFlow's DecodeImage
 * with channels=3 does: alpha dropped, grayscale expanded, first GIF frame, no EXIF rotation, no ICC
 * colour conversion. The header size is checked against maxPixels before any pixel is decoded, and
 * truncated or corrupt data is an error, never a partial image.
 */
export async function decodeImageToRgb(bytes: Uint8Array, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const { maxPixels = DEFAULT_MAX_PIXELS, name = 'image' } = options;
  const size = probeImageSize(bytes, name);
  checkImageSize(size, maxPixels, name);
  if (size.format === 'bmp') return decodeBmp(bytes, name);
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    // failOn 'error': libvips would otherwise return a partially decoded (grey-filled) truncated JPEG.
    decoded = await sharp(bytes, {
      failOn: 'error',
      limitInputPixels: Math.floor(maxPixels),
      ignoreIcc: true,
      pages: 1,
    })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageInputError(`${name}: cannot decode ${formatName(size.format)}: ${(err as Error).message.trim()}`);
  }
  const { data, info } = decoded;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new ImageInputError(`${name}: decoded to ${info.channels} channels, expected RGB`);
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width };
}

// sharp's prebuilt libvips has no BMP loader, so uncompressed 24/32-bit BMPs (what TensorFlow's DecodeBmp
// reads) are decoded here.
function decodeBmp(bytes: Uint8Array, name: string): RgbImage {
  const dataOffset = u32le(bytes, 10);
  const core = u32le(bytes, 14) === 12;
  const width = core ? u16le(bytes, 18) : i32le(bytes, 18);
  const storedHeight = core ? u16le(bytes, 20) : i32le(bytes, 22);
  const bitsPerPixel = core ? u16le(bytes, 24) : u16le(bytes, 28);
  const compression = core ? 0 : u32le(bytes, 30);
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
  const height = Math.abs(storedHeight);
  const bytesPerPixel = bitsPerPixel / 8;
  const rowStride = Math.ceil((width * bytesPerPixel) / 4) * 4;
  if (dataOffset + rowStride * (height - 1) + width * bytesPerPixel > bytes.length) {
    throw new ImageInputError(`${name}: BMP pixel data is truncated`);
  }
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    // Positive stored height means rows are stored bottom-up.
    const row = dataOffset + (storedHeight > 0 ? height - 1 - y : y) * rowStride;
    for (let x = 0; x < width; x++) {
      const src = row + x * bytesPerPixel;
      const dst = (y * width + x) * 3;
      data[dst] = bytes[src + 2];
      data[dst + 1] = bytes[src + 1];
      data[dst + 2] = bytes[src];
    }
  }
  return { data, height, width };
}
