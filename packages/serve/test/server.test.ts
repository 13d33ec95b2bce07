// The whole server in-process (HTTP front, manager, batching, worker threads) with the test engine.
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { PROVENANCE_FILE, serializeProvenance, type Provenance } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseModelConfig, type ModelServer } from '../src/index.js';
import {
  HALF_PLUS_THREE,
  HALF_PLUS_TWO,
  TWO_VERSIONS,
  addVersion,
  get,
  model,
  post,
  startTestServer,
  tempDir,
  trafficOn,
  waitFor,
} from './support/harness.js';

const PREDICT = '/v1/models/half_plus_two:predict';

describe('REST API', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startTestServer({ models: [model('half_plus_two', HALF_PLUS_TWO)], maxRequestBytes: 4096, requestTimeoutMs: 800 }, { failOn: 13 });
  });
  afterAll(() => server?.close());

  it('answers row and columnar predict requests like TF Serving', async () => {
    expect(await post(server, PREDICT, { instances: [2.0, 3.0, 4.0] })).toEqual({ status: 200, body: { predictions: [3.0, 3.5, 4.0] } });
    expect(await post(server, PREDICT, { inputs: [2.0, 3.0, 4.0] })).toEqual({ status: 200, body: { outputs: [3.0, 3.5, 4.0] } });
    expect(await post(server, PREDICT, { instances: [{ x: [1.0] }, { x: [-4.0] }] })).toEqual({ status: 200, body: { predictions: [[2.5], [0]] } });
    expect(await post(server, '/v1/models/half_plus_two/versions/123:predict', { signature_name: 'serving_default', inputs: { x: 6 } })).toEqual({
      status: 200,
      body: { outputs: 5 },
    });
  });

  it('reports version status and signature metadata', async () => {
    const available = { version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } };
    expect(await get(server, '/v1/models/half_plus_two')).toEqual({ status: 200, body: { model_version_status: [available] } });
    expect(await get(server, '/v1/models/half_plus_two/versions/123')).toEqual({ status: 200, body: { model_version_status: [available] } });
    const { status, body } = await get(server, '/v1/models/half_plus_two/metadata');
    expect(status).toBe(200);
    expect(body.model_spec).toEqual({ name: 'half_plus_two', signature_name: '', version: '123' });
    const signatures = body.metadata.signature_def.signature_def;
    // The five signatures TF Serving's saved_model_half_plus_two.py exports.
    expect(Object.keys(signatures).sort()).toEqual(['classify_x_to_y', 'regress_x2_to_y3', 'regress_x_to_y', 'regress_x_to_y2', 'serving_default']);
    expect(signatures.serving_default).toEqual({
      inputs: { x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '1', name: '' }], unknown_rank: false }, name: 'x:0' } },
      outputs: { y: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '1', name: '' }], unknown_rank: false }, name: 'y:0' } },
      method_name: 'tensorflow/serving/predict',
    });
    expect(signatures.classify_x_to_y.inputs.inputs).toEqual({ dtype: 'DT_STRING', tensor_shape: { dim: [], unknown_rank: true }, name: 'tf_example:0' });
  });

  it("answers Vertex AI's predict (PredictResponse: predictions and which model served them), :rawPredict and the health route", async () => {
    expect(await post(server, '/v1/projects/p1/locations/europe-west4/endpoints/123456:predict', { instances: [2.0, 4.0], parameters: {} })).toEqual({
      status: 200,
      body: {
        predictions: [3.0, 4.0],
        deployedModelId: '123',
        model: 'projects/p1/locations/europe-west4/models/half_plus_two',
        modelDisplayName: 'half_plus_two',
        modelVersionId: '123',
      },
    });
    // rawPredict hands the body to the container's predict route as it is and returns its answer as it is.
    const raw = '/v1/projects/p1/locations/europe-west4/endpoints/123456:rawPredict';
    expect(await post(server, raw, { instances: [2.0, 4.0] })).toEqual({ status: 200, body: { predictions: [3.0, 4.0] } });
    expect(await post(server, raw, { signature_name: 'serving_default', inputs: { x: [[6.0]] } })).toEqual({ status: 200, body: { outputs: [[5.0]] } });
    expect((await post(server, raw, { instances: [] })).status).toBe(400);
    expect((await post(server, '/v1/projects/p1/locations/europe-west4/endpoints/123456:predict', { inputs: [1.0] })).body.error).toMatch(/needs "instances"/);
    expect(await get(server, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it.each([
    ['invalid JSON', PREDICT, '{"instances": [2.0,', 400, /JSON Parse error/],
    ['a non-object body', PREDICT, '[2.0]', 400, /must be a JSON object/],
    ['a wrong field type', PREDICT, { instances: ['two'] }, 400, /needs a number, got a string/],
    ['instances that are not a list', PREDICT, { instances: { x: 1 } }, 400, /"instances" must be a list/],
    ['a ragged tensor', PREDICT, { instances: [[1], [2, 3]] }, 400, /not a dense tensor/],
    ['invalid base64', PREDICT, { signature_name: 'classify_x_to_y', instances: [{ b64: 'not base64!' }] }, 400, /not valid base64/],
    ['an unknown signature', PREDICT, { signature_name: 'nope', instances: [1] }, 400, /Serving signature name: "nope" not found/],
    ['an unknown model', '/v1/models/nope:predict', { instances: [1] }, 404, /Servable not found for request: Latest\(nope\)/],
    ['an unknown version', '/v1/models/half_plus_two/versions/7:predict', { instances: [1] }, 404, /Specific\(half_plus_two, 7\)/],
    ['an unknown label', '/v1/models/half_plus_two/labels/canary:predict', { instances: [1] }, 400, /Unrecognized servable version label: canary/],
    ['a non-numeric version', '/v1/models/half_plus_two/versions/latest:predict', { instances: [1] }, 400, /invalid version 'latest'/],
    ['".." as the model name', '/v1/models/..:predict', { instances: [1] }, 400, /invalid model name '..'/],
    ['an encoded "../" in the model name', '/v1/models/%2E%2E%2Fsecrets:predict', { instances: [1] }, 400, /invalid model name '..\/secrets'/],
    ['an empty list of examples', '/v1/models/half_plus_two:classify', { examples: [] }, 400, /'examples' value is an empty array/],
    ['an unknown route', '/v2/whatever', {}, 404, /Malformed request: POST \/v2\/whatever/],
    ['an engine error', PREDICT, { instances: [13] }, 400, /input 13 is refused by the test engine/],
  ])('%s gets a clear error, and the next good request succeeds', async (_what, route, body, status, message) => {
    const reply = await post(server, route, body);
    expect(reply.status).toBe(status);
    expect(reply.body.error).toMatch(message);
    expect(await post(server, PREDICT, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
  });

  it('refuses the wrong HTTP method with 405', async () => {
    const res = await fetch(`${server.url}/v1/models/half_plus_two`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(((await res.json()) as { error: string }).error).toMatch(/DELETE is not allowed/);
  });

  it('refuses oversize bodies with 413, declared or streamed', async () => {
    const big = JSON.stringify({ instances: Array.from({ length: 2000 }, (_, i) => i) });
    expect(big.length).toBeGreaterThan(4096);
    const declared = await post(server, PREDICT, big);
    expect(declared.status).toBe(413);
    expect(declared.body.error).toMatch(/larger than the limit of 4096 bytes/);

    // Chunked upload without Content-Length: the limit is enforced while the body streams in.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${server.url}${PREDICT}`, { method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(big.slice(i * 1000, (i + 1) * 1000));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error).toMatch(/larger than the limit/);
    expect(await post(server, PREDICT, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
  });

  it('answers a slow client with 408 without holding up others', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    const received = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c) => (text += c)).on('close', () => resolve(text));
    });
    socket.write(`POST ${PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"instances": [`);
    // While the slow client dawdles, others are served.
    expect(await post(server, PREDICT, { instances: [4.0] })).toEqual({ status: 200, body: { predictions: [4.0] } });
    const response = await received;
    expect(response).toMatch(/^HTTP\/1.1 408/);
    expect(response).toMatch(/"error":"the request did not arrive in time/);
    expect(await post(server, PREDICT, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
  });

  it('exposes Prometheus metrics', async () => {
    const { status, body } = await get(server, '/monitoring/prometheus/metrics');
    expect(status).toBe(200);
    expect(body).toMatch(/^tensorsky_serve_requests_total\{model="half_plus_two",api="predict",code="200"\} \d+$/m);
    expect(body).toMatch(/^tensorsky_serve_request_errors_total\{model="half_plus_two",api="predict",code="400"\} \d+$/m);
    expect(body).toMatch(/^tensorsky_serve_request_latency_seconds_bucket\{le="\+Inf",model="half_plus_two",api="predict"\} \d+$/m);
    expect(body).toMatch(/^tensorsky_serve_batch_size_count\{model="half_plus_two"\} \d+$/m);
    expect(body).toMatch(/^tensorsky_serve_loaded_versions\{model="half_plus_two"\} 1$/m);
    expect(body).toMatch(/^tensorsky_serve_workers 2$/m);
  });
});

describe('model repository', () => {
  it('serves versions and labels of a config file: latest, each by number, by label', async () => {
    const [config] = parseModelConfig(
      `model_config_list { config { name: 'hp' base_path: '${TWO_VERSIONS}' model_version_policy { all {} }
         version_labels { key: 'stable' value: 123 } version_labels { key: 'canary' value: 124 } } }`,
      'inline.config',
    );
    const server = await startTestServer({ models: [config], workers: 1 });
    try {
      const status = await get(server, '/v1/models/hp');
      expect(status.body.model_version_status.map((s: { version: string; state: string }) => `${s.version} ${s.state}`)).toEqual([
        '124 AVAILABLE',
        '123 AVAILABLE',
      ]);
      for (const route of ['/v1/models/hp', '/v1/models/hp/versions/123', '/v1/models/hp/versions/124', '/v1/models/hp/labels/stable']) {
        expect(await post(server, `${route}:predict`, { instances: [1.0] })).toEqual({ status: 200, body: { predictions: [2.5] } });
      }
      expect((await get(server, '/v1/models/hp/labels/canary/metadata')).body.model_spec.version).toBe('124');
      expect((await get(server, '/v1/models/hp/metadata')).body.model_spec.version).toBe('124');
    } finally {
      await server.close();
    }
  });

  it('says when a version has random weights: in the log, its metadata and /healthz, not in TF Serving status', async () => {
    const base = await tempDir('serve-provenance-');
    onTestFinished(() => fs.rm(base, { recursive: true, force: true }));
    await addVersion(base, path.join(HALF_PLUS_TWO, '00000123'), 1);
    const provenance: Provenance = {
      schema: 1,
      exporter: { name: '@tensorsky/export', version: '0.1.0' },
      exportedAt: '2025-01-02T03:04:05.678Z',
      model: { kind: 'built-in', name: 'inception_v3' },
      weights: { kind: 'random', seed: 7 },
    };
    await fs.mkdir(path.join(base, '1', 'assets.extra'));
    await fs.writeFile(path.join(base, '1', 'assets.extra', PROVENANCE_FILE), serializeProvenance(provenance));
    const log: string[] = [];
    const server = await startTestServer({ models: [model('hp', base)], workers: 1, log: (line) => log.push(line) });
    try {
      const warning = 'this model has random weights (seed 7): its labels mean nothing';
      expect(log).toContain(`model hp version 1: warning: ${warning}`);
      const { body } = await get(server, '/v1/models/hp/metadata');
      expect(Object.keys(body.metadata)).toEqual(['signature_def', 'tensorsky']);
      expect(body.metadata.tensorsky).toEqual({ provenance, warnings: [warning] });
      expect(await get(server, '/healthz')).toEqual({ status: 200, body: { status: 'ok', warnings: [`model hp version 1: ${warning}`] } });
      expect((await get(server, '/v1/models/hp')).body).toEqual({
        model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
      });
    } finally {
      await server.close();
    }
  });

  it('switches versions under load with zero failed requests', async () => {
    const base = await tempDir('serve-switch-');
    onTestFinished(() => fs.rm(base, { recursive: true, force: true }));
    await addVersion(base, path.join(HALF_PLUS_TWO, '00000123'), 1);
    // Loads spread over many event-loop turns: a worker given predictions while it loads would fail them.
    const server = await startTestServer({ models: [model('hp', base)], pollIntervalMs: 50 }, { delayMs: 2, loadSteps: 50 });
    const { answers, failures, stop } = trafficOn(server, '/v1/models/hp:predict', 3000);
    try {
      await waitFor('traffic on version 1', () => answers[0].length >= 10);
      // half_plus_three arrives as version 2; once the server has seen it, version 1 disappears from disk.
      await addVersion(base, path.join(HALF_PLUS_THREE, '00000123'), 2);
      await waitFor('version 2 to be noticed', async () => (await get(server, '/v1/models/hp/versions/2')).status === 200);
      await fs.rm(path.join(base, '1'), { recursive: true });
      await waitFor('version 1 to be unloaded', async () => {
        const { body } = await get(server, '/v1/models/hp');
        return JSON.stringify(body.model_version_status.map((s: { state: string }) => s.state)) === '["AVAILABLE","END"]';
      });
      const served = answers.map((a) => a.length);
      await waitFor('more traffic on version 2', () => answers.every((a, i) => a.length >= served[i] + 5));
    } finally {
      await stop();
      await server.close();
    }
    expect(failures).toEqual([]);
    for (const a of answers) {
      // 0.5 * 2 + 2 from half_plus_two, then 0.5 * 2 + 3 from half_plus_three, never back.
      expect(a[0]).toBe(3.0);
      expect(a.at(-1)).toBe(4.0);
      const firstNew = a.indexOf(4.0);
      expect(a.slice(0, firstNew).every((v) => v === 3.0)).toBe(true);
      expect(a.slice(firstNew).every((v) => v === 4.0)).toBe(true);
    }
  });

  it('keeps serving version 3 under load when a corrupt version 4 is published, and reports 4 failed', async () => {
    const base = await tempDir('serve-corrupt-');
    onTestFinished(() => fs.rm(base, { recursive: true, force: true }));
    await addVersion(base, path.join(HALF_PLUS_TWO, '00000123'), 3);
    const server = await startTestServer({ models: [model('hp', base)], pollIntervalMs: 50 }, { delayMs: 1 });
    const { answers, failures, stop } = trafficOn(server, '/v1/models/hp:predict', 5000);
    let status: unknown;
    try {
      await waitFor('traffic on version 3', () => answers[0].length >= 10);
      // Version 4 arrives complete (renamed into place) but with its saved_model.pb cut in half.
      const staging = path.join(base, '.incoming-4');
      await fs.cp(path.join(HALF_PLUS_THREE, '00000123'), staging, { recursive: true });
      const pb = path.join(staging, 'saved_model.pb');
      await fs.truncate(pb, (await fs.stat(pb)).size >> 1);
      await fs.rename(staging, path.join(base, '4'));
      await waitFor('version 4 to fail', async () => (await get(server, '/v1/models/hp/versions/4')).body.model_version_status?.[0]?.state === 'END');
      // Several more scans (each retries version 4) under traffic.
      const served = answers.map((a) => a.length);
      await waitFor('more traffic on version 3', () => answers.every((a, i) => a.length >= served[i] + 50));
      status = (await get(server, '/v1/models/hp')).body;
    } finally {
      await stop();
      await server.close();
    }
    expect(failures).toEqual([]);
    for (const a of answers) expect(a.every((v) => v === 3.0)).toBe(true);
    expect(status).toEqual({
      model_version_status: [
        { version: '4', state: 'END', status: { error_code: 'UNKNOWN', error_message: expect.stringMatching(/saved_model\.pb/) } },
        { version: '3', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      ],
    });
  });

  it('says which address is taken when it cannot listen', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(startTestServer({ models: [model('hp', HALF_PLUS_TWO)], port, workers: 1 })).rejects.toThrow(
        new RegExp(`cannot listen for REST on 127.0.0.1:${port}: .*EADDRINUSE.*; choose another --rest_api_port or --host$`),
      );
      await expect(startTestServer({ models: [model('hp', HALF_PLUS_TWO)], grpcPort: port, workers: 1 })).rejects.toThrow(
        new RegExp(`cannot listen for gRPC on 127.0.0.1:${port}: .*; choose another --port or --host$`),
      );
    } finally {
      blocker.close();
    }
  });

  it('refuses to start without a model repository', async () => {
    await expect(startTestServer({ models: [model('m', '/nonexistent/models')] })).rejects.toThrow(
      /model base path \/nonexistent\/models is not a directory/,
    );
  });
});

describe('throughput and robustness', () => {
  it('batches concurrent requests into one engine call', async () => {
    const server = await startTestServer(
      { models: [model('hp', HALF_PLUS_TWO)], workers: 1, maxBatchSize: 8, batchTimeoutMicros: 200_000 },
      { delayMs: 10 },
    );
    try {
      const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => post(server, '/v1/models/hp:predict', { instances: [i] })));
      expect(replies.map((r) => r.body.predictions[0])).toEqual([2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5]);
      const metrics = (await get(server, '/monitoring/prometheus/metrics')).body as string;
      expect(metrics).toMatch(/^tensorsky_serve_batch_size_bucket\{le="8",model="hp"\} 1$/m);
      expect(metrics).toMatch(/^tensorsky_serve_batch_size_bucket\{le="4",model="hp"\} 0$/m);
    } finally {
      await server.close();
    }
  });

  it('refuses work beyond the queue bound with 503 and Retry-After, and recovers', async () => {
    const server = await startTestServer(
      { models: [model('hp', HALF_PLUS_TWO)], workers: 1, maxBatchSize: 1, maxQueuedRequests: 2 },
      { delayMs: 300 },
    );
    try {
      const predict = async () => {
        const res = await fetch(`${server.url}/v1/models/hp:predict`, { method: 'POST', body: JSON.stringify({ instances: [2.0] }) });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any };
      };
      const replies = await Promise.all(Array.from({ length: 6 }, predict));
      const refused = replies.filter((r) => r.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0].body.error).toMatch(/overloaded/);
      expect(refused.every((r) => r.retryAfter === '1')).toBe(true);
      expect(replies.filter((r) => r.status === 200).every((r) => r.body.predictions[0] === 3)).toBe(true);
      expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
      expect(await post(server, '/v1/models/hp:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    } finally {
      await server.close();
    }
  });

  it('survives an engine worker dying: that request gets 500, the next ones succeed', async () => {
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)], workers: 1 }, { crashOn: 666 });
    try {
      const crashed = await post(server, '/v1/models/hp:predict', { instances: [666] });
      expect(crashed.status).toBe(500);
      expect(crashed.body.error).toMatch(/engine worker stopped while running this request/);
      expect(await post(server, '/v1/models/hp:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    } finally {
      await server.close();
    }
  });

  it('drains requests in flight on close, then refuses connections', async () => {
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)], workers: 1, maxBatchSize: 1 }, { delayMs: 150 });
    const inFlight = Array.from({ length: 4 }, (_, i) => post(server, '/v1/models/hp:predict', { instances: [i] }));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await server.close();
    // Four requests at 150 ms each on one worker: close waited for them.
    expect(Date.now() - started).toBeGreaterThan(300);
    expect((await Promise.all(inFlight)).map((r) => r.body.predictions[0])).toEqual([2, 2.5, 3, 3.5]);
    await expect(post(server, '/v1/models/hp:predict', { instances: [1] })).rejects.toThrow();
  });
});
