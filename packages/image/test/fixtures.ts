// Test helpers: the fixture photos' folder and hand-built image headers/files (built from the format
// specifications, not by the code under test).
import { crc32 } from 'node:zlib';

export { IMAGES_DIR as imagesDir } from '@tensorsky/fixtures';

/** Pixels of TensorFlow's 2x2 test images (image_png_test.png), as TensorFlow decodes them (tfjs-node image_test.ts). */
export const TF_TEST_PIXELS = [238, 101, 0, 50, 50, 50, 100, 50, 0, 200, 100, 50];

function u16be(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32be(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
function u16le(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff];
}
function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** SOI, a JFIF APP0 segment, then a baseline SOF0 frame header for a 3-component image, then EOI. */
export function jpegHeader(width: number, height: number, sofMarker = 0xc0): Uint8Array {
  const app0 = [0xff, 0xe0, ...u16be(16), ...ascii('JFIF'), 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, sofMarker, ...u16be(17), 8, ...u16be(height), ...u16be(width), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, ...app0, ...sof, 0xff, 0xd9]);
}

/** PNG signature and an IHDR chunk (8-bit RGB) with a correct CRC, and nothing else. */
export function pngHeader(width: number, height: number): Uint8Array {
  const ihdr = [...ascii('IHDR'), ...u32be(width), ...u32be(height), 8, 2, 0, 0, 0];
  return new Uint8Array([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ...u32be(13), ...ihdr, ...u32be(crc32(new Uint8Array(ihdr))),
  ]);
}

/** GIF89a header and logical screen descriptor. */
export function gifHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([...ascii('GIF89a'), ...u16le(width), ...u16le(height), 0, 0, 0, 0x3b]);
}

/**
 * A BMP with a BITMAPINFOHEADER. `rgb` holds the pixels top row first (height x width x 3); rows are
 * stored bottom-up unless topDown, padded to 4 bytes. bitsPerPixel 32 stores B, G, R, 0xff;
 * bitfields adds BI_BITFIELDS masks for BGRX after the header.
 */
export function bmpFile(
  width: number,
  height: number,
  rgb: readonly number[],
  { bitsPerPixel = 24, topDown = false, bitfields = false } = {},
): Uint8Array {
  const bytesPerPixel = bitsPerPixel / 8;
  const stride = Math.ceil((width * bytesPerPixel) / 4) * 4;
  const masks = bitfields ? [...u32le(0x00ff0000), ...u32le(0x0000ff00), ...u32le(0x000000ff)] : [];
  const dataOffset = 14 + 40 + masks.length;
  const pixels = new Array<number>(stride * height).fill(0);
  for (let y = 0; y < height; y++) {
    const row = (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb.slice((y * width + x) * 3, (y * width + x) * 3 + 3);
      const px = bitsPerPixel === 32 ? [b, g, r, 0xff] : [b, g, r];
      px.forEach((v, c) => (pixels[row + x * bytesPerPixel + c] = v));
    }
  }
  const infoHeader = [
    ...u32le(40), ...u32le(width), ...u32le(topDown ? -height : height), ...u16le(1), ...u16le(bitsPerPixel),
    ...u32le(bitfields ? 3 : 0), ...u32le(pixels.length), ...u32le(2835), ...u32le(2835), ...u32le(0), ...u32le(0),
  ];
  const fileHeader = [...ascii('BM'), ...u32le(dataOffset + pixels.length), ...u32le(0), ...u32le(dataOffset)];
  return new Uint8Array([...fileHeader, ...infoHeader, ...masks, ...pixels]);
}

