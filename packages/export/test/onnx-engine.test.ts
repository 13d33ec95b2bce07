// predict-local's onnx engine (the network on ONNX Runtime) against its wasm engine (our TF.js
// executor) on the exports users make: InceptionV3 (default and with batch norms folded) and a
// MobileNet-style fine-tuned classifier saved as a uint8-quantized TF.js layers model (depthwise,
// ReLU6, zero padding, residual add, separable conv, pooling, dense...). Same SavedModel, same base64
// JPEG/PNG files from the repository: the same top-5 (up to classes tied within the tolerance) and every
// probability within TOLERANCE.
//
// TOLERANCE is 2.5e-4, not the 1e-4 the issue asked for, because that is float32 itself on these
// networks, shown against a float64 evaluation of the same network on the same input (numpy,
// helpers/onnx_float64.py; the float64 test below): on InceptionV3 (--fold_batch_norms, seeded random
// weights, calibrated through the model's preprocessing like the applications) ONNX Runtime is within
// 1.46e-4 of float64 and TF.js wasm within 1.06e-4, on different photos and in opposite directions, so
// they differ from each other by 2.42e-4 (1.72e-4 on the default export). A third float32
// implementation, numpy's float32 (OpenBLAS), is within 9.0e-5 of float64. The MobileNet-style
// quantized model: 3.4e-8. The error grows through the network (ONNX Runtime against float64, relative
// to the largest value: 1.2e-6 at mixed0, 1.7e-5 at the pooled features) and the classifier turns that
// into logits 8e-4 off (logit std ~4). No ONNX Runtime setting brings the engines within 1e-4 of each
// other: graph optimization 'all' (NCHWc kernels) is 1.46e-4 from float64, 'extended', 'basic' and
// 'disabled' (plain kernels) 8.3e-5 but still 1.79e-4 from wasm. Layer by layer the translation agrees
// to ~1e-6 relative (predict-local's onnx-*.test.ts, at 1e-5 on every op family).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, type LocalModel } from '@tensorsky/predict-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, loadModelSource, randomWeights, type ModelSource } from '../src/index.js';
import { maxAbsDiff, ort } from '../../predict-local/test/onnx-support.js';
import { buildLayerZoo, compareProbabilities, saveQuantizedLayersModel } from './fidelity-helpers.js';
import { imagesDir, makeTempDir, PHOTOS } from './helpers/fixtures.js';
import { float64Reference, numpyAvailable, type NetworkInput } from './helpers/onnx-float64.js';

const TOLERANCE = 2.5e-4;
/** Each float32 engine against the float64 evaluation (measured: onnx 1.46e-4, wasm 1.06e-4). */
const FLOAT64_TOLERANCE = 2e-4;

async function predictAll(model: LocalModel, files: Buffer[]): Promise<{ shape: number[]; data: Float32Array }> {
  const out = await model.predict({ inputs: files.map((f) => f.toString('base64url')) });
  return { shape: out.outputs.shape, data: out.outputs.data as Float32Array };
}

/**
 * Images whose top-k differ beyond ties: a class in one engine's top-k must score, in the other, at least
 * that engine's k-th best minus the tolerance (classes with near-equal, e.g. saturated ~0, scores may swap).
 */
function topKDisagreements(a: Float32Array, b: Float32Array, classes: number, k: number, tolerance: number): number[] {
  const bad: number[] = [];
  for (let image = 0; image * classes < a.length; image++) {
    const [ra, rb] = [a.subarray(image * classes, (image + 1) * classes), b.subarray(image * classes, (image + 1) * classes)];
    const top = (r: Float32Array) => [...r.keys()].sort((i, j) => r[j] - r[i]).slice(0, k);
    const [ta, tb] = [top(ra), top(rb)];
    const fits = (t: number[], other: Float32Array, otherTop: number[]) => t.every((c) => other[c] >= other[otherTop[k - 1]] - tolerance);
    if (!fits(ta, rb, tb) || !fits(tb, ra, ta)) bad.push(image);
  }
  return bad;
}

function photoFiles(): Promise<Buffer[]> {
  return Promise.all(PHOTOS.map((name) => readFile(join(imagesDir, name))));
}

/** Both engines on the export in `dir`: the onnx engine must have run (no fallback) and agree with wasm. */
async function compareEngines(dir: string, classes: number) {
  const files = await photoFiles();
  const onnx = await loadModel(dir, { backend: 'onnx' });
  const wasm = await loadModel(dir, { backend: 'wasm' });
  try {
    expect(onnx.fallback).toBeUndefined();
    expect([onnx.backend, wasm.backend]).toEqual(['onnx', 'wasm']);
    const [a, b] = [await predictAll(onnx, files), await predictAll(wasm, files)];
    expect(a.shape).toEqual([PHOTOS.length, classes]);
    return { ...compareProbabilities(a.data, b.data, classes), top5Disagreements: topKDisagreements(a.data, b.data, classes, 5, TOLERANCE) };
  } finally {
    onnx.dispose();
    wasm.dispose();
  }
}

describe('engine onnx against engine wasm', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let inception: ModelSource;
  const exported = new Map<boolean, string>();
  const exportInception = async (foldBatchNorms: boolean) => {
    if (!exported.has(foldBatchNorms)) {
      const result = await exportSavedModel({ modelDir: join(temp.dir, `inception-${foldBatchNorms}`), source: inception, foldBatchNorms });
      exported.set(foldBatchNorms, result.modelDir);
    }
    return exported.get(foldBatchNorms)!;
  };
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('onnx-engine');
    inception = await loadModelSource({ weights: 'random', seed: 11, backend: 'wasm' });
  }, 300_000);
  afterAll(async () => {
    inception?.model.dispose();
    await temp.cleanup();
  });

  it.each([
    ['default', false],
    ['--fold_batch_norms', true],
  ])('InceptionV3 export (%s): same top-5 on every photo, probabilities within 2.5e-4', async (name, foldBatchNorms) => {
    const comparison = await compareEngines(await exportInception(foldBatchNorms), 1000);
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    expect(comparison.top5Disagreements).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(2);
  }, 300_000);

  // The evidence behind TOLERANCE (see the file comment): the network ONNX Runtime runs, in float64.
  it.skipIf(!numpyAvailable())('InceptionV3 (--fold_batch_norms): each engine within 2e-4 of a float64 evaluation of the network (numpy)', async () => {
    const dir = await exportInception(true);
    const files = await photoFiles();
    // The input the engine's front computed, as handed to ONNX Runtime (the network input, 299x299 pixels).
    type Run = (this: unknown, feeds: Record<string, { data: unknown; dims: readonly number[] }>, ...rest: unknown[]) => Promise<unknown>;
    const session = (await ort()).InferenceSession as unknown as { prototype: { run: Run } };
    const run = session.prototype.run;
    let fed: NetworkInput | undefined;
    session.prototype.run = function (feeds, ...rest) {
      const [name, tensor] = Object.entries(feeds)[0];
      fed = { name, data: Float32Array.from(tensor.data as Float32Array), dims: [...tensor.dims] };
      return run.call(this, feeds, ...rest);
    };
    const onnx = await loadModel(dir, { backend: 'onnx' });
    const wasm = await loadModel(dir, { backend: 'wasm' });
    try {
      const a = await predictAll(onnx, files);
      session.prototype.run = run;
      const b = await predictAll(wasm, files);
      expect(fed?.dims).toEqual([PHOTOS.length, 299, 299, 3]);
      // The translated network as ORT got it (tests run with the cache off: a translation, not a cache entry).
      const network = onnx.onnx?.model;
      expect(network).toBeInstanceOf(Uint8Array);
      const reference = await float64Reference(network!, fed!);
      const [onnxError, wasmError] = [maxAbsDiff(a.data, reference), maxAbsDiff(b.data, reference)];
      expect(onnxError).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
      expect(wasmError).toBeLessThanOrEqual(FLOAT64_TOLERANCE);
    } finally {
      session.prototype.run = run;
      onnx.dispose();
      wasm.dispose();
    }
  }, 300_000);

  it('MobileNet-style uint8-quantized TF.js layers model: same top-5, within 2.5e-4', async () => {
    const trained = buildLayerZoo(64, 10);
    await randomWeights(trained, 7);
    await saveQuantizedLayersModel(trained, join(temp.dir, 'zoo'));
    trained.dispose();
    const labels = join(temp.dir, 'labels.txt');
    await writeFile(labels, Array.from({ length: 10 }, (_, i) => `class ${i}`).join('\n'));
    const source = await loadModelSource({ model: join(temp.dir, 'zoo') });
    try {
      const result = await exportSavedModel({ modelDir: join(temp.dir, 'zoo-export'), source, labels, preprocess: 'inception' });
      const comparison = await compareEngines(result.modelDir, 10);
      expect(comparison.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
      expect(comparison.top5Disagreements).toEqual([]);
    } finally {
      source.model.dispose();
    }
  }, 300_000);
});
