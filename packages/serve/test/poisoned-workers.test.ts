// Poisoned workers and runaway requests, with the test engine: an engine failure (a WebAssembly trap)
// retires its worker before it takes another request; the compute budget (--rest_api_timeout_in_ms)
// answers 504; a request that went away or ran out of budget starts no further job.
import { describe, expect, it } from 'vitest';
import type { ModelServer } from '../src/index.js';
import { HALF_PLUS_TWO, get, model, post, startTestServer, waitFor } from './support/harness.js';

const PREDICT = '/v1/models/hp:predict';

async function metric(server: ModelServer, line: RegExp): Promise<number> {
  const text = (await get(server, '/monitoring/prometheus/metrics')).body as string;
  const match = new RegExp(`^${line.source} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

const jobsRun = (server: ModelServer) => metric(server, /tensorsky_serve_batch_size_count\{model="hp"\}/);

/** Sends a predict request that the test can abandon (the client closes its connection). */
function abandonable(server: ModelServer, instances: number[]) {
  const controller = new AbortController();
  const reply = fetch(server.url + PREDICT, { method: 'POST', body: JSON.stringify({ instances }), signal: controller.signal }).catch((err: Error) => err.name);
  return { abort: () => controller.abort(), reply };
}

describe('an engine failure', () => {
  it('fails that request with 500, replaces the worker, and says so in /healthz and model status meanwhile', async () => {
    const log: string[] = [];
    // Loads take a while (1000 event-loop turns), which keeps the replacement observable.
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)], workers: 1, log: (line) => log.push(line) }, { trapOn: 666, failOn: 13, loadSteps: 1000 });
    try {
      // An input error leaves the worker in place.
      expect((await post(server, PREDICT, { instances: [13] })).status).toBe(400);
      expect(log.filter((line) => /replac/.test(line))).toEqual([]);

      const trapped = await post(server, PREDICT, { instances: [666] });
      expect(trapped.status).toBe(500);
      expect(trapped.body.error).toBe(
        'the engine failed on this request (memory access out of bounds) and its worker is being replaced; if the request was large, send fewer or smaller instances',
      );
      expect(log).toContain('engine worker 1 failed (memory access out of bounds); replacing it');
      // The only worker is being replaced: nothing can run the version until its replacement has loaded it.
      const health = await get(server, '/healthz');
      expect(health.status).toBe(503);
      expect(health.body.error).toBe('no AVAILABLE version of model hp yet (engine workers being replaced: 1); retry shortly');
      expect((await get(server, '/v1/models/hp')).body.model_version_status[0].state).toBe('LOADING');

      await waitFor('the replacement worker', async () => (await get(server, '/healthz')).status === 200);
      expect((await get(server, '/healthz')).body).toEqual({ status: 'ok' });
      expect((await get(server, '/v1/models/hp')).body.model_version_status[0].state).toBe('AVAILABLE');
      for (let i = 0; i < 10; i++) expect(await post(server, PREDICT, { instances: [i] })).toEqual({ status: 200, body: { predictions: [0.5 * i + 2] } });
    } finally {
      await server.close();
    }
  });

  it('leaves the other requests unaffected, and /healthz warns while fewer workers serve', async () => {
    const log: string[] = [];
    // No batching: the failing request runs alone (a failed batch is retried request by request).
    const server = await startTestServer(
      { models: [model('hp', HALF_PLUS_TWO)], workers: 2, maxBatchSize: 1, maxQueuedRequests: 100, log: (line) => log.push(line) },
      { trapOn: 666, loadSteps: 1000 },
    );
    try {
      const good = Array.from({ length: 20 }, (_, i) => post(server, PREDICT, { instances: [i] }));
      const trapped = await post(server, PREDICT, { instances: [666] });
      expect(trapped.status).toBe(500);
      expect(trapped.body.error).toMatch(/^the engine failed on this request \(memory access out of bounds\)/);
      expect(await get(server, '/healthz')).toEqual({
        status: 200,
        body: { status: 'ok', warnings: ['1 engine worker is being replaced; serving with fewer workers meanwhile'] },
      });
      expect((await Promise.all(good)).map((r) => `${r.status} ${r.body.predictions}`)).toEqual(Array.from({ length: 20 }, (_, i) => `200 ${0.5 * i + 2}`));
      await waitFor('both workers serving again', async () => (await get(server, '/healthz')).body.warnings === undefined);
      expect(await metric(server, /tensorsky_serve_workers/)).toBe(2);
      for (let i = 0; i < 10; i++) expect(await post(server, PREDICT, { instances: [i] })).toEqual({ status: 200, body: { predictions: [0.5 * i + 2] } });
      expect(log.some((line) => /failed \(memory access out of bounds\); replacing it/.test(line))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('the compute budget and cancellation', () => {
  it('answers a request over --rest_api_timeout_in_ms with 504 long before its work would end', async () => {
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)], workers: 1, restApiTimeoutMs: 300 }, { slowOn: 7, slowMs: 3000 });
    try {
      const started = Date.now();
      const reply = await post(server, PREDICT, { instances: [7] });
      expect(reply.status).toBe(504);
      expect(reply.body.error).toBe(
        'Deadline exceeded: the answer was not ready within 300 ms (--rest_api_timeout_in_ms); send fewer instances per request or raise the limit',
      );
      // Generous bound: the engine takes 3000 ms; the deadline is 300 ms.
      expect(Date.now() - started).toBeLessThan(2500);
      expect(await metric(server, /tensorsky_serve_requests_total\{model="hp",api="predict",code="504"\}/)).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('starts no further job for a client that went away: queued jobs are dropped, a running one ends', async () => {
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)], workers: 1, maxBatchSize: 1 }, { slowOn: 7, slowMs: 1500 });
    try {
      // Five jobs of one example; the first is slow and running when its client leaves.
      const running = abandonable(server, [7, 1, 1, 1, 1]);
      await waitFor('the first job to start', async () => (await jobsRun(server)) === 1);
      // Three jobs, the first queued behind the slow one when its client leaves.
      const queued = abandonable(server, [1, 1, 1]);
      await waitFor('a queued request', async () => (await metric(server, /tensorsky_serve_queued_requests/)) === 1);
      running.abort();
      queued.abort();
      expect([await running.reply, await queued.reply]).toEqual(['AbortError', 'AbortError']);
      // Runs after the slow job: had the abandoned requests kept their jobs, they would run first.
      expect(await post(server, PREDICT, { instances: [2] })).toEqual({ status: 200, body: { predictions: [3] } });
      expect(await jobsRun(server)).toBe(2);
      expect(await metric(server, /tensorsky_serve_queued_requests/)).toBe(0);
      expect(await metric(server, /tensorsky_serve_requests_total\{model="hp",api="predict",code="aborted"\}/)).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('runs a request larger than max_batch_size as jobs of at most that size, answers in order', async () => {
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)], workers: 2, maxBatchSize: 4 });
    try {
      const instances = Array.from({ length: 18 }, (_, i) => i);
      expect(await post(server, PREDICT, { instances })).toEqual({ status: 200, body: { predictions: instances.map((x) => 0.5 * x + 2) } });
      expect(await jobsRun(server)).toBe(5);
      expect(await metric(server, /tensorsky_serve_batch_size_bucket\{le="4",model="hp"\}/)).toBe(5);
    } finally {
      await server.close();
    }
  });
});
