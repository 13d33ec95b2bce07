#!/usr/bin/env node
// Export benchmark: InceptionV3 with seeded random weights → frozen SavedModel, in this (fresh) process,
// wasm backend. Reports wall time (model build + random weights + conversion + write) and the process's
// peak RSS. Last stdout line: JSON. Needs the built workspace (`npm run build`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { exportSavedModel } = await import('@tensorsky/export');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-export-'));
try {
  const started = performance.now();
  const result = await exportSavedModel({ modelDir: path.join(tmp, 'inception_v3'), weights: 'random', seed: 1, backend: 'wasm' });
  const seconds = (performance.now() - started) / 1000;
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      model: 'inception_v3, random weights (seed 1)',
      backend: 'wasm',
      exportSeconds: Number(seconds.toFixed(2)),
      stepsMs: { load: result.timings.load, convert: result.timings.convert, write: result.timings.write },
      peakRssMB: Math.round(peakRssMB),
      savedModelMB: Number((result.savedModelBytes / 2 ** 20).toFixed(1)),
      nodes: result.nodes,
      foldedBatchNorms: result.foldedBatchNorms,
      withinTargets: seconds <= 10 && peakRssMB <= 2048,
    }),
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
