#!/usr/bin/env node
// Model warmup benchmark (issue 15's target: with a warmup file, a version's first real request takes at
// most 1.5x a warm one). InceptionV3 with seeded random weights is exported twice by exportSavedModel,
// once plain and once with assets.extra/tf_serving_warmup_requests holding one request (what `tensorsky
// export --warmup_images` writes). Each is served by fresh servers of one engine worker, each server in
// a fresh Node process (nothing compiled or allocated before it), for engine wasm and engine onnx. Per
// server: the first :predict over the median of the next WARM_REQUESTS, in wall time (the latency a
// client sees: the target) and in CPU time of the whole process (process.cpuUsage counts every thread,
// V8's background compiler threads too, so it stays above the wall ratio while code is being optimized
// even when the request is not slower). The median over servers is compared with the target. Wall time
// on a loaded machine mostly measures the neighbours: run it on a quiet one. The warmup request is another photo of the same size as the one measured
// (512x512 camera.jpg, then astronaut.jpg): engines plan memory per input shape, so warmup data should
// look like the traffic, as TF Serving's guide says. A :predict to an unknown model first warms the HTTP
// client, which shares the process, and the server's front (see server()). Last stdout line: JSON. Needs the built workspace.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const self = fileURLToPath(import.meta.url);
const MODEL = 'inception_v3';
const SERVERS = Number(process.env.BENCH_WARMUP_SERVERS ?? 5);
const WARM_REQUESTS = 7;
const ENGINES = (process.env.BENCH_WARMUP_ENGINES ?? 'wasm,onnx').split(',').map((e) => e.trim());
const TARGET_FIRST_OVER_WARM = 1.5;
const WARMUP_IMAGE = path.join(IMAGES_DIR, 'camera.jpg');
const MEASURED_IMAGE = path.join(IMAGES_DIR, 'astronaut.jpg');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, digits = 2) => Number(x.toFixed(digits));

if (process.argv[2] === '--server') await server(process.argv[3], process.argv[4]);
else await main();

/** Child process: one fresh server of one worker; its first request and the warm ones, wall and CPU ms. */
async function server(base, engine) {
  const { startServer, DEFAULT_VERSION_POLICY } = await import('@tensorsky/serve');
  const logged = [];
  const started = performance.now();
  const srv = await startServer({
    log: (line) => logged.push(line),
    models: [{ name: MODEL, basePath: base, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    pollIntervalMs: 0,
    engine: { options: { backend: engine, threads: 1 } },
  });
  const startMs = performance.now() - started;
  try {
    const body = JSON.stringify({ instances: [fs.readFileSync(MEASURED_IMAGE).toString('base64url')] });
    const url = `${srv.url}/v1/models/${MODEL}:predict`;
    // The client runs in this process too: its first POST loads and compiles parts of undici, which is no
    // part of the model's first request. TF Serving's warmup is for a version loading into a running server,
    // whose HTTP front is already warm; a :predict to a model that does not exist warms the client and the
    // front (routing, body reading, the error path), not the model.
    const warmFront = await fetch(`${srv.url}/v1/models/no_such_model:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (warmFront.status !== 404) throw new Error(`the server answered HTTP ${warmFront.status} for an unknown model, not 404`);
    await warmFront.text();
    const wall = [];
    const cpu = [];
    for (let i = 0; i <= WARM_REQUESTS; i++) {
      const t = performance.now();
      const c = process.cpuUsage();
      const reply = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await reply.text();
      const used = process.cpuUsage(c);
      if (!reply.ok) throw new Error(`the server answered HTTP ${reply.status}: ${text}`);
      wall.push(performance.now() - t);
      cpu.push((used.user + used.system) / 1000);
    }
    const ranOn = logged.find((line) => line.includes('runs on engine'))?.match(/runs on engine (\w+)/)?.[1] ?? engine;
    const warmedUp = logged.some((line) => line.includes("warmup: "));
    console.log(
      JSON.stringify({
        ranOn,
        warmedUp,
        startMs: Math.round(startMs),
        wall: { first: round(wall[0], 1), warm: round(median(wall.slice(1)), 1) },
        cpu: { first: round(cpu[0], 1), warm: round(median(cpu.slice(1)), 1) },
      }),
    );
  } finally {
    await srv.close();
  }
}

async function main() {
  const { exportSavedModel } = await import('@tensorsky/export');
  const { WARMUP_FILE, warmupFileBytes } = await import('@tensorsky/serve');
  const { DataType, tensorProto, toBase64 } = await import('@tensorsky/saved-model');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-bench-warmup-'));
  try {
    const warmupImage = new TextEncoder().encode(toBase64(fs.readFileSync(WARMUP_IMAGE), 'web-safe'));
    const request = { signatureName: 'serving_default', inputs: { inputs: tensorProto(DataType.DT_STRING, [1], [warmupImage], { fields: true }) } };
    const repositories = { without: path.join(tmp, 'without'), with: path.join(tmp, 'with') };
    const common = { model: MODEL, weights: 'random', seed: 1, backend: 'wasm', foldBatchNorms: true };
    await exportSavedModel({ ...common, modelDir: path.join(repositories.without, '1') });
    await exportSavedModel({ ...common, modelDir: path.join(repositories.with, '1'), assetsExtra: { [path.basename(WARMUP_FILE)]: warmupFileBytes([request]) } });

    const rows = [];
    for (const engine of ENGINES) {
      const runs = { without: [], with: [] };
      // Interleaved, so a change in the machine's load touches both sides alike.
      for (let i = 0; i < SERVERS; i++) {
        for (const warmup of ['without', 'with']) {
          const child = spawnSync(process.execPath, [self, '--server', repositories[warmup], engine], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 5 * 60_000 });
          const last = (child.stdout ?? '').trim().split('\n').at(-1);
          let run;
          try {
            run = JSON.parse(last ?? '');
          } catch {
            throw new Error(`warmup bench: the ${engine} server ${warmup} warmup gave no result (exit ${child.status}${child.signal ? `, ${child.signal}` : ''})`);
          }
          runs[warmup].push(run);
          process.stderr.write(`  warmup bench: ${engine} ${warmup} warmup, server ${i + 1}: ${JSON.stringify(run)}\n`);
        }
      }
      const ratio = (list, kind) => round(median(list.map((r) => r[kind].first / r[kind].warm)));
      rows.push({
        engine,
        ranOn: runs.with[0].ranOn,
        wallFirstOverWarmWith: ratio(runs.with, 'wall'),
        wallFirstOverWarmWithout: ratio(runs.without, 'wall'),
        cpuFirstOverWarmWith: ratio(runs.with, 'cpu'),
        cpuFirstOverWarmWithout: ratio(runs.without, 'cpu'),
        warmWallMs: round(median(runs.with.map((r) => r.wall.warm)), 1),
        startMsWith: median(runs.with.map((r) => r.startMs)),
        startMsWithout: median(runs.without.map((r) => r.startMs)),
        servers: SERVERS,
      });
    }
    console.log(
      JSON.stringify({
        model: `${MODEL}, random weights (seed 1), batch norms folded; one worker, one thread`,
        request: `${path.basename(MEASURED_IMAGE)} as base64 (warmup file: one request with ${path.basename(WARMUP_IMAGE)})`,
        target: `first request / warm request <= ${TARGET_FIRST_OVER_WARM} with a warmup file (wall time, median over ${SERVERS} fresh servers)`,
        rows,
        withinTargets: rows.every((r) => r.wallFirstOverWarmWith <= TARGET_FIRST_OVER_WARM),
      }),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
