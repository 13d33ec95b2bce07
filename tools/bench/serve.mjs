#!/usr/bin/env node
// Serving load test, loopback only and bounded in time: `tensorsky serve`'s stack (startServer) with the
// exported InceptionV3 (seeded random weights, batch norms folded, wasm engine), loaded by autocannon
// with one base64 JPEG per :predict request at concurrency 1, 4 and 16, with 1 and 2 engine workers
// computing on one thread each (the pool's scaling), and with 2 workers computing on 2 threads each
// (`tensorsky serve`'s default on 2 cores). Reports images/s and p50/p99 latency per setting, and the 2-worker/1-worker images/s ratio at
// the highest concurrency (target >= 1.7 on 2 cores). Last stdout line: JSON. Needs the built workspace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const image = path.join(IMAGES_DIR, 'cat.jpg');
const SETTINGS = [
  { workers: 1, threads: 1 },
  { workers: 2, threads: 1 },
  { workers: 2, threads: 2 },
];
const CONCURRENCY = [1, 4, 16];
// Long enough that a run holds several batch round trips at concurrency 16 (p50 of seconds with 1 worker).
const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 25);
const MODEL = 'inception_v3';

const { exportSavedModel } = await import('@tensorsky/export');
const { startServer, DEFAULT_VERSION_POLICY } = await import('@tensorsky/serve');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-serve-'));
try {
  const base = path.join(tmp, MODEL);
  await exportSavedModel({ modelDir: path.join(base, '1'), weights: 'random', seed: 1, backend: 'wasm', foldBatchNorms: true });
  const body = JSON.stringify({ instances: [{ inputs: fs.readFileSync(image).toString('base64url') }] });

  const runs = [];
  for (const { workers, threads } of SETTINGS) {
    const server = await startServer({
      models: [{ name: MODEL, basePath: base, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
      host: '127.0.0.1',
      port: 0,
      workers,
      pollIntervalMs: 0,
      engine: { options: { backend: 'wasm', threads } },
    });
    try {
      const url = `${server.url}/v1/models/${MODEL}:predict`;
      const check = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!check.ok) throw new Error(`the server answered HTTP ${check.status}: ${await check.text()}`);
      // Warm every worker (kernel compilation, first allocations) before measuring.
      await load(url, body, workers * 2, 4);
      for (const connections of CONCURRENCY) {
        const r = await load(url, body, connections, SECONDS);
        const run = {
          workers,
          threads,
          concurrency: connections,
          imagesPerSecond: Number((r['2xx'] / SECONDS).toFixed(2)),
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          requests: r['2xx'],
          failed: r.non2xx + r.errors + r.timeouts,
        };
        process.stderr.write(`  serve bench: ${JSON.stringify(run)}\n`);
        runs.push(run);
      }
    } finally {
      await server.close();
    }
  }
  const at = (workers, concurrency) => runs.find((r) => r.workers === workers && r.threads === 1 && r.concurrency === concurrency);
  const top = CONCURRENCY.at(-1);
  const ratio = at(2, top).imagesPerSecond / at(1, top).imagesPerSecond;
  console.log(
    JSON.stringify({
      model: 'inception_v3, random weights (seed 1), batch norms folded',
      engine: 'wasm',
      request: '1 base64 JPEG (cat.jpg, 23 KB) per :predict',
      secondsPerRun: SECONDS,
      runs,
      twoWorkerSpeedup: Number(ratio.toFixed(2)),
      twoWorkerSpeedupByConcurrency: Object.fromEntries(CONCURRENCY.map((c) => [c, Number((at(2, c).imagesPerSecond / at(1, c).imagesPerSecond).toFixed(2))])),
      failedRequests: runs.reduce((n, r) => n + r.failed, 0),
      withinTargets: ratio >= 1.7 && runs.every((r) => r.failed === 0),
    }),
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** autocannon for `seconds` with `connections` requests in flight; resolves with its result. */
function load(url, body, connections, seconds) {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    timeout: 120,
  });
}
