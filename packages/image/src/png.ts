// PNG pixels as TensorFlow's DecodePng/DecodeImage compute them (tensorflow/core/lib/png/png_io.cc,
// CommonInitDecode): the file's samples (from sharp, at the file's own bit depth), then the libpng
// transformations TensorFlow asks for, in libpng's order (pngrtran.c png_do_read_transformations):
//   - channels 0 means the image's own: palette 3 (4 with a tRNS chunk), gray 1, gray+alpha 2, RGB 3, RGBA 4
//     (png_get_channels: a gray or RGB file's tRNS does not add a channel);
//   - an even channel count wants alpha: the file's alpha, else tRNS as alpha, else a filler of
//     (1 << bit_depth) - 1 — so 255 for 8-bit, 65535 for 16-bit, but 1, 3 or 15 for 1-, 2- or 4-bit gray;
//     an odd count drops alpha (no compositing);
//   - RGB to gray: png_set_rgb_to_gray(0.299, 0.587), integer weights 9797/19234/3737 out of 32768
//     (libpng truncates the coefficients), truncated for 8-bit samples, rounded (+16384) for 16-bit,
//     and a pixel whose R, G and B are equal keeps that value; gray to RGB repeats the value; with a
//     gAMA or sRGB chunk whose gamma is more than 5% from 1, libpng converts through linear light with
//     its gamma tables (an sBIT chunk, which changes the 16-bit tables, is not read);
//   - 16-bit samples for dtype uint8: png_set_strip_16, the high byte; 8-bit samples for uint16 and
//     float: Convert8to16, v | v << 8 (v * 257); float is then the 16-bit value / 65535.
import { ImageInputError } from './format.js';
import type { Pixels } from './pixels.js';
import { decodeWithSharp, type SharpDecodeOptions } from './sharp.js';

/** What IHDR and the chunks before IDAT say. */
export interface PngInfo {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  readonly colorType: number;
  readonly hasTransparency: boolean;
  /** The file's gamma in 1/100000 units: 45455 with an sRGB chunk, else gAMA's value; undefined without either. */
  readonly gamma: number | undefined;
}

const COLOR_MASK = 2;
const ALPHA_MASK = 4;
const PALETTE = 3;

export function readPngInfo(bytes: Uint8Array): PngInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = (at: number) => String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  if (bytes.length < 33 || type(8) !== 'IHDR') throw new ImageInputError('invalid PNG data: no IHDR chunk after the signature');
  const info = { width: view.getUint32(16), height: view.getUint32(20), bitDepth: bytes[24], colorType: bytes[25] };
  let hasTransparency = false;
  let gamma: number | undefined;
  let srgb = false;
  for (let at = 8; at + 8 <= bytes.length; ) {
    const name = type(at);
    if (name === 'IDAT' || name === 'IEND') break;
    if (name === 'tRNS') hasTransparency = true;
    if (name === 'gAMA' && at + 12 <= bytes.length) gamma = view.getUint32(at + 8) || undefined;
    if (name === 'sRGB') srgb = true;
    at += 12 + view.getUint32(at);
  }
  return { ...info, hasTransparency, gamma: srgb ? 45455 : gamma };
}

/** png_get_channels for a gray, RGB, gray+alpha or RGBA file; palette files are 3 or 4 (see above). */
function ownChannels(info: PngInfo): number {
  if (info.colorType === PALETTE) return info.hasTransparency ? 4 : 3;
  return [1, 0, 3, 0, 2, 0, 4][info.colorType] ?? 0;
}

// png_set_rgb_to_gray(png, 1, 0.299, 0.587): (png_uint_16)(29900 * 32768 / 100000) and the same for
// 58700; blue gets the rest of 32768.
const RED = 9797;
const GREEN = 19234;
const BLUE = 32768 - RED - GREEN;

// libpng's fixed-point gamma arithmetic (png.c): png_reciprocal, png_gamma_significant (more than 5% from
// 1), and the 8-bit tables png_build_8bit_table makes with png_gamma_8bit_correct.
const reciprocal = (g: number) => Math.floor(1e10 / g + 0.5);
const significant = (g: number) => g < 95000 || g > 105000;
function gammaTable(g: number): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => (i > 0 && i < 255 && significant(g) ? Math.floor(255 * Math.pow(i / 255, g * 0.00001) + 0.5) : i));
}

/**
 * RGB to gray for 8-bit samples. With a significant file gamma (gAMA, sRGB) libpng builds gamma tables
 * for rgb_to_gray (png_init_read_transformations): the colours go to linear light (gamma_to_1), are
 * weighted and rounded, and come back (gamma_from_1); the screen gamma is the file gamma's reciprocal.
 */
function grayOf8(gamma: number | undefined): (r: number, g: number, b: number) => number {
  if (gamma === undefined || !(significant(gamma) || significant(reciprocal(gamma)))) {
    return (r, g, b) => (r === g && r === b ? r : (RED * r + GREEN * g + BLUE * b) >>> 15);
  }
  const toLinear = gammaTable(reciprocal(gamma));
  const fromLinear = gammaTable(reciprocal(reciprocal(gamma)));
  return (r, g, b) => (r === g && r === b ? r : fromLinear[(RED * toLinear[r] + GREEN * toLinear[g] + BLUE * toLinear[b] + 16384) >>> 15]);
}

/** libpng's png_gamma_16bit_correct. */
const correct16 = (v: number, g: number) => (v > 0 && v < 65535 ? Math.floor(65535 * Math.pow(v / 65535, g * 0.00001) + 0.5) : v);

/**
 * RGB to gray for 16-bit samples (png_do_rgb_to_gray), rounded. With a significant gamma, libpng's
 * 16-bit tables (png_build_gamma_table) are indexed by the top 16 - shift bits, shift 5 when the output
 * is cut to 8 bits (PNG_MAX_GAMMA_8 = 11), else 0 (a file with an sBIT chunk would change it; not read
 * here); for uint8 output a pixel with R = G = B goes through png_build_16to8_table.
 */
function grayOf16(gamma: number | undefined, bits: 8 | 16): (r: number, g: number, b: number) => number {
  if (gamma === undefined || !(significant(gamma) || significant(reciprocal(gamma)))) {
    return (r, g, b) => (r === g && r === b ? r : (RED * r + GREEN * g + BLUE * b + 16384) >>> 15);
  }
  const shift = bits === 8 ? 5 : 0;
  const max = (1 << (16 - shift)) - 1;
  const table = (exponent: number) => Uint16Array.from({ length: max + 1 }, (_, i) => Math.floor(65535 * Math.pow(i / max, exponent * 0.00001) + 0.5));
  const toLinear = table(reciprocal(gamma));
  const fromLinear = table(reciprocal(reciprocal(gamma)));
  let same = (v: number) => v;
  if (bits === 8) {
    // png_build_16to8_table with png_product2(gamma, screen gamma): 16-bit values of the 8-bit outputs.
    const product = Math.floor(gamma * 1e-5 * reciprocal(gamma) + 0.5);
    const to8 = new Uint16Array(max + 1).fill(65535);
    let last = 0;
    for (let i = 0; i < 255; i++) {
      const bound = Math.floor((correct16(i * 257 + 128, product) * max + 32768) / 65535) + 1;
      for (; last < bound && last <= max; last++) to8[last] = i * 257;
    }
    same = (v) => to8[v >>> shift];
  }
  return (r, g, b) => {
    if (r === g && r === b) return same(r);
    const gray = (RED * toLinear[r >>> shift] + GREEN * toLinear[g >>> shift] + BLUE * toLinear[b >>> shift] + 16384) >>> 15;
    return fromLinear[gray >>> shift];
  };
}

export interface PngDecodeOptions extends SharpDecodeOptions {
  /** 0: the image's own; 1 to 4. */
  readonly channels?: number;
  /** 16 for dtype uint16 and float (TensorFlow decodes those at 16 bits), else 8. */
  readonly bits?: 8 | 16;
}

/** Decodes a PNG to `channels` samples of `bits` bits each, with TensorFlow's libpng rules (see above). */
export async function decodePng(bytes: Uint8Array, options: PngDecodeOptions = {}): Promise<Pixels> {
  const { channels = 0, bits = 8, ...sharpOptions } = options;
  const info = readPngInfo(bytes);
  const want = channels || ownChannels(info);
  // The file's samples at its own depth: gray or RGB, plus alpha when the file has alpha or tRNS.
  const source = await decodeWithSharp(bytes, 'png', { ...sharpOptions, allFrames: false });
  const sixteen = source.data instanceof Uint16Array;
  const colors = source.channels <= 2 ? 1 : 3;
  const sourceAlpha = source.channels === 2 || source.channels === 4;
  const hasAlpha = (info.colorType & ALPHA_MASK) !== 0 || info.hasTransparency;
  const wantsAlpha = want % 2 === 0;
  const wantsGray = want < 3;
  // The filler is (1 << bit_depth) - 1 of the file's depth, cut to the row's sample width.
  const filler = ((1 << info.bitDepth) - 1) & (sixteen ? 0xffff : 0xff);
  const count = source.width * source.height;
  const out = new (sixteen ? Uint16Array : Uint8Array)(count * want);
  const s = source.data;
  const gray = sixteen ? grayOf16(info.gamma, bits) : grayOf8(info.gamma);
  for (let i = 0; i < count; i++) {
    const at = i * source.channels;
    let r = s[at];
    let g = colors === 3 ? s[at + 1] : r;
    let b = colors === 3 ? s[at + 2] : r;
    if (wantsGray && colors === 3) {
      r = gray(r, g, b);
      g = b = r;
    }
    const d = i * want;
    out[d] = r;
    if (!wantsGray) {
      out[d + 1] = g;
      out[d + 2] = b;
    }
    if (wantsAlpha) out[d + want - 1] = hasAlpha && sourceAlpha ? s[at + source.channels - 1] : filler;
  }
  const pixels: Pixels = { height: source.height, width: source.width, channels: want, frames: 1, data: out };
  if (sixteen && bits === 8) return { ...pixels, data: Uint8Array.from(out, (v) => v >>> 8) };
  if (!sixteen && bits === 16) return { ...pixels, data: Uint16Array.from(out, (v) => v * 257) };
  return pixels;
}
