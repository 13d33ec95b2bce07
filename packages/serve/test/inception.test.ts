// Acceptance: an exported InceptionV3 (seeded random weights) served by one worker answers TF Serving
// REST requests carrying base64 images with the same probabilities as @tensorsky/predict-local, the
// engine behind `tensorsky predict --model_path`, run here in the test process on the same SavedModel.
//
// The export's serving_default input `inputs` is DT_STRING whose graph starts with DecodeBase64, so each
// element must be the *text* of the image in web-safe base64; as a JSON string the server passes that
// text through as its UTF-8 bytes. TF Serving's {"b64": ...} form instead means "these standard-base64
// characters are raw bytes": it suits models whose graph decodes image bytes directly. Sent to this
// model, {"b64": <base64 of the JPEG>} hands the JPEG bytes to DecodeBase64 (a 400); the equivalent of a
// plain string is {"b64": <standard base64 of the web-safe base64 text>}.
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeTopKBatch, loadLabels, type Labels } from '@tensorsky/decode';
import { exportSavedModel } from '@tensorsky/export';
import { loadModel } from '@tensorsky/predict-local';
import { jpegBomb, pngBomb } from '@tensorsky/fixtures';
import { toBase64 } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ModelServer } from '../src/index.js';
import { HALF_PLUS_TWO, model, post, tempDir } from './support/harness.js';

const IMAGES = path.resolve(HALF_PLUS_TWO, '../../../images');
const PREDICT = '/v1/models/inception_v3:predict';
const CLASSES = 1000;

describe('InceptionV3 exported with random weights, served by one worker', () => {
  let base: string;
  let server: ModelServer;
  let labels: Labels;
  /** Web-safe base64 text of cat.jpg and astronaut.jpg, as `tensorsky predict` feeds the graph. */
  let images: string[];
  /** predict-local's scores for [cat, astronaut], flat [2, 1000]. */
  let expected: Float32Array;

  beforeAll(async () => {
    base = await tempDir('serve-inception-');
    const versionDir = path.join(base, '1');
    await exportSavedModel({ modelDir: versionDir, weights: 'random', seed: 1, backend: 'wasm' });
    images = await Promise.all(['cat.jpg', 'astronaut.jpg'].map(async (f) => toBase64(await fs.readFile(path.join(IMAGES, f)), 'web-safe')));
    labels = await loadLabels('imagenet');
    // The engine the server's workers pick too (backend auto): the test is of the protocol, not of engines.
    const local = await loadModel(versionDir);
    try {
      const out = await local.predict({ inputs: images });
      expect(out.outputs.shape).toEqual([2, CLASSES]);
      expected = out.outputs.data as Float32Array;
      // The images must score differently, or a server that swapped or repeated rows would pass.
      let rowDiff = 0;
      for (let i = 0; i < CLASSES; i++) rowDiff = Math.max(rowDiff, Math.abs(expected[i] - expected[CLASSES + i]));
      expect(rowDiff).toBeGreaterThan(1e-3);
    } finally {
      local.dispose();
    }
    server = await startServer({ models: [model('inception_v3', base)], host: '127.0.0.1', port: 0, workers: 1 });
  });

  afterAll(async () => {
    await server?.close();
    if (base) await fs.rm(base, { recursive: true, force: true });
  });

  /** Checks [cat, astronaut] rows against predict-local: every probability, and the top 5 with their scores. */
  function expectLocalScores(rows: number[][]): void {
    expect(rows.map((r) => r.length)).toEqual([CLASSES, CLASSES]);
    const got = Float32Array.from(rows.flat());
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
    const shape = [2, CLASSES];
    const top = decodeTopKBatch({ values: got, shape }, labels, 5);
    const want = decodeTopKBatch({ values: expected, shape }, labels, 5);
    expect(top.map((row) => row.map((p) => p.label))).toEqual(want.map((row) => row.map((p) => p.label)));
    top.flat().forEach((p, i) => expect(Math.abs(p.score - want.flat()[i].score)).toBeLessThanOrEqual(1e-5));
    // Softmax output: each row is a probability distribution (random weights, so no particular class).
    for (const row of rows) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  }

  it('answers row-format instances with predict-local\'s probabilities', async () => {
    const reply = await post(server, PREDICT, { instances: images.map((inputs) => ({ inputs })) });
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body)).toEqual(['predictions']);
    expectLocalScores(reply.body.predictions);
  });

  it('answers the columnar form, keyed and unkeyed, with the same probabilities', async () => {
    for (const body of [{ inputs: { inputs: images } }, { inputs: images }]) {
      const reply = await post(server, PREDICT, body);
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body)).toEqual(['outputs']);
      expectLocalScores(reply.body.outputs);
    }
  });

  it('takes {"b64": ...} as the raw bytes of the string, so it must wrap the web-safe text, not the JPEG', async () => {
    const wrapped = images.map((text) => ({ b64: Buffer.from(text, 'utf8').toString('base64') }));
    const same = await post(server, PREDICT, { instances: wrapped });
    expect(same.status).toBe(200);
    expectLocalScores(same.body.predictions);

    const jpeg = await fs.readFile(path.join(IMAGES, 'cat.jpg'));
    const rawBytes = await post(server, PREDICT, { instances: [{ b64: jpeg.toString('base64') }] });
    expect(rawBytes.status).toBe(400);
    expect(rawBytes.body.error).toMatch(/base64/i);
  });

  // The hardening issue's bound: hostile requests to InceptionV3 on 2 workers each get a clear 4xx, the
  // good request after each is answered, and the whole process (both workers' engines included) stays
  // under 2.5 GB.
  it('keeps 2 workers under 2.5 GB through hostile requests, answering each with a 4xx', async () => {
    const hostile = await startServer({ models: [model('inception_v3', base)], host: '127.0.0.1', port: 0, workers: 2 });
    try {
      const cat = await fs.readFile(path.join(IMAGES, 'cat.jpg'));
      const tiny = await fs.readFile(path.join(IMAGES, 'image_png_test.png'));
      const webSafe = (bytes: Uint8Array) => toBase64(bytes, 'web-safe');
      const requests: [string, unknown, number][] = [
        ['PNG bomb', { instances: [webSafe(await pngBomb())] }, 400],
        ['JPEG bomb', { instances: [webSafe(jpegBomb())] }, 400],
        ['ten bombs in one request', { instances: Array(10).fill(webSafe(jpegBomb())) }, 400],
        ['300 images', { instances: Array(300).fill(webSafe(tiny)) }, 400],
        ['a truncated JPEG', { instances: [images[0], webSafe(cat.subarray(0, cat.length >> 1))] }, 400],
        ['text that is not base64', { instances: ['not base64 at all!'] }, 400],
        ['numbers', { instances: [[1, 2, 3]] }, 400],
      ];
      for (const [name, body, status] of requests) {
        const reply = await post(hostile, PREDICT, body);
        expect({ name, status: reply.status, oneLine: !String(reply.body.error).includes('\n') }).toEqual({ name, status, oneLine: true });
        expect({ name, next: (await post(hostile, PREDICT, { instances: [images[1]] })).status }).toEqual({ name, next: 200 });
      }
      expect(process.memoryUsage().rss).toBeLessThan(2.5 * 2 ** 30);
    } finally {
      await hostile.close();
    }
  }, 300_000);

  // Terminating a worker thread while ONNX Runtime computes in it aborts the whole process (SIGABRT,
  // "terminate called after throwing an instance of 'Napi::Error'"): close() must let the running batch
  // finish first. The clients hang up at once, so their batches are still running when close() is called.
  it('closes while batches it no longer has clients for are still computing, without aborting the process', async () => {
    const closing = await startServer({ models: [model('inception_v3', base)], host: '127.0.0.1', port: 0, workers: 2 });
    const body = JSON.stringify({ instances: [...images, ...images, ...images, ...images] });
    const aborted = Array.from({ length: 4 }, () => {
      const controller = new AbortController();
      const request = fetch(`${closing.url}${PREDICT}`, { method: 'POST', body, signal: controller.signal }).catch(() => undefined);
      setTimeout(() => controller.abort(), 300);
      return request;
    });
    await Promise.all(aborted);
    await closing.close();
    // Still alive, and the shared server still answers.
    const after = await post(server, PREDICT, { instances: images });
    expect(after.status).toBe(200);
  }, 120_000);
});
