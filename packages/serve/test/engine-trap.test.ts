// A WebAssembly out-of-memory trap in the real engine (@tensorsky/predict-local on wasm): 12,000 copies
// of a 1x1 PNG, sent as one job to a small image model that resizes its batch to 1024x1024 (12 MB of
// floats per image, 150 GB for the batch, far beyond wasm's 4 GB), trap the engine with "memory access
// out of bounds", after which that engine fails every prediction. The worker is replaced before it
// takes another request, and the next requests succeed.
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildImageInputGraph } from '@tensorsky/export';
import { GraphBuilder, writeSavedModel } from '@tensorsky/saved-model';
import { rgbPng } from '@tensorsky/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ModelServer } from '../src/index.js';
import { get, model, post, tempDir, waitFor } from './support/harness.js';

const PREDICT = '/v1/models/images:predict';

/** serving_default: a batch of encoded images (raw bytes) → the brightest pixel value of each, [n], after resizing the batch to side x side. */
async function writeResizingModel(dir: string, side: number): Promise<void> {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, { inputFormat: 'bytes', height: 8, width: 8, preprocess: 'none' });
  const large = g.resizeBilinear(images, [side, side], { name: 'large' });
  const brightness = g.apply('Max', [large, [1, 2, 3]], {}, { name: 'brightness' });
  const meta = { meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: g.signature({ images: input }, { brightness }) } };
  await writeSavedModel(dir, { savedModel: { saved_model_schema_version: 1, meta_graphs: [meta] } });
}

/** A 1x1 PNG of one grey level. */
const onePixelPng = (level: number) => rgbPng(1, 1, Buffer.from([0, level, level, level]));

describe('a wasm out-of-memory trap on 12,000 images', () => {
  let base: string;
  let server: ModelServer;
  const log: string[] = [];

  beforeAll(async () => {
    base = await tempDir('serve-trap-');
    await writeResizingModel(path.join(base, '1'), 1024);
    server = await startServer({
      models: [model('images', base)],
      host: '127.0.0.1',
      port: 0,
      workers: 1,
      // One job for the whole request: with the default (8), it is split and never runs out of memory.
      maxBatchSize: 12_000,
      // Limits raised so that the request reaches the engine and runs it out of memory.
      imageLimits: { maxImages: 20_000 },
      maxRequestBytes: 4 << 20,
      // Decoding 12,000 images one by one takes about a minute here: no compute budget.
      restApiTimeoutMs: 0,
      engine: { options: { backend: 'wasm' } },
      log: (line) => log.push(line),
    });
  });
  afterAll(async () => {
    await server?.close();
    if (base) await fs.rm(base, { recursive: true, force: true });
  });

  it('answers 500, replaces the worker, and the next 10 requests succeed', async () => {
    const png = { b64: onePixelPng(200).toString('base64') };
    const body = JSON.stringify({ instances: Array.from({ length: 12_000 }, () => png) });
    expect(body.length).toBeGreaterThan(1_000_000);
    const trapped = await post(server, PREDICT, body);
    expect(trapped.status).toBe(500);
    expect(trapped.body.error).toMatch(/^the engine failed on this request \(.+\) and its worker is being replaced; if the request was large, send fewer or smaller instances$/);
    expect(log.some((line) => /^engine worker 1 failed \(.+\); replacing it$/.test(line))).toBe(true);

    await waitFor('the replacement worker', async () => (await get(server, '/healthz')).status === 200, 120_000);
    for (let i = 0; i < 10; i++) {
      const level = 10 * i;
      const reply = await post(server, PREDICT, { instances: [{ b64: onePixelPng(level).toString('base64') }] });
      expect(reply.status).toBe(200);
      expect(reply.body.predictions.map(Math.round)).toEqual([level]);
    }
  }, 300_000);
});
