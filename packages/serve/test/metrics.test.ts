// Prometheus metrics under TF Serving's names, scraped at the path of its --monitoring_config_file
// (tensorflow_model_server_test.py's testPrometheusEndpoint looks for '# TYPE' at
// /monitoring/prometheus/metrics). Names and labels as TF Serving's PrometheusExporter writes them
// (util/prometheus_exporter.cc: "/tensorflow/serving/request_count" becomes
// ":tensorflow:serving:request_count"; servables/tensorflow/util.cc: labels model_name and status, or
// model_name, API and entrypoint, latency in microseconds).
import * as grpc from '@grpc/grpc-js';
import { DataType, tensorProto } from '@tensorsky/saved-model';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { ModelServer } from '../src/index.js';
import { PREDICTION_SERVICE } from '../src/grpc-proto.js';
import { grpcClient } from './support/grpc-client.js';
import { HALF_PLUS_TWO, get, model, post, startTestServer } from './support/harness.js';

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The value of the one sample line matching `series` (a regex of the name and labels). */
function sample(text: string, series: RegExp): number {
  const lines = text.split('\n').filter((line) => !line.startsWith('#') && series.test(line.slice(0, line.lastIndexOf(' '))));
  expect(lines, `one sample of ${series}`).toHaveLength(1);
  return Number(lines[0].slice(lines[0].lastIndexOf(' ') + 1));
}

describe("TF Serving's metrics", () => {
  it('counts REST and gRPC requests by model and status, with latency in microseconds, plus graph runs and process metrics', async () => {
    server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], grpcPort: 0 });
    const client = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
    onTestFinished(() => client.close());
    for (let i = 0; i < 3; i++) expect((await post(server, '/v1/models/default:predict', { instances: [1.0, 2.0] })).status).toBe(200);
    expect((await post(server, '/v1/models/default/versions/999:predict', { instances: [1.0] })).status).toBe(404);
    expect((await post(server, '/v1/models/default:predict', { instances: ['x'] })).status).toBe(400);
    const predict = (version?: number) =>
      new Promise<unknown>((resolve, reject) =>
        client.Predict(
          { model_spec: { name: 'default', ...(version ? { version: { value: version } } : {}) }, inputs: { x: tensorProto(DataType.DT_FLOAT, [1], [2]) } },
          { deadline: Date.now() + 10_000 },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    await predict();
    await expect(predict(999)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });

    const { status, body: text } = await get(server, '/monitoring/prometheus/metrics');
    expect(status).toBe(200);
    expect(text).toContain('# TYPE :tensorflow:serving:request_count counter');
    expect(text).toContain('# TYPE :tensorflow:serving:request_latency histogram');
    expect(sample(text, /^:tensorflow:serving:request_count\{model_name="default",status="OK"\}$/)).toBe(4);
    expect(sample(text, /^:tensorflow:serving:request_count\{model_name="default",status="NOT_FOUND"\}$/)).toBe(2);
    expect(sample(text, /^:tensorflow:serving:request_count\{model_name="default",status="INVALID_ARGUMENT"\}$/)).toBe(1);
    // Latency of successful requests only, by API and entrypoint, in TF's buckets (10 * 1.8^i us).
    expect(sample(text, /^:tensorflow:serving:request_latency_count\{model_name="default",API="predict",entrypoint="REST"\}$/)).toBe(3);
    expect(sample(text, /^:tensorflow:serving:request_latency_count\{model_name="default",API="Predict",entrypoint="GRPC"\}$/)).toBe(1);
    expect(sample(text, /^:tensorflow:serving:request_latency_bucket\{le="\+Inf",model_name="default",API="predict",entrypoint="REST"\}$|^:tensorflow:serving:request_latency_bucket\{model_name="default",API="predict",entrypoint="REST",le="\+Inf"\}$/)).toBe(3);
    expect(text).toMatch(/^:tensorflow:serving:request_latency_bucket\{.*le="18"/m);
    const micros = sample(text, /^:tensorflow:serving:request_latency_sum\{model_name="default",API="predict",entrypoint="REST"\}$/);
    expect(micros).toBeGreaterThan(3 * 10); // microseconds, not seconds
    expect(micros).toBeLessThan(3 * 30e6);
    // Each successful prediction ran one graph (nothing batched them together here).
    expect(sample(text, /^:tensorflow:core:graph_runs$/)).toBe(4);
    expect(sample(text, /^:tensorflow:core:graph_run_time_usecs$/)).toBeGreaterThan(0);
    // Node's process metrics.
    expect(sample(text, /^process_cpu_user_seconds_total$/)).toBeGreaterThan(0);
    expect(sample(text, /^process_resident_memory_bytes$/)).toBeGreaterThan(10e6);
    // This server's own series stay.
    expect(sample(text, /^tensorsky_serve_requests_total\{model="default",api="predict",code="200"\}$/)).toBe(3);
  });

  it('serves metrics at the monitoring config path only, and none when it is disabled', async () => {
    server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], metricsPath: '/metrics' });
    expect((await get(server, '/metrics')).body).toContain('# TYPE :tensorflow:serving:request_count counter');
    expect((await get(server, '/monitoring/prometheus/metrics')).status).toBe(404);
    await server.close();
    server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], metricsPath: null });
    expect((await get(server, '/monitoring/prometheus/metrics')).status).toBe(404);
  });
});
