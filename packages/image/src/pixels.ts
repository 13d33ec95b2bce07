// Decoded pixels and the conversions TensorFlow's decoders apply to them: channel count (libjpeg/libpng
// rules) and output dtype (decode_image_op.cc's scales).

/** Decoded pixels: `channels` interleaved samples per pixel, 8 or 16 bit, row-major (HWC). */
export interface Pixels {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Number of frames stacked vertically (an animated GIF decoded with all its frames). */
  readonly frames: number;
  readonly data: Uint8Array | Uint16Array;
}

/** TensorFlow's names for the dtypes an image decoder can output. */
export type ImageDtype = 'uint8' | 'uint16' | 'float32';

/** Pixels in one of the decoders' output dtypes. */
export interface DecodedImage {
  dtype: ImageDtype;
  shape: number[];
  data: Uint8Array | Uint16Array | Float32Array;
}

/** JFIF luma, as libjpeg computes Y (fixed point, rounded). */
function luma(r: number, g: number, b: number): number {
  return (19595 * r + 38470 * g + 7471 * b + 32768) >>> 16;
}

/**
 * Converts interleaved pixels to `to` channels the way libjpeg/libpng do for TensorFlow: gray is
 * replicated, alpha is dropped or added opaque, color to gray is luma.
 */
export function convertChannels(p: Pixels, to: number): Pixels {
  const from = p.channels;
  if (from === to) return p;
  const count = p.data.length / from;
  const out = new (p.data.constructor as Uint8ArrayConstructor | Uint16ArrayConstructor)(count * to);
  const opaque = p.data instanceof Uint16Array ? 0xffff : 0xff;
  const hasAlpha = from === 2 || from === 4;
  for (let i = 0; i < count; i++) {
    const s = i * from;
    const isGray = from <= 2;
    const r = p.data[s];
    const g = isGray ? r : p.data[s + 1];
    const b = isGray ? r : p.data[s + 2];
    const a = hasAlpha ? p.data[s + from - 1] : opaque;
    const d = i * to;
    if (to === 1) out[d] = isGray ? r : luma(r, g, b);
    else if (to === 2) {
      out[d] = isGray ? r : luma(r, g, b);
      out[d + 1] = a;
    } else {
      out[d] = r;
      out[d + 1] = g;
      out[d + 2] = b;
      if (to === 4) out[d + 3] = a;
    }
  }
  return { ...p, channels: to, data: out };
}

/** 8- or 16-bit samples → the requested dtype, with decode_image_op.cc's scales (×256 for uint16, /255 for float). */
export function toDtype(p: Pixels, dtype: ImageDtype, shape: number[]): DecodedImage {
  const { data } = p;
  if (data instanceof Uint16Array) {
    // 16-bit PNG: libpng's png_set_strip_16 keeps the high byte for uint8.
    if (dtype === 'uint16') return { dtype, shape, data };
    // float32(v) * float32(1 / 65535), as TensorFlow multiplies (a product of two floats is exact in a double).
    const scale16 = Math.fround(1 / 65535);
    if (dtype === 'float32') return { dtype, shape, data: Float32Array.from(data, (v) => v * scale16) };
    return { dtype, shape, data: Uint8Array.from(data, (v) => v >>> 8) };
  }
  if (dtype === 'uint8') return { dtype, shape, data };
  if (dtype === 'uint16') return { dtype, shape, data: Uint16Array.from(data, (v) => v * 256) };
  const scale = Math.fround(1 / 255);
  return { dtype, shape, data: Float32Array.from(data, (v) => v * scale) };
}
