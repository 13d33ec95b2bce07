import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import os from 'node:os';
import { decodeImage } from '../src/kernels/decode-image.js';
import { HAS_DJPEG, IMAGES_DIR, djpeg, djpegSuiteTitle, jpegFiles, writeCjpegVariants, type Pnm } from '@tensorsky/fixtures';
import type { DecodedImage } from '@tensorsky/image';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const images = IMAGES_DIR;

const text = (s: string) => new TextEncoder().encode(s);

/** An uncompressed BMP laid out as in the BMP spec: 14-byte file header, 40-byte info header, padded rows. */
function bmp(width: number, height: number, bpp: 24 | 32, rowsTopDown: number[][]): Uint8Array {
  const channels = bpp / 8;
  const rowSize = Math.ceil((width * channels) / 4) * 4;
  const out = Buffer.alloc(54 + rowSize * Math.abs(height));
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bpp, 28);
  const rows = height > 0 ? [...rowsTopDown].reverse() : rowsTopDown; // positive height: bottom-up
  rows.forEach((row, r) => Buffer.from(row).copy(out, 54 + r * rowSize));
  return out;
}

describe('image decode ops', () => {
  it('DecodeBmp: BGR rows, bottom-up, padded to 4 bytes', async () => {
    // 2x2, 24-bit: top row red, green; bottom row blue, white (stored as B, G, R).
    const file = bmp(2, 2, 24, [
      [0, 0, 255, 0, 255, 0],
      [255, 0, 0, 255, 255, 255],
    ]);
    const img = await decodeImage('DecodeBmp', file);
    expect(img.shape).toEqual([2, 2, 3]);
    expect(Array.from(img.data)).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    const rgba = await decodeImage('DecodeBmp', file, { channels: 4 });
    expect(Array.from(rgba.data.subarray(0, 4))).toEqual([255, 0, 0, 255]);
  });

  it('DecodeBmp: 32-bit top-down keeps alpha; the size must match the header', async () => {
    const file = bmp(1, -2, 32, [
      [10, 20, 30, 40],
      [50, 60, 70, 80],
    ]);
    const img = await decodeImage('DecodeImage', file);
    expect(img.shape).toEqual([2, 1, 4]);
    expect(Array.from(img.data)).toEqual([30, 20, 10, 40, 70, 60, 50, 80]);
    expect(Array.from((await decodeImage('DecodeBmp', file, { channels: 3 })).data)).toEqual([30, 20, 10, 70, 60, 50]);
    await expect(decodeImage('DecodeBmp', file.subarray(0, file.length - 1))).rejects.toThrow(/differ by -1/);
    await expect(decodeImage('DecodeJpeg', file)).rejects.toThrow(/decode_bmp/);
  });

  it('DecodePng: exact pixels, channel conversion, dtypes', async () => {
    const rgba = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 40]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const img = await decodeImage('DecodePng', png);
    expect(img.shape).toEqual([2, 2, 4]);
    expect(Array.from(img.data)).toEqual(Array.from(rgba));
    const rgb = await decodeImage('DecodePng', png, { channels: 3 });
    expect(Array.from(rgb.data)).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
    const gray = await decodeImage('DecodePng', png, { channels: 1 });
    expect(gray.shape).toEqual([2, 2, 1]);
    // libpng's png_set_rgb_to_gray(0.299, 0.587), as png_io.cc asks: weights 9797/19234/3737 of 32768, truncated.
    const luma = (r: number, g: number, b: number) => Math.floor((9797 * r + 19234 * g + 3737 * b) / 32768);
    expect(Array.from(gray.data)).toEqual([luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255), luma(10, 20, 30)]);
    const asFloat = await decodeImage('DecodeImage', png, { dtype: 'float32', channels: 3 });
    expect(asFloat.data).toBeInstanceOf(Float32Array);
    expect(asFloat.data[0]).toBeCloseTo(1, 6);
    expect(asFloat.data[9]).toBeCloseTo(10 / 255, 6);
  });

  it('DecodePng: gray stays one channel, 16-bit keeps its precision', async () => {
    const grayPng = await sharp(Uint8Array.from([0, 50, 100, 250]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const gray = await decodeImage('DecodePng', grayPng);
    expect(gray.shape).toEqual([2, 2, 1]);
    expect(Array.from(gray.data)).toEqual([0, 50, 100, 250]);
    expect(Array.from((await decodeImage('DecodePng', grayPng, { channels: 3 })).data.subarray(0, 6))).toEqual([0, 0, 0, 50, 50, 50]);

    const wide = Uint16Array.from([0, 1000, 65535, 258, 40000, 12345]);
    // sharp takes the sample depth of raw input from the typed array (Uint16Array: 16 bits).
    const png16 = await sharp(wide, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    const img16 = await decodeImage('DecodePng', png16, { dtype: 'uint16' });
    expect(img16.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(img16.data)).toEqual(Array.from(wide));
    // uint8 from 16-bit: libpng's png_set_strip_16 keeps the high byte.
    expect(Array.from((await decodeImage('DecodePng', png16)).data)).toEqual(Array.from(wide, (v) => v >> 8));
  });

  it('DecodeJpeg: INTEGER_ACCURATE is libjpeg’s accurate IDCT (as sharp decodes); the default and DecodeImage the fast one', async () => {
    const file = fs.readFileSync(path.join(images, 'cat.jpg'));
    const direct = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    const accurate = await decodeImage('DecodeJpeg', file, { channels: 3, dct_method: 'INTEGER_ACCURATE' });
    expect(accurate.dtype).toBe('uint8');
    expect(accurate.shape).toEqual([direct.info.height, direct.info.width, 3]);
    expect(Buffer.from(accurate.data.buffer, accurate.data.byteOffset, accurate.data.byteLength).equals(direct.data)).toBe(true);
    const fast = await decodeImage('DecodeJpeg', file, { channels: 3 });
    expect(Array.from(fast.data)).not.toEqual(Array.from(accurate.data));
    // Within a few levels of the accurate IDCT, and the same as INTEGER_FAST and as DecodeImage.
    expect(Array.from(fast.data).reduce((max, v, i) => Math.max(max, Math.abs(v - accurate.data[i])), 0)).toBeLessThanOrEqual(8);
    expect(Array.from((await decodeImage('DecodeJpeg', file, { channels: 3, dct_method: 'integer_fast' })).data)).toEqual(Array.from(fast.data));
    expect(Array.from((await decodeImage('DecodeImage', file, { channels: 3 })).data)).toEqual(Array.from(fast.data));
    expect((await decodeImage('DecodeJpeg', file, { channels: 1 })).shape).toEqual([300, 451, 1]);
    await expect(decodeImage('DecodeJpeg', file, { channels: 4 })).rejects.toThrow(/JPEG does not support 4 channels/);
    await expect(decodeImage('DecodeJpeg', file, { dct_method: 'FLOAT' })).rejects.toThrow("dct_method must be one of {'', 'INTEGER_FAST', 'INTEGER_ACCURATE'}");
    await expect(decodeImage('DecodeJpeg', file.subarray(0, 2000))).rejects.toThrow(/invalid JPEG/i);
  });

  it('DecodeJpeg: ratio scales in the IDCT, fancy_upscaling false changes the chroma, try_recover_truncated decodes a cut file', async () => {
    const file = fs.readFileSync(path.join(images, 'cat.jpg'));
    expect((await decodeImage('DecodeJpeg', file, { ratio: 2 })).shape).toEqual([150, 226, 3]);
    expect((await decodeImage('DecodeJpeg', file, { ratio: 8 })).shape).toEqual([38, 57, 3]);
    await expect(decodeImage('DecodeJpeg', file, { ratio: 3 })).rejects.toThrow('ratio must be 1, 2, 4, or 8, got 3');
    const smooth = await decodeImage('DecodeJpeg', file);
    const blocky = await decodeImage('DecodeJpeg', file, { fancy_upscaling: false });
    expect(blocky.shape).toEqual(smooth.shape);
    expect(Array.from(blocky.data)).not.toEqual(Array.from(smooth.data));
    const cut = file.subarray(0, Math.floor(file.length / 2));
    await expect(decodeImage('DecodeJpeg', cut)).rejects.toThrow(/premature end of JPEG file/);
    expect((await decodeImage('DecodeJpeg', cut, { try_recover_truncated: true })).shape).toEqual([300, 451, 3]);
    // Only DecodeJpeg has the attrs: DecodeImage reads JPEGs with TensorFlow's defaults.
    expect((await decodeImage('DecodeImage', file, { ratio: 2 })).shape).toEqual([300, 451, 3]);
  });

  it('DecodeAndCropJpeg crops the decoded image', async () => {
    const file = fs.readFileSync(path.join(images, 'cat.jpg'));
    const full = await decodeImage('DecodeJpeg', file, { channels: 3 });
    const crop = await decodeImage('DecodeAndCropJpeg', file, { channels: 3, crop_window: [10, 20, 5, 7] });
    expect(crop.shape).toEqual([5, 7, 3]);
    for (let r = 0; r < 5; r++) {
      const from = ((10 + r) * 451 + 20) * 3;
      expect(Array.from(crop.data.subarray(r * 21, r * 21 + 21))).toEqual(Array.from(full.data.subarray(from, from + 21)));
    }
  });

  it('DecodeGif gives [frames, h, w, 3]; DecodeImage honours expand_animations', async () => {
    const frame = (r: number, g: number, b: number) => Buffer.alloc(4 * 3 * 4).map((_, i) => [r, g, b, 255][i % 4]);
    const gif = await sharp(Buffer.concat([frame(255, 0, 0), frame(0, 0, 255)]), { raw: { width: 4, height: 6, channels: 4, pageHeight: 3 } })
      .gif()
      .toBuffer();
    const all = await decodeImage('DecodeGif', gif);
    expect(all.shape).toEqual([2, 3, 4, 3]);
    expect(Array.from(all.data.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(all.data.subarray(36, 39))).toEqual([0, 0, 255]);
    expect((await decodeImage('DecodeImage', gif)).shape).toEqual([2, 3, 4, 3]);
    const first = await decodeImage('DecodeImage', gif, { expand_animations: false });
    expect(first.shape).toEqual([3, 4, 3]);
    expect(Array.from(first.data.subarray(0, 3))).toEqual([255, 0, 0]);
    await expect(decodeImage('DecodeJpeg', gif)).rejects.toThrow(/2 frames/);
    await expect(decodeImage('DecodeImage', gif, { channels: 1 })).rejects.toThrow(/0 or 3 for GIF/);
  });

  it('rejects empty input and unknown formats with TensorFlow messages', async () => {
    await expect(decodeImage('DecodeImage', new Uint8Array(0))).rejects.toThrow('Input is empty.');
    await expect(decodeImage('DecodeImage', text('hello'))).rejects.toThrow('Unknown image file format. One of JPEG, PNG, GIF, BMP required.');
    const png = fs.readFileSync(path.join(images, 'image_png_test.png'));
    await expect(decodeImage('DecodeBmp', png)).rejects.toThrow(/using DecodeBmp op/);
    expect((await decodeImage('DecodeGif', png)).shape).toEqual([1, 2, 2, 3]);
  });
});

/** Shape [h, w, c] and every sample equal to djpeg's output. */
function expectDjpegPixels(ours: DecodedImage, ref: Pnm, file: string): void {
  expect(ours.shape, file).toEqual([ref.height, ref.width, ref.channels]);
  expect(Buffer.from(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength).equals(Buffer.from(ref.data)), `${file}: pixels equal djpeg's`).toBe(true);
}

// TensorFlow's JPEG pixels are libjpeg-turbo's; Debian's djpeg (libjpeg-turbo-progs) gives them for each IDCT.
describe.skipIf(!HAS_DJPEG)(djpegSuiteTitle('JPEG decode ops equal djpeg bit for bit'), () => {
  let dir: string;
  let files: string[];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-image-djpeg-'));
    files = [...jpegFiles(images), ...writeCjpegVariants(dir, path.join(images, 'coffee.jpg'))];
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('DecodeImage (IFAST, TensorFlow’s default) equals djpeg -dct fast; channels 3 and 1 too', async () => {
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      expectDjpegPixels(await decodeImage('DecodeImage', bytes), djpeg(file, ['-dct', 'fast']), file);
      expectDjpegPixels(await decodeImage('DecodeImage', bytes, { channels: 3 }), djpeg(file, ['-dct', 'fast', '-rgb']), file);
      expectDjpegPixels(await decodeImage('DecodeJpeg', bytes, { channels: 1 }), djpeg(file, ['-dct', 'fast', '-grayscale']), file);
    }
  });

  it('DecodeJpeg(dct_method=INTEGER_ACCURATE) equals djpeg -dct int, with fancy_upscaling false -nosmooth, ratio 2 -scale 1/2', async () => {
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      expectDjpegPixels(await decodeImage('DecodeJpeg', bytes, { dct_method: 'INTEGER_ACCURATE' }), djpeg(file, ['-dct', 'int']), file);
      expectDjpegPixels(await decodeImage('DecodeJpeg', bytes, { dct_method: 'INTEGER_ACCURATE', fancy_upscaling: false }), djpeg(file, ['-dct', 'int', '-nosmooth']), file);
      if (!file.endsWith('image_jpeg_test.jpeg')) {
        expectDjpegPixels(await decodeImage('DecodeJpeg', bytes, { ratio: 2 }), djpeg(file, ['-dct', 'fast', '-scale', '1/2']), file);
      }
    }
  });

  it('DecodeAndCropJpeg equals the window of djpeg -crop (which widens it to the MCU on the left)', async () => {
    const file = path.join(images, 'cat.jpg');
    const [y, x, h, w] = [10, 21, 5, 7];
    const ref = djpeg(file, ['-dct', 'fast', '-crop', `${w}x${h}+${x}+${y}`]);
    const mcuLeft = x - (ref.width - w); // djpeg keeps the columns from the MCU boundary, and exactly the rows asked
    const window = Buffer.concat(Array.from({ length: h }, (_, r) => Buffer.from(ref.data.subarray((r * ref.width + x - mcuLeft) * 3, (r * ref.width + x - mcuLeft + w) * 3))));
    const crop = await decodeImage('DecodeAndCropJpeg', fs.readFileSync(file), { crop_window: [y, x, h, w] });
    expectDjpegPixels(crop, { width: w, height: h, channels: 3, data: window }, file);
  });
});
