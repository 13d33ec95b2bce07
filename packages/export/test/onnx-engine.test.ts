// predict-local's onnx engine (the network on ONNX Runtime) against its wasm engine (our TF.js
// executor) on the exports users make: InceptionV3 (default and with batch norms folded) and a
// MobileNet-style fine-tuned classifier saved as a uint8-quantized TF.js layers model (depthwise,
// ReLU6, zero padding, residual add, separable conv, pooling, dense...). Same SavedModel, same base64
// JPEG/PNG files from the repository: the same top-5 (up to classes tied within the tolerance) and every
// probability within TOLERANCE.
//
// TOLERANCE is 2.5e-4, not the 1e-4 the engines were expected to meet: these networks have seeded random
// weights, which amplify float32 rounding about 2x per Inception block (logits in the hundreds), so two
// correct float32 implementations already differ by that much: TF.js's own cpu and wasm backends differ
// by 2.1e-4 on one of these inputs. Layer by layer the translation agrees to ~1e-6 relative
// (predict-local's onnx-*.test.ts, at 1e-5 on every op family).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, type LocalModel } from '@tensorsky/predict-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, loadModelSource, randomWeights, type ModelSource } from '../src/index.js';
import { buildLayerZoo, compareProbabilities, saveQuantizedLayersModel } from './fidelity-helpers.js';
import { imagesDir, makeTempDir, PHOTOS } from './helpers/fixtures.js';

const TOLERANCE = 2.5e-4;

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

/** Both engines on the export in `dir`: the onnx engine must have run (no fallback) and agree with wasm. */
async function compareEngines(dir: string, classes: number) {
  const files = await Promise.all(PHOTOS.map((name) => readFile(join(imagesDir, name))));
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
    const result = await exportSavedModel({ modelDir: join(temp.dir, `inception-${foldBatchNorms}`), source: inception, foldBatchNorms });
    const comparison = await compareEngines(result.modelDir, 1000);
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    expect(comparison.top5Disagreements).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(2);
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
