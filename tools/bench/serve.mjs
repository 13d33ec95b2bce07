#!/usr/bin/env node
// Serving load test, loopback only and bounded in time: `tensorsky serve`'s stack (startServer) with the
// exported InceptionV3 (seeded random weights, batch norms folded), loaded by autocannon with one base64
// JPEG per :predict request at concurrency 1, 4 and 16. Engine wasm: 1 and 2 engine workers computing on
// one thread each (the pool's scaling), and 2 workers computing on 2 threads each (`tensorsky serve`'s
// default on 2 cores). Engine onnx (the network on ONNX Runtime; serve's worker engine turns ORT's
// spinning off): workers x threads = 2x1, 1x2 and 2x2. Reports images/s and p50/p99 latency per setting,
// the 2-worker/1-worker wasm images/s ratio at the highest concurrency (target >= 1.7 on 2 cores), and
// the onnx setting with the most images/s at the highest concurrency (target >= 20). Each setting runs
// in a child process (server and autocannon), so that its peak RSS (maxRSS) is its own and a crash
// costs only that setting; workers are threads, so there is no RSS per worker: rssPerWorkerMB is the
// peak's growth over the child's RSS before the server started, divided by the workers (an estimate).
// BENCH_SERVE_SECONDS sets each wasm run's length (default 25), BENCH_SERVE_ONNX_SECONDS each onnx
// run's (default 15: onnx computes ~6x faster, so that still holds dozens of batch round trips),
// BENCH_SERVE_ENGINES the engines measured (default "wasm,onnx"). Last stdout line: JSON. Needs the
// built workspace.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const self = fileURLToPath(import.meta.url);
const image = path.join(IMAGES_DIR, 'cat.jpg');
const ENGINES = (process.env.BENCH_SERVE_ENGINES ?? 'wasm,onnx').split(',').map((e) => e.trim());
const SETTINGS = [
  { engine: 'wasm', workers: 1, threads: 1 },
  { engine: 'wasm', workers: 2, threads: 1 },
  { engine: 'wasm', workers: 2, threads: 2 },
  { engine: 'onnx', workers: 2, threads: 1 },
  { engine: 'onnx', workers: 1, threads: 2 },
  { engine: 'onnx', workers: 2, threads: 2 },
].filter((s) => ENGINES.includes(s.engine));
const ONNX_TARGET_IMAGES_PER_SECOND = 20;
const CONCURRENCY = [1, 4, 16];
// Long enough that a run holds several batch round trips at concurrency 16 (p50 of seconds with 1 worker).
const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 25);
const ONNX_SECONDS = Number(process.env.BENCH_SERVE_ONNX_SECONDS ?? Math.min(SECONDS, 15));
const MODEL = 'inception_v3';
const mb = (bytes) => Math.round(bytes / 2 ** 20);

if (process.argv[2] === '--setting') await setting(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6]));
else await main();

/** Child process: one server setting, loaded at every concurrency; prints its runs before closing. */
async function setting(base, engine, workers, threads) {
  const { startServer, DEFAULT_VERSION_POLICY } = await import('@tensorsky/serve');
  const seconds = engine === 'onnx' ? ONNX_SECONDS : SECONDS;
  const body = JSON.stringify({ instances: [{ inputs: fs.readFileSync(image).toString('base64url') }] });
  const rssBefore = process.memoryUsage().rss;
  const logged = [];
  const server = await startServer({
    log: (line) => logged.push(line),
    models: [{ name: MODEL, basePath: base, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
    host: '127.0.0.1',
    port: 0,
    workers,
    pollIntervalMs: 0,
    engine: { options: { backend: engine, threads } },
  });
  const runs = [];
  try {
    const url = `${server.url}/v1/models/${MODEL}:predict`;
    const check = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (!check.ok) throw new Error(`the server answered HTTP ${check.status}: ${await check.text()}`);
    // The engine that runs serving_default (a worker falls back from onnx to wasm when it must).
    const note = logged.find((line) => line.includes('signature serving_default runs on engine'));
    const ranOn = note?.match(/runs on engine (\w+)/)?.[1] ?? 'unknown';
    if (ranOn !== engine) process.stderr.write(`  serve bench: asked for engine ${engine}, ${note ?? 'no note on the engine that runs it'}\n`);
    // Warm every worker (kernel compilation, first allocations) before measuring.
    await load(url, body, workers * 2, 4);
    for (const connections of CONCURRENCY) {
      const r = await load(url, body, connections, seconds);
      const run = {
        engine,
        ranOn,
        workers,
        threads,
        concurrency: connections,
        imagesPerSecond: Number((r['2xx'] / seconds).toFixed(2)),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        requests: r['2xx'],
        seconds,
        failed: r.non2xx + r.errors + r.timeouts,
      };
      process.stderr.write(`  serve bench: ${JSON.stringify(run)}\n`);
      runs.push(run);
    }
    const peak = process.resourceUsage().maxRSS * 1024;
    // Printed before closing: a failure while the server shuts down does not lose the measurements.
    console.log(JSON.stringify({ runs: runs.map((r) => ({ ...r, rssMB: mb(peak), rssPerWorkerMB: mb((peak - rssBefore) / workers) })) }));
  } finally {
    await server.close();
  }
}

async function main() {
  const { exportSavedModel } = await import('@tensorsky/export');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-serve-'));
  try {
    const base = path.join(tmp, MODEL);
    await exportSavedModel({ modelDir: path.join(base, '1'), weights: 'random', seed: 1, backend: 'wasm', foldBatchNorms: true });

    const runs = [];
    const failures = [];
    for (const { engine, workers, threads } of SETTINGS) {
      const child = spawnSync(process.execPath, [self, '--setting', base, engine, String(workers), String(threads)], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = (child.stdout ?? '').trim().split('\n').reverse().find((l) => l.startsWith('{"runs":'));
      const exit = child.status !== 0 ? `exit ${child.status}${child.signal ? `, ${child.signal}` : ''}` : undefined;
      if (line) runs.push(...JSON.parse(line).runs.map((r) => (exit ? { ...r, childExit: `${exit} after measuring` } : r)));
      if (exit) {
        failures.push({ setting: `${engine} ${workers}x${threads}`, exit, measured: Boolean(line) });
        process.stderr.write(`  serve bench: setting ${engine} ${workers}x${threads} failed (${exit})${line ? ' after measuring' : ''}\n`);
      }
    }
    const top = CONCURRENCY.at(-1);
    const at = (engine, workers, threads, concurrency) =>
      runs.find((r) => r.engine === engine && r.workers === workers && r.threads === threads && r.concurrency === concurrency);
    const speedup = (c) =>
      at('wasm', 1, 1, c) && at('wasm', 2, 1, c) ? Number((at('wasm', 2, 1, c).imagesPerSecond / at('wasm', 1, 1, c).imagesPerSecond).toFixed(2)) : undefined;
    const ratio = speedup(top);
    const onnxTop = runs.filter((r) => r.engine === 'onnx' && r.ranOn === 'onnx' && r.concurrency === top).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond);
    const best = onnxTop[0];
    const met = {
      ...(ENGINES.includes('wasm') ? { twoWorkerSpeedup: (ratio ?? 0) >= 1.7 } : {}),
      ...(ENGINES.includes('onnx') ? { onnxImagesPerSecond: (best?.imagesPerSecond ?? 0) >= ONNX_TARGET_IMAGES_PER_SECOND } : {}),
      noFailedRequests: runs.every((r) => r.failed === 0),
      noFailedSettings: failures.length === 0,
    };
    console.log(
      JSON.stringify({
        model: 'inception_v3, random weights (seed 1), batch norms folded',
        engines: ENGINES.join(', '),
        request: '1 base64 JPEG (cat.jpg, 23 KB) per :predict',
        secondsPerRun: { wasm: SECONDS, onnx: ONNX_SECONDS },
        runs,
        ...(ratio !== undefined ? { twoWorkerSpeedup: ratio, twoWorkerSpeedupByConcurrency: Object.fromEntries(CONCURRENCY.map((c) => [c, speedup(c)])) } : {}),
        ...(best
          ? {
              bestOnnx: {
                setting: `${best.workers}x${best.threads}`,
                concurrency: top,
                imagesPerSecond: best.imagesPerSecond,
                p50Ms: best.p50Ms,
                p99Ms: best.p99Ms,
                rssMB: best.rssMB,
                rssPerWorkerMB: best.rssPerWorkerMB,
              },
              onnxImagesPerSecondAtTop: Object.fromEntries(onnxTop.map((r) => [`${r.workers}x${r.threads}`, r.imagesPerSecond])),
            }
          : {}),
        ...(failures.length > 0 ? { failedSettings: failures } : {}),
        failedRequests: runs.reduce((n, r) => n + r.failed, 0),
        targets: { twoWorkerSpeedup: 1.7, onnxImagesPerSecond: ONNX_TARGET_IMAGES_PER_SECOND },
        met,
        withinTargets: Object.values(met).every(Boolean),
      }),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
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
