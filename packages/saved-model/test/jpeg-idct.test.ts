// Which IDCT a graph's decode ops give JPEGs, by decode_image_op.cc's rules: dct_method applies to
// DecodeJpeg and DecodeAndCropJpeg only ("" and INTEGER_FAST are IFAST, INTEGER_ACCURATE is ISLOW); the
// other ops that read JPEGs (DecodeImage, DecodePng, DecodeGif) always use IFAST; DecodeBmp reads none.
import { describe, expect, it } from 'vitest';
import { jpegIdctOf, servedJpegIdct, summarizeJpegDecoders, type NodeDef } from '../src/index.js';

const node = (op: string, dctMethod?: string): NodeDef => ({
  name: `${op}_${dctMethod ?? 'none'}`,
  op,
  attr: dctMethod === undefined ? {} : { dct_method: { s: new TextEncoder().encode(dctMethod) } },
});

describe('jpegIdctOf', () => {
  it('reads dct_method where TensorFlow does', () => {
    expect(jpegIdctOf(node('DecodeJpeg'))).toBe('fast');
    expect(jpegIdctOf(node('DecodeJpeg', ''))).toBe('fast');
    expect(jpegIdctOf(node('DecodeJpeg', 'INTEGER_FAST'))).toBe('fast');
    expect(jpegIdctOf(node('DecodeJpeg', 'INTEGER_ACCURATE'))).toBe('accurate');
    expect(jpegIdctOf(node('DecodeAndCropJpeg', 'INTEGER_ACCURATE'))).toBe('accurate');
    // DecodeImage has no dct_method attr: an attr someone set anyway changes nothing.
    expect(jpegIdctOf(node('DecodeImage', 'INTEGER_ACCURATE'))).toBe('fast');
    expect(jpegIdctOf(node('DecodePng'))).toBe('fast');
    expect(jpegIdctOf(node('DecodeGif'))).toBe('fast');
    expect(jpegIdctOf(node('DecodeBmp'))).toBeUndefined();
    expect(jpegIdctOf(node('Conv2D'))).toBeUndefined();
  });

  it('summarizes a graph: accurate when the JPEG dispatch is there, fast for DecodeImage alone, undefined without decoding', () => {
    const accurate = [node('DecodeJpeg', 'INTEGER_ACCURATE'), node('DecodeImage')];
    expect(servedJpegIdct(accurate)).toBe('accurate');
    expect(summarizeJpegDecoders(accurate)).toEqual([
      { op: 'DecodeJpeg', idct: 'accurate', count: 1 },
      { op: 'DecodeImage', idct: 'fast', count: 1 },
    ]);
    expect(servedJpegIdct([node('DecodeImage'), node('DecodeImage')])).toBe('fast');
    expect(summarizeJpegDecoders([node('DecodeImage'), node('DecodeImage')])).toEqual([{ op: 'DecodeImage', idct: 'fast', count: 2 }]);
    expect(servedJpegIdct([node('Placeholder')])).toBeUndefined();
  });
});
