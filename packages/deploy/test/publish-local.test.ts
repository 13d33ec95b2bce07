// `deploy --target local`: versions published into a TF Serving repository while `tensorsky serve`
// watches it; TF Serving's half_plus_two (y = 0.5x + 2) and half_plus_three (y = 0.5x + 3) tell versions apart.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_VERSION_POLICY, startServer, type ModelServer } from '@tensorsky/serve';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublishConflictError, publishLocal } from '../src/index.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TF_SERVING = path.join(SAVED_MODELS_DIR, 'tf-serving');
const HALF_PLUS_TWO = path.join(TF_SERVING, 'saved_model_half_plus_two_cpu', '00000123');
const HALF_PLUS_THREE = path.join(TF_SERVING, 'saved_model_half_plus_three', '00000123');

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-publish-'));
const base = path.join(scratch, 'repository', 'half_plus');
let server: ModelServer;

beforeAll(async () => {
  // The server starts before anything is published, as in production: it waits for versions to appear.
  mkdirSync(base, { recursive: true });
  server = await startServer({
    models: [{ name: 'half_plus', basePath: base, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    pollIntervalMs: 50,
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Predicts until the served version is `version` (the server rescans every 50 ms). */
async function predictFrom(version: string, x: number): Promise<unknown> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await (await fetch(`${server.url}/v1/models/half_plus`)).json()) as any;
    const available = status.model_version_status?.find((s: any) => s.state === 'AVAILABLE');
    if (available?.version === version) break;
    if (Date.now() > deadline) throw new Error(`version ${version} never became available: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = await fetch(`${server.url}/v1/models/half_plus:predict`, { method: 'POST', body: JSON.stringify({ instances: [x] }) });
  return ((await res.json()) as any).predictions;
}

describe('publishLocal into a repository that tensorsky serve watches', () => {
  it('publishes version 1, which the server loads', async () => {
    const result = await publishLocal({ modelDir: HALF_PLUS_TWO, modelBasePath: base, modelVersion: 'v1' });
    expect(result).toEqual({ dir: path.join(base, '1'), version: 1, action: 'copied', files: 4, dryRun: false });
    expect(await predictFrom('1', 4)).toEqual([4.0]);
    // Nothing is left behind but the version directory.
    expect(readdirSync(base)).toEqual(['1']);
  });

  it('publishing the same files again changes nothing', async () => {
    expect((await publishLocal({ modelDir: HALF_PLUS_TWO, modelBasePath: base, modelVersion: '1' })).action).toBe('unchanged');
  });

  it('a new version takes over', async () => {
    expect((await publishLocal({ modelDir: HALF_PLUS_THREE, modelBasePath: base, modelVersion: '2' })).action).toBe('copied');
    expect(await predictFrom('2', 4)).toEqual([5.0]);
  });

  it('refuses to overwrite a version with other files unless forced', async () => {
    await expect(publishLocal({ modelDir: HALF_PLUS_TWO, modelBasePath: base, modelVersion: '2' })).rejects.toThrow(PublishConflictError);
    await expect(publishLocal({ modelDir: HALF_PLUS_TWO, modelBasePath: base, modelVersion: '2' })).rejects.toThrow(
      `${path.join(base, '2')} already holds a different model version 2; publish under a new --model_version, or pass --force to replace it`,
    );
    const dry = await publishLocal({ modelDir: HALF_PLUS_TWO, modelBasePath: base, modelVersion: '2', force: true, dryRun: true });
    expect(dry.action).toBe('replaced');
    const modified = path.join(scratch, 'modified');
    cpSync(HALF_PLUS_TWO, modified, { recursive: true });
    writeFileSync(path.join(modified, 'assets', 'foo.txt'), 'another asset\n');
    expect((await publishLocal({ modelDir: modified, modelBasePath: base, modelVersion: '2', force: true })).action).toBe('replaced');
    expect(readdirSync(base).sort()).toEqual(['1', '2']);
  });

  it('refuses a SavedModel the server could not load, before touching the repository', async () => {
    const truncated = path.join(scratch, 'truncated');
    cpSync(HALF_PLUS_THREE, truncated, { recursive: true });
    const pb = path.join(truncated, 'saved_model.pb');
    truncateSync(pb, statSync(pb).size >> 1);
    const before = readdirSync(base).sort();
    await expect(publishLocal({ modelDir: truncated, modelBasePath: base, modelVersion: '3' })).rejects.toThrow(
      new RegExp(`^refusing to publish ${truncated}: ${pb} is not a SavedModel \\(.*\\); export the model again$`),
    );
    expect(readdirSync(base).sort()).toEqual(before);
  });

  it('removes what an interrupted publish of the same version left, and only that', async () => {
    // A publish killed by kill -9: its staging folder and lock stay; its process is gone.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const leftover = path.join(base, `.tensorsky-incoming-3-${dead}-0badc0de`);
    mkdirSync(path.join(leftover, 'variables'), { recursive: true });
    const anHourAgo = new Date(Date.now() - 3600_000);
    utimesSync(leftover, anHourAgo, anHourAgo);
    writeFileSync(path.join(base, '.tensorsky-lock-3'), JSON.stringify({ pid: dead, host: os.hostname() }));
    mkdirSync(path.join(base, '.not-ours-3'));
    const lines: string[] = [];
    expect((await publishLocal({ modelDir: HALF_PLUS_THREE, modelBasePath: base, modelVersion: '3', log: (l) => lines.push(l) })).action).toBe('copied');
    expect(lines[0]).toBe(`removed ${leftover}, left by an interrupted publish`);
    expect(readdirSync(base).sort()).toEqual(['.not-ours-3', '1', '2', '3']);
    rmSync(path.join(base, '.not-ours-3'), { recursive: true });
  });

  it('needs a numbered version', async () => {
    await expect(publishLocal({ modelDir: HALF_PLUS_TWO, modelBasePath: base, modelVersion: 'canary' })).rejects.toThrow(
      "model version 'canary' is not a number; TF Serving repositories number their versions: use --model_version 1 (or v1)",
    );
  });
});
