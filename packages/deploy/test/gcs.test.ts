// Uploads against a real GCS JSON API server (firebase-tools' storage emulator on loopback), with
// TensorFlow Serving's half_plus_two SavedModel. Checksums are checked against node:crypto's MD5 and
// the CRC32C check value of the Castagnoli polynomial ("123456789" -> 0xE3069283).
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage, listModelFiles, uploadModelFiles, UploadConflictError, type RestCall, type UploadProgress } from '../src/index.js';
import { startGcsEmulator, type GcsEmulator } from './helpers/gcs-emulator.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const HALF_PLUS_TWO = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');
const FIXTURE_FILES = ['assets/foo.txt', 'saved_model.pb', 'variables/variables.data-00000-of-00001', 'variables/variables.index'];

let emulator: GcsEmulator;
let storage: Storage;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-gcs-test-'));

beforeAll(async () => {
  emulator = await startGcsEmulator();
  storage = createStorage({ projectId: 'demo-tensorsky', apiEndpoint: emulator.url });
});
afterAll(async () => {
  await emulator?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('base64');

async function remoteObjects(bucket: string, prefix: string) {
  const [files] = await storage.bucket(bucket).getFiles({ prefix });
  return new Map(files.map((f) => [f.name.slice(prefix.length), { md5Hash: f.metadata.md5Hash, size: Number(f.metadata.size) }]));
}

describe('listModelFiles', () => {
  it('lists a SavedModel with MD5 and CRC32C as Cloud Storage reports them', async () => {
    const dir = path.join(scratch, 'crc');
    cpSync(HALF_PLUS_TWO, dir, { recursive: true });
    writeFileSync(path.join(dir, 'assets', 'check.txt'), '123456789');
    const files = await listModelFiles(dir);
    expect(files.map((f) => f.relativePath)).toEqual(['assets/check.txt', ...FIXTURE_FILES]);
    const check = files[0];
    expect(check.crc32c).toBe(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
    expect(check.md5).toBe(md5(Buffer.from('123456789')));
    const pb = files.find((f) => f.relativePath === 'saved_model.pb')!;
    expect(pb.size).toBe(readFileSync(path.join(HALF_PLUS_TWO, 'saved_model.pb')).length);
  });

  it('refuses a directory without saved_model.pb', async () => {
    await expect(listModelFiles(path.join(HALF_PLUS_TWO, 'variables'))).rejects.toThrow(/no saved_model\.pb; give --model_dir the SavedModel folder/);
    await expect(listModelFiles(path.join(scratch, 'missing'))).rejects.toThrow(/does not exist/);
  });
});

describe('uploadModelFiles against the GCS emulator', () => {
  const bucket = 'tensorsky-models';
  const prefix = 'models/half_plus_two/v1/';

  it('uploads every file, verified by checksum, with progress up to the total', async () => {
    const files = await listModelFiles(HALF_PLUS_TWO);
    const progress: UploadProgress[] = [];
    const report = await uploadModelFiles({ storage, bucket, prefix, files, onProgress: (p) => progress.push(p) });
    expect(report).toMatchObject({ uri: `gs://${bucket}/${prefix}`, skipped: [], replaced: [], deleted: [], verified: true });
    expect(report.uploaded.sort()).toEqual(FIXTURE_FILES);
    const total = FIXTURE_FILES.reduce((sum, f) => sum + readFileSync(path.join(HALF_PLUS_TWO, f)).length, 0);
    expect(report.bytesUploaded).toBe(total);
    expect(progress.at(-1)).toMatchObject({ doneBytes: total, totalBytes: total });

    const remote = await remoteObjects(bucket, prefix);
    expect([...remote.keys()].sort()).toEqual(FIXTURE_FILES);
    for (const name of FIXTURE_FILES) {
      const local = readFileSync(path.join(HALF_PLUS_TWO, name));
      expect(remote.get(name)).toEqual({ md5Hash: md5(local), size: local.length });
      const [downloaded] = await storage.bucket(bucket).file(prefix + name).download();
      expect(downloaded.equals(local)).toBe(true);
    }
  });

  it('skips identical files on a second run', async () => {
    const report = await uploadModelFiles({ storage, bucket, prefix, files: await listModelFiles(HALF_PLUS_TWO) });
    expect(report.uploaded).toEqual([]);
    expect(report.skipped.sort()).toEqual(FIXTURE_FILES);
    expect(report.verified).toBe(true);
  });

  it('refuses a changed file without --force and writes nothing, then replaces it with force', async () => {
    const dir = path.join(scratch, 'changed');
    cpSync(HALF_PLUS_TWO, dir, { recursive: true });
    writeFileSync(path.join(dir, 'assets', 'foo.txt'), 'changed asset\n');
    writeFileSync(path.join(dir, 'assets', 'new.txt'), 'new asset\n');
    const files = await listModelFiles(dir);
    const error = await uploadModelFiles({ storage, bucket, prefix, files }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadConflictError);
    expect((error as Error).message).toBe(
      `gs://${bucket}/${prefix} already holds a different model (assets/foo.txt differs); deploy under a new --model_version, or pass --force to replace it`,
    );
    const before = await remoteObjects(bucket, prefix);
    expect(before.has('assets/new.txt')).toBe(false);
    expect(before.get('assets/foo.txt')!.md5Hash).toBe(md5(readFileSync(path.join(HALF_PLUS_TWO, 'assets', 'foo.txt'))));

    const report = await uploadModelFiles({ storage, bucket, prefix, files, force: true });
    expect(report.replaced).toEqual(['assets/foo.txt']);
    expect(report.uploaded).toEqual(['assets/new.txt']);
    const after = await remoteObjects(bucket, prefix);
    expect(after.get('assets/foo.txt')!.md5Hash).toBe(md5(Buffer.from('changed asset\n')));
  });

  it('treats remote files the model lacks as a conflict; force deletes them', async () => {
    const files = await listModelFiles(HALF_PLUS_TWO);
    // The folder now also holds assets/new.txt from the previous test.
    await expect(uploadModelFiles({ storage, bucket, prefix, files })).rejects.toThrow(
      /assets\/foo\.txt differs, assets\/new\.txt is not in the model directory\); deploy under a new --model_version, or pass --force/,
    );
    const report = await uploadModelFiles({ storage, bucket, prefix, files, force: true });
    expect(report.deleted).toEqual(['assets/new.txt']);
    expect([...(await remoteObjects(bucket, prefix)).keys()].sort()).toEqual(FIXTURE_FILES);
  });

  it('uses resumable uploads from the threshold on', async () => {
    const dir = path.join(scratch, 'large');
    cpSync(HALF_PLUS_TWO, dir, { recursive: true });
    const big = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(path.join(dir, 'variables', 'variables.data-00000-of-00001'), big);
    const calls: RestCall[] = [];
    const report = await uploadModelFiles({
      storage,
      bucket,
      prefix: 'models/large/v1/',
      files: await listModelFiles(dir),
      resumableThreshold: 1024 * 1024,
      onCall: (c) => calls.push(c),
    });
    expect(report.verified).toBe(true);
    const uploads = calls.filter((c) => c.method === 'POST').map((c) => new URL(c.url));
    const uploadType = (name: string) => uploads.find((u) => u.searchParams.get('name') === `models/large/v1/${name}`)!.searchParams.get('uploadType');
    expect(uploadType('variables/variables.data-00000-of-00001')).toBe('resumable');
    expect(uploadType('saved_model.pb')).toBe('multipart');
    const [downloaded] = await storage.bucket(bucket).file('models/large/v1/variables/variables.data-00000-of-00001').download();
    expect(md5(downloaded)).toBe(md5(big));
  });

  it('dry run lists what is there and writes nothing', async () => {
    const calls: RestCall[] = [];
    const report = await uploadModelFiles({
      storage,
      bucket,
      prefix: 'models/dry/v1/',
      files: await listModelFiles(HALF_PLUS_TWO),
      dryRun: true,
      onCall: (c) => calls.push(c),
    });
    expect(report).toMatchObject({ uploaded: [], verified: false });
    expect(calls.map((c) => c.method)).toEqual(['GET', 'POST', 'POST', 'POST', 'POST']);
    expect(calls[0].url).toBe(`${emulator.url}/storage/v1/b/${bucket}/o?prefix=models%2Fdry%2Fv1%2F`);
    expect(calls[1].url).toBe(`${emulator.url}/upload/storage/v1/b/${bucket}/o?uploadType=multipart&name=models%2Fdry%2Fv1%2Fassets%2Ffoo.txt&ifGenerationMatch=0`);
    expect((await remoteObjects(bucket, 'models/dry/')).size).toBe(0);
  });
});

describe('createStorage credentials', () => {
  it('sends TENSORSKY_ACCESS_TOKEN-style tokens to real endpoints, and nothing to an emulator on loopback', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"storage#objects","items":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '::', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // The IPv4-mapped IPv6 address is not recognised as loopback, so it stands for a remote endpoint here.
      const remote = createStorage({ projectId: 'demo-tensorsky', apiEndpoint: `http://[::ffff:127.0.0.1]:${port}`, accessToken: 'token-123' });
      await remote.bucket('b').getFiles({ prefix: 'models/' });
      const local = createStorage({ projectId: 'demo-tensorsky', apiEndpoint: `http://127.0.0.1:${port}`, accessToken: 'token-123' });
      await local.bucket('b').getFiles({ prefix: 'models/' });
      expect(seen).toEqual(['Bearer token-123', undefined]);
    } finally {
      server.close();
    }
  });
});
