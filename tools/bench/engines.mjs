#!/usr/bin/env node
// Engine benchmark, InceptionV3 with seeded random weights and batch norms folded (the export the
// tutorial makes), predict-local's engine onnx (the network on ONNX Runtime behind our executor's image
// front) against engine wasm (our executor alone):
// - warm ms/image (median of interleaved runs, the order rotating each round, an idle pause before each
//   so no side shares the cores with the previous one's spinning threads) of `model.predict` with
//   base64 JPEGs, the whole signature (base64 + JPEG decode + resize + network), at batch 1 and 8, and
//   onnx/wasm per setting (target <= 0.25);
// - ORT alone: an InferenceSession created straight from the translation (`model.onnx.model`, or model.onnx) with the engine's session
//   options and nothing of ours around it, fed a prepared float32 tensor of the network input's shape,
//   measured in the same rounds; overhead = engine onnx / ORT alone (target <= 1.2). The engine's own
//   session.run is timed too (InferenceSession.prototype.run wrapped with a clock), so the engine's
//   ms/image splits into its ORT run and the rest, the front's share (base64 + JPEG decode + resize on
//   the executor, copies into and out of ORT);
// - with 2 threads, engine onnx with ORT's spinning off too (loadModel's `spinning: false`, serve's
//   setting), in the same rounds: overheadNoSpin = that engine / ORT alone (which spins, ORT's default);
// each with 1 and 2 threads (ORT's intra-op pool and the wasm backend's pool), a child process per
// thread setting since the wasm backend's pool is fixed per process when it first starts;
// - the cold start of engine onnx in fresh processes (median of 3 by total): import, loadModel, first
//   predict, times from process start, with the translation (translateMs) and session creation
//   (sessionMs) inside loadModel shown apart, and where the network came from (source: translation,
//   export = assets.extra/model.onnx, cache) and the cache's part (off, written, hit); in that order:
//   first-ever (no cache, no model.onnx), with export --onnx's model.onnx (no cache), the run that writes
//   the cache entry, then with the cache (the figure held to the target: loadModel + first predict <= 1 s).
// Peak RSS (maxRSS) of every child process. The ORT-alone session and both engines' models live in the
// warm children, so their RSS is of all three; a cold-start child holds engine onnx alone.
// Last stdout line: JSON. Needs the built workspace (`npm run build`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { photoPaths } from '@tensorsky/fixtures';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const self = fileURLToPath(import.meta.url);
const PHOTOS = photoPaths();
const SEED = 1;
const THREADS = [1, 2];
/** Warm runs (and warm-ups) per side at each batch size; BENCH_ENGINES_RUNS scales batch 1's. */
const RUNS = { 1: Number(process.env.BENCH_ENGINES_RUNS ?? 9), 8: 3 };
const WARMUP = { 1: 2, 8: 1 };
const COLD_STARTS = 3;
/**
 * Idle pause before each timed side. Each side has its own thread pools, and ORT's intra-op worker keeps
 * spinning ~20 ms after a run (spinning on): without the pause the next side shares the two cores with
 * it. Measured on a quiet machine, 2 threads, batch 1: ORT alone 54-58 ms right after engine onnx, 38 ms
 * after a pause, and the engine's own session.run 1.31x ORT alone without pauses, 1.005x with them.
 */
const SETTLE_MS = 50;
const TARGETS = { onnxOverWasm: 0.25, overhead: 1.2, coldStartMs: 1000 };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, digits = 1) => Number(x.toFixed(digits));
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
const peakRssMB = () => round(process.resourceUsage().maxRSS / 1024, 0);
const base64Photos = (n) => Array.from({ length: n }, (_, i) => fs.readFileSync(PHOTOS[i % PHOTOS.length]).toString('base64url'));

if (process.argv[2] === '--cold-start') await coldStart(process.argv[3], process.argv[4]);
else if (process.argv[2] === '--warm') await warm(process.argv[3], Number(process.argv[4]));
else await main();

/** Child process: import, load with engine onnx, predict one image; times from process start. */
async function coldStart(dir, image) {
  const { loadModel } = await import('@tensorsky/predict-local');
  const imported = performance.now();
  const cpuBefore = process.cpuUsage();
  const model = await loadModel(dir, { backend: 'onnx' });
  const loaded = performance.now();
  if (model.backend !== 'onnx') throw new Error(`engine onnx did not run the model: ${model.fallback ?? model.backend}`);
  const out = await model.predict({ inputs: [fs.readFileSync(image).toString('base64url')] });
  const done = performance.now();
  if (out.outputs.data.length !== 1000) throw new Error('unexpected output');
  // CPU time of all the process's threads over loadModel + first predict: less at the mercy of a busy
  // machine than the wall times (on 2 idle cores the wall time is at least half of it).
  const cpu = process.cpuUsage(cpuBefore);
  console.log(
    JSON.stringify({
      totalMs: done,
      importMs: imported,
      loadMs: loaded - imported,
      translateMs: model.onnx.translateMs,
      sessionMs: model.onnx.sessionMs,
      source: model.onnx.source,
      cache: model.onnx.cache,
      note: model.onnx.note,
      firstPredictMs: done - loaded,
      cpuMs: (cpu.user + cpu.system) / 1000,
      threads: os.availableParallelism(),
      peakRssMB: peakRssMB(),
    }),
  );
}

/** Child process: warm ms/image of engine onnx, engine wasm and ORT alone on `threads` threads. */
async function warm(dir, threads) {
  const ort = await import('onnxruntime-node');
  // Clock on every InferenceSession.run: the engine's share spent inside ONNX Runtime.
  let ortRunMs = 0;
  let ortRuns = 0;
  const run = ort.InferenceSession.prototype.run;
  ort.InferenceSession.prototype.run = async function timedRun(...args) {
    const t = performance.now();
    try {
      return await run.apply(this, args);
    } finally {
      ortRunMs += performance.now() - t;
      ortRuns++;
    }
  };

  const { loadModel, wasmThreads } = await import('@tensorsky/predict-local');
  // Engine onnx first: its image front starts the wasm backend, with `threads` threads, for both engines.
  const onnx = await loadModel(dir, { backend: 'onnx', threads });
  if (onnx.backend !== 'onnx') throw new Error(`engine onnx did not run the model: ${onnx.fallback ?? onnx.backend}`);
  const wasm = await loadModel(dir, { backend: 'wasm', threads });
  // Spinning only exists with more than one ORT thread.
  const onnxNoSpin = threads > 1 ? await loadModel(dir, { backend: 'onnx', threads, spinning: false }) : undefined;
  if (wasm.backend !== 'wasm') throw new Error(`expected engine wasm, got ${wasm.backend}`);
  if (wasmThreads() !== threads) throw new Error(`the wasm backend runs ${wasmThreads()} threads, not ${threads}`);

  // ORT alone, with the engine's session options (spinning as ORT's default, like loadModel's default).
  // The translation: in memory, or export --onnx's model.onnx when the engine loaded that (source 'export').
  const network = onnx.onnx.model ?? path.join(dir, 'assets.extra', 'model.onnx');
  const session = await ort.InferenceSession.create(network, {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  if (session.inputNames.length !== 1) throw new Error(`the network has inputs ${session.inputNames.join(', ')}; expected one image tensor`);
  const meta = session.inputMetadata?.[0];
  const declared = meta?.isTensor && meta.shape.length > 0 ? meta.shape : [-1, 299, 299, 3];
  if (meta?.isTensor && meta.type !== 'float32') throw new Error(`the network's input is ${meta.type}, not float32`);
  const ortFeed = (batch) => {
    const dims = declared.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : NaN));
    if (dims.some(Number.isNaN) || dims[0] !== batch) throw new Error(`cannot feed batch ${batch} to an input of shape [${declared.join(', ')}]`);
    // Deterministic values in [-1, 1) (Inception's preprocessing range); the speed does not depend on them.
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    let x = 12345;
    for (let i = 0; i < data.length; i++) data[i] = ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 31) - 1;
    return { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  };

  // Both engines agree on the scores?
  const one = base64Photos(1);
  const a = (await onnx.predict({ inputs: one })).outputs.data;
  const b = (await wasm.predict({ inputs: one })).outputs.data;
  let maxAbsDiff = 0;
  for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - b[i]));
  const argmax = (xs) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);

  const rows = [];
  for (const batch of [1, 8]) {
    const inputs = base64Photos(batch);
    const feed = ortFeed(batch);
    const sides = {
      onnx: async () => {
        const out = await onnx.predict({ inputs });
        if (out.outputs.shape[0] !== batch) throw new Error('engine onnx: output of the wrong batch size');
      },
      wasm: async () => {
        const out = await wasm.predict({ inputs });
        if (out.outputs.shape[0] !== batch) throw new Error('engine wasm: output of the wrong batch size');
      },
      ortAlone: () => session.run(feed),
      ...(onnxNoSpin && {
        onnxNoSpin: async () => {
          const out = await onnxNoSpin.predict({ inputs });
          if (out.outputs.shape[0] !== batch) throw new Error('engine onnx (no spinning): output of the wrong batch size');
        },
      }),
    };
    const names = Object.keys(sides);
    for (let i = 0; i < WARMUP[batch]; i++) for (const name of names) await sides[name]();
    const ms = Object.fromEntries([...names, 'onnxOrtRun'].map((k) => [k, []]));
    for (let i = 0; i < RUNS[batch]; i++) {
      for (const name of [...names.slice(i % names.length), ...names.slice(0, i % names.length)]) {
        await settle();
        ortRunMs = 0;
        ortRuns = 0;
        const t = performance.now();
        await sides[name]();
        ms[name].push(performance.now() - t);
        if (name === 'onnx') ms.onnxOrtRun.push(ortRuns === 1 ? ortRunMs : NaN);
      }
    }
    const per = (k) => median(ms[k]) / batch;
    const engineOnnx = per('onnx');
    const ortRun = ms.onnxOrtRun.some(Number.isNaN) ? undefined : per('onnxOrtRun');
    rows.push({
      threads,
      batch,
      onnxMsPerImage: round(engineOnnx),
      wasmMsPerImage: round(per('wasm')),
      onnxOverWasm: round(engineOnnx / per('wasm'), 3),
      ortAloneMsPerImage: round(per('ortAlone')),
      overhead: round(engineOnnx / per('ortAlone'), 3),
      // The engine's time inside session.run, and the rest (front: base64 + decode + resize; copies).
      engineOrtRunMsPerImage: ortRun === undefined ? null : round(ortRun),
      // The engine's session.run against ORT alone: the cost of sharing the process with the front.
      engineOrtRunOverAlone: ortRun === undefined ? null : round(ortRun / per('ortAlone'), 3),
      frontMsPerImage: ortRun === undefined ? round(engineOnnx - per('ortAlone')) : round(engineOnnx - ortRun),
      frontShare: round(ortRun === undefined ? 1 - per('ortAlone') / engineOnnx : 1 - ortRun / engineOnnx, 3),
      frontMeasuredBy: ortRun === undefined ? 'subtracting ORT alone' : 'timing the engine\'s session.run',
      onnxNoSpinMsPerImage: onnxNoSpin ? round(per('onnxNoSpin')) : null,
      overheadNoSpin: onnxNoSpin ? round(per('onnxNoSpin') / per('ortAlone'), 3) : null,
      runs: RUNS[batch],
    });
  }
  onnx.dispose();
  wasm.dispose();
  onnxNoSpin?.dispose();
  await session.release();
  console.log(
    JSON.stringify({
      threads,
      onnxInput: { name: session.inputNames[0], shape: declared, type: meta?.type ?? 'float32' },
      sameTop1: argmax(a) === argmax(b),
      maxAbsDiff: Number(maxAbsDiff.toPrecision(3)),
      translateMs: round(onnx.onnx.translateMs, 0),
      sessionMs: round(onnx.onnx.sessionMs, 0),
      rows,
      peakRssMB: peakRssMB(),
    }),
  );
}

function child(args, env = {}) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [self, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`child ${args[0]} ${args.slice(2).join(' ')} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
  process.stderr.write(`  engines bench: ${args[0]} ${args.slice(2).join(' ')} took ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

async function main() {
  const { exportSavedModel } = await import('@tensorsky/export');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-engines-'));
  try {
    const dir = path.join(tmp, 'inception_v3');
    await exportSavedModel({ modelDir: dir, weights: 'random', seed: SEED, backend: 'wasm', foldBatchNorms: true });

    // Cold starts first, while the machine is quiet (this process holds no model). The cache lives in
    // the bench's temp dir: the user's ~/.cache is neither read nor filled.
    const noCache = { TENSORSKY_ONNX_CACHE: '0' };
    const cacheOn = { TENSORSKY_ONNX_CACHE: '1', TENSORSKY_CACHE_DIR: path.join(tmp, 'cache') };
    const coldRuns = (n, env) => {
      const runs = Array.from({ length: n }, () => child(['--cold-start', dir, PHOTOS[0]], env));
      runs.sort((x, y) => x.totalMs - y.totalMs);
      return { median: runs[Math.floor(runs.length / 2)], totals: runs.map((x) => round(x.totalMs, 0)) };
    };
    const firstEver = coldRuns(COLD_STARTS, noCache);
    const { writeOnnxModel } = await import('@tensorsky/predict-local');
    await writeOnnxModel(dir);
    const fromExport = coldRuns(COLD_STARTS, noCache);
    const writing = coldRuns(1, cacheOn);
    const cached = coldRuns(COLD_STARTS, cacheOn);
    const expect = (run, source, cache) => {
      if (run.median.source !== source || run.median.cache !== cache) {
        throw new Error(`cold start expected source ${source}, cache ${cache}; got ${run.median.source}, ${run.median.cache} (${run.median.note ?? 'no note'})`);
      }
    };
    expect(firstEver, 'translation', 'off');
    expect(fromExport, 'export', 'off');
    expect(writing, 'export', 'written');
    expect(cached, 'cache', 'hit');
    const c = cached.median;
    const coldStartMs = c.loadMs + c.firstPredictMs;
    const coldFigures = ({ median: x, totals }) => ({
      source: x.source,
      cache: x.cache,
      loadPlusFirstPredictMs: round(x.loadMs + x.firstPredictMs, 0),
      totalFromProcessStartMs: round(x.totalMs, 0),
      importMs: round(x.importMs, 0),
      loadMs: round(x.loadMs, 0),
      translateMs: round(x.translateMs, 0),
      sessionMs: round(x.sessionMs, 0),
      loadOtherMs: round(x.loadMs - x.translateMs - x.sessionMs, 0),
      firstPredictMs: round(x.firstPredictMs, 0),
      loadPlusFirstPredictCpuMs: round(x.cpuMs, 0),
      allTotalsMs: totals,
    });

    const warmRuns = THREADS.map((threads) => child(['--warm', dir, String(threads)], noCache));
    const rows = warmRuns.flatMap((w) => w.rows.map((r) => ({ ...r, childPeakRssMB: w.peakRssMB })));
    const worst = (k) => Math.max(...rows.map((r) => r[k]));
    const met = {
      onnxOverWasm: rows.every((r) => r.onnxOverWasm <= TARGETS.onnxOverWasm),
      overhead: rows.every((r) => r.overhead <= TARGETS.overhead),
      coldStartMs: coldStartMs <= TARGETS.coldStartMs,
    };
    const at = (threads, batch, k) => rows.find((r) => r.threads === threads && r.batch === batch)?.[k];
    console.log(
      JSON.stringify({
        model: `inception_v3, random weights (seed ${SEED}), batch norms folded`,
        request: 'base64url JPEGs (fixture photos) through model.predict; ORT alone: a prepared float32 tensor',
        rows,
        onnxOverWasm: Object.fromEntries(THREADS.flatMap((t) => [1, 8].map((b) => [`t${t}b${b}`, at(t, b, 'onnxOverWasm')]))),
        overhead: Object.fromEntries(THREADS.flatMap((t) => [1, 8].map((b) => [`t${t}b${b}`, at(t, b, 'overhead')]))),
        frontMsPerImage: Object.fromEntries(THREADS.flatMap((t) => [1, 8].map((b) => [`t${t}b${b}`, at(t, b, 'frontMsPerImage')]))),
        overheadNoSpin: Object.fromEntries(THREADS.filter((t) => t > 1).flatMap((t) => [1, 8].map((b) => [`t${t}b${b}`, at(t, b, 'overheadNoSpin')]))),
        engineOrtRunOverAlone: Object.fromEntries(THREADS.flatMap((t) => [1, 8].map((b) => [`t${t}b${b}`, at(t, b, 'engineOrtRunOverAlone')]))),
        worstOnnxOverWasm: worst('onnxOverWasm'),
        worstOverhead: worst('overhead'),
        onnxInput: warmRuns[0].onnxInput,
        sameTop1: warmRuns.every((w) => w.sameTop1),
        maxAbsDiffOnnxVsWasm: Math.max(...warmRuns.map((w) => w.maxAbsDiff)),
        // With the cache (what every start after the first on this machine sees); the others below.
        coldStartMs: round(coldStartMs, 0),
        coldStart: { threads: c.threads, ...coldFigures(cached) },
        coldStartFirstEver: coldFigures(firstEver),
        coldStartFromExportedOnnx: coldFigures(fromExport),
        coldStartWritingCache: coldFigures(writing),
        peakRssMB: {
          coldStartOnnxOnly: c.peakRssMB,
          ...Object.fromEntries(warmRuns.map((w) => [`warmThreads${w.threads}`, w.peakRssMB])),
          parentExport: peakRssMB(),
        },
        targets: TARGETS,
        met,
        withinTargets: Object.values(met).every(Boolean),
      }),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
