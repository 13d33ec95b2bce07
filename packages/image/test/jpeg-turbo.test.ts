// JPEG pixels against Debian's djpeg (libjpeg-turbo-progs), the reference for each IDCT: `-dct fast` is
// TensorFlow's default (JDCT_IFAST), `-dct int` its INTEGER_ACCURATE (JDCT_ISLOW). The JPEGs are the
// fixture photos and files cjpeg writes here at test time in every layout TensorFlow meets.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAS_DJPEG, djpeg, djpegSuiteTitle, jpegFiles, writeCjpegVariants, type Pnm } from '@tensorsky/fixtures';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePixels, type DecodeOptions, type Pixels } from '../src/index.js';
import { imagesDir } from './fixtures.js';

function expectSamePixels(ours: Pixels, ref: Pnm, label = ''): void {
  expect({ width: ours.width, height: ours.height, channels: ours.channels }).toEqual({ width: ref.width, height: ref.height, channels: ref.channels });
  let differing = 0;
  for (let i = 0; i < ref.data.length; i++) if (ours.data[i] !== ref.data[i]) differing++;
  expect(differing, `samples that differ from djpeg ${label}`).toBe(0);
}

const decode = (file: string, options: DecodeOptions) => decodePixels(readFileSync(file), 'jpeg', options);

describe.skipIf(!HAS_DJPEG)(djpegSuiteTitle('JPEG decoding equals libjpeg-turbo (djpeg) bit for bit'), () => {
  let dir: string;
  const generated: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tensorsky-jpeg-'));
    generated.push(...writeCjpegVariants(dir, join(imagesDir, 'coffee.jpg')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fixtures = jpegFiles(imagesDir);
  const all = () => [...fixtures, ...generated];

  it('finds the fixture photos', () => expect(fixtures.length).toBeGreaterThanOrEqual(5));

  it('the fast IDCT (TensorFlow default) equals djpeg -dct fast', async () => {
    for (const file of all()) expectSamePixels(await decode(file, {}), djpeg(file, ['-dct', 'fast']), file);
  });

  it('the accurate IDCT (INTEGER_ACCURATE) equals djpeg -dct int', async () => {
    for (const file of all()) expectSamePixels(await decode(file, { dctMethod: 'accurate' }), djpeg(file, ['-dct', 'int']), file);
  });

  it('fancy_upscaling false equals djpeg -nosmooth', async () => {
    for (const file of all()) expectSamePixels(await decode(file, { fancyUpscaling: false }), djpeg(file, ['-dct', 'fast', '-nosmooth']), file);
  });

  it('channels 1 of a colour JPEG is its luma plane, as djpeg -grayscale', async () => {
    for (const file of all()) expectSamePixels(await decode(file, { channels: 1 }), djpeg(file, ['-dct', 'fast', '-grayscale']), file);
  });

  it('channels 3 of a grayscale JPEG replicates gray, as djpeg -rgb', async () => {
    const gray = generated.find((f) => f.endsWith('grayscale.jpg'))!;
    expect((await decode(gray, {})).channels).toBe(1);
    expectSamePixels(await decode(gray, { channels: 3 }), djpeg(gray, ['-dct', 'fast', '-rgb']));
  });

  it('ratio 2, 4 and 8 equal djpeg -scale 1/N', async () => {
    for (const file of all().filter((f) => !f.endsWith('image_jpeg_test.jpeg'))) {
      for (const ratio of [2, 4, 8]) expectSamePixels(await decode(file, { ratio }), djpeg(file, ['-dct', 'fast', '-scale', `1/${ratio}`]), file);
    }
    // 2x2: TurboJPEG takes an output size and would pick scale 1/2 for 1x1, so 1/4 cannot be asked for.
    const tiny = join(imagesDir, 'image_jpeg_test.jpeg');
    expectSamePixels(await decode(tiny, { ratio: 2 }), djpeg(tiny, ['-dct', 'fast', '-scale', '1/2']));
    await expect(decode(tiny, { ratio: 4 })).rejects.toThrow('ratio 4 is not supported for a 2x2 JPEG');
  });

  it('a truncated JPEG is an error unless try_recover_truncated, which decodes as djpeg does', async () => {
    for (const file of all()) {
      const bytes = readFileSync(file);
      const cut = join(dir, 'truncated.jpg');
      writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      await expect(decode(cut, {})).rejects.toThrow('premature end of JPEG file (no EOI marker: truncated?)');
      // The block cut in the middle decodes from garbage coefficients, where libjpeg-turbo's x86 SIMD IDCT
      // (16-bit saturating) and its C IDCT, which the WebAssembly build runs, differ: compare with the C one.
      let ref: Pnm;
      try {
        ref = djpeg(cut, ['-dct', 'fast'], { JSIMD_FORCENONE: '1' });
      } catch {
        // Cut inside a marker segment (a progressive file's Huffman table): libjpeg fails, djpeg too.
        await expect(decode(cut, { failOn: 'none' })).rejects.toThrow(/invalid JPEG data/);
        continue;
      }
      const recovered = await decode(cut, { failOn: 'none' });
      // A progressive JPEG missing scans is block-smoothed, which libjpeg-turbo 2.1 (Debian's djpeg)
      // changed; the WebAssembly build is 2.0, the series TensorFlow pins. Only the size is compared.
      if ((await sharp(bytes).metadata()).isProgressive) expect([recovered.width, recovered.height]).toEqual([ref.width, ref.height]);
      else expectSamePixels(recovered, ref, file);
    }
  });

  it('CMYK (Adobe): RGB = K x C / 255 truncated, where djpeg rounds', async () => {
    // libvips writes CMYK JPEGs with an Adobe APP14 marker and inverted values, as Adobe does.
    const rgb = await sharp(join(imagesDir, 'cat.jpg')).resize(33, 17).raw().toBuffer();
    const file = join(dir, 'cmyk.jpg');
    writeFileSync(file, await sharp(rgb, { raw: { width: 33, height: 17, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer());
    const ours = await decode(file, { dctMethod: 'accurate' });
    const ref = djpeg(file, ['-dct', 'int']);
    expect([ours.width, ours.height, ours.channels]).toEqual([33, 17, 3]);
    expect(Array.from(ours.data, (v, i) => ref.data[i] - v).every((d) => d === 0 || d === 1)).toBe(true);
    await expect(decode(file, { channels: 1 })).rejects.toThrow(/invalid JPEG data/);
  });
});

describe('JPEG decoding with TensorFlow’s rules', () => {
  it('refuses 4 channels, other ratios and data without a frame header', async () => {
    const file = readFileSync(join(imagesDir, 'cat.jpg'));
    await expect(decodePixels(file, 'jpeg', { channels: 4 })).rejects.toThrow('JPEG does not support 4 channels');
    await expect(decodePixels(file, 'jpeg', { ratio: 3 })).rejects.toThrow('ratio must be 1, 2, 4, or 8, got 3');
    await expect(decodePixels(file.subarray(0, 20), 'jpeg', { failOn: 'none' })).rejects.toThrow(/no frame header/);
  });

  it('corrupt entropy data decodes (libjpeg warns, TensorFlow ignores warnings); a decoder error leaves the next decode intact', async () => {
    const file = readFileSync(join(imagesDir, 'cat.jpg'));
    const good = await decodePixels(file, 'jpeg', {});
    const corrupt = Uint8Array.from(file);
    corrupt.fill(0x55, Math.floor(file.length / 2), Math.floor(file.length / 2) + 64);
    expect((await decodePixels(corrupt, 'jpeg', {})).width).toBe(good.width);
    const badTable = Uint8Array.from(file);
    // A DQT whose table id is 7: libjpeg's fatal error (longjmp), which the wasm build throws.
    const dqt = file.findIndex((b, i) => b === 0xff && file[i + 1] === 0xdb);
    badTable[dqt + 4] = 0x07;
    await expect(decodePixels(badTable, 'jpeg', {})).rejects.toThrow(/invalid JPEG data/);
    expect(Array.from((await decodePixels(file, 'jpeg', {})).data)).toEqual(Array.from(good.data));
  });
});
