import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageInputError, decodeImageToRgb } from '../src/index.js';
import { TF_TEST_PIXELS, bmpFile, imagesDir } from './fixtures.js';

const fixture = (name: string) => readFile(join(imagesDir, name));

describe('decodeImageToRgb', () => {
  it('decodes TensorFlow’s 2x2 PNG test image to the pixels TensorFlow decodes', async () => {
    const image = await decodeImageToRgb(await fixture('image_png_test.png'));
    expect({ height: image.height, width: image.width }).toEqual({ height: 2, width: 2 });
    expect(Array.from(image.data)).toEqual(TF_TEST_PIXELS);
  });

  it('drops the alpha channel of the 4-channel PNG (TensorFlow: same RGB, alpha 255)', async () => {
    const image = await decodeImageToRgb(await fixture('image_png_4_channel_test.png'));
    expect(Array.from(image.data)).toEqual(TF_TEST_PIXELS);
  });

  it('decodes the 2x2 JPEG to TensorFlow’s values (its default INTEGER_FAST IDCT)', async () => {
    const tf = [239, 100, 0, 46, 48, 47, 92, 49, 0, 194, 98, 47];
    const image = await decodeImageToRgb(await fixture('image_jpeg_test.jpeg'));
    expect(Array.from(image.data)).toEqual(tf);
  });

  it.each([
    ['cat.jpg', 300, 451],
    ['coffee.jpg', 400, 600],
    ['hubble.jpg', 436, 500],
    ['rocket.jpg', 427, 640],
  ])('decodes %s to %ix%i RGB', async (file, height, width) => {
    const image = await decodeImageToRgb(await fixture(file));
    expect({ height: image.height, width: image.width }).toEqual({ height, width });
    expect(image.data).toBeInstanceOf(Uint8Array);
    expect(image.data.length).toBe(height * width * 3);
  });

  it('expands grayscale to three equal channels', async () => {
    const png = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    expect(Array.from((await decodeImageToRgb(png)).data)).toEqual([0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  });

  it('drops alpha without compositing, also for transparent pixels and gray+alpha', async () => {
    const rgba = await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 128]), { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    expect(Array.from((await decodeImageToRgb(rgba)).data)).toEqual([10, 20, 30, 40, 50, 60]);
    const grayAlpha = await sharp(Buffer.from([100, 0, 7, 255]), { raw: { width: 2, height: 1, channels: 2 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grayAlpha).metadata()).channels).toBe(2);
    expect(Array.from((await decodeImageToRgb(grayAlpha)).data)).toEqual([100, 100, 100, 7, 7, 7]);
  });

  it('decodes the first frame of an animated GIF', async () => {
    const red = [255, 0, 0];
    const blue = [0, 0, 255];
    const frames = Buffer.from([...Array(4).fill(red).flat(), ...Array(4).fill(blue).flat()]);
    const gif = await sharp(frames, { raw: { width: 2, height: 4, channels: 3, pageHeight: 2 } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const image = await decodeImageToRgb(gif);
    expect({ height: image.height, width: image.width }).toEqual({ height: 2, width: 2 });
    expect(Array.from(image.data)).toEqual(Array(4).fill(red).flat());
  });

  it('decodes 24-bit bottom-up and 32-bit top-down BMPs, rows padded to 4 bytes', async () => {
    const bottomUp = await decodeImageToRgb(bmpFile(2, 2, TF_TEST_PIXELS));
    expect({ height: bottomUp.height, width: bottomUp.width }).toEqual({ height: 2, width: 2 });
    expect(Array.from(bottomUp.data)).toEqual(TF_TEST_PIXELS);
    const odd = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]; // 3x2: 9-byte rows padded to 12
    expect(Array.from((await decodeImageToRgb(bmpFile(3, 2, odd))).data)).toEqual(odd);
    expect(Array.from((await decodeImageToRgb(bmpFile(3, 2, odd, { bitsPerPixel: 32, topDown: true }))).data)).toEqual(odd);
    expect(Array.from((await decodeImageToRgb(bmpFile(3, 2, odd, { bitsPerPixel: 32, bitfields: true }))).data)).toEqual(odd);
  });

  it('rejects unsupported and truncated BMPs', async () => {
    const eightBit = bmpFile(4, 1, new Array(12).fill(0), { bitsPerPixel: 24 });
    eightBit[28] = 8; // bits per pixel
    await expect(decodeImageToRgb(eightBit, { name: 'pal.bmp' })).rejects.toThrow(
      'pal.bmp: BMP with 8 bits per pixel and compression 0 is not supported',
    );
    const bmp = bmpFile(2, 2, TF_TEST_PIXELS);
    await expect(decodeImageToRgb(bmp.subarray(0, bmp.length - 4))).rejects.toThrow('image: BMP pixel data is truncated');
  });

  it('rejects a truncated JPEG instead of returning a partly grey image', async () => {
    const rocket = await fixture('rocket.jpg');
    const cut = rocket.subarray(0, Math.floor(rocket.length / 2));
    const error = await decodeImageToRgb(cut, { name: 'rocket.jpg' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageInputError);
    expect((error as Error).message).toMatch(/^rocket\.jpg: cannot decode JPEG: .*premature end/i);
  });

  it('rejects corrupt PNG data', async () => {
    const png = Buffer.from(await fixture('image_png_test.png'));
    png.fill(0, 40, 60); // inside the IDAT chunk
    await expect(decodeImageToRgb(png, { name: 'bad.png' })).rejects.toThrow(/^bad\.png: cannot decode PNG: /);
  });

  it('rejects empty and non-image input', async () => {
    await expect(decodeImageToRgb(new Uint8Array(0))).rejects.toThrow('image is empty (0 bytes)');
    await expect(decodeImageToRgb(new TextEncoder().encode('GIF'), { name: 'x' })).rejects.toThrow('x is not a JPEG');
  });

  it('honours maxPixels', async () => {
    const cat = await fixture('cat.jpg'); // 451x300 = 135,300 pixels
    await expect(decodeImageToRgb(cat, { maxPixels: 50_175 })).rejects.toThrow('more than the limit of 50,175');
    expect((await decodeImageToRgb(cat, { maxPixels: 135_300 })).width).toBe(451);
  });
});
