// Acceptance: TF Serving's own REST cases against its test models, through the real engine
// (@tensorsky/predict-local in every worker thread), plus images and a version switch under load.
import fs from 'node:fs/promises';
import path from 'node:path';
import { rgbPng } from '@tensorsky/fixtures';
import { encodeExample } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseModelConfig, startServer, type ModelServer, type ServeOptions } from '../src/index.js';
import { HALF_PLUS_THREE, HALF_PLUS_TWO, TWO_VERSIONS, addVersion, get, model, post, tempDir, waitFor } from './support/harness.js';
import { writeImageShapeModel } from './support/image-model.js';

const IMAGES = path.resolve(HALF_PLUS_TWO, '../../../images');

/** A server with the default engine (predict-local). */
function startRealServer(options: Partial<ServeOptions> & Pick<ServeOptions, 'models'>): Promise<ModelServer> {
  return startServer({ host: '127.0.0.1', port: 0, workers: 2, ...options });
}

describe('TF Serving REST cases: half_plus_two', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startRealServer({ models: [model('half_plus_two', HALF_PLUS_TWO)] });
  });
  afterAll(() => server?.close());

  it('predicts in row and columnar format', async () => {
    expect(await post(server, '/v1/models/half_plus_two:predict', { instances: [2.0, 3.0, 4.0] })).toEqual({
      status: 200,
      body: { predictions: [3.0, 3.5, 4.0] },
    });
    expect(await post(server, '/v1/models/half_plus_two:predict', { inputs: [2.0, 3.0, 4.0] })).toEqual({
      status: 200,
      body: { outputs: [3.0, 3.5, 4.0] },
    });
    // regress_x2_to_y3 computes y3 = a * x2 + c, with c = 3 in this checkpoint.
    expect(await post(server, '/v1/models/half_plus_two/versions/123:predict', { signature_name: 'regress_x2_to_y3', instances: [2.0] })).toEqual({
      status: 200,
      body: { predictions: [4.0] },
    });
  });

  it('reports version 123 AVAILABLE and lists its signatures', async () => {
    expect(await get(server, '/v1/models/half_plus_two')).toEqual({
      status: 200,
      body: { model_version_status: [{ version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] },
    });
    const metadata = await get(server, '/v1/models/half_plus_two/versions/123/metadata');
    expect(metadata.body.model_spec).toEqual({ name: 'half_plus_two', signature_name: '', version: '123' });
    expect(Object.keys(metadata.body.metadata.signature_def.signature_def).sort()).toEqual([
      'classify_x_to_y',
      'regress_x2_to_y3',
      'regress_x_to_y',
      'regress_x_to_y2',
      'serving_default',
    ]);
  });

  it(':predict runs a tf.Example signature on serialized Examples; bytes that are none get ParseExample\'s 400', async () => {
    const example = Buffer.from(encodeExample({ x: { floatList: [2] } })).toString('base64');
    expect(await post(server, '/v1/models/half_plus_two:predict', { signature_name: 'classify_x_to_y', instances: [{ b64: example }] })).toEqual({
      status: 200,
      body: { predictions: [[3.0]] },
    });
    const reply = await post(server, '/v1/models/half_plus_two:predict', { signature_name: 'classify_x_to_y', instances: ['x'] });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(/Could not parse example input, value: 'x'/);
    expect(await post(server, '/v1/models/half_plus_two:predict', { instances: [1.0] })).toEqual({ status: 200, body: { predictions: [2.5] } });
  });
});

describe('TF Serving REST cases: the two-version repository', () => {
  it('serves the latest version by default', async () => {
    const server = await startRealServer({ models: [model('hp', TWO_VERSIONS)], workers: 1 });
    try {
      const status = await get(server, '/v1/models/hp');
      expect(status.body.model_version_status.map((s: { version: string }) => s.version)).toEqual(['124']);
      expect(await post(server, '/v1/models/hp:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
      expect((await post(server, '/v1/models/hp/versions/123:predict', { instances: [2.0] })).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('serves each version by number with the all policy', async () => {
    const [config] = parseModelConfig(`model_config_list { config { name: 'hp' base_path: '${TWO_VERSIONS}' model_version_policy { all {} } } }`, 'x.config');
    const server = await startRealServer({ models: [config], workers: 1 });
    try {
      for (const version of [123, 124]) {
        expect(await post(server, `/v1/models/hp/versions/${version}:predict`, { instances: [2.0, 6.0] })).toEqual({
          status: 200,
          body: { predictions: [3.0, 5.0] },
        });
        expect((await get(server, `/v1/models/hp/versions/${version}`)).body.model_version_status[0].state).toBe('AVAILABLE');
      }
    } finally {
      await server.close();
    }
  });
});

describe('image inputs through the real engine', () => {
  let server: ModelServer;
  let base: string;
  const predictImage = (bytes: Buffer) => post(server, '/v1/models/images:predict', { inputs: { b64: bytes.toString('base64') } });

  beforeAll(async () => {
    base = await tempDir('serve-images-');
    await writeImageShapeModel(path.join(base, '1'));
    server = await startRealServer({ models: [model('images', base)], workers: 1 });
  });
  afterAll(async () => {
    await server?.close();
    await fs.rm(base, { recursive: true, force: true });
  });

  it('decodes base64 images (sizes as the files declare them)', async () => {
    expect(await predictImage(await fs.readFile(path.join(IMAGES, 'cat.jpg')))).toEqual({ status: 200, body: { outputs: [300, 451, 3] } });
    expect(await predictImage(await fs.readFile(path.join(IMAGES, 'rocket.jpg')))).toEqual({ status: 200, body: { outputs: [427, 640, 3] } });
    expect(await predictImage(await fs.readFile(path.join(IMAGES, 'image_png_test.png')))).toEqual({ status: 200, body: { outputs: [2, 2, 3] } });
  });

  it.each([
    ['bytes that are no image', () => Buffer.from('this is not an image'), /image/i],
    ['a truncated JPEG', async () => (await fs.readFile(path.join(IMAGES, 'rocket.jpg'))).subarray(0, 4000), /JPEG/],
    ['a decompression bomb (PNG declaring 50000 x 50000 pixels)', async () => pngBomb(50000), /PNG|pixel/i],
  ])('%s gets a 400 and the next image succeeds', async (_what, bytes, message) => {
    const reply = await predictImage(await bytes());
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(message);
    expect(await predictImage(await fs.readFile(path.join(IMAGES, 'astronaut.jpg')))).toEqual({ status: 200, body: { outputs: [512, 512, 3] } });
  });
});

describe('version switch under load through the real engine', () => {
  it('moves traffic from half_plus_two to half_plus_three with zero failed requests', async () => {
    const base = await tempDir('serve-real-switch-');
    onTestFinished(() => fs.rm(base, { recursive: true, force: true }));
    await addVersion(base, path.join(HALF_PLUS_TWO, '00000123'), 1);
    const server = await startRealServer({ models: [model('hp', base)], pollIntervalMs: 100 });
    const answers: number[][] = [[], [], []];
    const failures: string[] = [];
    let stop = false;
    const client = async (mine: number[]) => {
      for (let i = 0; i < 5000 && !stop; i++) {
        const reply = await post(server, '/v1/models/hp:predict', { instances: [2.0] }).catch((err) => ({ status: 0, body: String(err) }));
        if (reply.status === 200) mine.push(reply.body.predictions[0]);
        else failures.push(`${reply.status} ${JSON.stringify(reply.body)}`);
      }
    };
    const load = Promise.all(answers.map(client));
    try {
      await waitFor('traffic on version 1', () => answers[0].length >= 10);
      await addVersion(base, path.join(HALF_PLUS_THREE, '00000123'), 2);
      await waitFor('version 2 to be noticed', async () => (await get(server, '/v1/models/hp/versions/2')).status === 200, 30_000);
      await fs.rm(path.join(base, '1'), { recursive: true });
      await waitFor(
        'version 1 to be unloaded',
        async () => JSON.stringify((await get(server, '/v1/models/hp')).body.model_version_status.map((s: { state: string }) => s.state)) === '["AVAILABLE","END"]',
        30_000,
      );
      const served = answers.map((a) => a.length);
      await waitFor('more traffic on version 2', () => answers.every((a, i) => a.length >= served[i] + 5));
    } finally {
      stop = true;
      await load;
      await server.close();
    }
    expect(failures).toEqual([]);
    for (const a of answers) {
      const firstNew = a.indexOf(4.0);
      expect(a[0]).toBe(3.0);
      expect(firstNew).toBeGreaterThan(0);
      expect(a.slice(0, firstNew).every((v) => v === 3.0)).toBe(true);
      expect(a.slice(firstNew).every((v) => v === 4.0)).toBe(true);
    }
  });
});

/** A valid PNG header claiming side x side RGB pixels, followed by only a few rows of data. */
function pngBomb(side: number): Buffer {
  return rgbPng(side, side, Buffer.alloc((side * 3 + 1) * 64));
}
