// Shared test helpers: fixture paths, servers on an ephemeral loopback port, JSON requests, and
// atomic copies of fixture versions into temporary model repositories.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_VERSION_POLICY, startServer, type ModelConfig, type ModelServer, type ServeOptions } from '../../src/index.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const TF_SERVING_FIXTURES = path.join(SAVED_MODELS_DIR, 'tf-serving');
export const HALF_PLUS_TWO = path.join(TF_SERVING_FIXTURES, 'saved_model_half_plus_two_cpu');
export const HALF_PLUS_THREE = path.join(TF_SERVING_FIXTURES, 'saved_model_half_plus_three');
export const TWO_VERSIONS = path.join(TF_SERVING_FIXTURES, 'saved_model_half_plus_two_2_versions');

/** The engine serve's own tests use (y = a * x + b from the fixture's checkpoint). */
export const TEST_ENGINE = new URL('./half-plus-engine.mjs', import.meta.url);

export function model(name: string, basePath: string, extra: Partial<ModelConfig> = {}): ModelConfig {
  return { name, basePath, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {}, ...extra };
}

/** Starts a server on 127.0.0.1 with an ephemeral port; the test engine unless `engine` says otherwise. */
export function startTestServer(options: Partial<ServeOptions> & Pick<ServeOptions, 'models'>, testEngineOptions: Record<string, unknown> = {}): Promise<ModelServer> {
  return startServer({
    host: '127.0.0.1',
    port: 0,
    workers: 2,
    engine: { module: TEST_ENGINE, options: testEngineOptions },
    ...options,
  });
}

export interface Reply {
  status: number;
  body: any;
}

export async function post(server: ModelServer, route: string, body: unknown): Promise<Reply> {
  const res = await fetch(server.url + route, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: await res.json() };
}

export async function get(server: ModelServer, route: string): Promise<Reply> {
  const res = await fetch(server.url + route);
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Copies a fixture version directory into base/<version> atomically (copy aside, then rename). */
export async function addVersion(base: string, sourceVersionDir: string, version: number): Promise<void> {
  const staging = path.join(base, `.staging-${version}`);
  await fs.cp(sourceVersionDir, staging, { recursive: true });
  await fs.rename(staging, path.join(base, String(version)));
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Four clients predicting {"instances": [2.0]} on `route` in a loop (at most `limit` requests each)
 * until stop(): the answers of each client and every failure, for tests of changes under load.
 */
export function trafficOn(server: ModelServer, route: string, limit: number) {
  const answers: number[][] = [[], [], [], []];
  const failures: string[] = [];
  let stopped = false;
  const client = async (answersOfClient: number[]) => {
    for (let i = 0; i < limit && !stopped; i++) {
      try {
        const reply = await post(server, route, { instances: [2.0] });
        if (reply.status === 200) answersOfClient.push(reply.body.predictions[0]);
        else failures.push(`${reply.status} ${JSON.stringify(reply.body)}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const done = Promise.all(answers.map(client));
  return {
    answers,
    failures,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
