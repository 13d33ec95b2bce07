// Prometheus metrics in the text exposition format (version 0.0.4), served at
// /monitoring/prometheus/metrics like TF Serving's --monitoring_config_file endpoint.

type Labels = Record<string, string>;

const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels, by = 1): void {
    const key = labelKey(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${formatLabels(labels)} ${value}`);
    return lines;
  }
}

class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    this.buckets.forEach((le, i) => {
      if (value <= le) s.counts[i]++;
    });
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: String(le) })} ${counts[i]}`));
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${sum}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
    return lines;
  }
}

/** Values sampled when the metrics are scraped. */
export interface MetricsSnapshot {
  availableVersions: Record<string, number>;
  queuedRequests: number;
  workers: number;
}

export class ServeMetrics {
  readonly requests = new Counter('tensorsky_serve_requests_total', 'HTTP requests by model, API and status code ("aborted": the client left first).');
  readonly errors = new Counter('tensorsky_serve_request_errors_total', 'HTTP requests answered with an error status (4xx, 5xx).');
  readonly latency = new Histogram('tensorsky_serve_request_latency_seconds', 'Time from request start to response end.', LATENCY_BUCKETS_SECONDS);
  readonly batchSize = new Histogram('tensorsky_serve_batch_size', 'Examples per job run by an engine worker.', BATCH_SIZE_BUCKETS);

  /**
   * Records one request; `model` is "" for routes without a (known) model, `code` the HTTP status sent,
   * or "aborted" when the client left before the whole answer was sent.
   */
  recordRequest(model: string, api: string, code: string, seconds: number): void {
    const labels = { model, api };
    this.requests.inc({ ...labels, code });
    if (Number(code) >= 400) this.errors.inc({ ...labels, code });
    this.latency.observe(labels, seconds);
  }

  render(snapshot: MetricsSnapshot): string {
    const lines = [
      ...this.requests.render(),
      ...this.errors.render(),
      ...this.latency.render(),
      ...this.batchSize.render(),
      '# HELP tensorsky_serve_loaded_versions Model versions in state AVAILABLE.',
      '# TYPE tensorsky_serve_loaded_versions gauge',
      ...Object.entries(snapshot.availableVersions).map(([model, n]) => `tensorsky_serve_loaded_versions${formatLabels({ model })} ${n}`),
      '# HELP tensorsky_serve_queued_requests Requests accepted and waiting for an engine worker.',
      '# TYPE tensorsky_serve_queued_requests gauge',
      `tensorsky_serve_queued_requests ${snapshot.queuedRequests}`,
      '# HELP tensorsky_serve_workers Engine worker threads running.',
      '# TYPE tensorsky_serve_workers gauge',
      `tensorsky_serve_workers ${snapshot.workers}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels));
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
