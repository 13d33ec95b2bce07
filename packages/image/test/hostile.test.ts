// The hostile images of @tensorsky/fixtures are what they claim, by sharp's reading of them, and are
// refused from their headers alone.
import { gifFrames, jpegBomb, pngBomb } from '@tensorsky/fixtures';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS, checkImageHeader } from '../src/index.js';

describe('decompression bombs', () => {
  it('pngBomb is a small valid PNG of zeros', async () => {
    const small = await pngBomb(300);
    expect(await sharp(small).metadata()).toMatchObject({ format: 'png', width: 300, height: 300, channels: 1 });
    const data = await sharp(small).raw().toBuffer();
    expect(data.every((v) => v === 0)).toBe(true);
    const bomb = await pngBomb();
    expect(bomb.length).toBeLessThan(300_000);
    expect(await sharp(bomb).metadata()).toMatchObject({ format: 'png', width: 16383, height: 16383 });
    expect(() => checkImageHeader(bomb, DEFAULT_IMAGE_LIMITS)).toThrow('image is 16383x16383 = 268,402,689 pixels');
  });

  it('jpegBomb is a few hundred bytes claiming 16000x16000', async () => {
    const bomb = jpegBomb();
    expect(bomb.length).toBeLessThan(400);
    expect(await sharp(bomb).metadata()).toMatchObject({ format: 'jpeg', width: 16000, height: 16000 });
    expect(() => checkImageHeader(bomb, DEFAULT_IMAGE_LIMITS)).toThrow('image is 16000x16000 = 256,000,000 pixels');
  });
});

describe('GIF frames', () => {
  it('gifFrames is an animation sharp reads frame by frame', async () => {
    expect(await sharp(gifFrames(40, 30, 12)).metadata()).toMatchObject({ format: 'gif', width: 40, height: 30, pages: 12 });
  });
});
