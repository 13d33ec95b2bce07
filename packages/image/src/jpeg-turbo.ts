// JPEG pixels as TensorFlow's decoder computes them (tensorflow/core/lib/jpeg/jpeg_mem.cc): libjpeg-turbo
// itself (the TurboJPEG API of @cwasm/jpeg-turbo's WebAssembly build) with TensorFlow's IDCT, upsampling,
// scaling, channel and CMYK rules. sharp cannot choose the IDCT, and TensorFlow's default is the fast one.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { ImageInputError } from './format.js';
import { readJpegMarkers } from './jpeg-markers.js';
import type { Pixels } from './pixels.js';

/** libjpeg's IDCT: 'fast' is JDCT_IFAST (TensorFlow's default), 'accurate' JDCT_ISLOW (dct_method INTEGER_ACCURATE). */
export type JpegDctMethod = 'fast' | 'accurate';

export interface JpegDecodeOptions {
  /** 0: the image's own (gray 1, otherwise 3, CMYK converted to RGB); 1 or 3. */
  readonly channels?: number;
  readonly dctMethod?: JpegDctMethod;
  /** libjpeg's do_fancy_upsampling (TensorFlow's fancy_upscaling, default true). */
  readonly fancyUpscaling?: boolean;
  /** Downscaling during the IDCT: 1, 2, 4 or 8. */
  readonly ratio?: number;
  /** TensorFlow's try_recover_truncated: a stream without EOI decodes with its missing blocks grey. */
  readonly tryRecoverTruncated?: boolean;
  /** Refuse output images of more pixels than this. */
  readonly maxPixels?: number;
}

// TurboJPEG constants (turbojpeg.h, libjpeg-turbo 2.0).
const TJPF_RGB = 0;
const TJPF_GRAY = 6;
const TJPF_CMYK = 11;
const TJFLAG_FASTUPSAMPLE = 256;
const TJFLAG_FASTDCT = 2048;
const TJFLAG_ACCURATEDCT = 4096;

// lib ES2023 and @types/node 20 have no WebAssembly types: the members used here.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface TurboJpeg {
  readonly memory: { readonly buffer: ArrayBuffer };
  malloc(size: number): number;
  free(pointer: number): void;
  tjInitDecompress(): number;
  tjDestroy(handle: number): number;
  tjDecompress2(handle: number, src: number, size: number, dst: number, width: number, pitch: number, height: number, format: number, flags: number): number;
}

class LibjpegError extends Error {}

let module: object | undefined;
let instance: TurboJpeg | undefined;

/** After a decode leaves more memory than this, the next decode starts from a fresh, small instance. */
const KEEP_MEMORY_BYTES = 64 << 20;

function turbo(): TurboJpeg {
  if (instance) return instance;
  module ??= new WebAssembly.Module(fs.readFileSync(createRequire(import.meta.url).resolve('@cwasm/jpeg-turbo/jpeg-turbo.wasm')));
  // libjpeg reports fatal errors by longjmp to tjDecompress2's setjmp; here it throws out of the call and
  // the instance, whose heap it leaves inconsistent, is dropped. Warnings return normally.
  const env = {
    setjmp: () => 0,
    longjmp: () => {
      throw new LibjpegError('libjpeg-turbo could not decode it');
    },
  };
  const unused = () => {
    throw new LibjpegError('libjpeg-turbo made an unexpected system call');
  };
  const wasi = { environ_sizes_get: () => 0, environ_get: unused, proc_exit: unused, fd_close: unused, fd_seek: unused, fd_write: unused };
  instance = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: wasi }).exports as TurboJpeg;
  return instance;
}

/** The size libjpeg outputs at scale eighths/8 (jpeg_calc_output_dimensions: rounded up). */
function scaled(size: number, eighths: number): number {
  return Math.ceil((size * eighths) / 8);
}

/**
 * tjDecompress2 takes an output size, not a scale: it uses the first of its scaling factors (2/1 down to
 * 1/8, in eighths) whose output fits. For tiny images a larger factor than 1/ratio can fit too.
 */
function turboPicksRatio(width: number, height: number, ratio: number): boolean {
  const w = scaled(width, 8 / ratio);
  const h = scaled(height, 8 / ratio);
  for (let eighths = 16; eighths > 8 / ratio; eighths--) if (scaled(width, eighths) <= w && scaled(height, eighths) <= h) return false;
  return true;
}

/**
 * Decodes a JPEG as TensorFlow's DecodeJpeg/DecodeImage do. A CMYK/YCCK JPEG is decoded to CMYK by libjpeg and converted to RGB with TensorFlow's
 * rule (inverted values when an Adobe marker is present, as Adobe writes them).
 */
export function decodeJpegTurbo(bytes: Uint8Array, options: JpegDecodeOptions = {}): Pixels {
  const { channels = 0, dctMethod = 'fast', fancyUpscaling = true, ratio = 1, tryRecoverTruncated = false, maxPixels } = options;
  if (![1, 2, 4, 8].includes(ratio)) throw new ImageInputError(`ratio must be 1, 2, 4, or 8, got ${ratio}`);
  if (![0, 1, 3].includes(channels)) throw new ImageInputError(`channels must be 0, 1 or 3 for JPEG, got ${channels}`);
  const markers = readJpegMarkers(bytes);
  if (markers.width === 0 || markers.height === 0) throw new ImageInputError('invalid JPEG data: no frame header (SOF) giving its size');
  if (!markers.complete && !tryRecoverTruncated) throw new ImageInputError('invalid JPEG data: premature end of JPEG file (no EOI marker: truncated?)');
  const components = channels === 0 ? Math.min(markers.components, 3) : channels;
  if (components !== 1 && components !== 3) throw new ImageInputError(`JPEG with ${markers.components} components cannot be decoded to ${channels === 0 ? 'its own' : channels} channels`);
  const cmyk = components === 3 && markers.components === 4;
  if (!turboPicksRatio(markers.width, markers.height, ratio)) {
    throw new ImageInputError(`ratio ${ratio} is not supported for a ${markers.width}x${markers.height} JPEG (TurboJPEG would scale it by another factor)`);
  }
  const width = scaled(markers.width, 8 / ratio);
  const height = scaled(markers.height, 8 / ratio);
  // jpeg_mem.cc refuses outputs of 2^29 samples or more (counting the JPEG's components).
  if (width * height * markers.components >= 2 ** 29) throw new ImageInputError(`JPEG too large: ${width}x${height}x${markers.components}`);
  if (maxPixels !== undefined && width * height > maxPixels) throw new ImageInputError(`JPEG is ${width}x${height}, more than ${maxPixels} pixels`);
  const [format, outChannels] = components === 1 ? [TJPF_GRAY, 1] : cmyk ? [TJPF_CMYK, 4] : [TJPF_RGB, 3];
  const flags = (dctMethod === 'fast' ? TJFLAG_FASTDCT : TJFLAG_ACCURATEDCT) | (fancyUpscaling ? 0 : TJFLAG_FASTUPSAMPLE);
  const data = run(bytes, width, height, outChannels, format, flags);
  const pixels: Pixels = { width, height, channels: outChannels, frames: 1, data };
  return cmyk ? cmykToRgb(pixels, markers.adobe) : pixels;
}

function run(bytes: Uint8Array, width: number, height: number, channels: number, format: number, flags: number): Uint8Array {
  const lib = turbo();
  let src = 0;
  let dst = 0;
  let handle = 0;
  try {
    src = lib.malloc(bytes.length);
    dst = lib.malloc(width * height * channels);
    handle = lib.tjInitDecompress();
    if (src === 0 || dst === 0 || handle === 0) throw new ImageInputError(`out of memory decoding a ${width}x${height} JPEG`);
    new Uint8Array(lib.memory.buffer, src, bytes.length).set(bytes);
    // A non-zero result without a throw is a warning (corrupt data libjpeg skipped), which TensorFlow ignores.
    lib.tjDecompress2(handle, src, bytes.length, dst, width, 0, height, format, flags);
    const out = new Uint8Array(lib.memory.buffer, dst, width * height * channels).slice();
    lib.tjDestroy(handle);
    lib.free(dst);
    lib.free(src);
    if (lib.memory.buffer.byteLength > KEEP_MEMORY_BYTES) instance = undefined;
    return out;
  } catch (err) {
    instance = undefined;
    if (err instanceof LibjpegError) throw new ImageInputError(`invalid JPEG data: ${err.message}`, { cause: err });
    throw err;
  }
}

/** jpeg_mem.cc's CMYK → RGB: Adobe writes inverted CMYK, so with its marker the values are used as they are. */
function cmykToRgb(p: Pixels, adobe: boolean): Pixels {
  const count = p.width * p.height;
  const out = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const k = p.data[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const v = p.data[i * 4 + c];
      out[i * 3 + c] = adobe ? Math.trunc((k * v) / 255) : Math.trunc(((255 - k) * (255 - v)) / 255);
    }
  }
  return { ...p, channels: 3, data: out };
}
