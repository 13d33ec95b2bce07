// GIF pixels as TensorFlow's DecodeGif/DecodeImage compute them (tensorflow/core/lib/gif/gif_io.cc, on
// giflib's DGifSlurp). TensorFlow's compositing is its own, not a browser's, so no GIF library gives it:
//   - the canvas is the largest frame width x the largest frame height (not the logical screen size);
//   - frame k starts as a copy of frame k - 1; disposal methods are ignored;
//   - the first frame starts black where it does not cover the canvas, and its transparent pixels
//     (the Graphic Control Extension's index) are black; later frames leave those pixels as they were;
//   - parts of a frame outside the canvas are clipped;
//   - a colour index beyond the colour table (local, else global) is an error, as is a frame without one;
//   - with expand_animations false only the first frame is decoded (on the same canvas).
// The LZW data is decoded as giflib does (codes up to 12 bits, a full table is kept until a clear code),
// interlaced frames are put back in row order, and a file that ends after its last complete frame
// without the trailer still decodes (DGifSlurp's error is then only logged by TensorFlow).
import { ImageInputError } from './format.js';
import type { Pixels } from './pixels.js';

interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
  colors: Uint8Array | undefined;
  transparent: number | undefined;
  minCodeSize: number;
  interlaced: boolean;
  /** The LZW codes (sub-blocks joined), decoded only for the frames the output holds. */
  codes: Uint8Array;
}

function fail(message: string): never {
  throw new ImageInputError(`invalid GIF data: ${message}`);
}

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}
  u8(): number {
    if (this.at >= this.bytes.length) fail('the file ends too soon');
    return this.bytes[this.at++];
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) fail('the file ends too soon');
    this.at += n;
    return this.bytes.subarray(this.at - n, this.at);
  }
  /** Data sub-blocks up to the zero-length terminator, concatenated. */
  subBlocks(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let size = this.u8(); size > 0; size = this.u8()) parts.push(this.take(size));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}

/** giflib's LZW decoder for one frame: exactly `count` indices, or an error when the codes end first. */
function decodeLzw(minCodeSize: number, data: Uint8Array, count: number, frame: number): Uint8Array {
  if (minCodeSize < 1 || minCodeSize > 11) fail(`frame ${frame} has an LZW code size of ${minCodeSize}`);
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  for (let i = 0; i < clear; i++) {
    suffix[i] = i;
    first[i] = i;
  }
  const stack = new Uint8Array(4096);
  const out = new Uint8Array(count);
  let written = 0;
  let size = minCodeSize + 1;
  let next = clear + 2;
  let previous = -1;
  let bits = 0;
  let buffer = 0;
  let at = 0;
  while (written < count) {
    while (bits < size) {
      if (at >= data.length) fail(`frame ${frame} ends before its last pixel`);
      buffer |= data[at++] << bits;
      bits += 8;
    }
    const code = buffer & ((1 << size) - 1);
    buffer >>>= size;
    bits -= size;
    if (code === clear) {
      size = minCodeSize + 1;
      next = clear + 2;
      previous = -1;
      continue;
    }
    if (code === end) fail(`frame ${frame} ends before its last pixel`);
    let depth = 0;
    let current = code;
    if (previous === -1) {
      if (code >= clear) fail(`frame ${frame} starts with LZW code ${code}`);
    } else {
      if (code > next || (code === next && next >= 4096)) fail(`frame ${frame} has an LZW code ${code} not in its table`);
      if (code === next) {
        // The KwKwK case: the new string is the previous one plus its own first index.
        stack[depth++] = first[previous];
        current = previous;
      }
      if (next < 4096) {
        prefix[next] = previous;
        first[next] = first[previous];
        suffix[next] = code === next ? first[previous] : first[code];
        next += 1;
        if (next === 1 << size && size < 12) size += 1;
      }
    }
    while (current >= clear) {
      stack[depth++] = suffix[current];
      current = prefix[current];
    }
    stack[depth++] = current;
    while (depth > 0 && written < count) out[written++] = stack[--depth];
    previous = code;
  }
  return out;
}

/** Interlaced rows (passes every 8th from 0, every 8th from 4, every 4th from 2, every 2nd from 1) in row order. */
function deinterlace(indices: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(indices.length);
  let row = 0;
  for (const [start, step] of [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ]) {
    for (let y = start; y < height; y += step) out.set(indices.subarray(row * width, ++row * width), y * width);
  }
  return out;
}

function readFrames(bytes: Uint8Array): Frame[] {
  const r = new Reader(bytes);
  const signature = String.fromCharCode(...r.take(6));
  if (!signature.startsWith('GIF')) fail('no GIF signature');
  r.u16();
  r.u16();
  const packed = r.u8();
  r.take(2); // background colour index, pixel aspect ratio
  const globalColors = packed & 0x80 ? r.take(3 << ((packed & 7) + 1)) : undefined;
  const frames: Frame[] = [];
  let transparent: number | undefined;
  for (;;) {
    // A file cut after a complete frame, before the trailer, is what DGifSlurp leaves TensorFlow to decode.
    if (r.at >= bytes.length && frames.length > 0) return frames;
    const block = r.u8();
    if (block === 0x3b) return frames;
    if (block === 0x21) {
      const label = r.u8();
      const data = r.subBlocks();
      if (label === 0xf9 && data.length >= 4) transparent = data[0] & 1 ? data[3] : undefined;
      continue;
    }
    if (block !== 0x2c) fail(`unknown block 0x${block.toString(16).padStart(2, '0')} at byte ${r.at - 1}`);
    const [left, top, width, height] = [r.u16(), r.u16(), r.u16(), r.u16()];
    const flags = r.u8();
    const colors = flags & 0x80 ? r.take(3 << ((flags & 7) + 1)) : globalColors;
    const minCodeSize = r.u8();
    frames.push({ left, top, width, height, colors, transparent, minCodeSize, interlaced: (flags & 0x40) !== 0, codes: r.subBlocks() });
    // A Graphic Control Extension applies to the next frame only (DGifSavedExtensionToGCB).
    transparent = undefined;
  }
}

/** A frame's colour indices in row order. */
function frameIndices(frame: Frame, k: number): Uint8Array {
  const indices = decodeLzw(frame.minCodeSize, frame.codes, frame.width * frame.height, k);
  return frame.interlaced ? deinterlace(indices, frame.width, frame.height) : indices;
}

/**
 * Decodes a GIF to RGB frames with TensorFlow's canvas and compositing rules (see above). Only the frames
 * the output holds are decompressed (all of them, or the first), so a long animation decoded for its
 * first frame costs no more than that frame.
 */
export function decodeGif(bytes: Uint8Array, options: { allFrames?: boolean } = {}): Pixels {
  const frames = readFrames(bytes);
  if (frames.length === 0) fail('gif file does not contain any image');
  const width = Math.max(...frames.map((f) => f.width));
  const height = Math.max(...frames.map((f) => f.height));
  const count = options.allFrames ? frames.length : 1;
  const plane = width * height * 3;
  const data = new Uint8Array(count * plane);
  for (let k = 0; k < count; k++) {
    const frame = frames[k];
    const indices = frameIndices(frame, k);
    const canvas = data.subarray(k * plane, (k + 1) * plane);
    if (k > 0) canvas.set(data.subarray((k - 1) * plane, k * plane));
    if (!frame.colors) fail(`missing color map for frame ${k}`);
    const colorCount = frame.colors.length / 3;
    const bottom = Math.min(frame.top + frame.height, height);
    const right = Math.min(frame.left + frame.width, width);
    for (let y = frame.top; y < bottom; y++) {
      for (let x = frame.left; x < right; x++) {
        const index = indices[(y - frame.top) * frame.width + (x - frame.left)];
        // A new canvas is zeros, so a first frame's transparent pixels stay black.
        if (index === frame.transparent) continue;
        if (index >= colorCount) fail(`found color index ${index} outside of color map range ${colorCount}`);
        canvas.set(frame.colors.subarray(index * 3, index * 3 + 3), (y * width + x) * 3);
      }
    }
  }
  return { height, width, channels: 3, frames: count, data };
}
