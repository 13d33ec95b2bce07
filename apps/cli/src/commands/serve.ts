import path from 'node:path';
import {
  DEFAULT_VERSION_POLICY,
  readModelConfigFile,
  startServer,
  type ModelConfig,
} from '@tensorsky/serve';
import type { CommandModule } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { FlagError, UsageError } from '../usage.js';
import { IGNORED_TF_SERVING_OPTIONS, TF_SERVING_OPTIONS, tfServingServeOptions } from './serve-tf-flags.js';

const options = withSnakeAliases({
  'model-base-path': {
    type: 'string',
    describe: 'Model repository: numbered version directories, DIR/<version>/saved_model.pb',
  },
  'model-name': { type: 'string', default: 'default', describe: 'Name to serve the --model_base_path model under' },
  'model-config-file': {
    type: 'string',
    describe: "TF Serving model config (text format or JSON): several models, version policies (latest, specific, all), labels",
  },
  port: { type: 'number', default: 8500, describe: "gRPC API port, as TF Serving's --port; 0 turns gRPC off" },
  'rest-api-port': {
    type: 'number',
    default: 8501,
    describe: "REST API port; 0 turns REST off. Default 8501, where TF Serving's default is 0 (off): REST stays on for those who use it today",
  },
  host: { type: 'string', default: '0.0.0.0', describe: 'Interface both APIs listen on' },
  workers: { type: 'number', describe: 'Engine worker threads (default: one per core)' },
  threads: { type: 'number', describe: 'Threads each worker computes with (ONNX Runtime or wasm; default 1: the workers share the cores)' },
  'max-batch-size': { type: 'number', default: 8, describe: 'Examples per batch; 1 disables batching' },
  'batch-timeout-micros': { type: 'number', default: 2000, describe: 'How long a batch waits to fill up' },
  'max-request-bytes': { type: 'number', default: 1572864, describe: 'Largest REST body (413 above it) or gRPC message (RESOURCE_EXHAUSTED)' },
  'max-queued-requests': { type: 'number', describe: 'Requests waiting for a worker before 503 (default: workers x batch size x 8)' },
  'rest-api-timeout-in-ms': {
    type: 'number',
    default: 30000,
    describe: "Compute budget of a request once received: beyond it, 504 (TF Serving's DEADLINE_EXCEEDED) and its work not yet started is dropped; 0 for none",
  },
  'max-image-pixels': { type: 'number', default: 50_000_000, describe: 'Pixels one image may have, from its header (400 above it; GIF: all frames decoded)' },
  'max-request-pixels': { type: 'number', default: 200_000_000, describe: 'Pixels all images of one request may have together' },
  'max-images-per-request': { type: 'number', default: 256, describe: 'Images one request may hold' },
  'max-gif-frames': { type: 'number', default: 256, describe: 'Frames of an animated GIF decoded whole' },
  'enable-model-warmup': {
    type: 'boolean',
    default: true,
    describe: "Replay each version's assets.extra/tf_serving_warmup_requests in every worker before serving it, as TF Serving does (--enable_model_warmup=false: off)",
  },
  'file-system-poll-wait-seconds': { type: 'number', default: 1, describe: 'How often to look for new and removed versions; 0 only at start' },
  backend: {
    type: 'string',
    choices: ['auto', 'tensorflow', 'onnx', 'wasm', 'cpu'],
    default: 'auto',
    describe: 'Engine: tensorflow (tfjs-node), onnx (ONNX Runtime for the network), wasm or cpu (TF.js executor); auto picks the first that works, in that order',
  },
} as const);

export function serveCommand(output: Output): CommandModule {
  return {
    command: 'serve',
    describe: "Serve SavedModels over TensorFlow Serving's gRPC and REST APIs, with versions, batching and worker threads",
    builder: (y) =>
      y
        .options(options)
        .options(TF_SERVING_OPTIONS)
        .group(Object.keys(TF_SERVING_OPTIONS), "TF Serving's flags (tensorflow_model_server), same meaning:")
        .options(IGNORED_TF_SERVING_OPTIONS)
        .group(Object.keys(IGNORED_TF_SERVING_OPTIONS), "TF Serving's flags accepted for compatibility and ignored:"),
    handler: async (argv) => {
      const grpcPort = count(argv.port, 'port', 0);
      const restPort = count(argv['rest-api-port'], 'rest-api-port', 0);
      if (grpcPort === 0 && restPort === 0) throw new UsageError('--port 0 and --rest_api_port 0 turn off both APIs; give one of them a port');
      if (grpcPort === restPort) throw new UsageError(`--port and --rest_api_port are both ${grpcPort}; gRPC and REST need different ports`);
      const models = await modelsToServe(argv);
      const log = (line: string) => output.err(`tensorsky serve: ${line}`);
      const { threads: tfThreads, ...tfServing } = await tfServingServeOptions(argv, log);
      const threads = argv.threads === undefined ? tfThreads : count(argv.threads, 'threads', 1);
      const server = await startServer({
        models,
        host: argv.host as string,
        // TF Serving's rule for both flags: 0 means off.
        port: restPort === 0 ? null : restPort,
        grpcPort: grpcPort === 0 ? null : grpcPort,
        workers: argv.workers === undefined ? undefined : count(argv.workers, 'workers', 1),
        maxBatchSize: count(argv['max-batch-size'], 'max-batch-size', 1),
        batchTimeoutMicros: count(argv['batch-timeout-micros'], 'batch-timeout-micros', 0),
        maxRequestBytes: count(argv['max-request-bytes'], 'max-request-bytes', 1),
        maxQueuedRequests: argv['max-queued-requests'] === undefined ? undefined : count(argv['max-queued-requests'], 'max-queued-requests', 1),
        restApiTimeoutMs: count(argv['rest-api-timeout-in-ms'], 'rest-api-timeout-in-ms', 0),
        imageLimits: {
          maxImagePixels: count(argv['max-image-pixels'], 'max-image-pixels', 1),
          maxRequestPixels: count(argv['max-request-pixels'], 'max-request-pixels', 1),
          maxImages: count(argv['max-images-per-request'], 'max-images-per-request', 1),
          maxGifFrames: count(argv['max-gif-frames'], 'max-gif-frames', 1),
        },
        enableModelWarmup: argv['enable-model-warmup'] as boolean,
        pollIntervalMs: count(argv['file-system-poll-wait-seconds'], 'file-system-poll-wait-seconds', 0) * 1000,
        engine: { options: { backend: argv.backend, ...(threads === undefined ? {} : { threads }) } },
        ...tfServing,
        log,
      });
      // Handlers first: a supervisor may send SIGTERM as soon as it reads the line below.
      const stopping = new Promise<NodeJS.Signals>((resolve) => {
        const stop = (s: NodeJS.Signals) => {
          process.off('SIGTERM', stop).off('SIGINT', stop);
          resolve(s);
        };
        process.on('SIGTERM', stop).on('SIGINT', stop);
      });
      const apis = [...(server.url ? [`${server.url} (REST)`] : []), ...(server.grpcAddress ? [`${server.grpcAddress} (gRPC)`] : [])];
      output.out(`tensorsky serve: listening on ${apis.join(' and ')}; models: ${models.map((m) => m.name).join(', ')}`);
      const signal = await stopping;
      log(`${signal}: finishing requests in flight, then stopping`);
      await server.close();
      log('stopped');
    },
  };
}

async function modelsToServe(argv: Record<string, unknown>): Promise<ModelConfig[]> {
  const basePath = argv['model-base-path'] as string | undefined;
  const configFile = argv['model-config-file'] as string | undefined;
  if (basePath && configFile) throw new Error('give either --model_base_path or --model_config_file, not both');
  if (configFile) return readModelConfigFile(configFile);
  if (!basePath) throw new Error('nothing to serve: give --model_base_path DIR (DIR/<version>/saved_model.pb) or --model_config_file FILE');
  return [{ name: argv['model-name'] as string, basePath: path.resolve(basePath), versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }];
}

function count(value: unknown, key: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new FlagError(key, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
