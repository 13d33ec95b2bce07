#!/usr/bin/env node
// Export benchmark: each built-in Keras application with seeded random weights → frozen SavedModel,
// wasm backend, each in a fresh Node process of its own (so its peak RSS is its own). Reports wall time
// (model build + random weights + conversion + write) and peak RSS per application against the targets
// (≤ 10 s, ≤ 2 GB). `node export.mjs NAME` runs one application. Last stdout line: JSON. Needs the built
// workspace (`npm run build`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TARGET_SECONDS = 10;
const TARGET_RSS_MB = 2048;
const { APPLICATION_NAMES, exportSavedModel, KERAS_APPLICATIONS } = await import('@tensorsky/export');

const only = process.argv[2];
if (only !== undefined) {
  console.log(JSON.stringify(await exportOne(only)));
} else {
  const applications = APPLICATION_NAMES.map((name) => {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      return JSON.parse(run.stdout.trim().split('\n').at(-1));
    } catch {
      return { application: name, error: `no JSON result (exit ${run.status})` };
    }
  });
  const inception = applications.find((a) => a.application === 'inception_v3') ?? {};
  console.log(
    JSON.stringify({
      // InceptionV3's figures at the top level, as earlier runs reported them.
      model: 'inception_v3, random weights (seed 1)',
      backend: 'wasm',
      exportSeconds: inception.exportSeconds,
      peakRssMB: inception.peakRssMB,
      applications,
      withinTargets: applications.every((a) => a.withinTargets === true),
    }),
  );
}

async function exportOne(name) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-export-'));
  try {
    const started = performance.now();
    const result = await exportSavedModel({ modelDir: path.join(tmp, name), model: name, weights: 'random', seed: 1, backend: 'wasm' });
    const seconds = (performance.now() - started) / 1000;
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    return {
      application: name,
      params: KERAS_APPLICATIONS[name].params,
      exportSeconds: Number(seconds.toFixed(2)),
      loadMs: result.timings.load,
      convertMs: result.timings.convert,
      writeMs: result.timings.write,
      peakRssMB: Math.round(peakRssMB),
      savedModelMB: Number((result.savedModelBytes / 2 ** 20).toFixed(1)),
      nodes: result.nodes,
      withinTargets: seconds <= TARGET_SECONDS && peakRssMB <= TARGET_RSS_MB,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
