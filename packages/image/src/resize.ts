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

// ---- ScaleAndTranslate (what tf.image.resize emits with antialias=True) ----

/** sampling_kernels.h: the kernel functions (float arithmetic) and their radii. */
const SAMPLING_KERNELS: Readonly<Record<string, { radius: number; at: (x: number) => number }>> = {
  box: { radius: 1, at: (x) => (x < 0.5 ? 1 : x === 0.5 ? 0.5 : 0) },
  triangle: { radius: 1, at: (x) => (x < 1 ? f(1 - x) : 0) },
  keyscubic: { radius: 2, at: keysCubic },
  mitchellcubic: { radius: 2, at: mitchellCubic },
  lanczos1: lanczos(1),
  lanczos3: lanczos(3),
  lanczos5: lanczos(5),
  gaussian: { radius: 1.5, at: (x) => (x >= 1.5 ? 0 : f(Math.exp((-x * x) / (2.0 * f(0.5) * f(0.5))))) },
};

function keysCubic(x: number): number {
  if (x >= 2) return 0;
  // ((-0.5x + 2.5)x - 4)x + 2 and ((1.5x - 2.5)x)x + 1, each operation in float.
  if (x >= 1) return f(f(f(f(f(f(-0.5 * x) + 2.5) * x) - 4) * x) + 2);
  return f(f(f(f(f(1.5 * x) - 2.5) * x) * x) + 1);
}

function mitchellCubic(x: number): number {
  if (x >= 2) return 0;
  if (x >= 1) return f(f(f(f(f(f(f(-7 / 18) * x) + 2) * x) - f(10 / 3)) * x) + f(16 / 9));
  return f(f(f(f(f(f(7 / 6) * x) - 2) * x) * x) + f(8 / 9));
}

function lanczos(radius: number): { radius: number; at: (x: number) => number } {
  const pi = f(3.14159265359);
  return { radius, at: (x) => (x > radius ? 0 : x <= f(1e-3) ? 1 : f((radius * Math.sin(pi * x) * Math.sin((pi * x) / radius)) / (pi * pi * x * x))) };
}

export const SAMPLING_KERNEL_TYPES = Object.keys(SAMPLING_KERNELS);

export interface ScaleAndTranslateOptions {
  /** [row, column] scale (output size / input size for a plain resize). */
  scale: readonly [number, number];
  /** [row, column] translation; tf.image.resize passes zeros. */
  translation?: readonly [number, number];
  /** One of SAMPLING_KERNEL_TYPES; the op's default is lanczos3. */
  kernelType?: string;
  /** Widen the kernel by 1/scale when downsampling; the op's default is true. */
  antialias?: boolean;
}

interface Spans {
  size: number;
  starts: Int32Array;
  weights: Float32Array;
}

/** ComputeSpansCore: per output position, the first input index and span_size normalized weights. */
function computeSpans(kernelType: string, outputSize: number, inputSize: number, scale: number, translate: number, antialias: boolean): Spans {
  const kernel = SAMPLING_KERNELS[kernelType]!;
  const invScale = f(1.0 / scale);
  const invTranslate = f(-invScale * translate);
  const kernelScale = antialias ? Math.max(invScale, 1) : 1;
  const reach = f(kernel.radius * kernelScale);
  const size = Math.min(2 * Math.ceil(reach) + 1, inputSize);
  const starts = new Int32Array(outputSize);
  const weights = new Float32Array(size * outputSize);
  const oneOverKernelScale = f(1 / kernelScale);
  for (let x = 0; x < outputSize; x++) {
    const sample = f(f(f(x + 0.5) * invScale) + invTranslate);
    // Sampling locations outside the image get an empty span (zeros).
    if (sample < 0 || sample > inputSize) continue;
    const spanStart = Math.min(inputSize - 1, Math.max(0, Math.ceil(f(f(sample - reach) - 0.5))));
    const spanEnd = Math.min(inputSize - 1, Math.max(0, Math.floor(f(f(sample + reach) - 0.5)))) + 1;
    if (spanEnd - spanStart > size) throw new ResizeError(`Span is too large: ${spanEnd - spanStart} vs ${size}.`);
    let total = 0;
    const temp: number[] = [];
    for (let source = spanStart; source < spanEnd; source++) {
      const position = f(f(source + 0.5) - sample);
      const weight = kernel.at(Math.abs(f(position * oneOverKernelScale)));
      total = f(total + weight);
      temp.push(weight);
    }
    if (Math.abs(total) >= f(1000 * 1.1754943508222875e-38)) {
      const oneOverTotal = f(1 / total);
      temp.forEach((w, j) => (weights[size * x + j] = f(w * oneOverTotal)));
    }
    starts[x] = spanStart;
  }
  return { size, starts, weights };
}

/** ScaleAndTranslate: separable resampling, rows first into an intermediate buffer, then columns (GatherSpans). */
export function scaleAndTranslate(images: ImageBatch, outHeight: number, outWidth: number, options: ScaleAndTranslateOptions): Float32Array {
  const [batch, height, width, channels] = images.shape;
  const kernelType = options.kernelType ?? 'lanczos3';
  if (!(kernelType in SAMPLING_KERNELS)) throw new ResizeError(`Unrecognized kernel type: ${kernelType}`);
  if (!(outHeight > 0 && outWidth > 0)) throw new ResizeError('output dimensions must be positive');
  if (!(height > 0 && width > 0)) throw new ResizeError('input image must be of non-zero size');
  const [rowScale, colScale] = options.scale.map(f) as [number, number];
  if (!(rowScale > 0 && colScale > 0)) throw new ResizeError('Scale must be greater than zero.');
  const [rowTranslation, colTranslation] = (options.translation ?? [0, 0]).map(f) as [number, number];
  const antialias = options.antialias ?? true;
  const cols = computeSpans(kernelType, outWidth, width, colScale, colTranslation, antialias);
  const rows = computeSpans(kernelType, outHeight, height, rowScale, rowTranslation, antialias);
  const rowSize = width * channels;
  const intermediate = new Float32Array(outHeight * rowSize);
  const out = new Float32Array(batch * outHeight * outWidth * channels);
  for (let b = 0; b < batch; b++) {
    const image = b * height * rowSize;
    intermediate.fill(0);
    for (let y = 0; y < outHeight; y++) {
      const start = rows.starts[y]!;
      const span = Math.min(start + rows.size, height) - start;
      for (let j = 0; j < span; j++) {
        const w = rows.weights[y * rows.size + j]!;
        const from = image + (start + j) * rowSize;
        const to = y * rowSize;
        for (let i = 0; i < rowSize; i++) intermediate[to + i] = f(intermediate[to + i]! + f(w * images.data[from + i]!));
      }
    }
    const outBase = b * outHeight * outWidth * channels;
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        const start = cols.starts[x]!;
        const span = Math.min(start + cols.size, width) - start;
        const o = outBase + (y * outWidth + x) * channels;
        for (let j = 0; j < span; j++) {
          const w = cols.weights[x * cols.size + j]!;
          const from = y * rowSize + (start + j) * channels;
          for (let c = 0; c < channels; c++) out[o + c] = f(out[o + c]! + f(w * intermediate[from + c]!));
        }
      }
    }
  }
  return out;
}
