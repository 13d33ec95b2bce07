// tensorflow_model_server's flags (tensorflow_serving/model_servers/main.cc) that `tensorsky serve`
// accepts with the same meaning, so that TF Serving's documented command lines start it unchanged; and
// those it accepts but cannot honour, each with the reason (printed by --help and logged when given).
import path from 'node:path';
import {
  readBatchingParametersFile,
  readMonitoringConfigFile,
  type ServeOptions,
} from '@tensorsky/serve';
import type { Options } from 'yargs';
import { withSnakeAliases } from '../options.js';
import { FlagError, UsageError } from '../usage.js';

export const TF_SERVING_OPTIONS = withSnakeAliases({
  'model-config-file-poll-wait-seconds': {
    type: 'number',
    default: 0,
    describe: 'Re-read --model_config_file this often and serve what it says (models added and retired without failing a request); 0 reads it at start only',
  },
  'allow-version-labels-for-unavailable-models': {
    type: 'boolean',
    default: false,
    describe: 'Let a new version label point at a version that is not loaded (yet); without it a label must point at an AVAILABLE version',
  },
  'enable-batching': {
    type: 'boolean',
    default: false,
    describe: "TF Serving's switch for --batching_parameters_file. Batching is always on here (--max_batch_size, --batch_timeout_micros)",
  },
  'batching-parameters-file': {
    type: 'string',
    describe:
      "TF Serving BatchingParameters (text format; needs --enable_batching): max_batch_size, batch_timeout_micros, max_enqueued_batches (x max_batch_size = --max_queued_requests), num_batch_threads (= --workers), allowed_batch_sizes and pad_variable_length_inputs (checked; batches are not padded, requests of other shapes batch separately). Overrides --max_batch_size and --batch_timeout_micros",
  },
  'monitoring-config-file': {
    type: 'string',
    describe: 'TF Serving MonitoringConfig (text format): prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" } serves metrics there; enable: false serves none (default: served at that path)',
  },
  'tensorflow-intra-op-parallelism': { type: 'number', default: 0, describe: 'Threads one worker computes an op with (as --threads); 0: automatic' },
  'tensorflow-inter-op-parallelism': {
    type: 'number',
    default: 0,
    describe: 'Accepted and ignored: a worker runs one op at a time; concurrent batches run on --workers',
  },
  'tensorflow-session-parallelism': { type: 'number', default: 0, describe: 'Threads for a session: sets --tensorflow_intra_op_parallelism; 0: automatic' },
  'grpc-channel-arguments': {
    type: 'string',
    describe: 'gRPC server channel arguments, comma-separated key=value (e.g. grpc.max_connection_age_ms=2000); integers are passed as integers',
  },
  'grpc-socket-path': { type: 'string', describe: 'Also serve the gRPC API on this UNIX socket' },
  'max-num-load-retries': { type: 'number', default: 5, describe: 'Times a version that failed to load is tried again (at later file-system polls) before giving up' },
} as const);

/** Flags accepted for compatibility and ignored, with why. */
const IGNORED: Record<string, { type: 'boolean' | 'number' | 'string'; why: string }> = {
  'rest-api-num-threads': { type: 'number', why: "REST requests are read on Node's event loop; models run on --workers threads" },
  'grpc-max-threads': { type: 'number', why: "gRPC runs on Node's event loop; models run on --workers threads" },
  'num-load-threads': { type: 'number', why: 'versions load in every worker thread at once' },
  'num-unload-threads': { type: 'number', why: 'versions unload in every worker thread at once' },
  'load-retry-interval-micros': { type: 'number', why: 'a failed load is retried at the next file-system poll (--file_system_poll_wait_seconds)' },
  'flush-filesystem-caches': { type: 'boolean', why: 'no file-system cache of TensorFlow is kept' },
  'per-process-gpu-memory-fraction': { type: 'number', why: 'no GPU is used' },
  'xla-cpu-compilation-enabled': { type: 'boolean', why: "graphs run on this server's engines, without XLA" },
  'xla-gpu-compilation-enabled': { type: 'boolean', why: "graphs run on this server's engines, without XLA" },
  'enable-profiler': { type: 'boolean', why: "there is no TensorFlow profiler service" },
  'remove-unused-fields-from-bundle-metagraph': { type: 'boolean', why: 'the MetaGraphDef is not kept in memory once loaded' },
  'prefer-tflite-model': { type: 'boolean', why: 'TensorFlow Lite models are not run; saved_model.pb is (as TF Serving does when there is no model.tflite)' },
};

export const IGNORED_TF_SERVING_OPTIONS = withSnakeAliases(
  Object.fromEntries(Object.entries(IGNORED).map(([name, { type, why }]) => [name, { type, describe: `Accepted and ignored: ${why}` } satisfies Options])),
);

/**
 * The server options TF Serving's flags ask for, from the flags (and the files they name) as parsed.
 * --workers and --max_queued_requests, when given, win over the batching file. Logs each ignored flag
 * given, with the reason.
 */
export async function tfServingServeOptions(argv: Record<string, unknown>, log: (line: string) => void): Promise<Partial<ServeOptions> & { threads?: number }> {
  const out: Partial<ServeOptions> & { threads?: number } = {};
  for (const [name, { why }] of Object.entries(IGNORED)) {
    if (argv[name] !== undefined) log(`--${name.replaceAll('-', '_')} is ignored: ${why}`);
  }

  const pollSeconds = nonNegativeInteger(argv, 'model-config-file-poll-wait-seconds');
  const configFile = argv['model-config-file'] as string | undefined;
  if (configFile && pollSeconds > 0) out.modelConfigFile = { path: path.resolve(configFile), pollIntervalMs: pollSeconds * 1000 };
  out.allowVersionLabelsForUnavailableModels = argv['allow-version-labels-for-unavailable-models'] === true;
  out.maxNumLoadRetries = nonNegativeInteger(argv, 'max-num-load-retries');

  // Batching, as Server::BuildAndStart reads it.
  const batchingFile = argv['batching-parameters-file'] as string | undefined;
  if (batchingFile !== undefined) {
    if (argv['enable-batching'] !== true) throw new UsageError('--batching_parameters_file is set without --enable_batching (TF Serving refuses that too); add --enable_batching');
    const params = await readBatchingParametersFile(batchingFile);
    out.maxBatchSize = params.maxBatchSize;
    out.batchTimeoutMicros = params.batchTimeoutMicros;
    if (argv['max-queued-requests'] === undefined) out.maxQueuedRequests = Math.min(Number.MAX_SAFE_INTEGER, params.maxEnqueuedBatches * params.maxBatchSize);
    if (params.numBatchThreads !== undefined && argv.workers === undefined) out.workers = params.numBatchThreads;
  }

  const monitoringFile = argv['monitoring-config-file'] as string | undefined;
  if (monitoringFile !== undefined) out.metricsPath = (await readMonitoringConfigFile(monitoringFile)).prometheusPath;

  // Threads, with TF's rule: the session's parallelism or the two op-level ones, not all three.
  const intra = nonNegativeInteger(argv, 'tensorflow-intra-op-parallelism');
  const inter = nonNegativeInteger(argv, 'tensorflow-inter-op-parallelism');
  const session = nonNegativeInteger(argv, 'tensorflow-session-parallelism');
  if (intra > 0 && inter > 0 && session > 0) {
    throw new UsageError('configure either --tensorflow_session_parallelism or (--tensorflow_intra_op_parallelism, --tensorflow_inter_op_parallelism), not all three');
  }
  const threads = intra > 0 || inter > 0 ? intra : session;
  if (threads > 0) out.threads = threads;
  if (inter > 0) log(`--tensorflow_inter_op_parallelism is ignored: a worker runs one op at a time; concurrent batches run on --workers`);

  const channelArguments = argv['grpc-channel-arguments'] as string | undefined;
  if (channelArguments) out.grpcChannelOptions = grpcChannelOptions(channelArguments);
  const socketPath = argv['grpc-socket-path'] as string | undefined;
  if (socketPath) out.grpcSocketPath = path.resolve(socketPath);
  return out;
}

/** TF Serving's parseGrpcChannelArgs: "k=v,k=v", each value an int when it parses as one. */
export function grpcChannelOptions(text: string): Record<string, string | number> {
  const options: Record<string, string | number> = {};
  for (const part of text.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) throw new FlagError('grpc-channel-arguments', `takes key=value pairs separated by commas, got ${JSON.stringify(part)}`);
    const value = part.slice(at + 1);
    options[part.slice(0, at)] = /^[-+]?\d+$/.test(value) && Math.abs(Number(value)) < 2 ** 31 ? Number(value) : value;
  }
  return options;
}

function nonNegativeInteger(argv: Record<string, unknown>, key: string): number {
  const value = argv[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new FlagError(key, `must be an integer >= 0, got ${String(value)}`);
  return value;
}
