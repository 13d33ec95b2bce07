import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IMAGE_LIMITS,
  DEFAULT_MAX_PIXELS,
  ImageInputError,
  checkImageHeader,
  checkImageSize,
  checkRequestImages,
  imageLimits,
  decodeImageToRgb,
  detectImageFormat,
  probeImageSize,
} from '../src/index.js';
import { gifFrames } from '@tensorsky/fixtures';
import { bmpFile, gifHeader, imagesDir, jpegHeader, pngHeader } from './fixtures.js';

// Sizes and JPEG process of the fixture photos, as reported by file(1).
const FIXTURES: [string, string, number, number][] = [
  ['cat.jpg', 'jpeg', 451, 300],
  ['astronaut.jpg', 'jpeg', 512, 512],
  ['coffee.jpg', 'jpeg', 600, 400], // progressive (SOF2)
  ['camera.jpg', 'jpeg', 512, 512], // grayscale
  ['hubble.jpg', 'jpeg', 500, 436], // progressive
  ['rocket.jpg', 'jpeg', 640, 427],
  ['image_jpeg_test.jpeg', 'jpeg', 2, 2],
  ['image_png_test.png', 'png', 2, 2],
  ['image_png_4_channel_test.png', 'png', 2, 2],
];

describe('detectImageFormat and probeImageSize on real files', () => {
  it.each(FIXTURES)('%s is %s, %ix%i', async (file, format, width, height) => {
    const bytes = await readFile(join(imagesDir, file));
    expect(detectImageFormat(bytes)).toBe(format);
    expect(probeImageSize(bytes)).toEqual({ format, width, height });
  });
});

describe('probeImageSize on hand-built headers', () => {
  it('reads JPEG SOF0 and SOF2 frame headers after other segments', () => {
    expect(probeImageSize(jpegHeader(640, 480))).toEqual({ format: 'jpeg', width: 640, height: 480 });
    expect(probeImageSize(jpegHeader(123, 45, 0xc2))).toEqual({ format: 'jpeg', width: 123, height: 45 });
  });

  it('skips DHT (ff c4), which sits in the SOF marker range but is not a frame header', () => {
    const header = jpegHeader(8, 9);
    const dht = [0xff, 0xc4, 0x00, 0x06, 0x00, 1, 2, 3];
    const bytes = new Uint8Array([...header.subarray(0, 2), ...dht, ...header.subarray(2)]);
    expect(probeImageSize(bytes)).toEqual({ format: 'jpeg', width: 8, height: 9 });
  });

  it('reads PNG IHDR, GIF logical screen and BMP info header sizes', () => {
    expect(probeImageSize(pngHeader(30000, 20000))).toEqual({ format: 'png', width: 30000, height: 20000 });
    expect(probeImageSize(gifHeader(320, 200))).toEqual({ format: 'gif', width: 320, height: 200 });
    expect(probeImageSize(bmpFile(3, 2, new Array(18).fill(0)))).toEqual({ format: 'bmp', width: 3, height: 2 });
    expect(probeImageSize(bmpFile(3, 2, new Array(18).fill(0), { topDown: true }))).toEqual({
      format: 'bmp',
      width: 3,
      height: 2,
    });
  });

  it('rejects headers that end too early', () => {
    expect(() => probeImageSize(jpegHeader(640, 480).subarray(0, 24))).toThrow(
      'image: JPEG data ends before the frame header (file truncated?)',
    );
    expect(() => probeImageSize(pngHeader(10, 10).subarray(0, 20), 'x.png')).toThrow(
      'x.png: PNG data ends before the IHDR chunk',
    );
  });

  it('rejects a JPEG whose scan starts before any frame header', () => {
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9]);
    expect(() => probeImageSize(bytes)).toThrow('JPEG has no frame header (SOF) before its image data');
  });

  it('rejects bytes that are not an image, showing how they start', () => {
    const text = new TextEncoder().encode('hello world');
    expect(() => probeImageSize(text, 'cat.txt')).toThrow(
      'cat.txt is not a JPEG, PNG, GIF or BMP image (starts with 68 65 6c 6c 6f 20 77 6f … "hello wo")',
    );
    expect(() => probeImageSize(new Uint8Array([0x50, 0x4b, 3, 4]), 'a.zip')).toThrow(
      'a.zip is not a JPEG, PNG, GIF or BMP image (starts with 50 4b 03 04)',
    );
  });

  it('does not take any text starting with "BM" for a bitmap', () => {
    expect(detectImageFormat(new TextEncoder().encode('BMW 320i, BMW 520d, BMW X5'))).toBeUndefined();
  });
});

describe('checkImageSize', () => {
  it('accepts sizes up to the limit and rejects larger ones before decoding', () => {
    expect(DEFAULT_MAX_PIXELS).toBe(50_000_000);
    expect(() => checkImageSize({ width: 10000, height: 5000 })).not.toThrow();
    expect(() => checkImageSize({ width: 10000, height: 5001 }, undefined, 'big.jpg')).toThrow(
      'big.jpg is 10000x5001 = 50,010,000 pixels, more than the limit of 50,000,000; raise the pixel limit',
    );
    expect(() => checkImageSize({ width: 100, height: 100 }, 9_999)).toThrow(ImageInputError);
    expect(() => checkImageSize({ width: 100, height: 100 }, 10_000)).not.toThrow();
  });

  it('rejects the 30000x30000 pixels a forged header claims', () => {
    for (const header of [jpegHeader(30000, 30000), pngHeader(30000, 30000)]) {
      expect(() => checkImageSize(probeImageSize(header), DEFAULT_MAX_PIXELS, 'bomb')).toThrow(
        'bomb is 30000x30000 = 900,000,000 pixels, more than the limit of 50,000,000',
      );
    }
  });

  it('rejects images without pixels and a bad limit', () => {
    expect(() => checkImageSize({ width: 0, height: 10 })).toThrow('image has no pixels (its header says 0x10)');
    expect(() => checkImageSize({ width: 10, height: 10 }, 0)).toThrow('maxPixels must be a positive number');
  });

  it('decodeImageToRgb applies the limit from the header alone', async () => {
    // These headers carry no pixel data, so any error other than the size guard would mean a decode was tried.
    await expect(decodeImageToRgb(pngHeader(30000, 30000), { name: 'bomb.png' })).rejects.toThrow(
      'bomb.png is 30000x30000 = 900,000,000 pixels, more than the limit of 50,000,000',
    );
    await expect(decodeImageToRgb(jpegHeader(30000, 30000))).rejects.toThrow('image is 30000x30000 = 900,000,000 pixels');
    await expect(decodeImageToRgb(gifHeader(1000, 1000), { maxPixels: 999_999 })).rejects.toThrow(
      'image is 1000x1000 = 1,000,000 pixels, more than the limit of 999,999',
    );
  });
});

describe('image limits from headers', () => {
  const limits = imageLimits({ maxImagePixels: 1_000_000, maxRequestPixels: 2_500_000, maxImages: 4, maxGifFrames: 10 });

  it('defaults to 50 MP per image, 200 MP per request, 256 images and 256 GIF frames', () => {
    expect(imageLimits()).toEqual(DEFAULT_IMAGE_LIMITS);
    expect(DEFAULT_IMAGE_LIMITS).toEqual({ maxImagePixels: 50_000_000, maxRequestPixels: 200_000_000, maxImages: 256, maxGifFrames: 256 });
    expect(() => imageLimits({ maxImages: 0 })).toThrow('--max_images_per_request must be a positive integer, got 0');
  });

  it('names the image, the limit and its flag', () => {
    expect(checkImageHeader(pngHeader(1000, 1000), limits)).toBe(1_000_000);
    expect(() => checkImageHeader(pngHeader(16383, 16383), DEFAULT_IMAGE_LIMITS, 'instance 3')).toThrow(
      'instance 3 is 16383x16383 = 268,402,689 pixels, more than the limit of 50,000,000 per image (--max_image_pixels); send a smaller image',
    );
    expect(() => checkImageHeader(jpegHeader(16000, 16000), DEFAULT_IMAGE_LIMITS)).toThrow('image is 16000x16000 = 256,000,000 pixels');
    expect(() => checkImageHeader(pngHeader(0, 5), limits)).toThrow('image has no pixels (its header says 0x5)');
  });

  it('counts GIF frames without decoding them, when all are decoded', () => {
    expect(checkImageHeader(gifFrames(100, 100, 10), limits, 'anim.gif', true)).toBe(100_000);
    expect(checkImageHeader(gifFrames(100, 100, 11), limits, 'anim.gif', false)).toBe(10_000);
    expect(() => checkImageHeader(gifFrames(100, 100, 11), limits, 'anim.gif', true)).toThrow(
      'anim.gif is a GIF of more than 10 frames, the limit (--max_gif_frames); send fewer frames',
    );
    expect(() => checkImageHeader(gifFrames(500, 500, 5), limits, 'anim.gif', true)).toThrow(
      'anim.gif is 500x500 x 5 frames = 1,250,000 pixels, more than the limit of 1,000,000 per image (--max_image_pixels)',
    );
  });

  it('checks a request: image count, each image by index, pixels together', () => {
    const name = (i: number) => `instance ${i}`;
    const small = pngHeader(1000, 1000);
    expect(() => checkRequestImages([small, small], limits, name)).not.toThrow();
    expect(() => checkRequestImages(Array(5).fill(small), limits, name)).toThrow(
      'the request has 5 images, more than the limit of 4 per request (--max_images_per_request); send them in several requests',
    );
    expect(() => checkRequestImages([small, pngHeader(2000, 2000)], limits, name)).toThrow(/^instance 1 is 2000x2000/);
    expect(() => checkRequestImages([small, small, small], limits, name)).toThrow(
      'the images of the request up to instance 2 have 3,000,000 pixels, more than the limit of 2,500,000 per request (--max_request_pixels)',
    );
    expect(() => checkRequestImages([small, Buffer.from('hello')], limits, name)).toThrow(/^instance 1 is not a JPEG, PNG, GIF or BMP image/);
  });
});
