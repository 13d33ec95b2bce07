// The container's entry point (bin/container-start.js, the Dockerfile's ENTRYPOINT) and its HEALTHCHECK,
// run as the image runs them: the built scripts in a child process, configured only by the environment.
// The model comes from a real GCS JSON API server (firebase-tools' storage emulator), uploaded the way
// `tensorsky deploy` uploads it (gs://BUCKET/models/<model>/v1/).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGES_DIR } from '@tensorsky/fixtures';
import type { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, listModelFiles, uploadModelFiles } from '../../../packages/deploy/src/index.js';
import { startGcsEmulator, type GcsEmulator } from '../../../packages/deploy/test/helpers/gcs-emulator.js';
import { writeImageClassifier } from '../../../packages/deploy/test/helpers/image-model.js';
import { CONTAINER_DEFAULTS, containerConfig } from '../src/container-config.js';
import { serveArguments } from '../src/container-start.js';
import { run } from './support/run-cli.js';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const startScript = path.join(cliRoot, 'bin', 'container-start.js');
const healthcheckScript = path.join(cliRoot, 'bin', 'container-healthcheck.js');
const BUCKET = 'container-models';
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-container-'));
const modelDir = path.join(scratch, 'export', 'jean_inception');
let gcs: GcsEmulator;
let storage: Storage;

beforeAll(async () => {
  for (const name of ['container-start', 'container-config']) {
    if (!existsSync(path.join(cliRoot, 'dist', `${name}.js`))) throw new Error(`apps/cli/dist/${name}.js is missing: build first (npx nx build @tensorsky/cli)`);
  }
  gcs = await startGcsEmulator();
  storage = createStorage({ projectId: 'demo-tensorsky', apiEndpoint: gcs.url });
  await writeImageClassifier(modelDir, 'b64');
  await uploadModelFiles({ storage, bucket: BUCKET, prefix: 'models/jean_inception/v1/', files: await listModelFiles(modelDir) });
});
afterAll(async () => {
  await gcs?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The environment of the container: no cloud settings or credentials of this machine, the emulator for gs://. */
function containerEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: scratch, TMPDIR: scratch, STORAGE_EMULATOR_HOST: gcs.url, ...vars };
  return env;
}

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs the start script and resolves once serve says it listens. */
function start(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [startScript, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the container did not start serving in 90 s; stderr: ${stderr}`));
    }, 90_000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      if (/listening on .*; models: /.test(stdout)) {
        clearTimeout(timer);
        resolve({ child, stderr: () => stderr, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the container exited with ${code} before serving; stderr: ${stderr}`));
    });
  });
}

/** Runs the start script to its end (for configurations it must refuse). */
function startAndExit(env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [startScript], { env, encoding: 'utf8', timeout: 60_000 });
}

describe('container configuration (TF Serving image variables)', () => {
  it("defaults to TF Serving's: model 'model' in /models/model, gRPC 8500, REST 8501", () => {
    const config = containerConfig({});
    expect(config).toMatchObject({ modelName: 'model', modelSource: path.resolve('/models/model'), restPort: 8501, grpcPort: 8500 });
    expect(CONTAINER_DEFAULTS).toEqual({ modelName: 'model', modelBasePath: '/models', restPort: 8501, grpcPort: 8500 });
  });

  it('takes REST_API_PORT, else the platform PORT, for REST; GRPC_PORT for gRPC; gs:// paths as they are', () => {
    expect(containerConfig({ PORT: '8080' }).restPort).toBe(8080);
    expect(containerConfig({ PORT: '8080', REST_API_PORT: '9000' }).restPort).toBe(9000);
    expect(containerConfig({ GRPC_PORT: '0' }).grpcPort).toBe(0);
    const config = containerConfig({ MODEL_BASE_PATH: 'gs://b/models/', MODEL_NAME: 'm', MODEL_CACHE_DIR: '/cache' });
    expect(config.modelSource).toBe('gs://b/models/m');
    expect(config.localDir).toBe(path.resolve('/cache/m'));
    expect(containerConfig({ MODEL_BASE_PATH: '/' }).modelSource).toBe(path.resolve('/model'));
    expect(serveArguments(config, '/cache/m', ['--max_batch_size', '4'])).toEqual([
      'serve', '--model_name', 'm', '--model_base_path', '/cache/m', '--port', '8500', '--rest_api_port', '8501', '--max_batch_size', '4',
    ]);
  });

  it('names the variable at fault', () => {
    expect(() => containerConfig({ PORT: 'http' })).toThrow('PORT="http" is not a port number (0-65535; 0 turns the API off)');
    expect(() => containerConfig({ REST_API_PORT: '70000' })).toThrow(/^REST_API_PORT="70000" is not a port number/);
    expect(() => containerConfig({ MODEL_NAME: '../etc' })).toThrow(/^MODEL_NAME="\.\.\/etc" is not a model name/);
    expect(() => containerConfig({ MODEL_BASE_PATH: 's3://bucket/models' })).toThrow('MODEL_BASE_PATH=s3://bucket/models: only local folders and gs://BUCKET/FOLDER are supported');
  });
});

describe('container start (built script, child process)', () => {
  it('copies the model out of gs://, serves it: /healthz ok, the healthcheck passes, predict answers like tensorsky predict', async () => {
    const [restPort, grpcPort] = [await freePort(), await freePort()];
    const cache = path.join(scratch, 'cache');
    const env = containerEnv({
      MODEL_BASE_PATH: `gs://${BUCKET}/models`,
      MODEL_NAME: 'jean_inception',
      MODEL_CACHE_DIR: cache,
      PORT: String(restPort),
      GRPC_PORT: String(grpcPort),
    });
    const served = await start(env, '--host', '127.0.0.1', '--workers', '1', '--backend', 'wasm');
    try {
      // Version folder v1/ (as deploy names it) became TF Serving's 1/, with the same files.
      expect(readdirSync(path.join(cache, 'jean_inception'))).toEqual(['1']);
      expect(readFileSync(path.join(cache, 'jean_inception', '1', 'saved_model.pb')).equals(readFileSync(path.join(modelDir, 'saved_model.pb')))).toBe(true);
      expect(served.stderr()).toContain(`tensorsky container: version 1: downloaded 1 files`);
      expect(served.stderr()).toContain(`tensorsky container: serving jean_inception from ${path.join(cache, 'jean_inception')}: REST on port ${restPort}, gRPC on port ${grpcPort}`);

      const rest = `http://127.0.0.1:${restPort}`;
      const health = await fetch(`${rest}/healthz`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { status: string }).status).toBe('ok');
      const check = spawnSync(process.execPath, [healthcheckScript], { env, encoding: 'utf8' });
      expect(check.status).toBe(0);
      expect(check.stdout).toMatch(new RegExp(`^tensorsky healthcheck: ${rest}/healthz 200 `));

      // The tutorial's b64 model takes web-safe base64 text.
      const cat = readFileSync(path.join(IMAGES_DIR, 'cat.jpg'));
      const instances = [cat.toString('base64url')];
      const res = await fetch(`${rest}/v1/models/jean_inception:predict`, { method: 'POST', body: JSON.stringify({ instances }) });
      expect(res.status).toBe(200);
      const [scores] = ((await res.json()) as { predictions: number[][] }).predictions;
      expect(scores).toHaveLength(1000);
      const local = await run('predict', '--image', path.join(IMAGES_DIR, 'cat.jpg'), '--model_path', modelDir, '--decode_preds_fn', 'none', '--top', '5', '--backend', 'wasm', '--json');
      expect(local.code).toBe(0);
      const top = local.json[0].predictions[0].top as { index: number; score: number }[];
      const served5 = scores.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score).slice(0, 5);
      expect(served5.map((p) => p.index)).toEqual(top.map((p) => p.index));
      served5.forEach((p, k) => expect(p.score).toBeCloseTo(top[k].score, 6));
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  }, 180_000);

  it('serves a mounted model repository (MODEL_BASE_PATH a local folder)', async () => {
    const base = path.join(scratch, 'mounted');
    mkdirSync(path.join(base, 'jean_inception'), { recursive: true });
    await writeImageClassifier(path.join(base, 'jean_inception', '7'), 'b64');
    const restPort = await freePort();
    const served = await start(containerEnv({ MODEL_BASE_PATH: base, MODEL_NAME: 'jean_inception', REST_API_PORT: String(restPort), GRPC_PORT: '0' }), '--host', '127.0.0.1', '--workers', '1', '--backend', 'wasm');
    try {
      const status = await fetch(`http://127.0.0.1:${restPort}/v1/models/jean_inception`);
      expect(((await status.json()) as { model_version_status: { version: string; state: string }[] }).model_version_status).toMatchObject([{ version: '7', state: 'AVAILABLE' }]);
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  }, 120_000);

  it.each([
    ['a folder without versions', { MODEL_BASE_PATH: `gs://${BUCKET}/models`, MODEL_NAME: 'nobody' }, new RegExp(`^tensorsky container: MODEL_BASE_PATH/MODEL_NAME = gs://${BUCKET}/models/nobody: gs://${BUCKET}/models/nobody/ holds no model version: expected numbered folders`)],
    ['a bad bucket name', { MODEL_BASE_PATH: 'gs://Not_A_Bucket/models' }, /^tensorsky container: MODEL_BASE_PATH\/MODEL_NAME = gs:\/\/Not_A_Bucket\/models\/model: invalid bucket 'Not_A_Bucket'/],
    ['another scheme', { MODEL_BASE_PATH: 's3://bucket/models' }, /^tensorsky container: MODEL_BASE_PATH=s3:\/\/bucket\/models: only local folders and gs:\/\/BUCKET\/FOLDER are supported$/],
    ['a local folder that is not there', { MODEL_BASE_PATH: '/nowhere/models' }, /^tensorsky container: MODEL_BASE_PATH\/MODEL_NAME = \/nowhere\/models\/model is not a folder: mount the model repository there/],
  ])('refuses %s in one line and exits 1', (_what, vars, message) => {
    const result = startAndExit(containerEnv({ MODEL_CACHE_DIR: path.join(scratch, 'refused'), ...vars }));
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('the healthcheck fails when nothing answers', async () => {
    const check = spawnSync(process.execPath, [healthcheckScript], { env: containerEnv({ REST_API_PORT: String(await freePort()) }), encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stderr).toMatch(/^tensorsky healthcheck: http:\/\/127\.0\.0\.1:\d+\/healthz did not answer: /);
  });
});
