#!/usr/bin/env node
// Local prediction benchmark, wasm backend, InceptionV3 with seeded random weights (same weights on all
// sides): warm single-image latency of the exported SavedModel through @tensorsky/predict-local (base64
// JPEG in, top-5 out) against TF.js LayersModel.predict on the source model (a preprocessed
// [1, 299, 299, 3] tensor in, dataSync out), measured interleaved in one process, for the export with
// batch norm folded (ratio) and the exporter's default (unfoldedRatio); the same comparison with the
// wasm backend on one thread, in a child process (singleThread); the cold start of the exported model in
// a fresh process; and images/s for a batch of 8. Both sides always share one backend: predict-local's
// wasm start, with one thread per core unless TENSORSKY_WASM_THREADS says otherwise. Last stdout line: JSON.
// Needs the built workspace (`npm run build`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { photoPaths } from '@tensorsky/fixtures';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PHOTOS = photoPaths();
const SEED = 1;
const RUNS = 25;
const WARMUP = 3;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, digits = 1) => Number(x.toFixed(digits));

if (process.argv[2] === '--cold-start') await coldStart(process.argv[3], process.argv[4]);
else if (process.argv[2] === '--single-thread') await singleThread(process.argv[3]);
else await main();

/** Child process: import, load the SavedModel, predict one image; times from process start. */
async function coldStart(dir, image) {
  const { loadModel } = await import('@tensorsky/predict-local');
  const imported = performance.now();
  const model = await loadModel(dir, { backend: 'wasm' });
  const loaded = performance.now();
  const out = await model.predict({ inputs: [fs.readFileSync(image).toString('base64url')] });
  const done = performance.now();
  if (out.outputs.data.length !== 1000) throw new Error('unexpected output');
  console.log(JSON.stringify({ totalMs: done, importMs: imported, loadMs: loaded - imported, firstPredictMs: done - loaded }));
}

/** The reference model (the source LayersModel, @tensorsky/verify) and helpers, on predict-local's wasm backend with `threads`. */
async function setUp(threads) {
  const { wasmThreads } = await import('@tensorsky/predict-local');
  const { loadReferenceModel } = await import('@tensorsky/verify');
  const { toBase64 } = await import('@tensorsky/saved-model');
  const { decodeTopK, loadLabels } = await import('@tensorsky/decode');
  const reference = await loadReferenceModel({ weights: 'random', seed: SEED, backend: 'wasm', threads });
  if (reference.backend !== 'wasm') throw new Error(`expected the wasm backend, got ${reference.backend}`);
  const { source } = reference;
  const labels = await loadLabels('imagenet');
  const bytes = fs.readFileSync(PHOTOS[0]);
  const b64 = toBase64(bytes, 'web-safe');
  const input = reference.input([await reference.decode(bytes)]);
  const predictTop5 = async (m) => decodeTopK((await m.predict({ inputs: [b64] })).outputs.data, labels, 5);
  // Timed alone: LayersModel.predict on the preprocessed tensor, as the export is timed from its input.
  const layers = () => {
    const y = source.model.predict(input);
    const scores = y.dataSync();
    y.dispose();
    return scores;
  };
  return { reference, source, input, labels, predictTop5, layers, threads: wasmThreads() };
}

/** Warm latency of each side, measured interleaved so that load from other processes hits all alike. */
async function interleaved(sides, runs) {
  for (let i = 0; i < WARMUP; i++) for (const run of Object.values(sides)) await run();
  const ms = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of Object.entries(sides)) {
      const t = performance.now();
      await run();
      ms[name].push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
}

/** Child process: exported vs LayersModel with the wasm backend on one thread. */
async function singleThread(dir) {
  const { loadModel } = await import('@tensorsky/predict-local');
  const s = await setUp(1);
  const model = await loadModel(dir, { backend: 'wasm' });
  const m = await interleaved({ exported: () => s.predictTop5(model), layers: s.layers }, 15);
  console.log(
    JSON.stringify({ threads: s.threads, exportedMsMedian: round(m.exported), layersModelMsMedian: round(m.layers), ratio: round(m.exported / m.layers, 3) }),
  );
}

async function main() {
  const { defaultWasmThreads, loadModel } = await import('@tensorsky/predict-local');
  const { exportSavedModel } = await import('@tensorsky/export');
  const { toBase64 } = await import('@tensorsky/saved-model');
  const { decodeTopK } = await import('@tensorsky/decode');
  const { reference, source, input, labels, predictTop5, layers, threads } = await setUp(defaultWasmThreads());

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-predict-'));
  try {
    // The graph the tutorial exports has batch norm folded into the convolutions (Conv2D → BiasAdd →
    // Relu, which predict-local fuses); the exporter's default keeps FusedBatchNormV3, measured as well.
    const dir = path.join(tmp, 'inception_v3');
    const unfoldedDir = path.join(tmp, 'inception_v3_unfolded');
    await exportSavedModel({ modelDir: dir, source, foldBatchNorms: true });
    await exportSavedModel({ modelDir: unfoldedDir, source });
    const model = await loadModel(dir, { backend: 'wasm' });
    const unfolded = await loadModel(unfoldedDir, { backend: 'wasm' });
    if (model.backend !== 'wasm' || reference.backend !== 'wasm') throw new Error(`expected the wasm backend, got ${model.backend}`);
    const m = await interleaved({ exported: () => predictTop5(model), layers, unfolded: () => predictTop5(unfolded) }, RUNS);
    const exported = () => predictTop5(model);
    unfolded.dispose();
    const top5 = (await exported()).map((p) => p.index);
    const sameTop5 = JSON.stringify(top5) === JSON.stringify(decodeTopK(layers(), labels, 5).map((p) => p.index));

    const batch = [...PHOTOS, ...PHOTOS].slice(0, 8).map((f) => toBase64(fs.readFileSync(f), 'web-safe'));
    await model.predict({ inputs: batch });
    const batchMs = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const out = await model.predict({ inputs: batch });
      batchMs.push(performance.now() - t);
      if (out.outputs.shape[0] !== 8) throw new Error('batch output has the wrong size');
    }
    input.dispose();
    model.dispose();
    reference.dispose();

    // Cold start in fresh processes (median of 3), after this process has freed its models.
    const cold = [];
    for (let i = 0; i < 3; i++) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cold-start', dir, PHOTOS[0]], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (child.status !== 0) throw new Error(`cold-start run failed (exit ${child.status})`);
      cold.push(JSON.parse(child.stdout.trim().split('\n').at(-1)));
    }
    cold.sort((a, b) => a.totalMs - b.totalMs);
    const c = cold[1];

    const single = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--single-thread', dir], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (single.status !== 0) throw new Error(`single-thread run failed (exit ${single.status})`);
    const singleThread = JSON.parse(single.stdout.trim().split('\n').at(-1));

    console.log(
      JSON.stringify({
        backend: 'wasm',
        threads,
        model: `inception_v3, random weights (seed ${SEED}), batch norm folded`,
        runs: RUNS,
        exportedMsMedian: round(m.exported),
        layersModelMsMedian: round(m.layers),
        ratio: round(m.exported / m.layers, 3),
        unfoldedExportMsMedian: round(m.unfolded),
        unfoldedRatio: round(m.unfolded / m.layers, 3),
        singleThread,
        sameTop5,
        coldStartMs: round(c.totalMs, 0),
        coldStart: { importMs: round(c.importMs, 0), loadMs: round(c.loadMs, 0), firstPredictMs: round(c.firstPredictMs, 0) },
        batch8ImagesPerSec: round(8000 / median(batchMs), 2),
        savedModelMB: round(fs.statSync(path.join(dir, 'saved_model.pb')).size / 2 ** 20),
        peakRssMB: round(process.resourceUsage().maxRSS / 1024, 0),
      }),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
