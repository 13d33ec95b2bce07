#!/usr/bin/env node
// `npm run demo`: the tutorial end to end on this machine, with the built CLI (npm ci builds it):
// export InceptionV3, predict locally, publish it to a TF Serving repository and serve it, predict over
// HTTP, then publish a second version while requests keep coming and watch the answers move to it with
// no failed request. Offline it uses seeded random weights (the labels are then meaningless); with the
// ImageNet weights cached in ~/.keras/models (or downloadable) it uses those.
// Flags: --keep (leave the working folder), --workdir DIR.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { photoPaths } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cliBin = path.join(repoRoot, 'apps', 'cli', 'bin', 'tensorsky.js');
const MODEL = 'inception_v3';
/** How long to wait for the server to answer from version 2 after publishing it. */
const SWITCH_TIMEOUT_MS = 120_000;
const started = Date.now();

const { values: flags } = parseArgs({ options: { keep: { type: 'boolean' }, workdir: { type: 'string' } } });

const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = (line = '') => process.stdout.write(`${line}\n`);
let stepNumber = 0;
const STEPS = 7;
const step = (title) => say(`\n[${++stepNumber}/${STEPS}] ${title}  (at ${elapsed()})`);

/** Runs `tensorsky ...args`, showing the command and its output indented; rejects on a non-zero exit. */
function tensorsky(args, { quiet = false } = {}) {
  say(`  $ tensorsky ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      out.push(line);
      if (!quiet) say(`    ${line}`);
    });
    readline.createInterface({ input: child.stderr }).on('line', (line) => say(`    ${line}`));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`tensorsky ${args[0]} exited with code ${code}`))));
  });
}

/** A port free on 127.0.0.1 now (tensorsky serve, like TF Serving, reads port 0 as "off"). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `tensorsky serve` (gRPC and REST) and resolves with its REST URL once it listens; its log lines are shown as they come. */
async function startServe(basePath) {
  const ports = ['--port', String(await freePort()), '--rest_api_port', String(await freePort())];
  const args = ['serve', '--model_base_path', basePath, '--model_name', MODEL, '--host', '127.0.0.1', ...ports, '--file_system_poll_wait_seconds', '1'];
  say(`  $ tensorsky ${args.join(' ')} &`);
  const child = spawn(process.execPath, [cliBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  readline.createInterface({ input: child.stderr }).on('line', (line) => say(`    [serve] ${line.replace(/^tensorsky serve: /, '')}`));
  const url = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      say(`    [serve] ${line.replace(/^tensorsky serve: /, '')}`);
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]);
    });
    exited.then(({ code }) => reject(new Error(`tensorsky serve exited with code ${code} before listening`)));
  });
  return { child, url, exited };
}

/** Keeps `concurrency` requests in flight against the Vertex AI-style route, which names the version that answered. */
function startTraffic(url, imageB64, concurrency = 2) {
  const endpoint = `${url}/v1/projects/demo/locations/local/endpoints/${MODEL}:predict`;
  const results = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const t = Date.now();
      try {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [imageB64] }),
        });
        const body = await res.json().catch(() => ({}));
        results.push({ at: t, ok: res.ok, status: res.status, version: body.deployedModelId, top1: res.ok ? argmax(body.predictions[0]) : undefined, error: body.error });
      } catch (err) {
        results.push({ at: t, ok: false, status: 0, error: err.message });
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    results,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The demo asks for random weights explicitly when ImageNet's are unavailable: tensorsky never falls back on its own. */
async function chooseWeights() {
  const { cachedImagenetWeights, defaultKerasCacheDir, IMAGENET_WEIGHTS } = await import('@tensorsky/export');
  if (await cachedImagenetWeights()) return { weights: 'imagenet', why: `ImageNet weights found in ${defaultKerasCacheDir()}` };
  try {
    const res = await fetch(IMAGENET_WEIGHTS.url, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    if (res.ok) return { weights: 'imagenet', why: 'ImageNet weights are reachable; export downloads them once (92 MB) into the Keras cache' };
  } catch {
    // Offline: fall through to random weights.
  }
  return {
    weights: 'random',
    why: 'ImageNet weights are neither cached nor reachable, so InceptionV3 gets seeded random weights (--weights random --seed 0)',
    notice: 'NOTICE: with random weights every step works the same, but the predicted labels are meaningless.',
  };
}

async function main() {
  if (!existsSync(path.join(repoRoot, 'apps', 'cli', 'dist', 'main.js')) || !existsSync(path.join(repoRoot, 'packages', 'export', 'dist', 'index.js'))) {
    throw new Error('the workspace is not built; run `npm ci` (or `npm run build`) first');
  }
  const work = flags.workdir ? path.resolve(flags.workdir) : await fs.mkdtemp(path.join(os.tmpdir(), 'tensorsky-demo-'));
  await fs.mkdir(work, { recursive: true });
  const exportV1 = path.join(work, 'export', 'v1');
  const exportV2 = path.join(work, 'export', 'v2');
  const basePath = path.join(work, 'serving', MODEL);
  const photos = photoPaths();
  say(`tensorsky demo: export -> predict -> deploy -> serve -> predict over HTTP -> new version under traffic`);
  say(`working folder: ${work}`);

  const helpText = (await tensorsky(['--help'], { quiet: true })).join('\n');
  const has = (command) => new RegExp(`tensorsky ${command}\\s`).test(helpText);

  const { weights, why, notice } = await chooseWeights();
  say(`weights: ${weights} (${why})`);
  if (notice) say(notice);

  let serve;
  try {
    step('Export InceptionV3 as a SavedModel that decodes base64 JPEGs itself');
    await tensorsky(['export', '--model_dir', exportV1, '--weights', weights, '--seed', '0']);

    step('Predict locally with the SavedModel');
    if (notice) say(`  (${notice})`);
    await tensorsky(['predict', '--model_path', exportV1, '--image', ...photos, '--top', '3']);

    step(`Publish it as version 1 of a TF Serving repository and serve it`);
    await publish(exportV1, basePath, 1, has('deploy'));
    serve = await startServe(basePath);
    const url = await serve.url;

    step(`Predict over HTTP (TF Serving REST API at ${url})`);
    if (has('predict-cloud')) {
      await tensorsky(['predict-cloud', '--url', url, '--model_name', MODEL, '--image', photos[0], photos[1], '--top', '3']);
    } else {
      // predict-cloud is not available in this build: the same request by hand.
      const { toBase64 } = await import('@tensorsky/saved-model');
      const body = { instances: [toBase64(await fs.readFile(photos[0]), 'web-safe')] };
      say(`  $ curl -X POST ${url}/v1/models/${MODEL}:predict -d '{"instances": ["<web-safe base64 of cat.jpg>"]}'`);
      const res = await fetch(`${url}/v1/models/${MODEL}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = await res.json();
      if (!res.ok) throw new Error(`predict over HTTP failed: HTTP ${res.status} ${json.error}`);
      say(`    HTTP ${res.status}: ${json.predictions[0].length} class scores, top class index ${argmax(json.predictions[0])}`);
    }

    step('Publish version 2 while requests keep coming, and watch the answers move to it');
    const { toBase64 } = await import('@tensorsky/saved-model');
    const traffic = startTraffic(url, toBase64(await fs.readFile(photos[1]), 'web-safe'));
    say('  traffic: 2 clients sending astronaut.jpg continuously to the Vertex AI-style route, which names the answering version');
    say('  version 2: the same model exported with batch norms folded into the convolutions (a smaller graph)');
    await tensorsky(['export', '--model_dir', exportV2, '--weights', weights, '--seed', '0', '--fold_batch_norms']);
    const publishedAt = Date.now();
    await publish(exportV2, basePath, 2, has('deploy'));
    const switchedAt = await waitFor(() => traffic.results.find((r) => r.at >= publishedAt && r.version === '2')?.at, SWITCH_TIMEOUT_MS);
    // A few more seconds on version 2, then stop the clients.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await traffic.stop();
    reportTraffic(traffic.results, publishedAt, switchedAt);

    step('Stop the server (SIGTERM: it finishes requests in flight, then exits)');
    serve.child.kill('SIGTERM');
    const { code, signal } = await serve.exited;
    serve = undefined;
    if (code !== 0) throw new Error(`tensorsky serve exited with ${code ?? signal} after SIGTERM`);
    say('  server stopped cleanly (exit code 0)');

    step('Done');
    const total = (Date.now() - started) / 1000;
    say(`  the demo took ${total.toFixed(1)} s (${(total / 60).toFixed(1)} min)`);
    if (notice) say(`  ${notice}`);
  } finally {
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    if (flags.keep || flags.workdir) say(`  kept ${work}`);
    else await fs.rm(work, { recursive: true, force: true });
  }
}

/** `tensorsky deploy --target local` when this build has it, else the same through @tensorsky/deploy. */
async function publish(modelDir, base, version, viaCli) {
  if (viaCli) {
    await tensorsky(['deploy', '--model_dir', modelDir, '--model_name', MODEL, '--model_version', String(version), '--target', 'local', '--model_base_path', base]);
    return;
  }
  const { publishLocal } = await import('@tensorsky/deploy');
  const result = await publishLocal({ modelDir, modelBasePath: base, modelVersion: String(version) });
  say(`  published ${modelDir} as ${result.dir}`);
}

async function waitFor(find, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no answer from version 2 within ${timeoutMs / 1000} s of publishing it`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function reportTraffic(results, publishedAt, switchedAt) {
  const failed = results.filter((r) => !r.ok);
  const byVersion = {};
  for (const r of results) if (r.ok) byVersion[r.version] = (byVersion[r.version] ?? 0) + 1;
  // The answering version in order, one character per response: 1111122222.
  const timeline = results
    .slice()
    .sort((a, b) => a.at - b.at)
    .map((r) => (r.ok ? r.version : 'x'))
    .join('');
  const top1 = new Set(results.filter((r) => r.ok).map((r) => r.top1));
  say(`  ${results.length} requests: ${Object.entries(byVersion).map(([v, n]) => `${n} answered by version ${v}`).join(', ')}; ${failed.length} failed`);
  say(`  versions in order of sending: ${timeline}`);
  say(`  first answer from version 2: ${((switchedAt - publishedAt) / 1000).toFixed(1)} s after it was published`);
  say(`  top-1 class of astronaut.jpg across all answers: ${[...top1].join(', ')}${top1.size === 1 ? ' (same on both versions)' : ''}`);
  if (failed.length > 0) {
    for (const r of failed.slice(0, 5)) say(`    failed: HTTP ${r.status} ${r.error ?? ''}`);
    throw new Error(`${failed.length} requests failed during the version switch`);
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed after ${elapsed()}: ${err.message}\n`);
  process.exitCode = 1;
});
