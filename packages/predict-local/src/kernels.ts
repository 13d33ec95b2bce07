// Implementations, with TensorFlow's semantics, of the TensorFlow ops tfjs-converter lacks and a
// SavedModel exported by tensorsky uses: base64 (tensorflow/core/lib/strings/base64.cc) and image
// decoding (tensorflow/core/kernels/image/decode_image_op.cc). Pixels are decoded by sharp (libvips);
// BMP, which libvips cannot read, is decoded here exactly as TensorFlow does.
import sharp, { type Metadata, type OutputInfo } from 'sharp';

/** An op failed on its input, as TensorFlow's InvalidArgument would. */
export class OpError extends Error {
  override name = 'OpError';
}

// ---------------------------------------------------------------------------------------------
// Base64, web-safe alphabet ('-' and '_'), as TensorFlow's DecodeBase64/EncodeBase64.

const WEB_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE_TABLE = (() => {
  const table = new Int16Array(256).fill(-1);
  for (let i = 0; i < WEB_SAFE.length; i++) table[WEB_SAFE.charCodeAt(i)] = i;
  return table;
})();
const PAD = 0x3d; // '='

function decodeQuad(src: Uint8Array, at: number, out: Uint8Array, to: number): void {
  const a = DECODE_TABLE[src[at]];
  const b = DECODE_TABLE[src[at + 1]];
  const c = DECODE_TABLE[src[at + 2]];
  const d = DECODE_TABLE[src[at + 3]];
  if ((a | b | c | d) < 0) throw new OpError('DecodeBase64: invalid character found in base64 (TensorFlow expects the web-safe alphabet: - and _ instead of + and /)');
  const packed = (a << 18) | (b << 12) | (c << 6) | d;
  out[to] = packed >>> 16;
  out[to + 1] = (packed >>> 8) & 0xff;
  out[to + 2] = packed & 0xff;
}

/**
 * Decodes web-safe base64 like TensorFlow: padding is optional, '=' is accepted only as padding of the
 * last group, a length of 1 modulo 4 is an error, and the standard alphabet's '+' and '/' are invalid.
 */
export function decodeBase64WebSafe(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(3 * Math.floor(data.length / 4) + 3);
  let pos = 0;
  let written = 0;
  let end = data.length;
  while (end - pos > 4) {
    decodeQuad(data, pos, out, written);
    pos += 4;
    written += 3;
  }
  if (end - pos === 4) {
    if (data[pos + 2] === PAD && data[pos + 3] === PAD) end -= 2;
    if (data[pos + 2] !== PAD && data[pos + 3] === PAD) end -= 1;
  }
  const remain = end - pos;
  if (remain === 1) throw new OpError('DecodeBase64: base64 string length cannot be 1 modulo 4');
  const tail = new Uint8Array(4).fill(WEB_SAFE.charCodeAt(0));
  tail.set(data.subarray(pos, end));
  decodeQuad(tail, 0, out, written);
  return out.slice(0, written + remain - 1);
}

/** EncodeBase64: web-safe alphabet, '=' padding only when `pad`. */
export function encodeBase64WebSafe(data: Uint8Array, pad: boolean): Uint8Array {
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64url');
  return new TextEncoder().encode(pad ? text.padEnd(Math.ceil(text.length / 4) * 4, '=') : text);
}

// ---------------------------------------------------------------------------------------------
// Image decoding.

export type DecodeOp = 'DecodeJpeg' | 'DecodeAndCropJpeg' | 'DecodePng' | 'DecodeGif' | 'DecodeBmp' | 'DecodeImage';
/** Output dtype, TensorFlow's name. */
export type ImageDtype = 'uint8' | 'uint16' | 'float32';

export interface DecodeAttrs {
  /** 0 = the image's own channel count; 1, 3 or 4 (DecodeGif: always 3). */
  channels?: number;
  /** DecodeJpeg/DecodeAndCropJpeg downscaling; only 1 is supported. */
  ratio?: number;
  try_recover_truncated?: boolean;
  /** DecodePng / DecodeImage output dtype. */
  dtype?: ImageDtype;
  /** DecodeImage: GIF gives [frames, h, w, 3] when true, the first frame [h, w, 3] when false. */
  expand_animations?: boolean;
  /** DecodeAndCropJpeg: [y, x, height, width]. */
  crop_window?: [number, number, number, number];
}

export interface DecodedImage {
  dtype: ImageDtype;
  shape: number[];
  data: Uint8Array | Uint16Array | Float32Array;
}

type Format = 'jpeg' | 'png' | 'gif' | 'bmp';

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** ClassifyFileFormat() of decode_image_op.cc: by magic bytes. */
function classify(bytes: Uint8Array): Format | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return 'gif';
  if (startsWith(bytes, [0x42, 0x4d])) return 'bmp';
  return undefined;
}

/** Pixels with `channels` interleaved samples (8 or 16 bit). */
interface Pixels {
  height: number;
  width: number;
  channels: number;
  /** Number of frames stacked vertically (GIF). */
  frames: number;
  data: Uint8Array | Uint16Array;
}

/** JFIF luma, as libjpeg computes Y (fixed point, rounded). */
function luma(r: number, g: number, b: number): number {
  return (19595 * r + 38470 * g + 7471 * b + 32768) >>> 16;
}

/**
 * Converts interleaved pixels from `from` to `to` channels the way libjpeg/libpng do for TensorFlow:
 * gray is replicated, alpha is dropped or added opaque, color to gray is luma.
 */
function convertChannels(p: Pixels, to: number): Pixels {
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

function failOn(attrs: DecodeAttrs): 'none' | 'truncated' {
  return attrs.try_recover_truncated ? 'none' : 'truncated';
}

/**
 * Raw pixels via sharp, with the image's inherent channel count (sharp's raw output is always sRGB,
 * so gray comes back replicated: take one band). Embedded ICC profiles and EXIF orientation are
 * ignored, as in TensorFlow.
 */
async function decodeWithSharp(bytes: Uint8Array, format: Format, allFrames: boolean, attrs: DecodeAttrs): Promise<Pixels> {
  const options = { ignoreIcc: true, failOn: failOn(attrs), animated: allFrames };
  let meta: Metadata;
  let raw: { data: Buffer; info: OutputInfo };
  let sixteen: boolean;
  try {
    meta = await sharp(bytes, options).metadata();
    sixteen = format === 'png' && meta.depth === 'ushort';
    // 16-bit PNGs must stay in a 16-bit colourspace, or sharp reduces them to 8 bits first.
    const image = sharp(bytes, options);
    raw = await (sixteen ? image.toColourspace('rgb16').raw({ depth: 'ushort' }) : image.raw()).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new OpError(`invalid ${format.toUpperCase()} data: ${(err as Error).message}`);
  }
  const { info } = raw;
  const bytesOut = raw.data.buffer.slice(raw.data.byteOffset, raw.data.byteOffset + raw.data.length);
  const data = sixteen ? new Uint16Array(bytesOut) : new Uint8Array(bytesOut);
  const frames = allFrames ? (info.pages ?? 1) : 1;
  const pixels: Pixels = { height: info.height / frames, width: info.width, channels: info.channels, frames, data };
  // GIF is always RGB(A) for TensorFlow; a gray JPEG/PNG has 1 channel (2 with alpha).
  const inherent = format === 'gif' ? 3 : format === 'jpeg' ? (meta.channels === 1 ? 1 : 3) : (meta.channels ?? info.channels);
  if (inherent <= 2) {
    // Back to gray (+alpha): sharp replicated the gray value into R, G and B.
    const count = data.length / info.channels;
    const out = new (data.constructor as Uint8ArrayConstructor | Uint16ArrayConstructor)(count * inherent);
    const opaque = data instanceof Uint16Array ? 0xffff : 0xff;
    for (let i = 0; i < count; i++) {
      out[i * inherent] = data[i * info.channels];
      if (inherent === 2) out[i * 2 + 1] = info.channels === 4 ? data[i * 4 + 3] : opaque;
    }
    return { ...pixels, channels: inherent, data: out };
  }
  return convertChannels(pixels, inherent);
}

/** DecodeBMP() of decode_image_op.cc, byte for byte: uncompressed 8, 24 or 32 bit, BGR(A) rows padded to 4 bytes. */
function decodeBmp(bytes: Uint8Array, channels: number): Pixels {
  if (channels === 1) throw new OpError('`channels` must be 0, 3 or 4 for BMP, but got 1');
  if (bytes.length < 32) {
    throw new OpError(`Incomplete bmp content, requires at least 32 bytes to find the header size, width, height, and bpp, got ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const headerSize = view.getInt32(10, true);
  const width = view.getInt32(18, true);
  const height = view.getInt32(22, true);
  const bpp = view.getInt16(28, true);
  const inChannels = Math.trunc(bpp / 8);
  if (inChannels !== 1 && inChannels !== 3 && inChannels !== 4) {
    throw new OpError(`Number of channels inherent in the image must be 1, 3 or 4, was ${inChannels}`);
  }
  const outChannels = channels || inChannels;
  if (width <= 0) throw new OpError('Width must be positive');
  if (height === 0) throw new OpError('Height must be nonzero');
  if (headerSize < 0) throw new OpError('header size must be nonnegative');
  const absHeight = Math.abs(height);
  if (width * absHeight >= Math.floor(0x7fffffff / 8)) throw new OpError('Total possible pixel bytes must be less than 2^30');
  const rowSize = Math.floor((inChannels * width + 3) / 4) * 4;
  const sizeDiff = bytes.length - headerSize - rowSize * absHeight;
  if (sizeDiff !== 0) throw new OpError(`Input size should match (header_size + row_size * abs_height) but they differ by ${sizeDiff}`);
  const topDown = height < 0;
  const out = new Uint8Array(absHeight * width * outChannels);
  const src = bytes.subarray(headerSize);
  for (let i = 0; i < absHeight; i++) {
    const row = (topDown ? i : absHeight - 1 - i) * rowSize;
    for (let j = 0; j < width; j++) {
      const s = row + j * inChannels;
      const d = (i * width + j) * outChannels;
      if (inChannels === 1) {
        out[d] = src[s];
        if (outChannels >= 3) out[d + 1] = out[d + 2] = src[s];
        if (outChannels === 4) out[d + 3] = 0xff;
      } else {
        out[d] = src[s + 2];
        out[d + 1] = src[s + 1];
        out[d + 2] = src[s];
        if (outChannels === 4) out[d + 3] = inChannels === 4 ? src[s + 3] : 0xff;
      }
    }
  }
  return { height: absHeight, width, channels: outChannels, frames: 1, data: out };
}

function cropPixels(p: Pixels, [y, x, h, w]: [number, number, number, number]): Pixels {
  if (h <= 0 || w <= 0 || y < 0 || x < 0 || y + h > p.height || x + w > p.width) {
    throw new OpError(`DecodeAndCropJpeg: crop window [${y}, ${x}, ${h}, ${w}] is not inside the ${p.height}x${p.width} image`);
  }
  const out = new Uint8Array(h * w * p.channels);
  for (let r = 0; r < h; r++) {
    const from = ((y + r) * p.width + x) * p.channels;
    out.set(p.data.subarray(from, from + w * p.channels), r * w * p.channels);
  }
  return { ...p, height: h, width: w, data: out };
}

/** uint8 → requested dtype, with decode_image_op.cc's scales (×256 for uint16, /255 for float). */
function toDtype(p: Pixels, dtype: ImageDtype, shape: number[]): DecodedImage {
  const { data } = p;
  if (data instanceof Uint16Array) {
    // 16-bit PNG: libpng's png_set_strip_16 keeps the high byte for uint8.
    if (dtype === 'uint16') return { dtype, shape, data };
    if (dtype === 'float32') return { dtype, shape, data: Float32Array.from(data, (v) => v / 65535) };
    return { dtype, shape, data: Uint8Array.from(data, (v) => v >>> 8) };
  }
  if (dtype === 'uint8') return { dtype, shape, data };
  if (dtype === 'uint16') return { dtype, shape, data: Uint16Array.from(data, (v) => v * 256) };
  const scale = Math.fround(1 / 255);
  return { dtype, shape, data: Float32Array.from(data, (v) => v * scale) };
}

/**
 * Runs one of TensorFlow's image decode ops on encoded bytes, with the op's rules on which formats it
 * accepts (DecodeJpeg/DecodePng/DecodeGif read JPEG, PNG and GIF; DecodeBmp only BMP), channel
 * conversion, output rank (DecodeGif 4-D; DecodeImage 4-D for GIF unless expand_animations is false)
 * and dtype. Differences from TensorFlow: JPEG pixels come from libjpeg-turbo's accurate integer IDCT
 * (TensorFlow's default dct_method is the fast one, so values may differ by a few levels), and ratio
 * other than 1 is not supported.
 */
export async function decodeImage(op: DecodeOp, bytes: Uint8Array, attrs: DecodeAttrs = {}): Promise<DecodedImage> {
  const channels = op === 'DecodeGif' ? 3 : (attrs.channels ?? 0);
  if (![0, 1, 3, 4].includes(channels)) throw new OpError(`\`channels\` must be 0, 1, 3 or 4 but got ${channels}`);
  const dtype: ImageDtype = op === 'DecodePng' || op === 'DecodeImage' ? (attrs.dtype ?? 'uint8') : 'uint8';
  if (bytes.length === 0) throw new OpError('Input is empty.');
  const format = classify(bytes);
  if (!format) throw new OpError('Unknown image file format. One of JPEG, PNG, GIF, BMP required.');
  if (op === 'DecodeBmp' && format !== 'bmp') {
    throw new OpError(`Trying to decode ${format.toUpperCase()} format using DecodeBmp op. Use \`decode_${format}\` or \`decode_image\` instead.`);
  }
  if (format === 'bmp' && op !== 'DecodeBmp' && op !== 'DecodeImage') {
    throw new OpError(`Trying to decode BMP format using a wrong op. Use \`decode_bmp\` or \`decode_image\` instead. Op used: ${op}`);
  }
  if (op === 'DecodeAndCropJpeg' && format !== 'jpeg') {
    throw new OpError(`DecodeAndCropJpeg operation can run on JPEG only, but detected ${format.toUpperCase()}.`);
  }
  if ((op === 'DecodeJpeg' || op === 'DecodeAndCropJpeg') && (attrs.ratio ?? 1) !== 1) {
    throw new OpError(`${op} with ratio=${attrs.ratio} is not supported by the local executor (only ratio=1); use @tensorflow/tfjs-node`);
  }

  let pixels: Pixels;
  if (format === 'bmp') {
    pixels = decodeBmp(bytes, channels);
  } else if (format === 'jpeg') {
    if (channels === 4) throw new OpError('JPEG does not support 4 channels');
    pixels = await decodeWithSharp(bytes, 'jpeg', false, attrs);
    if (op === 'DecodeAndCropJpeg') {
      if (!attrs.crop_window) throw new OpError('DecodeAndCropJpeg needs a crop_window of 4 int32 values');
      pixels = cropPixels(pixels, attrs.crop_window);
    }
  } else if (format === 'png') {
    pixels = await decodeWithSharp(bytes, 'png', false, attrs);
  } else {
    if (channels !== 0 && channels !== 3) throw new OpError(`channels must be 0 or 3 for GIF, got ${channels}`);
    const expand = op === 'DecodeGif' || (op === 'DecodeImage' && attrs.expand_animations !== false);
    pixels = await decodeWithSharp(bytes, 'gif', expand || op === 'DecodeJpeg' || op === 'DecodePng', attrs);
    if ((op === 'DecodeJpeg' || op === 'DecodePng') && pixels.frames > 1) {
      throw new OpError(`Got ${pixels.frames} frames, but animated gifs can only be decoded by tf.io.decode_gif or tf.io.decode_image`);
    }
  }
  if (channels !== 0 && format !== 'bmp') pixels = convertChannels(pixels, channels);

  const hwc = [pixels.height, pixels.width, pixels.channels];
  const fourD = op === 'DecodeGif' || (format === 'gif' && op === 'DecodeImage' && attrs.expand_animations !== false);
  return toDtype(pixels, dtype, fourD ? [pixels.frames, ...hwc] : hwc);
}
