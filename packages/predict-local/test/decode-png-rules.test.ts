// DecodePng / DecodeImage on PNGs against TensorFlow's rules (tensorflow/core/lib/png/png_io.cc,
// CommonInitDecode, and decode_image_op.cc's DecodePngV2). The test files are written here from the PNG
// specification (@tensorsky/fixtures' encodePng), and the expected pixels come from libpng itself, asked
// for the transformations png_io.cc asks for (fixtures' tf-png-reference.c), or are worked out by hand.
import { describe, expect, it } from 'vitest';
import { encodePng, HAS_LIBPNG_REFERENCE, libpngDecode, libpngSuiteTitle, type PngSpec } from '@tensorsky/fixtures';
import { decodeImage } from '../src/kernels/decode-image.js';

/** Seeded samples in [0, 2^bits), with every fourth pixel gray (R = G = B) for colour types. */
function samples(count: number, perPixel: number, bits: number, seed: number): number[] {
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % 2 ** bits;
  };
  const out: number[] = [];
  for (let p = 0; p < count; p++) {
    const values = Array.from({ length: perPixel }, next);
    if (perPixel >= 3 && p % 4 === 0) values[1] = values[2] = values[0];
    out.push(...values);
  }
  return out;
}

const W = 5;
const H = 3;
const palette = Array.from({ length: 16 }, (_, i) => [(i * 37) % 256, (i * 91) % 256, (i * 53 + 7) % 256] as const);

/** One file per layout TensorFlow's rules treat differently. */
const CASES: Record<string, PngSpec> = {
  'gray 8-bit': { width: W, height: H, colorType: 'gray', bitDepth: 8, samples: samples(W * H, 1, 8, 1) },
  'gray 16-bit': { width: W, height: H, colorType: 'gray', bitDepth: 16, samples: samples(W * H, 1, 16, 2) },
  'gray 1-bit': { width: W, height: H, colorType: 'gray', bitDepth: 1, samples: samples(W * H, 1, 1, 3) },
  'gray 4-bit': { width: W, height: H, colorType: 'gray', bitDepth: 4, samples: samples(W * H, 1, 4, 4) },
  'gray 8-bit with tRNS': { width: W, height: H, colorType: 'gray', bitDepth: 8, samples: [...samples(W * H - 1, 1, 8, 5), 77], transparency: [77] },
  'gray+alpha 8-bit': { width: W, height: H, colorType: 'grayAlpha', bitDepth: 8, samples: samples(W * H, 2, 8, 6) },
  'gray+alpha 16-bit': { width: W, height: H, colorType: 'grayAlpha', bitDepth: 16, samples: samples(W * H, 2, 16, 7) },
  'RGB 8-bit': { width: W, height: H, colorType: 'rgb', bitDepth: 8, samples: samples(W * H, 3, 8, 8) },
  'RGB 16-bit': { width: W, height: H, colorType: 'rgb', bitDepth: 16, samples: samples(W * H, 3, 16, 9) },
  'RGB 8-bit with tRNS': { width: W, height: H, colorType: 'rgb', bitDepth: 8, samples: [...samples(W * H - 1, 3, 8, 10), 1, 2, 3], transparency: [1, 2, 3] },
  // libpng converts RGB to gray through linear light when the file's gamma is significant (not within 5% of 1).
  'RGB 8-bit with gAMA 1/2.2': { width: W, height: H, colorType: 'rgb', bitDepth: 8, samples: samples(W * H, 3, 8, 15), gamma: 45455 },
  'RGB 8-bit with gAMA 1/2.2, 1024 pixels': { width: 64, height: 16, colorType: 'rgb', bitDepth: 8, samples: samples(1024, 3, 8, 19), gamma: 45455 },
  'RGB 16-bit with gAMA 1/2.2, 1024 pixels': { width: 64, height: 16, colorType: 'rgb', bitDepth: 16, samples: samples(1024, 3, 16, 20), gamma: 45455 },
  'RGB 16-bit with sRGB': { width: W, height: H, colorType: 'rgb', bitDepth: 16, samples: samples(W * H, 3, 16, 21), srgb: 0 },
  'RGB 8-bit with gAMA 2.2': { width: W, height: H, colorType: 'rgb', bitDepth: 8, samples: samples(W * H, 3, 8, 16), gamma: 220000 },
  'RGB 8-bit with gAMA 0.97 (not significant)': { width: W, height: H, colorType: 'rgb', bitDepth: 8, samples: samples(W * H, 3, 8, 17), gamma: 97000 },
  'palette 8-bit with sRGB': { width: W, height: H, colorType: 'palette', bitDepth: 8, samples: samples(W * H, 1, 4, 18), palette, srgb: 0 },
  'RGBA 8-bit': { width: W, height: H, colorType: 'rgba', bitDepth: 8, samples: samples(W * H, 4, 8, 11) },
  'RGBA 16-bit': { width: W, height: H, colorType: 'rgba', bitDepth: 16, samples: samples(W * H, 4, 16, 12) },
  'palette 8-bit': { width: W, height: H, colorType: 'palette', bitDepth: 8, samples: samples(W * H, 1, 4, 13), palette },
  'palette 4-bit with tRNS': {
    width: W,
    height: H,
    colorType: 'palette',
    bitDepth: 4,
    samples: samples(W * H, 1, 4, 14),
    palette,
    transparency: [0, 128, 255, 7],
  },
};

const bytes = (spec: PngSpec) => new Uint8Array(encodePng(spec));

describe('DecodePng: TensorFlow rules worked out by hand', () => {
  it('png_set_strip_16: a 16-bit sample narrows to uint8 by its high byte, not by scaling', async () => {
    const png = bytes({ width: 4, height: 1, colorType: 'gray', bitDepth: 16, samples: [0x12ff, 0x1280, 0xff00, 0x00ff] });
    const out = await decodeImage('DecodePng', png, { dtype: 'uint8' });
    expect(Array.from(out.data)).toEqual([0x12, 0x12, 0xff, 0x00]);
    expect(Array.from((await decodeImage('DecodePng', png, { dtype: 'uint16' })).data)).toEqual([0x12ff, 0x1280, 0xff00, 0x00ff]);
  });

  it('Convert8to16: an 8-bit PNG as uint16 repeats the byte (v * 257), float is that / 65535; JPEG/GIF/BMP scale by 256 instead', async () => {
    const png = bytes({ width: 3, height: 1, colorType: 'gray', bitDepth: 8, samples: [0, 0x80, 0xff] });
    expect(Array.from((await decodeImage('DecodePng', png, { dtype: 'uint16' })).data)).toEqual([0, 0x8080, 0xffff]);
    const scale = Math.fround(1 / 65535);
    expect(Array.from((await decodeImage('DecodeImage', png, { dtype: 'float32' })).data)).toEqual([0, 0x8080, 0xffff].map((v) => Math.fround(v * scale)));
  });

  it('png_set_rgb_to_gray(0.299, 0.587): weights 9797, 19234, 3737 of 32768, truncated; R = G = B keeps the value', async () => {
    const rgb = [238, 101, 0, 10, 200, 30, 90, 90, 90, 255, 255, 254];
    const png = bytes({ width: 4, height: 1, colorType: 'rgb', bitDepth: 8, samples: rgb });
    const gray = (r: number, g: number, b: number) => (r === g && g === b ? r : Math.floor((9797 * r + 19234 * g + 3737 * b) / 32768));
    const expected = [0, 1, 2, 3].map((p) => gray(rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]));
    expect(expected).toEqual([130, 123, 90, 254]);
    expect(Array.from((await decodeImage('DecodePng', png, { channels: 1 })).data)).toEqual(expected);
  });

  it('channels 3 on RGBA drops alpha without compositing; channels 4 on RGB adds opaque alpha; 0 keeps the own count', async () => {
    const rgba = [10, 20, 30, 0, 40, 50, 60, 128];
    const png = bytes({ width: 2, height: 1, colorType: 'rgba', bitDepth: 8, samples: rgba });
    expect(Array.from((await decodeImage('DecodePng', png, { channels: 3 })).data)).toEqual([10, 20, 30, 40, 50, 60]);
    expect((await decodeImage('DecodePng', png, {})).shape).toEqual([1, 2, 4]);
    const rgb = bytes({ width: 1, height: 1, colorType: 'rgb', bitDepth: 8, samples: [1, 2, 3] });
    expect(Array.from((await decodeImage('DecodePng', rgb, { channels: 4 })).data)).toEqual([1, 2, 3, 255]);
  });

  it('a palette file is RGB, or RGBA when it has tRNS (channels 0)', async () => {
    const spec = CASES['palette 4-bit with tRNS'];
    const out = await decodeImage('DecodePng', bytes(spec), {});
    expect(out.shape).toEqual([H, W, 4]);
    const alpha = (i: number) => spec.transparency![i] ?? 255;
    expect(Array.from(out.data).slice(0, 8)).toEqual([0, 1].flatMap((p) => [...palette[spec.samples[p]], alpha(spec.samples[p])]));
    expect((await decodeImage('DecodePng', bytes(CASES['palette 8-bit']), {})).shape).toEqual([H, W, 3]);
  });
});

describe.skipIf(!HAS_LIBPNG_REFERENCE)(libpngSuiteTitle('DecodePng equals libpng with the transformations png_io.cc asks for'), () => {
  // channels 2 is not a value the ops accept; a gray+alpha file gives it with channels 0.
  it.each(Object.keys(CASES))('%s: every channels (0, 1, 3, 4) and dtype (uint8, uint16, float32)', async (name) => {
    const png = bytes(CASES[name]);
    for (const channels of [0, 1, 3, 4]) {
      for (const dtype of ['uint8', 'uint16', 'float32'] as const) {
        const reference = libpngDecode(png, channels, dtype === 'uint8' ? 8 : 16);
        const scale = Math.fround(1 / 65535);
        const expected = dtype === 'float32' ? Array.from(reference.data, (v) => Math.fround(v * scale)) : Array.from(reference.data);
        const out = await decodeImage('DecodePng', png, { channels, dtype });
        const where = `${name}, channels ${channels}, ${dtype}`;
        expect(out.shape, where).toEqual([reference.height, reference.width, reference.channels]);
        expect(out.dtype, where).toBe(dtype);
        expect(Array.from(out.data), where).toEqual(expected);
      }
    }
  });
});
