// DecodeBmp / DecodeImage on BMPs against TensorFlow's own BMP reader (decode_image_op.cc, DecodeBmpV2 and
// DecodeBMP): the fields it reads at fixed offsets (pixel data offset at 10, width at 18, height at 22,
// bits per pixel at 28; nothing else, so compression and palettes are ignored), its channel rules and its
// refusals. Files are written here from the BMP layout; expected pixels are worked out from the rule.
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../src/kernels/decode-image.js';

/**
 * A BMP with a BITMAPINFOHEADER: `rows` top row first, each pixel's bytes as stored (B, G, R[, A] or one
 * byte), written bottom-up unless `height` is negative; rows padded to 4 bytes; `palette` bytes
 * between the header and the pixels; `extra` bytes after them.
 */
function bmp(bpp: number, height: number, rows: number[][], options: { palette?: number[]; extra?: number; compression?: number } = {}): Uint8Array {
  const bytesPerPixel = bpp / 8;
  const width = rows[0].length / bytesPerPixel;
  const rowSize = Math.ceil((width * bytesPerPixel) / 4) * 4;
  const palette = options.palette ?? [];
  const offset = 54 + palette.length;
  const out = Buffer.alloc(offset + rowSize * rows.length + (options.extra ?? 0));
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bpp, 28);
  out.writeUInt32LE(options.compression ?? 0, 30);
  Buffer.from(palette).copy(out, 54);
  const stored = height > 0 ? [...rows].reverse() : rows;
  stored.forEach((row, r) => Buffer.from(row).copy(out, offset + r * rowSize));
  return new Uint8Array(out);
}

// Three pixels wide, so 24-bit rows (9 bytes) carry 3 bytes of padding.
const BGR = [
  [0, 0, 255, 0, 255, 0, 255, 0, 0],
  [10, 20, 30, 40, 50, 60, 70, 80, 90],
];
const RGB = [255, 0, 0, 0, 255, 0, 0, 0, 255, 30, 20, 10, 60, 50, 40, 90, 80, 70];

describe('DecodeBmp: decode_image_op.cc rules', () => {
  it('24-bit rows are BGR, bottom-up for a positive height, top-down for a negative one, padded to 4 bytes', async () => {
    for (const height of [2, -2]) {
      const out = await decodeImage('DecodeBmp', bmp(24, height, BGR));
      expect(out.shape).toEqual([2, 3, 3]);
      expect(Array.from(out.data)).toEqual(RGB);
    }
  });

  it('channels: 24-bit to 4 adds alpha 255; 32-bit keeps alpha with 0 or 4 and drops it with 3', async () => {
    const withAlpha = (await decodeImage('DecodeImage', bmp(24, 2, BGR), { channels: 4 })).data;
    expect(Array.from(withAlpha)).toEqual([0, 1, 2, 3, 4, 5].flatMap((p) => [...RGB.slice(p * 3, p * 3 + 3), 255]));
    const bgra = [[1, 2, 3, 4, 5, 6, 7, 8]];
    expect(Array.from((await decodeImage('DecodeBmp', bmp(32, -1, bgra))).data)).toEqual([3, 2, 1, 4, 7, 6, 5, 8]);
    expect(Array.from((await decodeImage('DecodeBmp', bmp(32, -1, bgra), { channels: 4 })).data)).toEqual([3, 2, 1, 4, 7, 6, 5, 8]);
    expect(Array.from((await decodeImage('DecodeBmp', bmp(32, -1, bgra), { channels: 3 })).data)).toEqual([3, 2, 1, 7, 6, 5]);
  });

  it('the compression field is not read: a 32-bit BI_BITFIELDS file is taken as BGRA', async () => {
    expect(Array.from((await decodeImage('DecodeBmp', bmp(32, 1, [[9, 8, 7, 6]], { compression: 3 }))).data)).toEqual([7, 8, 9, 6]);
  });

  it('8-bit: the palette is skipped (pixels start at the data offset) and indices are read as gray', async () => {
    const file = bmp(8, 1, [[0, 1, 2]], { palette: [255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0] });
    expect(await decodeImage('DecodeBmp', file)).toMatchObject({ shape: [1, 3, 1] });
    expect(Array.from((await decodeImage('DecodeBmp', file)).data)).toEqual([0, 1, 2]);
    expect(Array.from((await decodeImage('DecodeBmp', file, { channels: 3 })).data)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(Array.from((await decodeImage('DecodeBmp', file, { channels: 4 })).data)).toEqual([0, 0, 0, 255, 1, 1, 1, 255, 2, 2, 2, 255]);
  });

  it('dtype uint16 scales by 256 and float32 by float(1/255), as for JPEG and GIF', async () => {
    const file = bmp(24, 1, [[0, 128, 255]]);
    expect(Array.from((await decodeImage('DecodeImage', file, { dtype: 'uint16' })).data)).toEqual([255 * 256, 128 * 256, 0]);
    const scale = Math.fround(1 / 255);
    expect(Array.from((await decodeImage('DecodeImage', file, { dtype: 'float32' })).data)).toEqual([255, 128, 0].map((v) => Math.fround(v * scale)));
  });

  it.each([
    ['channels 1', bmp(24, 2, BGR), { channels: 1 }, '`channels` must be 0, 3 or 4 for BMP, but got 1'],
    ['16 bits per pixel', bmp(16, 1, [[1, 2, 3, 4]]), {}, 'Number of channels inherent in the image must be 1, 3 or 4, was 2'],
    ['a byte after the rows', bmp(24, 2, BGR, { extra: 1 }), {}, 'Input size should match (header_size + row_size * abs_height) but they differ by 1'],
    ['fewer than 32 bytes', bmp(24, 2, BGR).subarray(0, 31), {}, 'Incomplete bmp content, requires at least 32 bytes to find the header size, width, height, and bpp, got 31 bytes'],
  ] as const)('refuses %s with TensorFlow’s message', async (_, file, attrs, message) => {
    await expect(decodeImage('DecodeBmp', file, attrs)).rejects.toThrow(message);
  });

  // TensorFlow says "Width must be positive" / "Height must be nonzero"; the header check that runs before
  // any decoder (image limits) refuses the same files first, in its own words.
  it('refuses a zero width or height', async () => {
    const file = bmp(24, 2, BGR);
    const zero = (at: number) => {
      const copy = file.slice();
      new DataView(copy.buffer).setInt32(at, 0, true);
      return copy;
    };
    await expect(decodeImage('DecodeBmp', zero(18))).rejects.toThrow('the image has no pixels (its header says 0x2)');
    await expect(decodeImage('DecodeBmp', zero(22))).rejects.toThrow('the image has no pixels (its header says 3x0)');
  });

  it('only DecodeBmp and DecodeImage read BMP; DecodeBmp reads nothing else', async () => {
    await expect(decodeImage('DecodeJpeg', bmp(24, 2, BGR))).rejects.toThrow(
      'Trying to decode BMP format using a wrong op. Use `decode_bmp` or `decode_image` instead. Op used: DecodeJpeg',
    );
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    await expect(decodeImage('DecodeBmp', png)).rejects.toThrow('Trying to decode PNG format using DecodeBmp op. Use `decode_png` or `decode_image` instead.');
  });
});
