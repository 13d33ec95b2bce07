// TensorFlow's CPU resize kernels that TF.js lacks or computes differently, on float pixels, written
// from tensorflow/core/kernels/image/{resize_bicubic_op,resize_area_op,resize_nearest_neighbor_op}.cc
// and core/util/image_resizer_state.h. Every float operation is rounded to float32 (Math.fround) where
// the C++ kernel works in float, so results match TensorFlow's, not just its formula.

/** A batch of images: [batch, height, width, channels] row-major float pixels. */
export interface ImageBatch {
  readonly data: Float32Array;
  readonly shape: readonly [number, number, number, number];
}

export interface ResizeFlags {
  alignCorners?: boolean;
  halfPixelCenters?: boolean;
}

/** TensorFlow's InvalidArgument for a resize it refuses (image_resizer_state.h's checks). */
export class ResizeError extends Error {
  override name = 'ResizeError';
}

const f = Math.fround;

/** CalculateResizeScale: in/out, or (in-1)/(out-1) with align_corners. */
export function resizeScale(inSize: number, outSize: number, alignCorners: boolean): number {
  return alignCorners && outSize > 1 ? f((inSize - 1) / (outSize - 1)) : f(inSize / outSize);
}

function checkResize(images: ImageBatch, outHeight: number, outWidth: number, flags: ResizeFlags): void {
  if (flags.alignCorners && flags.halfPixelCenters) {
    throw new ResizeError('If half_pixel_centers is True, align_corners must be False.');
  }
  if (!(outHeight > 0 && outWidth > 0)) throw new ResizeError(`output dimensions must be positive, got ${outHeight}x${outWidth}`);
  const [, height, width] = images.shape;
  if (!(height > 0 && width > 0)) throw new ResizeError(`input image must be of non-zero size, got ${height}x${width}`);
}

function bound(value: number, limit: number): number {
  return Math.min(limit - 1, Math.max(0, value));
}

/** lrintf in the default rounding mode: to nearest, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---- ResizeBicubic ----

const TABLE_SIZE = 1024;

/** InitCoeffsTable: the cubic kernel sampled at 1/1024 steps, computed in double, stored as float. */
function coefficientsTable(a: number): Float32Array {
  const table = new Float32Array((TABLE_SIZE + 1) * 2);
  for (let i = 0; i <= TABLE_SIZE; i++) {
    let x = f((i * 1.0) / TABLE_SIZE);
    table[i * 2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = f(x + 1.0);
    table[i * 2 + 1] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  }
  return table;
}

// Keys' a = -0.5 with half-pixel centers; the legacy kernel used a = -0.75.
const KEYS_TABLE = coefficientsTable(-0.5);
const LEGACY_TABLE = coefficientsTable(-0.75);

interface Taps {
  weights: [number, number, number, number];
  indices: [number, number, number, number];
}

function bicubicTaps(scale: number, outLoc: number, limit: number, halfPixelCenters: boolean): Taps {
  const inLocF = halfPixelCenters ? f(f(f(outLoc + 0.5) * scale) - 0.5) : f(outLoc * scale);
  const inLoc = Math.floor(inLocF);
  const delta = f(inLocF - inLoc);
  const offset = roundHalfEven(delta * TABLE_SIZE);
  const table = halfPixelCenters ? KEYS_TABLE : LEGACY_TABLE;
  const raw: [number, number, number, number] = [
    table[offset * 2 + 1]!,
    table[offset * 2]!,
    table[(TABLE_SIZE - offset) * 2]!,
    table[(TABLE_SIZE - offset) * 2 + 1]!,
  ];
  const indices = raw.map((_, k) => bound(inLoc - 1 + k, limit)) as Taps['indices'];
  if (!halfPixelCenters) return { weights: raw, indices };
  // Taps outside the image get weight 0 and the rest are renormalized (as ScaleAndTranslate does).
  const weights = raw.map((w, k) => (indices[k] === inLoc - 1 + k ? w : 0)) as Taps['weights'];
  const sum = f(f(f(weights[0] + weights[1]) + weights[2]) + weights[3]);
  if (Math.abs(sum) >= f(1000 * 1.1754943508222875e-38)) {
    const oneOverSum = f(1 / sum);
    for (let k = 0; k < 4; k++) weights[k] = f(weights[k]! * oneOverSum);
  }
  return { weights, indices };
}

function interpolate1D(w: readonly number[], v0: number, v1: number, v2: number, v3: number): number {
  return f(f(f(f(v0 * w[0]!) + f(v1 * w[1]!)) + f(v2 * w[2]!)) + f(v3 * w[3]!));
}

/** ResizeBicubic: output float32 [batch, outHeight, outWidth, channels]. */
export function resizeBicubic(images: ImageBatch, outHeight: number, outWidth: number, flags: ResizeFlags = {}): Float32Array {
  checkResize(images, outHeight, outWidth, flags);
  const [batch, height, width, channels] = images.shape;
  const halfPixel = flags.halfPixelCenters ?? false;
  const alignCorners = flags.alignCorners ?? false;
  const heightScale = resizeScale(height, outHeight, alignCorners);
  const widthScale = resizeScale(width, outWidth, alignCorners);
  const xTaps = Array.from({ length: outWidth }, (_, x) => bicubicTaps(widthScale, x, width, halfPixel));
  const out = new Float32Array(batch * outHeight * outWidth * channels);
  const input = images.data;
  const column = [0, 0, 0, 0];
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * height * width * channels;
    for (let y = 0; y < outHeight; y++) {
      const yt = bicubicTaps(heightScale, y, height, halfPixel);
      const rows = yt.indices.map((r) => base + r * width * channels);
      for (let x = 0; x < outWidth; x++) {
        const xt = xTaps[x]!;
        for (let c = 0; c < channels; c++) {
          // Each of the 4 columns is interpolated over the 4 rows first, then the columns across x.
          for (let k = 0; k < 4; k++) {
            const i = xt.indices[k]! * channels + c;
            column[k] = interpolate1D(yt.weights, input[rows[0]! + i]!, input[rows[1]! + i]!, input[rows[2]! + i]!, input[rows[3]! + i]!);
          }
          out[o++] = interpolate1D(xt.weights, column[0]!, column[1]!, column[2]!, column[3]!);
        }
      }
    }
  }
  return out;
}

// ---- ResizeArea ----

interface AreaSpan {
  start: number;
  end: number;
  startScale: number;
  endMinusOneScale: number;
}

/** How much of input cell `v` lies in [inLo, inHi) (the kernel's start_scale / end_minus_one_scale rule). */
function cellShare(v: number, inLo: number, inHi: number, scale: number): number {
  return v < inLo ? (v + 1 > inHi ? scale : f(v + 1 - inLo)) : v + 1 > inHi ? f(inHi - v) : 1;
}

/** ResizeArea: each output pixel is the area-weighted mean of the input cells it covers. */
export function resizeArea(images: ImageBatch, outHeight: number, outWidth: number, flags: Pick<ResizeFlags, 'alignCorners'> = {}): Float32Array {
  checkResize(images, outHeight, outWidth, flags);
  const [batch, height, width, channels] = images.shape;
  const alignCorners = flags.alignCorners ?? false;
  const heightScale = resizeScale(height, outHeight, alignCorners);
  const widthScale = resizeScale(width, outWidth, alignCorners);
  const spans: AreaSpan[] = Array.from({ length: outWidth }, (_, x) => {
    const inX = f(x * widthScale);
    const inX1 = f((x + 1) * widthScale);
    const start = Math.floor(inX);
    const end = Math.ceil(inX1);
    return { start, end, startScale: cellShare(start, inX, inX1, widthScale), endMinusOneScale: cellShare(end - 1, inX, inX1, widthScale) };
  });
  const scale = f(1.0 / f(heightScale * widthScale));
  const input = images.data;
  const out = new Float32Array(batch * outHeight * outWidth * channels);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < outHeight; y++) {
      const inY = f(y * heightScale);
      const inY1 = f((y + 1) * heightScale);
      const rows: number[] = [];
      const rowScales: number[] = [];
      for (let i = Math.floor(inY); i < Math.ceil(inY1); i++) {
        rowScales.push(cellShare(i, inY, inY1, heightScale));
        rows.push((b * height + bound(i, height)) * width * channels);
      }
      for (let x = 0; x < outWidth; x++) {
        const span = spans[x]!;
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let r = 0; r < rows.length; r++) {
            const row = rows[r]!;
            const at = (col: number) => input[row + bound(col, width) * channels + c]!;
            let sumY = f(at(span.start) * span.startScale);
            if (span.start + 1 !== span.end) {
              for (let col = span.start + 1; col < span.end - 1; col++) sumY = f(sumY + at(col));
              sumY = f(sumY + f(at(span.end - 1) * span.endMinusOneScale));
            }
            sum = f(sum + f(sumY * rowScales[r]!));
          }
          out[o++] = f(sum * scale);
        }
      }
    }
  }
  return out;
}

// ---- ResizeNearestNeighbor ----

/** Source index of output `outLoc` (resize_nearest_neighbor_op.cc: floorf or roundf of the scaled position). */
function nearestIndex(outLoc: number, scale: number, limit: number, flags: ResizeFlags): number {
  // Nearest neighbour's half-pixel scaler has no -0.5: (x + 0.5) * scale.
  const inF = flags.halfPixelCenters ? f(f(outLoc + 0.5) * scale) : f(outLoc * scale);
  // roundf rounds halves away from zero; positions are non-negative here.
  const index = Math.min(flags.alignCorners ? Math.floor(inF + 0.5) : Math.floor(inF), limit - 1);
  return flags.halfPixelCenters ? Math.max(0, index) : index;
}

/** ResizeNearestNeighbor on float pixels (the input dtype is kept by TensorFlow; pixels here are float). */
export function resizeNearestNeighbor(images: ImageBatch, outHeight: number, outWidth: number, flags: ResizeFlags = {}): Float32Array {
  checkResize(images, outHeight, outWidth, flags);
  const [batch, height, width, channels] = images.shape;
  const alignCorners = flags.alignCorners ?? false;
  const heightScale = resizeScale(height, outHeight, alignCorners);
  const widthScale = resizeScale(width, outWidth, alignCorners);
  const columns = Array.from({ length: outWidth }, (_, x) => nearestIndex(x, widthScale, width, flags) * channels);
  const out = new Float32Array(batch * outHeight * outWidth * channels);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < outHeight; y++) {
      const row = (b * height + nearestIndex(y, heightScale, height, flags)) * width * channels;
      for (let x = 0; x < outWidth; x++) {
        out.set(images.data.subarray(row + columns[x]!, row + columns[x]! + channels), o);
        o += channels;
      }
    }
  }
  return out;
}
