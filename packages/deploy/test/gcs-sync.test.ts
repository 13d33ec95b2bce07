// Copying a model repository out of Cloud Storage (what the container does at start), against a real
// GCS JSON API server (firebase-tools' storage emulator). Objects are written with the storage client's
// own save(), and the copies compared byte for byte with the files they came from.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudError } from '@tensorsky/cloud-errors';
import { createStorage, syncModelRepository } from '../src/index.js';
import { startGcsEmulator, type GcsEmulator } from './helpers/gcs-emulator.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const HALF_PLUS_TWO = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');
const FILES = ['assets/foo.txt', 'saved_model.pb', 'variables/variables.data-00000-of-00001', 'variables/variables.index'];
const BUCKET = 'sync-test';

let emulator: GcsEmulator;
let storage: Storage;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-sync-test-'));

beforeAll(async () => {
  emulator = await startGcsEmulator();
  storage = createStorage({ projectId: 'demo-tensorsky', apiEndpoint: emulator.url });
});
afterAll(async () => {
  await emulator?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Puts half_plus_two's files under gs://BUCKET/folder/. */
async function putModel(folder: string): Promise<void> {
  for (const file of FILES) await storage.bucket(BUCKET).file(`${folder}/${file}`).save(readFileSync(path.join(HALF_PLUS_TWO, file)));
}

function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

describe('syncModelRepository', () => {
  it('copies each numbered version (N/ or vN/) byte for byte into DIR/N, skipping other folders', async () => {
    await putModel('repo/m/v1');
    await putModel('repo/m/2');
    await putModel('repo/m/latest');
    await storage.bucket(BUCKET).file('repo/m/notes/readme.txt').save('not a model');
    await storage.bucket(BUCKET).file('repo/m/3/README').save('no saved_model.pb here');
    const dir = path.join(scratch, 'first');
    const lines: string[] = [];
    const report = await syncModelRepository({ storage, source: `gs://${BUCKET}/repo/m`, dir, log: (line) => lines.push(line) });

    expect(report.versions).toEqual([1, 2]);
    expect(report.downloaded).toEqual([1, 2]);
    expect(readdirSync(dir).sort()).toEqual(['1', '2']);
    for (const version of ['1', '2']) {
      expect(tree(path.join(dir, version))).toEqual(FILES);
      for (const file of FILES) expect(readFileSync(path.join(dir, version, file)).equals(readFileSync(path.join(HALF_PLUS_TWO, file)))).toBe(true);
    }
    const total = FILES.reduce((sum, file) => sum + statSync(path.join(HALF_PLUS_TWO, file)).size, 0);
    expect(report.bytesDownloaded).toBe(2 * total);
    expect(lines).toContain(`skipped gs://${BUCKET}/repo/m/latest/: not a version number (TF Serving serves numbered versions: 1/, 2/, or v1/, v2/)`);
    expect(lines).toContain(`skipped gs://${BUCKET}/repo/m/3/: it has no saved_model.pb`);
  });

  it('leaves identical versions alone and replaces a version whose files differ', async () => {
    const dir = path.join(scratch, 'again');
    await syncModelRepository({ storage, source: `gs://${BUCKET}/repo/m/`, dir });
    const again = await syncModelRepository({ storage, source: `gs://${BUCKET}/repo/m/`, dir });
    expect(again.downloaded).toEqual([]);
    expect(again.bytesDownloaded).toBe(0);

    await storage.bucket(BUCKET).file('repo/m/2/assets/foo.txt').save('changed');
    const changed = await syncModelRepository({ storage, source: `gs://${BUCKET}/repo/m/`, dir });
    expect(changed.downloaded).toEqual([2]);
    expect(readFileSync(path.join(dir, '2', 'assets', 'foo.txt'), 'utf8')).toBe('changed');
    // No staging folder is left beside the versions.
    expect(readdirSync(dir).sort()).toEqual(['1', '2']);
  });

  it('says in one line when the folder holds no version, or two folders are the same version', async () => {
    const dir = path.join(scratch, 'none');
    await expect(syncModelRepository({ storage, source: `gs://${BUCKET}/nothing/here`, dir })).rejects.toThrow(
      `gs://${BUCKET}/nothing/here/ holds no model version: expected numbered folders such as gs://${BUCKET}/nothing/here/1/saved_model.pb (or v1/, as tensorsky deploy writes them); check the path`,
    );
    await putModel('twice/m/4');
    await putModel('twice/m/v4');
    await expect(syncModelRepository({ storage, source: `gs://${BUCKET}/twice/m`, dir })).rejects.toThrow(
      `gs://${BUCKET}/twice/m/4/ and gs://${BUCKET}/twice/m/v4/ are both version 4: remove one of them`,
    );
    // Object names may hold what a file path must not: nothing is written outside DIR.
    await putModel('escape/m/1');
    await storage.bucket(BUCKET).file('escape/m/1/variables/../../../outside.txt').save('x');
    await expect(syncModelRepository({ storage, source: `gs://${BUCKET}/escape/m`, dir })).rejects.toThrow(
      `gs://${BUCKET}/escape/m/1/variables/../../../outside.txt has an empty, '.' or '..' path segment: it cannot be copied to a local folder`,
    );
    expect(readdirSync(scratch)).not.toContain('outside.txt');
  });

  it("turns Cloud Storage's 404 for a missing bucket into one line naming the listing", async () => {
    // The emulator lists any bucket; Cloud Storage answers a missing one with this 404 (JSON API error format).
    const server = http.createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, message: 'The specified bucket does not exist.', errors: [{ message: 'The specified bucket does not exist.', domain: 'global', reason: 'notFound' }] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const missing = createStorage({ projectId: 'demo-tensorsky', apiEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const error = await syncModelRepository({ storage: missing, source: 'gs://no-such-bucket-here/m', dir: path.join(scratch, 'missing') }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(CloudError);
      expect((error as CloudError).reason).toBe('NOT_FOUND');
      expect((error as Error).message).toMatch(/^Cloud Storage listing of gs:\/\/no-such-bucket-here\/m\/ failed/);
      expect((error as Error).message).toContain('bucket no-such-bucket-here does not exist or is not visible to these credentials');
      expect((error as Error).message).not.toContain('\n');
    } finally {
      server.close();
    }
  });
});
