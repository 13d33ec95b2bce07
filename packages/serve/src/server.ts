// Wires the serving stack together: repository poller -> version manager -> worker pool, and
// HTTP and gRPC fronts -> prediction service -> batching queue -> worker pool.
import fs from 'node:fs/promises';
import os from 'node:os';
import { imageLimits, type ImageLimits } from '@tensorsky/image';
import { BatchingQueue } from './batching.js';
import { ConfigReloader } from './config-reload.js';
import { ServeError, errorMessage } from './errors.js';
import { GrpcFront } from './grpc.js';
import { HttpFront } from './http.js';
import { ModelManager } from './manager.js';
import { ServeMetrics } from './metrics.js';
import { modelNameProblem, type ModelConfig } from './model-config.js';
import { RepositoryPoller } from './repository.js';
import { PredictionService } from './service.js';
import { WorkerPool, compiledModuleUrl } from './workers.js';

export interface ServeOptions {
  models: ModelConfig[];
  /** Interface to listen on (REST and gRPC); default 0.0.0.0 like TF Serving. */
  host?: string;
  /** REST API port: default 8501 (TF Serving's documented REST port); 0 picks a free port; null: no REST API. */
  port?: number | null;
  /** gRPC API port (TF Serving's --port, 8500 in its docs); 0 picks a free port; default (undefined or null): no gRPC API. */
  grpcPort?: number | null;
  /** Engine worker threads; default one per core. */
  workers?: number;
  /** Default 8. */
  maxBatchSize?: number;
  /** Default 2000. */
  batchTimeoutMicros?: number;
  /** Requests waiting for a worker before 503; default workers x max batch size x 8. */
  maxQueuedRequests?: number;
  /** Largest REST body or gRPC message; default 1572864 (1.5 MiB, Vertex AI's online prediction limit). */
  maxRequestBytes?: number;
  /**
   * What the images of one request may decode to, checked from their headers before any pixel is
   * allocated (default DEFAULT_IMAGE_LIMITS: 50 MP per image, 200 MP per request, 256 images, 256 GIF
   * frames). Passed to the engine as its `imageLimits` option.
   */
  imageLimits?: Partial<ImageLimits>;
  /** Deadline for receiving a whole request; default 30000. */
  requestTimeoutMs?: number;
  /**
   * Budget for computing a request's answer once received (TF Serving's --rest_api_timeout_in_ms):
   * beyond it the request gets 504 and its work not yet started is dropped; default 30000, 0 for none.
   */
  restApiTimeoutMs?: number;
  /**
   * Replay each version's warmup requests (assets.extra/tf_serving_warmup_requests, TF Serving's
   * --enable_model_warmup) in every engine worker before the version becomes AVAILABLE; default true.
   */
  enableModelWarmup?: boolean;
  /** How often base paths are scanned for new and removed versions; default 1000, 0 scans only at start. */
  pollIntervalMs?: number;
  /**
   * The --model_config_file `models` came from, re-read every `pollIntervalMs`
   * (--model_config_file_poll_wait_seconds; 0: never) and reloaded when it changed.
   */
  modelConfigFile?: { path: string; pollIntervalMs: number };
  /**
   * TF Serving's --allow_version_labels_for_unavailable_models: a new label may point at a version not
   * loaded yet. Without it, each label must point at an AVAILABLE version: after the initial load at
   * start (TF Serving checks before loading, so it refuses any label at start without the flag), and
   * before anything changes on a reload.
   */
  allowVersionLabelsForUnavailableModels?: boolean;
  /** Where Prometheus metrics are served on the REST port (--monitoring_config_file); null: nowhere. Default /monitoring/prometheus/metrics. */
  metricsPath?: string | null;
  /** Also serve gRPC on this UNIX socket (TF Serving's --grpc_socket_path). */
  grpcSocketPath?: string;
  /** Load attempts after the first failure before a version is given up (TF Serving's --max_num_load_retries); default 4. */
  maxNumLoadRetries?: number;
  /** gRPC server channel arguments (TF Serving's --grpc_channel_arguments), e.g. { 'grpc.max_connection_age_ms': 2000 }. */
  grpcChannelOptions?: Record<string, string | number>;
  /**
   * The engine module workers import (it exports createEngine; default: the predict-local adapter) and
   * the options passed to it (predict-local takes { backend: 'auto' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu',
   * threads }, threads defaulting to one per worker: the workers, one per core, share the cores, and
   * ONNX Runtime's threads lose throughput when oversubscribed).
   */
  engine?: { module?: string | URL; options?: Record<string, unknown> };
  log?: (line: string) => void;
}

export interface ModelServer {
  /** The REST API: http://host:port, with 127.0.0.1 in place of a wildcard host; '' when it is off (port: null). */
  url: string;
  /** The REST API's port; 0 when it is off. */
  port: number;
  /** The gRPC API: host:port (127.0.0.1 for a wildcard host) and port; undefined when it is off. */
  grpcAddress?: string;
  grpcPort?: number;
  /**
   * Serves a new model config (TF Serving's ServerCore::ReloadConfig, as HandleReloadConfigRequest does):
   * resolves once its new models are AVAILABLE; rejects with a ServeError when it is refused (labels).
   */
  reloadConfig(models: ModelConfig[]): Promise<void>;
  /** Graceful shutdown: stops accepting, finishes requests in flight, stops the workers. */
  close(): Promise<void>;
}

export class ServeStartError extends Error {
  override name = 'ServeStartError';
}

export async function startServer(options: ServeOptions): Promise<ModelServer> {
  const log = options.log ?? (() => {});
  const restPort = options.port === undefined ? 8501 : options.port;
  const grpcPort = options.grpcPort ?? null;
  if (restPort === null && grpcPort === null) throw new ServeStartError('nothing to listen on: both the REST and the gRPC API are off; give --port or --rest_api_port');
  await checkModels(options.models);
  const workers = options.workers ?? os.availableParallelism();
  const maxBatchSize = options.maxBatchSize ?? 8;
  let limits: ImageLimits;
  try {
    limits = imageLimits(options.imageLimits);
  } catch (err) {
    throw new ServeStartError(errorMessage(err));
  }
  const engineModule = options.engine?.module ?? compiledModuleUrl('predict-local-engine.js');
  const pool = await WorkerPool.start({
    size: workers,
    engineModule: String(engineModule),
    engineOptions: { ...options.engine?.options, imageLimits: limits },
    modelWarmup: options.enableModelWarmup ?? true,
    log,
  });
  try {
    const manager = new ModelManager(pool, { log, maxLoadAttempts: options.maxNumLoadRetries === undefined ? undefined : options.maxNumLoadRetries + 1 });
    for (const model of options.models) manager.addModel(model.name, model.versionLabels);
    const poller = new RepositoryPoller(
      options.models,
      // A scan that started before a reload removed its model reports nothing for it.
      (model, versions) => {
        if (manager.modelNames().includes(model.name)) manager.setAspiredVersions(model.name, versions);
      },
      (model, err) => log(`cannot scan ${model.basePath} for model ${model.name}: ${errorMessage(err)}`),
    );
    await poller.pollOnce();
    await manager.settled();
    reportInitialLoad(manager, options.models, log);
    const allowUnavailableLabels = options.allowVersionLabelsForUnavailableModels ?? false;
    try {
      manager.checkLabels(options.models, allowUnavailableLabels);
    } catch (err) {
      throw new ServeStartError(errorMessage(err));
    }
    const reloader = new ConfigReloader(options.models, manager, poller, { allowVersionLabelsForUnavailableModels: allowUnavailableLabels, log });

    const metrics = new ServeMetrics();
    const batching = new BatchingQueue(
      {
        maxBatchSize,
        batchTimeoutMicros: options.batchTimeoutMicros ?? 2000,
        maxQueuedRequests: options.maxQueuedRequests ?? workers * maxBatchSize * 8,
        idleWorkers: (key) => pool.idleWorkers(key),
      },
      (job) => {
        // A job's graph run lasts from a worker taking it to its result.
        let started: bigint | undefined;
        const result = pool.run({ ...job, onStart: () => ((started = process.hrtime.bigint()), job.onStart?.()) });
        void result.then(
          () => started !== undefined && metrics.recordGraphRun(Number(process.hrtime.bigint() - started) / 1e9),
          () => {},
        );
        return result;
      },
      (key, examples) => metrics.recordBatch(key.slice(0, key.lastIndexOf('@')), examples),
    );
    const maxRequestBytes = options.maxRequestBytes ?? 1572864;
    const service = new PredictionService(manager, batching, limits, () => pool.replacements);
    const front = new HttpFront(
      service,
      metrics,
      () => ({ availableVersions: manager.availableCounts(), queuedRequests: batching.queuedRequests, workers: pool.size }),
      {
        maxRequestBytes,
        requestTimeoutMs: options.requestTimeoutMs ?? 30000,
        restApiTimeoutMs: options.restApiTimeoutMs ?? 30000,
        metricsPath: options.metricsPath,
        log,
      },
    );
    const reloadConfig = async (models: ModelConfig[]) => {
      await checkModels(models).catch((err) => {
        throw new ServeError(400, errorMessage(err));
      });
      await reloader.reload(models);
    };
    const grpcFront = new GrpcFront(service, { maxRequestBytes, log, metrics, reloadConfig, channelOptions: options.grpcChannelOptions });
    const host = options.host ?? '0.0.0.0';
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    let restBound = 0;
    let grpcBound: number | undefined;
    try {
      if (restPort !== null) {
        restBound = (await front.listen(restPort, host).catch((err) => {
          throw new ServeStartError(`cannot listen for REST on ${host}:${restPort}: ${errorMessage(err)}; choose another --rest_api_port or --host`);
        })).port;
      }
      if (grpcPort !== null) {
        grpcBound = await grpcFront.listen(grpcPort, host).catch((err) => {
          throw new ServeStartError(`cannot listen for gRPC on ${host}:${grpcPort}: ${errorMessage(err)}; choose another --port or --host`);
        });
      }
      if (options.grpcSocketPath !== undefined) {
        // As gRPC's core does before binding a UNIX socket: a socket file left by an earlier server is replaced.
        if ((await fs.lstat(options.grpcSocketPath).catch(() => undefined))?.isSocket()) await fs.unlink(options.grpcSocketPath);
        await grpcFront.bind(`unix:${options.grpcSocketPath}`).catch((err) => {
          throw new ServeStartError(`cannot listen for gRPC on the UNIX socket ${options.grpcSocketPath}: ${errorMessage(err)}; choose another --grpc_socket_path`);
        });
      }
    } catch (err) {
      await Promise.all([front.drain(), grpcFront.drain()]);
      throw err;
    }
    poller.start(options.pollIntervalMs ?? 1000);
    if (options.modelConfigFile) reloader.watchFile(options.modelConfigFile.path, options.modelConfigFile.pollIntervalMs);
    let closing: Promise<void> | undefined;
    return {
      url: restPort === null ? '' : `http://${shownHost}:${restBound}`,
      port: restBound,
      ...(grpcBound === undefined ? {} : { grpcAddress: `${shownHost}:${grpcBound}`, grpcPort: grpcBound }),
      reloadConfig,
      close: () =>
        (closing ??= (async () => {
          await reloader.stop();
          await poller.stop();
          await Promise.all([front.drain(), grpcFront.drain()]);
          await pool.close();
        })()),
    };
  } catch (err) {
    await pool.close();
    throw err;
  }
}

async function checkModels(models: ModelConfig[]): Promise<void> {
  if (models.length === 0) throw new ServeStartError('no models to serve; give --model_base_path or --model_config_file');
  const names = new Set<string>();
  for (const model of models) {
    const problem = modelNameProblem(model.name);
    if (problem) throw new ServeStartError(`model name '${model.name}' is not allowed: ${problem}`);
    if (names.has(model.name)) throw new ServeStartError(`model '${model.name}' is configured twice`);
    names.add(model.name);
    const stat = await fs.stat(model.basePath).catch(() => undefined);
    if (!stat?.isDirectory()) {
      throw new ServeStartError(`model base path ${model.basePath} is not a directory; it should hold numbered version directories (e.g. ${model.basePath}/1/saved_model.pb)`);
    }
  }
}

/** Like TF Serving, refuse to start when a model's versions all failed to load; warn when none exist yet. */
function reportInitialLoad(manager: ModelManager, models: ModelConfig[], log: (line: string) => void): void {
  const available = manager.availableCounts();
  for (const model of models) {
    if (available[model.name] > 0) continue;
    let statuses;
    try {
      statuses = manager.status(model.name, { kind: 'latest' });
    } catch {
      log(`no versions of model ${model.name} found under ${model.basePath} yet; waiting for one to appear`);
      continue;
    }
    const failed = statuses.find((s) => s.status.error_code !== 'OK');
    if (failed) {
      throw new ServeStartError(`model ${model.name} version ${failed.version} failed to load: ${failed.status.error_message}`);
    }
  }
}
