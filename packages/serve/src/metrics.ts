// Prometheus metrics (prom-client, text exposition format 0.0.4), served on the REST port at the path of
// TF Serving's --monitoring_config_file (default /monitoring/prometheus/metrics). TF Serving's own
// series, under the names its PrometheusExporter gives them ("/tensorflow/serving/request_count" becomes
// ":tensorflow:serving:request_count"), so that dashboards built for TF Serving work:
// - :tensorflow:serving:request_count{model_name,status}: every REST and gRPC request, with TF's status
//   code name (OK, INVALID_ARGUMENT, NOT_FOUND, ...), as RecordModelRequestCount (servables/tensorflow/util.cc);
// - :tensorflow:serving:request_latency{model_name,API,entrypoint}: microseconds, successful requests
//   only, buckets Exponential(10, 1.8, 33) as TF's;
// - :tensorflow:core:graph_runs and :tensorflow:core:graph_run_time_usecs: jobs run by an engine worker
//   (one batch is one graph run) and their time (tensorflow/core/common_runtime/metrics.cc).
// Plus Node's process metrics (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*), and
// this server's tensorsky_serve_* series (HTTP status codes, client aborts, batch sizes, queue, workers).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** tsl::monitoring::Buckets::Exponential(10, 1.8, 33): 10 * 1.8^i microseconds, i < 33 (~20 minutes). */
const TF_LATENCY_BUCKETS_USEC = Array.from({ length: 33 }, (_, i) => 10 * 1.8 ** i);

/** Values sampled when the metrics are scraped. */
export interface MetricsSnapshot {
  availableVersions: Record<string, number>;
  queuedRequests: number;
  workers: number;
}

export class ServeMetrics {
  readonly registry = new Registry();
  /** The values of the scrape under way, read by the gauges' collect(). */
  private sampled: MetricsSnapshot = { availableVersions: {}, queuedRequests: 0, workers: 0 };

  private readonly tfRequests = new Counter({
    name: ':tensorflow:serving:request_count',
    help: 'The total number of requests.',
    labelNames: ['model_name', 'status'],
    registers: [this.registry],
  });
  private readonly tfLatency = new Histogram({
    name: ':tensorflow:serving:request_latency',
    help: 'Distribution of wall time (in microseconds) for Tensorflow Serving request.',
    labelNames: ['model_name', 'API', 'entrypoint'],
    buckets: TF_LATENCY_BUCKETS_USEC,
    registers: [this.registry],
  });
  private readonly graphRuns = new Counter({
    name: ':tensorflow:core:graph_runs',
    help: 'The number of graph executions used to collect :tensorflow:core:graph_run_time_usecs.',
    registers: [this.registry],
  });
  private readonly graphRunTime = new Counter({
    name: ':tensorflow:core:graph_run_time_usecs',
    help: 'The total time spent on executing graphs in microseconds.',
    registers: [this.registry],
  });
  private readonly requests = new Counter({
    name: 'tensorsky_serve_requests_total',
    help: 'HTTP requests by model, API and status code ("aborted": the client left first).',
    labelNames: ['model', 'api', 'code'],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'tensorsky_serve_request_errors_total',
    help: 'HTTP requests answered with an error status (4xx, 5xx).',
    labelNames: ['model', 'api', 'code'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'tensorsky_serve_request_latency_seconds',
    help: 'Time from request start to response end.',
    labelNames: ['model', 'api'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'tensorsky_serve_batch_size',
    help: 'Examples per job run by an engine worker.',
    labelNames: ['model'],
    buckets: BATCH_SIZE_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const sampled = (name: string, help: string, set: (gauge: Gauge, s: MetricsSnapshot) => void, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect: function (this: Gauge) {
          set(this, metrics.sampled);
        },
      });
    const metrics = this;
    sampled('tensorsky_serve_loaded_versions', 'Model versions in state AVAILABLE.', (g, s) => {
      g.reset();
      for (const [model, n] of Object.entries(s.availableVersions)) g.set({ model }, n);
    }, ['model']);
    sampled('tensorsky_serve_queued_requests', 'Requests accepted and waiting for an engine worker.', (g, s) => g.set(s.queuedRequests));
    sampled('tensorsky_serve_workers', 'Engine worker threads running.', (g, s) => g.set(s.workers));
  }

  /**
   * Records one REST request; `model` is "" for routes without a (known) model, `code` the HTTP status
   * sent or "aborted" when the client left before the whole answer was sent, `status` TF's status code
   * name (OK, NOT_FOUND, ...); `tfApi` undefined for routes TF Serving does not have (health, metrics).
   */
  recordRequest(model: string, api: string, code: string, seconds: number, status: string, tfApi?: string): void {
    const labels = { model, api };
    this.requests.inc({ ...labels, code });
    if (Number(code) >= 400) this.errors.inc({ ...labels, code });
    this.latency.observe(labels, seconds);
    if (tfApi !== undefined) this.recordTfRequest(model, tfApi, 'REST', status, seconds);
  }

  /** TF Serving's request count and (successful requests) latency, for REST and GRPC entrypoints. */
  recordTfRequest(model: string, api: string, entrypoint: 'REST' | 'GRPC', status: string, seconds: number): void {
    this.tfRequests.inc({ model_name: model, status });
    if (status === 'OK') this.tfLatency.observe({ model_name: model, API: api, entrypoint }, seconds * 1e6);
  }

  /** One job taken by an engine worker, with `examples` examples. */
  recordBatch(model: string, examples: number): void {
    this.batchSize.observe({ model }, examples);
  }

  /** One job run by an engine worker, `seconds` from its start to its result. */
  recordGraphRun(seconds: number): void {
    this.graphRuns.inc();
    this.graphRunTime.inc(Math.round(seconds * 1e6));
  }

  render(snapshot: MetricsSnapshot): Promise<string> {
    this.sampled = snapshot;
    return this.registry.metrics();
  }
}
