// Layouts: TensorFlow computes images as NHWC with HWIO filters, ONNX as NCHW with OIHW weights.
// Constants are permuted here once, at translation; image tensors stay NCHW inside the ONNX graph.
import type { TypedArray } from '@tensorsky/saved-model';
import { fail } from './context.js';

/** NHWC → NCHW: held axis k is TF axis TO_NCHW[k]. */
export const TO_NCHW = [0, 3, 1, 2] as const;
/** NCHW → NHWC: TF axis a is held axis TO_NHWC[a]. */
export const TO_NHWC = [0, 2, 3, 1] as const;

export function permute<T>(values: readonly T[], perm: readonly number[]): T[] {
  return perm.map((p) => values[p]);
}

export function isIdentityPerm(perm: readonly number[]): boolean {
  return perm.every((p, i) => p === i);
}

/** Generic N-D transpose of row-major data: out.shape[k] = shape[perm[k]]. */
export function transposeData<A extends TypedArray>(data: A, shape: readonly number[], perm: readonly number[]): A {
  const rank = shape.length;
  const out = new (data.constructor as new (n: number) => A)(data.length);
  if (rank === 0 || data.length === 0) {
    out.set(data as never);
    return out;
  }
  const inStrides = new Array<number>(rank);
  for (let k = rank - 1, s = 1; k >= 0; k--) {
    inStrides[k] = s;
    s *= shape[k];
  }
  const outShape = perm.map((p) => shape[p]);
  const strides = perm.map((p) => inStrides[p]);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    (out as unknown as number[])[i] = (data as unknown as number[])[src];
    for (let k = rank - 1; k >= 0; k--) {
      index[k]++;
      src += strides[k];
      if (index[k] < outShape[k]) break;
      src -= strides[k] * outShape[k];
      index[k] = 0;
    }
  }
  return out;
}

/**
 * Conv2D filter [H, W, I, O] → ONNX Conv weights [O, I, H, W], written into `out`, output channel k
 * multiplied by scale[k] when given (a folded batch norm; the product is rounded to float32 once).
 */
export function hwioToOihw(data: Float32Array, [h, w, i, o]: readonly number[], out: Float32Array, scale?: ArrayLike<number>): Float32Array {
  const p = h * w;
  const step = i * o;
  // [P, I, O] → [O, I, P] in tiles of input x output channels, so the source rows and destination runs
  // of a tile stay in cache (InceptionV3 has ~22M weights to move).
  const IB = p === 1 ? 32 : 16;
  const OB = 32;
  for (let c0 = 0; c0 < i; c0 += IB) {
    const c1 = Math.min(i, c0 + IB);
    for (let o0 = 0; o0 < o; o0 += OB) {
      const o1 = Math.min(o, o0 + OB);
      for (let k = o0; k < o1; k++) {
        const s = scale ? scale[k] : 1;
        for (let c = c0; c < c1; c++) {
          const dst = (k * i + c) * p;
          let src = c * o + k;
          for (let q = 0; q < p; q++, src += step) out[dst + q] = data[src] * s;
        }
      }
    }
  }
  return out;
}

/** DepthwiseConv2dNative filter [H, W, C, M] → grouped Conv weights [C*M, 1, H, W]; channel c*M+m, as TF orders its output. */
export function depthwiseToOihw(data: Float32Array, [h, w, c, m]: readonly number[], out: Float32Array, scale?: ArrayLike<number>): Float32Array {
  // [H, W, C*M] → [C*M, H, W]: the same permutation with I = 1.
  return hwioToOihw(data, [h, w, 1, c * m], out, scale);
}

export interface Padding {
  /** ONNX pads: begins then ends, per spatial axis. */
  pads?: number[];
  autoPad?: 'SAME_UPPER';
  /** Output spatial sizes when known (-1 otherwise). */
  out: number[];
}

/**
 * TensorFlow's padding for a windowed op over spatial sizes `inputs`: VALID → none; SAME → total
 * max((ceil(in/s)-1)*s + (k-1)*d + 1 - in, 0), floor(total/2) before and the rest after (what ONNX calls
 * SAME_UPPER, used when a size is unknown); EXPLICIT → the given [before, after] pairs.
 */
export function windowPadding(
  padding: string,
  inputs: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
  explicit?: readonly (readonly [number, number])[],
): Padding {
  const n = kernel.length;
  const effective = kernel.map((k, i) => (k - 1) * dilations[i] + 1);
  if (padding === 'VALID') {
    return { pads: new Array(2 * n).fill(0), out: inputs.map((x, i) => (x < 0 ? -1 : Math.max(Math.floor((x - effective[i]) / strides[i]) + 1, 0))) };
  }
  if (padding === 'EXPLICIT') {
    if (!explicit) fail('padding=EXPLICIT without explicit_paddings');
    const pads = [...explicit.map((p) => p[0]), ...explicit.map((p) => p[1])];
    const out = inputs.map((x, i) => (x < 0 ? -1 : Math.floor((x + explicit[i][0] + explicit[i][1] - effective[i]) / strides[i]) + 1));
    return { pads, out };
  }
  if (padding !== 'SAME') fail(`padding=${padding}`);
  const out = inputs.map((x, i) => (x < 0 ? -1 : Math.ceil(x / strides[i])));
  // With stride 1 the total is k_eff - 1 whatever the size; otherwise an unknown size needs SAME_UPPER.
  if (inputs.some((x, i) => x < 0 && strides[i] !== 1)) return { autoPad: 'SAME_UPPER', out };
  const totals = inputs.map((x, i) => (strides[i] === 1 ? effective[i] - 1 : Math.max((out[i] - 1) * strides[i] + effective[i] - x, 0)));
  return { pads: [...totals.map((t) => Math.floor(t / 2)), ...totals.map((t) => t - Math.floor(t / 2))], out };
}

/** ONNX attrs for a Padding. */
export function paddingAttrs(p: Padding): { pads?: number[]; auto_pad?: string } {
  return p.autoPad ? { auto_pad: p.autoPad } : { pads: p.pads };
}

/** numpy/TensorFlow broadcasting of static shapes; undefined when a rank is unknown. */
export function broadcastShapes(...shapes: (readonly number[] | undefined)[]): number[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes as number[][]) {
    const offset = rank - s.length;
    s.forEach((d, i) => {
      const cur = out[offset + i];
      if (d === 1) return;
      if (cur === 1) out[offset + i] = d;
      else if (d === -1 || cur === -1) out[offset + i] = d === -1 ? (cur === -1 ? -1 : cur) : d;
    });
  }
  return out;
}
