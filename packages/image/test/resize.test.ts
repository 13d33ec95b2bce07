// TensorFlow's resize kernels ported in src/resize.ts, against (1) expected values from TensorFlow's
// own tests (tensorflow/python/ops/image_ops_test.py, ResizeImagesTest, TF1 defaults: legacy pixel
// centers) and (2) a numpy implementation written here in a different form: separable weight matrices
// in float64 (area as exact overlap lengths), so it shares no code or structure with the port.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ResizeError, resizeArea, resizeBicubic, resizeNearestNeighbor, scaleAndTranslate, type ImageBatch } from '../src/index.js';

function batch(data: number[], height: number, width: number, channels = 1): ImageBatch {
  return { data: Float32Array.from(data), shape: [1, height, width, channels] };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe("TensorFlow's image_ops_test.py expectations", () => {
  it('testResizeUpAlignCornersFalse: nearest and area, 3x2 -> 6x4', () => {
    const image = batch([64, 32, 32, 64, 50, 100], 3, 2);
    const expected = [64, 64, 32, 32, 64, 64, 32, 32, 32, 32, 64, 64, 32, 32, 64, 64, 50, 50, 100, 100, 50, 50, 100, 100];
    expect(Array.from(resizeNearestNeighbor(image, 6, 4))).toEqual(expected);
    expect(maxAbsDiff(resizeArea(image, 6, 4), expected)).toBeLessThan(1e-5);
  });

  it('testResizeUpAlignCornersTrue: nearest and area with align_corners, 3x2 -> 5x4', () => {
    const image = batch([6, 3, 3, 6, 6, 9], 3, 2);
    expect(Array.from(resizeNearestNeighbor(image, 5, 4, { alignCorners: true }))).toEqual([6, 6, 3, 3, 3, 3, 6, 6, 3, 3, 6, 6, 6, 6, 9, 9, 6, 6, 9, 9]);
    const area = [6, 6, 6, 3, 6, 6, 6, 3, 3, 3, 3, 6, 3, 3, 3, 6, 6, 6, 6, 9];
    expect(maxAbsDiff(resizeArea(image, 5, 4, { alignCorners: true }), area)).toBeLessThan(1e-5);
  });

  it('testResizeUpBicubic: legacy bicubic (a = -0.75), 6x6 -> 8x8, within 1 as TensorFlow checks', () => {
    const image = batch(
      [128, 128, 64, 64, 128, 128, 64, 64, 64, 64, 128, 128, 64, 64, 128, 128, 50, 50, 100, 100, 50, 50, 100, 100, 50, 50, 100, 100, 50, 50, 100, 100, 50, 50, 100, 100],
      6,
      6,
    );
    const expected = [
      128, 135, 96, 55, 64, 114, 134, 128, 78, 81, 68, 52, 57, 118, 144, 136, 55, 49, 79, 109, 103, 89, 83, 84, 74, 70, 95, 122, 115, 69, 49, 55, 100, 105, 75,
      43, 50, 89, 105, 100, 57, 54, 74, 96, 91, 65, 55, 58, 70, 69, 75, 81, 80, 72, 69, 70, 105, 112, 75, 36, 45, 92, 111, 105,
    ];
    expect(maxAbsDiff(resizeBicubic(image, 8, 8), expected)).toBeLessThanOrEqual(1);
  });

  it('testResizeDownArea: 6x6 -> 4x4, within 1 as TensorFlow checks', () => {
    const image = batch([128, 64, 32, 16, 8, 4, 4, 8, 16, 32, 64, 128, 128, 64, 32, 16, 8, 4, 5, 10, 15, 20, 25, 30, 30, 25, 20, 15, 10, 5, 5, 10, 15, 20, 25, 30], 6, 6);
    expect(maxAbsDiff(resizeArea(image, 4, 4), [73, 33, 23, 39, 73, 33, 23, 39, 14, 16, 19, 21, 14, 16, 19, 21])).toBeLessThanOrEqual(1);
  });

  it("refuses what TensorFlow's ImageResizerState refuses", () => {
    const image = batch([1, 2, 3, 4], 2, 2);
    expect(() => resizeBicubic(image, 4, 4, { alignCorners: true, halfPixelCenters: true })).toThrow(ResizeError);
    expect(() => resizeBicubic(image, 4, 4, { alignCorners: true, halfPixelCenters: true })).toThrow('If half_pixel_centers is True, align_corners must be False.');
    expect(() => resizeArea(image, 0, 4)).toThrow(/output dimensions must be positive/);
  });
});

// TensorFlow's rules, re-derived as weight matrices: out = Wy @ image @ Wx^T per channel.
const NUMPY_REFERENCE = String.raw`
import json, sys
import numpy as np
f32 = np.float32
req = json.load(sys.stdin)

def scale(n_in, n_out, align):
    # CalculateResizeScale, in float32.
    return f32(n_in - 1) / f32(n_out - 1) if align and n_out > 1 else f32(n_in) / f32(n_out)

def cubic(x, a):
    x = abs(x)
    if x <= 1: return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2: return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0

def bicubic_matrix(n_in, n_out, align, half):
    s = scale(n_in, n_out, align)
    a = -0.5 if half else -0.75
    W = np.zeros((n_out, n_in))
    for o in range(n_out):
        pos = (f32(o) + f32(0.5)) * s - f32(0.5) if half else f32(o) * s
        base = int(np.floor(pos))
        # The kernels sample the cubic at 1/1024 steps (rounded to nearest even).
        t = int(np.rint((pos - f32(base)) * 1024)) / 1024.0
        taps = [(base - 1, cubic(1 + t, a)), (base, cubic(t, a)), (base + 1, cubic(1 - t, a)), (base + 2, cubic(2 - t, a))]
        if half:
            inside = [(i, w) for i, w in taps if 0 <= i < n_in]
            total = sum(w for _, w in inside)
            for i, w in inside: W[o, i] += w / total
        else:
            for i, w in taps: W[o, min(max(i, 0), n_in - 1)] += w
    return W

def area_matrix(n_in, n_out, align):
    s = float(scale(n_in, n_out, align))
    W = np.zeros((n_out, n_in))
    for o in range(n_out):
        lo, hi = float(f32(o * s)), float(f32((o + 1) * s))
        for i in range(int(np.floor(lo)), int(np.ceil(hi))):
            W[o, min(max(i, 0), n_in - 1)] += (min(i + 1, hi) - max(i, lo)) / s
    return W

def nearest_matrix(n_in, n_out, align, half):
    s = scale(n_in, n_out, align)
    W = np.zeros((n_out, n_in))
    for o in range(n_out):
        pos = (f32(o) + f32(0.5)) * s if half else f32(o) * s
        i = int(np.floor(pos + 0.5)) if align else int(np.floor(pos))
        i = min(i, n_in - 1)
        if half: i = max(i, 0)
        W[o, i] = 1
    return W

def sampling_kernel(name):
    if name == 'triangle': return 1.0, lambda x: max(0.0, 1 - x)
    # Keys cubic with a = -0.5 (Catmull-Rom).
    return 2.0, lambda x: cubic(x, -0.5)

def scale_translate_matrix(n_in, n_out, scale, kernel):
    # Output o samples the input at (o + 0.5) / scale; the kernel is widened by 1/scale when
    # downsampling (antialias); weights over the input pixels inside the image, normalized.
    radius, k = sampling_kernel(kernel)
    kscale = max(1.0 / scale, 1.0)
    W = np.zeros((n_out, n_in))
    for o in range(n_out):
        sample = (o + 0.5) / scale
        if sample < 0 or sample > n_in: continue
        w = np.array([k(abs(i + 0.5 - sample) / kscale) for i in range(n_in)])
        if w.sum() != 0: W[o] = w / w.sum()
    return W

out = []
for case in req:
    img = np.array(case['data'], dtype=np.float64).reshape(case['shape'])
    h, w, c = img.shape
    oh, ow, method, align, half = case['height'], case['width'], case['method'], case['align'], case['half']
    if method in ('triangle', 'keyscubic'):
        sy, sx = np.float32(oh) / np.float32(h), np.float32(ow) / np.float32(w)
        Wy, Wx = scale_translate_matrix(h, oh, float(sy), method), scale_translate_matrix(w, ow, float(sx), method)
    elif method == 'bicubic': Wy, Wx = bicubic_matrix(h, oh, align, half), bicubic_matrix(w, ow, align, half)
    elif method == 'area': Wy, Wx = area_matrix(h, oh, align), area_matrix(w, ow, align)
    else: Wy, Wx = nearest_matrix(h, oh, align, half), nearest_matrix(w, ow, align, half)
    res = np.einsum('oh,hwc,pw->opc', Wy, img, Wx)
    out.append(res.reshape(-1).tolist())
print(json.dumps(out))
`;

function numpyAvailable(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Case {
  method: 'bicubic' | 'area' | 'nearest' | 'triangle' | 'keyscubic';
  align: boolean;
  half: boolean;
  shape: [number, number, number];
  height: number;
  width: number;
}

describe.skipIf(!numpyAvailable())('against a numpy implementation of the same rules', () => {
  // Seeded pixel values 0-255, sizes up and down, odd ratios, 1 and 3 channels.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 255;
  const sizes: [[number, number, number], number, number][] = [
    [[7, 9, 3], 13, 5],
    [[13, 5, 1], 4, 11],
    [[31, 47, 3], 12, 17],
    [[5, 6, 3], 5, 6],
    [[40, 30, 3], 299 % 37, 41],
  ];
  const cases: Case[] = [];
  for (const [shape, height, width] of sizes) {
    for (const [align, half] of [
      [false, true],
      [false, false],
      [true, false],
    ] as const) {
      cases.push({ method: 'bicubic', align, half, shape, height, width });
      cases.push({ method: 'nearest', align, half, shape, height, width });
      if (!half) cases.push({ method: 'area', align, half, shape, height, width });
    }
    // ScaleAndTranslate as tf.image.resize(antialias=True) calls it.
    cases.push({ method: 'triangle', align: false, half: true, shape, height, width });
    cases.push({ method: 'keyscubic', align: false, half: true, shape, height, width });
  }
  const images = cases.map((c) => Float32Array.from({ length: c.shape[0] * c.shape[1] * c.shape[2] }, () => Math.round(random())));
  const expected = JSON.parse(
    numpyAvailable()
      ? execFileSync('python3', ['-c', NUMPY_REFERENCE], { input: JSON.stringify(cases.map((c, i) => ({ ...c, data: Array.from(images[i]!) }))), maxBuffer: 1 << 26 }).toString()
      : '[]',
  ) as number[][];

  it.each(cases.map((c, i) => [`${c.method} ${c.shape.join('x')} -> ${c.height}x${c.width} align=${c.align} half=${c.half}`, i] as const))('%s', (_, i) => {
    const c = cases[i]!;
    const image: ImageBatch = { data: images[i]!, shape: [1, ...c.shape] };
    const flags = { alignCorners: c.align, halfPixelCenters: c.half };
    const scale = [Math.fround(c.height / c.shape[0]), Math.fround(c.width / c.shape[1])] as const;
    const got =
      c.method === 'bicubic'
        ? resizeBicubic(image, c.height, c.width, flags)
        : c.method === 'area'
          ? resizeArea(image, c.height, c.width, flags)
          : c.method === 'nearest'
            ? resizeNearestNeighbor(image, c.height, c.width, flags)
            : scaleAndTranslate(image, c.height, c.width, { scale, kernelType: c.method, antialias: true });
    // float32 accumulation in the port (as TensorFlow) vs float64 here: up to ~1e-6 of 255 per summed
    // input pixel; a wrong weight or index would be off by whole pixel levels.
    expect(maxAbsDiff(got, expected[i]!)).toBeLessThan(c.method === 'nearest' ? 1e-9 : 1e-3);
  });
});
