// predict-cloud against `tensorsky serve` (TF Serving's REST API) on loopback, with image classifiers
// written at test time in both input formats. Truth: the same SavedModel run locally by predict-local,
// the server's own request counters, and its 1.5 MiB request limit.
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@tensorsky/predict-local';
import { DEFAULT_VERSION_POLICY, startServer, type ModelServer } from '@tensorsky/serve';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudError } from '@tensorsky/cloud-errors';
import { MAX_REQUEST_BYTES, PayloadTooLargeError, TfServingBackend, imageInstance, predictCloud, predictImages } from '../src/index.js';
import { writeImageClassifier } from '../../deploy/test/helpers/image-model.js';
import { IMAGES_DIR, SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IMAGES = IMAGES_DIR;
const HALF_PLUS_TWO = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu');
const PHOTOS = ['cat.jpg', 'astronaut.jpg', 'camera.jpg'];

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-predict-cloud-'));
let server: ModelServer;

beforeAll(async () => {
  await writeImageClassifier(path.join(scratch, 'b64', '1'), 'b64');
  await writeImageClassifier(path.join(scratch, 'bytes', '1'), 'bytes');
  // The same model as if exported with random weights: tensorsky serve reads this record and says so.
  await writeImageClassifier(path.join(scratch, 'random', '1'), 'b64');
  mkdirSync(path.join(scratch, 'random', '1', 'assets.extra'));
  writeFileSync(
    path.join(scratch, 'random', '1', 'assets.extra', 'tensorsky_provenance.json'),
    JSON.stringify({
      schema: 1,
      exporter: { name: '@tensorsky/export', version: '0.1.0' },
      exportedAt: '2025-01-02T03:04:05.678Z',
      model: { kind: 'built-in', name: 'inception_v3' },
      weights: { kind: 'random', seed: 5 },
    }),
  );
  server = await startServer({
    models: [
      { name: 'classifier', basePath: path.join(scratch, 'b64'), versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} },
      { name: 'classifier_bytes', basePath: path.join(scratch, 'bytes'), versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} },
      { name: 'classifier_random', basePath: path.join(scratch, 'random'), versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} },
      { name: 'half_plus_two', basePath: HALF_PLUS_TWO, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} },
    ],
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    pollIntervalMs: 0,
    engine: { options: { backend: 'wasm' } },
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** serving_default run in this process, as `tensorsky predict` runs it. */
async function localScores(format: 'b64' | 'bytes', files: Uint8Array[]): Promise<number[][]> {
  const model = await loadModel(path.join(scratch, format, '1'), { backend: 'wasm' });
  try {
    const feed = files.map((f) => (format === 'b64' ? Buffer.from(f).toString('base64url') : f));
    const { outputs } = await model.predict({ inputs: feed });
    const classes = outputs.shape[1];
    return files.map((_, i) => Array.from((outputs.data as Float32Array).subarray(i * classes, (i + 1) * classes)));
  } finally {
    model.dispose();
  }
}

async function predictRequests(model: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/monitoring/prometheus/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, code, value] of text.matchAll(new RegExp(`^tensorsky_serve_requests_total\\{model="${model}",api="predict",code="(\\d+)"\\} (\\d+)$`, 'gm'))) {
    counts[code] = Number(value);
  }
  return counts;
}

function expectClose(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => {
    expect(row.length).toBe(expected[i].length);
    const worst = Math.max(...row.map((v, k) => Math.abs(v - expected[i][k])));
    expect(worst).toBeLessThan(1e-6);
  });
}

async function noisePng(width: number, height: number, seed: number): Promise<Uint8Array> {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    pixels[i] = state >>> 24;
  }
  return new Uint8Array(await sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer());
}

describe('predict-cloud --url (TF Serving REST)', () => {
  it('matches local predictions for a b64 model, reading the input from the signature', async () => {
    const result = await predictCloud({
      images: PHOTOS.map((p) => path.join(IMAGES, p)),
      target: { kind: 'tf-serving', url: server.url, modelName: 'classifier' },
      top: 6,
    });
    expect(result).toMatchObject({ inputFormat: 'b64', inputName: 'inputs', requests: 1, target: `TF Serving model classifier at ${server.url}`, warnings: [] });
    const local = await localScores('b64', PHOTOS.map((p) => readFileSync(path.join(IMAGES, p))));
    result.images.forEach((image, i) => {
      expect(image.file).toBe(path.join(IMAGES, PHOTOS[i]));
      const best = [...local[i].keys()].sort((a, b) => local[i][b] - local[i][a] || a - b).slice(0, 6);
      expect(image.predictions.map((p) => p.index)).toEqual(best);
      image.predictions.forEach((p) => expect(p.score).toBeCloseTo(local[i][p.index], 6));
    });
    // ImageNet labels from the inception preset: class 0 is tench.
    expect(result.images[0].predictions[0].label).toBe(JSON.parse(readFileSync(path.join(repoRoot, 'packages', 'decode', 'data', 'imagenet_class_index.json'), 'utf8'))[result.images[0].predictions[0].index][1]);
  });

  it('passes on what tensorsky serve says about a model with random weights', async () => {
    const result = await predictCloud({ images: [path.join(IMAGES, PHOTOS[0])], target: { kind: 'tf-serving', url: server.url, modelName: 'classifier_random' } });
    expect(result.warnings).toEqual(['this model has random weights (seed 5): its labels mean nothing']);
    expect(result.images[0].predictions).toHaveLength(5);
  });

  it('sends {"b64": ...} to a model that takes the image bytes', async () => {
    const photos = PHOTOS.map((p) => readFileSync(path.join(IMAGES, p)));
    const backend = new TfServingBackend({ kind: 'tf-serving', url: server.url, modelName: 'classifier_bytes', modelVersion: '1' });
    const result = await predictImages(backend, photos.map((bytes, i) => ({ source: PHOTOS[i], bytes })), { inputFormat: 'bytes' });
    expect(result.inputFormat).toBe('bytes');
    expectClose(result.results.map((r) => r.scores), await localScores('bytes', photos));
    expect(imageInstance(Uint8Array.from([0xfb, 0xff]), 'bytes')).toEqual({ inputs: { b64: '+/8=' } });
    expect(imageInstance(Uint8Array.from([0xfb, 0xff]), 'b64')).toEqual({ inputs: '-_8' });
  });

  it('splits a batch larger than 1.5 MB into several requests the server accepts', async () => {
    const files = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => noisePng(300, 300, seed)));
    const wholeBatch = Buffer.byteLength(JSON.stringify({ instances: files.map((f) => imageInstance(f, 'b64')) }));
    expect(wholeBatch).toBeGreaterThan(MAX_REQUEST_BYTES);
    const before = await predictRequests('classifier');
    const backend = new TfServingBackend({ kind: 'tf-serving', url: server.url, modelName: 'classifier' });
    const result = await predictImages(backend, files.map((bytes, i) => ({ source: `noise-${i}.png`, bytes })));
    const after = await predictRequests('classifier');
    expect(result.requests).toBeGreaterThanOrEqual(2);
    expect((after['200'] ?? 0) - (before['200'] ?? 0)).toBe(result.requests);
    expect(after['413']).toBe(before['413']);
    expectClose(result.results.map((r) => r.scores), await localScores('b64', files));
  });

  it('rejects an image too large for one request, before sending anything', async () => {
    const huge = await noisePng(700, 600, 7);
    const file = path.join(scratch, 'huge.png');
    writeFileSync(file, huge);
    const before = await predictRequests('classifier');
    const error = await predictCloud({ images: [file], target: { kind: 'tf-serving', url: server.url, modelName: 'classifier' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} makes a 1\\.\\d\\d MB request \\(base64 adds a third to the file's size\\), over the 1\\.50 MB limit of one online prediction; resize or recompress it`),
    );
    expect(await predictRequests('classifier')).toEqual(before);
  });

  it('refuses to send images to a model that takes numbers', async () => {
    await expect(
      predictCloud({ images: [path.join(IMAGES, 'cat.jpg')], target: { kind: 'tf-serving', url: server.url, modelName: 'half_plus_two' } }),
    ).rejects.toThrow(`TF Serving model half_plus_two at ${server.url} does not take encoded images (serving_default input x is DT_FLOAT)`);
  });

  it('explains a model the server does not have, in one line', async () => {
    const error = (await predictCloud({
      images: [path.join(IMAGES, 'cat.jpg')],
      target: { kind: 'tf-serving', url: server.url, modelName: 'jean_inception', modelVersion: 'v1' },
    }).catch((e: unknown) => e)) as CloudError;
    expect(error).toBeInstanceOf(CloudError);
    expect(error.reason).toBe('NOT_FOUND');
    expect(error.message).toMatch(/^TF Serving request to http:\/\/127\.0\.0\.1:\d+\/v1\/models\/jean_inception\/versions\/1 failed \(404 NOT_FOUND: .+\); http:\/\/127\.0\.0\.1:\d+ does not serve model jean_inception version v1: check --model_name and --model_version/);
    expect(error.message).not.toContain('\n');
  });
});

describe('retries and timeouts', () => {
  /** A proxy in front of the server that answers the first requests with scripted errors. */
  async function flakyProxy(failures: { status: number; error: string }[]): Promise<{ url: string; seen: () => number; close: () => Promise<void> }> {
    let seen = 0;
    const proxy = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      seen++;
      const failure = req.method === 'POST' ? failures.shift() : undefined;
      if (failure) {
        res.writeHead(failure.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: failure.error }));
        return;
      }
      const upstream = await fetch(server.url + req.url, { method: req.method, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      seen: () => seen,
      close: () => new Promise((resolve) => proxy.close(() => resolve())),
    };
  }

  const cat = () => [{ source: 'cat.jpg', bytes: readFileSync(path.join(IMAGES, 'cat.jpg')) }];

  it('retries 429 and 503 with backoff, then succeeds', async () => {
    const proxy = await flakyProxy([
      { status: 429, error: 'Too many requests' },
      { status: 503, error: 'the queue is full' },
    ]);
    try {
      const backend = new TfServingBackend({ kind: 'tf-serving', url: proxy.url, modelName: 'classifier' });
      const result = await predictImages(backend, cat(), { retry: { initialDelayMs: 10 } });
      expect(result.results).toHaveLength(1);
      expectClose(result.results.map((r) => r.scores), await localScores('b64', [cat()[0].bytes]));
      expect(proxy.seen()).toBe(4); // metadata, 429, 503, success
    } finally {
      await proxy.close();
    }
  });

  it('does not retry a request the server refuses', async () => {
    const proxy = await flakyProxy([{ status: 400, error: 'Expected a string for inputs' }]);
    try {
      const backend = new TfServingBackend({ kind: 'tf-serving', url: proxy.url, modelName: 'classifier' });
      await expect(predictImages(backend, cat(), { retry: { initialDelayMs: 10 } })).rejects.toThrow(
        /failed \(400 INVALID_ARGUMENT: Expected a string for inputs\); check the flags and the model/,
      );
      expect(proxy.seen()).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('gives up on a server that does not answer in time', async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const backend = new TfServingBackend({ kind: 'tf-serving', url, modelName: 'classifier' });
      const started = Date.now();
      const error = (await predictImages(backend, cat(), { inputFormat: 'b64', inputName: 'inputs', timeoutMs: 200 }).catch((e: unknown) => e)) as CloudError;
      expect(Date.now() - started).toBeLessThan(5000);
      expect(error.reason).toBe('DEADLINE_EXCEEDED');
      expect(error.message).toMatch(/; the request took too long: retry, or raise --timeout$/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
