// The HTTP front: a small router for TF Serving's REST paths (plus Vertex AI's predict, health and
// metrics), request bodies read under a size limit and a deadline, a compute budget per request
// (--rest_api_timeout_in_ms), JSON errors with TF Serving's status codes, and draining for graceful
// shutdown. It never runs a model; it hands work to the service, with a signal that aborts when the
// client goes away or the budget runs out.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLIENT_CLOSED, ServeError, cancelled, deadlineExceeded, errorMessage, invalidArgument, notFound, shown, unavailable } from './errors.js';
import { answerExampleRequest } from './example-json.js';
import { JsonSyntaxError, parseServingJson, writeServingJson } from './json.js';
import type { VersionSpec } from './manager.js';
import type { MetricsSnapshot, ServeMetrics } from './metrics.js';
import { modelNameProblem } from './model-config.js';
import { DEFAULT_METRICS_PATH } from './monitoring-config.js';
import type { PredictionService } from './service.js';

export const METRICS_PATH = DEFAULT_METRICS_PATH;
export const HEALTH_PATH = '/healthz';

export interface HttpFrontOptions {
  /** Largest accepted request body; larger ones get 413 before or while they stream in. */
  maxRequestBytes: number;
  /** Deadline for a client to send its whole request (headers and body); slower ones get 408. */
  requestTimeoutMs: number;
  /** Budget for computing the answer once the request is in; beyond it, 504 and its work is dropped. 0: none. */
  restApiTimeoutMs: number;
  /** Where Prometheus metrics are served (--monitoring_config_file's path); null: nowhere. Default METRICS_PATH. */
  metricsPath?: string | null;
  log?: (line: string) => void;
}

/** Routes requests; the model name ("" when none) and API name label metrics. */
interface Route {
  model: string;
  api: string;
  methods: string[];
  handle(body: () => Promise<unknown>, signal: AbortSignal): Promise<Reply> | Reply;
}

/** A 200 answer: JSON, or plain text (metrics). */
type Reply = { json: unknown; text?: undefined } | { text: string };

/** What a 503 (overloaded, shutting down, not ready) asks clients to wait before retrying. */
const RETRY_AFTER_SECONDS = 1;
/** A deadline timer this late means the main thread was too busy to read the body, not that the client was slow. */
const OVERLOAD_LATENESS_MS = 200;

// TF Serving registers its handler for `(?i)/v1/.*` and parses paths with case-insensitive RE2 patterns
// (http_rest_api_util.cc: kPredictionApiGegex, kModelStatusApiRegex), then compares the captured method
// (`predict`) and subresource (`metadata`) case-sensitively (http_rest_api_handler.cc ProcessRequest):
// /V1/Models/m:predict is a predict, :PREDICT is a malformed request, /METADATA a status request.
const MODEL_PATH = /^\/v1\/models\/([^/]+?)(?:\/versions\/([^/]+?)|\/labels\/([^/]+?))?(\/metadata|:[A-Za-z]+)?$/i;
/** GET /v1/models with no model name: TF Serving's ProcessModelStatusRequest refuses it with 400. */
const MODELS_PATH = /^\/v1\/models$/i;
/** Everything TF Serving's REST handler is registered for; a path here that no pattern parses is a 400. */
const TF_SERVING_PATHS = /^\/v1\//i;
const VERTEX_PATH = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/endpoints\/([^/:]+):(predict|rawPredict)$/;

export class HttpFront {
  readonly server: http.Server;
  private inFlight = 0;
  private draining = false;
  private idle: (() => void) | undefined;
  private readonly log: (line: string) => void;

  constructor(
    private readonly service: PredictionService,
    private readonly metrics: ServeMetrics,
    private readonly snapshot: () => MetricsSnapshot,
    private readonly options: HttpFrontOptions,
  ) {
    this.log = options.log ?? (() => {});
    this.server = http.createServer(
      { connectionsCheckingInterval: Math.max(50, Math.min(1000, options.requestTimeoutMs / 4)) },
      (req, res) => void this.handle(req, res),
    );
    // Node's own deadlines back ours up: headers must arrive in time, and no request may take forever.
    this.server.headersTimeout = options.requestTimeoutMs;
    this.server.requestTimeout = options.requestTimeoutMs + 1000;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting connections, answers new requests with 503, and resolves when those in flight are done. */
  async drain(): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    this.inFlight++;
    let route: Route | undefined;
    let status: string = 'OK'; // TF's status code name, for its request_count metric
    const cancel = new AbortController();
    let budget: NodeJS.Timeout | undefined;
    res.on('close', () => {
      clearTimeout(budget);
      const answered = res.writableFinished;
      if (!answered) cancel.abort(cancelled('the client closed the connection before its answer'));
      // A response that did not go out whole went to a client that left: an abort, whatever its status.
      const code = answered ? String(res.statusCode) : 'aborted';
      if (!answered && status === 'OK') status = 'CANCELLED';
      const tfApi = route?.api === 'health' || route?.api === 'metrics' ? undefined : (route?.api ?? 'unknown');
      this.metrics.recordRequest(route?.model ?? '', route?.api ?? 'unknown', code, Number(process.hrtime.bigint() - started) / 1e9, status, tfApi);
      if (--this.inFlight === 0 && this.idle) this.idle();
    });
    if (this.draining) res.setHeader('Connection', 'close');
    try {
      if (this.draining) throw unavailable('the server is shutting down');
      route = this.route(req);
      if (!route.methods.includes(req.method ?? '')) {
        res.setHeader('Allow', route.methods.join(', '));
        throw new ServeError(405, `${req.method} is not allowed on ${pathOf(req)}; use ${route.methods.join(' or ')}`);
      }
      const deadline = Date.now() + this.options.requestTimeoutMs;
      const { restApiTimeoutMs } = this.options;
      const reply = await route.handle(async () => {
        const json = await this.readJson(req, deadline);
        if (restApiTimeoutMs > 0) {
          const expired = deadlineExceeded(
            `Deadline exceeded: the answer was not ready within ${restApiTimeoutMs} ms (--rest_api_timeout_in_ms); send fewer instances per request or raise the limit`,
          );
          budget = setTimeout(() => cancel.abort(expired), restApiTimeoutMs);
        }
        return json;
      }, cancel.signal);
      clearTimeout(budget);
      if (reply.text !== undefined) send(res, 200, reply.text, 'text/plain; version=0.0.4; charset=utf-8');
      else send(res, 200, writeServingJson(reply.json), 'application/json');
    } catch (err) {
      status = err instanceof ServeError ? err.code : 'INTERNAL';
      const httpStatus = err instanceof ServeError ? err.status : 500;
      if (httpStatus === 500) this.log(`internal error on ${req.method} ${pathOf(req)}: ${errorMessage(err)}`);
      if (httpStatus === CLIENT_CLOSED) return;
      if (httpStatus === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      // A body we did not read to the end leaves the connection unusable: close it after answering.
      if (!req.complete) res.setHeader('Connection', 'close');
      if (!res.headersSent && !res.destroyed) send(res, httpStatus, JSON.stringify({ error: errorMessage(err) }), 'application/json');
    }
  }

  private route(req: http.IncomingMessage): Route {
    const path = pathOf(req);
    const model = MODEL_PATH.exec(path);
    if (model) return this.modelRoute(model);
    const vertex = VERTEX_PATH.exec(path);
    if (vertex) {
      const endpoint = { project: decode(vertex[1], 'project'), location: decode(vertex[2], 'location'), id: decode(vertex[3], 'endpoint id') };
      const raw = vertex[4] === 'rawPredict';
      return {
        model: this.service.endpointModel(endpoint.id) ?? '',
        api: raw ? 'vertex_raw_predict' : 'vertex_predict',
        methods: ['POST'],
        handle: async (body, signal) => ({
          json: (await (raw ? this.service.vertexRawPredict(endpoint, await body(), signal) : this.service.vertexPredict(endpoint, await body(), signal))).body,
        }),
      };
    }
    if (path === HEALTH_PATH) {
      return {
        model: '',
        api: 'health',
        methods: ['GET'],
        handle: () => {
          const problem = this.service.healthProblem();
          if (problem) throw unavailable(problem);
          const warnings = this.service.warnings();
          return { json: warnings.length > 0 ? { status: 'ok', warnings } : { status: 'ok' } };
        },
      };
    }
    const metricsPath = this.options.metricsPath === undefined ? METRICS_PATH : this.options.metricsPath;
    if (metricsPath !== null && path === metricsPath) {
      return { model: '', api: 'metrics', methods: ['GET'], handle: async () => ({ text: await this.metrics.render(this.snapshot()) }) };
    }
    if (MODELS_PATH.test(path)) {
      const missingName = () => {
        throw invalidArgument('Missing model name in request.');
      };
      return { model: '', api: 'status', methods: ['GET'], handle: missingName };
    }
    // TF Serving: InvalidArgument "Malformed request" (400) within its handler's paths; elsewhere no handler (404).
    if (TF_SERVING_PATHS.test(path)) throw invalidArgument(`Malformed request: ${req.method} ${path}`);
    throw notFound(`Malformed request: ${req.method} ${path} is not a route of this server`);
  }

  private modelRoute(match: RegExpExecArray): Route {
    const [, rawName, rawVersion, rawLabel, suffix] = match;
    const name = decode(rawName, 'model name');
    const problem = modelNameProblem(name);
    if (problem) throw invalidArgument(`invalid model name '${shown(name)}': ${problem}`);
    let spec: VersionSpec = { kind: 'latest' };
    if (rawVersion !== undefined) {
      const version = decode(rawVersion, 'version');
      if (!/^\d{1,15}$/.test(version)) throw invalidArgument(`invalid version '${shown(version)}': versions are non-negative integers`);
      spec = { kind: 'version', version: Number(version) };
    } else if (rawLabel !== undefined) {
      spec = { kind: 'label', label: decode(rawLabel, 'label') };
    }
    const known = this.service.hasModel(name) ? name : '';
    // Any other case of "/metadata" matches TF's (?i) pattern but is not "metadata": a status request there.
    if (suffix === undefined || (suffix.toLowerCase() === '/metadata' && suffix !== '/metadata')) {
      return { model: known, api: 'status', methods: ['GET'], handle: () => ({ json: this.service.modelStatus(name, spec) }) };
    }
    if (suffix === '/metadata') {
      return { model: known, api: 'metadata', methods: ['GET'], handle: () => ({ json: this.service.modelMetadata(name, spec) }) };
    }
    if (suffix === ':predict') {
      return {
        model: known,
        api: 'predict',
        methods: ['POST'],
        handle: async (body, signal) => ({ json: (await this.service.predict(name, spec, await body(), signal)).body }),
      };
    }
    if (suffix === ':classify' || suffix === ':regress') {
      const method = suffix === ':classify' ? 'classify' : 'regress';
      return {
        model: known,
        api: method,
        methods: ['POST'],
        handle: async (body, signal) => ({ json: await answerExampleRequest(this.service, method, name, spec, await body(), signal) }),
      };
    }
    throw invalidArgument(`Malformed request: unknown method ${suffix} (methods are lower case); use :predict, :classify or :regress`);
  }

  /** Reads and parses a JSON body, enforcing the size limit while it streams and the request deadline. */
  private async readJson(req: http.IncomingMessage, deadline: number): Promise<unknown> {
    const bytes = await readBody(req, this.options.maxRequestBytes, deadline);
    try {
      return parseServingJson(bytes.toString('utf8'));
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err;
      throw invalidArgument(`JSON Parse error: ${err.message}`);
    }
  }
}

function readBody(req: http.IncomingMessage, limit: number, deadline: number): Promise<Buffer> {
  const tooLarge = () =>
    new ServeError(413, `the request body is larger than the limit of ${limit} bytes (--max_request_bytes); send fewer or smaller instances`);
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    // A stream error on a request ("aborted", ECONNRESET) is the client going away.
    const closed = () => finish(cancelled('the client closed the connection before sending the whole body'));
    const onError = closed;
    const onClose = closed;
    const onDeadline = () => {
      const late = Date.now() - deadline;
      // Data that arrived while this thread was busy is read in this turn's I/O phase: look after it.
      setImmediate(() => {
        if (req.complete) return;
        if (late > OVERLOAD_LATENESS_MS) finish(unavailable('the server is overloaded and could not read the request in time; retry later'));
        else finish(new ServeError(408, 'the request did not arrive in time; the client is too slow (send the whole body at once)'));
      });
    };
    const timer = setTimeout(onDeadline, Math.max(0, deadline - Date.now()));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function send(res: http.ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function pathOf(req: http.IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw invalidArgument(`the ${what} in the URL is not valid percent-encoding`);
  }
}
