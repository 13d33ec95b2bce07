// TF Serving's --batching_parameters_file: a BatchingParameters message
// (tensorflow_serving/servables/tensorflow/session_bundle_config.proto) in text format, mapped onto this
// server's batching. Its scalar fields are wrapper messages (`max_batch_size { value: 128 }`), as in
// TF Serving's docs; unset fields keep TF's defaults (SharedBatchScheduler's QueueOptions:
// input_batch_size_limit 1000, batch_timeout_micros 0, max_enqueued_batches 10; one batch thread per core).
import fs from 'node:fs/promises';
import { ConfigFileError, checkFields, isMessage, optionalMessage, optionalScalar, parseTextFormat, where, type Message } from './text-format.js';

export interface BatchingParameters {
  /** Examples per batch (max_batch_size). */
  maxBatchSize: number;
  /** How long a batch waits for more requests (batch_timeout_micros); 0: no waiting. */
  batchTimeoutMicros: number;
  /** Batches that may wait for a thread (max_enqueued_batches). */
  maxEnqueuedBatches: number;
  /** Batches run at once (num_batch_threads): engine workers here; undefined: one per core. */
  numBatchThreads?: number;
  /** Batch sizes TF pads batches up to (checked as TF checks them; batches are not padded here). */
  allowedBatchSizes: number[];
  padVariableLengthInputs: boolean;
}

export const TF_BATCHING_DEFAULTS: BatchingParameters = {
  maxBatchSize: 1000,
  batchTimeoutMicros: 0,
  maxEnqueuedBatches: 10,
  allowedBatchSizes: [],
  padVariableLengthInputs: false,
};

const WRAPPED_INTS = ['max_batch_size', 'batch_timeout_micros', 'max_enqueued_batches', 'num_batch_threads', 'max_execution_batch_size'] as const;

export async function readBatchingParametersFile(file: string): Promise<BatchingParameters> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read --batching_parameters_file ${file}: ${(err as Error).message}`);
  }
  return parseBatchingParameters(text, file);
}

export function parseBatchingParameters(text: string, origin: string): BatchingParameters {
  let root: Message;
  try {
    root = parseTextFormat(text, origin);
  } catch (err) {
    throw new ConfigFileError(`Error parsing text-format tensorflow.serving.BatchingParameters: ${(err as Error).message}`);
  }
  checkFields(root, [...WRAPPED_INTS, 'thread_pool_name', 'enable_large_batch_splitting', 'allowed_batch_sizes', 'pad_variable_length_inputs']);
  const int = (field: (typeof WRAPPED_INTS)[number], min: number): number | undefined => {
    const given = root.fields.get(field)?.values ?? [];
    if (given.some((v) => !isMessage(v))) {
      throw new ConfigFileError(`${where(root, field)}: ${field} is a google.protobuf.Int64Value: write ${field} { value: ${String(given[0])} }`);
    }
    const wrapper = optionalMessage(root, field);
    if (!wrapper) return undefined;
    checkFields(wrapper, ['value']);
    const value = optionalScalar(wrapper, 'value') ?? 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new ConfigFileError(`${where(root, field)}: ${field} must be an integer >= ${min}, got ${String(value)} (write ${field} { value: N })`);
    }
    return value;
  };
  const params: BatchingParameters = { ...TF_BATCHING_DEFAULTS, allowedBatchSizes: [] };
  params.maxBatchSize = int('max_batch_size', 1) ?? params.maxBatchSize;
  params.batchTimeoutMicros = int('batch_timeout_micros', 0) ?? params.batchTimeoutMicros;
  params.maxEnqueuedBatches = int('max_enqueued_batches', 1) ?? params.maxEnqueuedBatches;
  params.numBatchThreads = int('num_batch_threads', 1);
  int('max_execution_batch_size', 1); // large batch splitting is how requests above max_batch_size always run here
  const allowed = root.fields.get('allowed_batch_sizes');
  for (const v of allowed?.values ?? []) {
    if (isMessage(v) || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ConfigFileError(`${allowed!.where}: allowed_batch_sizes must be positive integers`);
    params.allowedBatchSizes.push(v);
  }
  // BatchingSession's rules (batching_session.cc): increasing, the last one max_batch_size.
  const sizes = params.allowedBatchSizes;
  if (sizes.some((s, i) => i > 0 && s <= sizes[i - 1])) throw new ConfigFileError(`${allowed!.where}: allowed_batch_sizes entries must be monotonically increasing`);
  if (sizes.length > 0 && sizes[sizes.length - 1] !== params.maxBatchSize) {
    throw new ConfigFileError(`${allowed!.where}: final entry in allowed_batch_sizes must equal max_batch_size (${params.maxBatchSize})`);
  }
  const pad = optionalScalar(root, 'pad_variable_length_inputs');
  if (pad !== undefined && typeof pad !== 'boolean') throw new ConfigFileError(`${where(root, 'pad_variable_length_inputs')}: pad_variable_length_inputs must be true or false`);
  params.padVariableLengthInputs = pad ?? false;
  return params;
}
