// TF Serving's model warmup (servables/tensorflow/saved_model_warmup.cc, saved_model_warmup_util.cc): a
// SavedModel may carry sample requests in assets.extra/tf_serving_warmup_requests, a TFRecord file of
// PredictionLog protos. They are replayed when a version loads, before it becomes AVAILABLE, so that the
// first real request does not pay for first-run costs (kernel compilation, allocations). Each engine
// worker holds its own copy of a version, so each worker replays them. The rules are TF Serving's: at
// most 1000 records; a file that is not TFRecord, a record that is not a PredictionLog, or a request
// that fails makes the load fail; streamed-predict and session-run logs are UNIMPLEMENTED. Classify,
// regress and multi-inference logs are skipped here (said in the log): this server does not run
// tf.Example requests at warmup.
import fs from 'node:fs/promises';
import path from 'node:path';
import { TENSORFLOW_PROTO_DIR, TfRecordError, readTfRecords, writeTfRecords, type TensorProto } from '@tensorsky/saved-model';
import protobuf from 'protobufjs';
import type { LoadedModel } from './engine.js';
import { ServeError, errorMessage } from './errors.js';
import { SERVING_PROTO_DIR } from './grpc-proto.js';
import { signatureInputTensors } from './tensor-proto.js';

/** Where a SavedModel keeps its warmup requests (WarmupConsts::kRequestsFileName under assets.extra). */
export const WARMUP_FILE = path.join('assets.extra', 'tf_serving_warmup_requests');
/** WarmupConsts::kMaxNumRecords. */
export const MAX_WARMUP_RECORDS = 1000;
/**
 * How many times each request is replayed: TF Serving's ModelWarmupOptions.num_request_iterations, a
 * setting of the server (1 unless set). 3 here: ONNX Runtime settles its memory plan for an input shape
 * over its first runs. Measured on fresh one-worker servers (CPU time, median of 5): the first real
 * request took 1.9x a warm one after one replay, 1.1-1.3x after three, 3-4x without warmup.
 */
export const WARMUP_ITERATIONS = 3;

/** One predict request of a warmup file: the signature ("" for serving_default) and its input tensors. */
export interface WarmupPredictRequest {
  signatureName: string;
  inputs: Record<string, TensorProto>;
}

/** What a version's warmup did, for the server's log. */
export interface WarmupReport {
  /** Predict requests replayed (each WARMUP_ITERATIONS times). */
  replayed: number;
  /** Classify, regress and multi-inference logs passed over. */
  skipped: number;
}

interface DecodedLog {
  predict_log?: { request?: { model_spec?: { signature_name?: string } | null; inputs?: Record<string, TensorProto> } | null } | null;
  classify_log?: unknown;
  regress_log?: unknown;
  multi_inference_log?: unknown;
  predict_streamed_log?: unknown;
  session_run_log?: unknown;
}

let predictionLogType: protobuf.Type | undefined;

/** tensorflow.serving.PredictionLog, loaded on first use (only versions with a warmup file need it). */
function predictionLog(): protobuf.Type {
  if (!predictionLogType) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) =>
      target.startsWith('/') || target.startsWith('google/protobuf/') ? target : (target === 'tensorflow.proto' ? TENSORFLOW_PROTO_DIR : SERVING_PROTO_DIR) + target;
    root.loadSync(`${SERVING_PROTO_DIR}tensorflow_serving/apis/prediction_log.proto`, { keepCase: true });
    root.resolveAll();
    predictionLogType = root.lookupType('tensorflow.serving.PredictionLog');
  }
  return predictionLogType;
}

/** PredictionLog's log_type oneof fields and their numbers, for TF's "Unsupported log_type" message. */
const UNSUPPORTED_LOGS = { predict_streamed_log: 7, session_run_log: 5 } as const;

/**
 * Replays the warmup requests of the version in `dir` on `model`, WARMUP_ITERATIONS times each;
 * resolves with what was done, or with undefined when the version has no warmup file.
 * Fails, as TF Serving's load does, on the first thing wrong, with a one-line message naming the file.
 */
export async function replayWarmupRequests(model: LoadedModel, dir: string): Promise<WarmupReport | undefined> {
  const file = path.join(dir, WARMUP_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the warmup file ${file}: ${errorMessage(err)}`);
  }
  let records: Uint8Array[];
  try {
    records = readTfRecords(bytes);
  } catch (err) {
    if (!(err instanceof TfRecordError)) throw err;
    throw new Error(`${err.message} of ${file}. Please verify your warmup data is in TFRecord format.`);
  }
  if (records.length > MAX_WARMUP_RECORDS) throw new Error(`Number of warmup records exceeds the maximum (${MAX_WARMUP_RECORDS}) at ${file}`);
  const type = predictionLog();
  const report: WarmupReport = { replayed: 0, skipped: 0 };
  for (const [index, record] of records.entries()) {
    let log: DecodedLog;
    try {
      log = type.toObject(type.decode(record), { defaults: false }) as DecodedLog;
    } catch {
      throw new Error(`Failed to parse warmup record ${index} from ${file}: it is not a tensorflow.serving.PredictionLog`);
    }
    for (const [field, number] of Object.entries(UNSUPPORTED_LOGS)) {
      if (log[field as keyof DecodedLog]) throw new ServeError(501, `Unsupported log_type for warmup: ${number} (${field}, record ${index} of ${file})`);
    }
    if (log.classify_log || log.regress_log || log.multi_inference_log) {
      report.skipped++;
      continue;
    }
    if (!log.predict_log) continue; // no log_type: nothing to run, as in TF Serving
    const { request } = log.predict_log;
    const signatureName = request?.model_spec?.signature_name || 'serving_default';
    try {
      const signature = model.signatures[signatureName];
      if (!signature) throw new Error(`Serving signature name: "${signatureName}" not found in signature def`);
      const inputs = signatureInputTensors(request?.inputs ?? {}, signature);
      for (let i = 0; i < WARMUP_ITERATIONS; i++) await model.predict(signatureName, inputs);
    } catch (err) {
      throw new Error(`warmup request ${index} of ${file} (signature ${signatureName}) failed: ${errorMessage(err)}`);
    }
    report.replayed++;
  }
  return report;
}

/** The bytes of a warmup file holding `requests` as PredictLogs, as TF Serving's tooling writes it. */
export function warmupFileBytes(requests: readonly WarmupPredictRequest[]): Uint8Array {
  const type = predictionLog();
  return writeTfRecords(
    requests.map(({ signatureName, inputs }) =>
      type.encode(type.fromObject({ predict_log: { request: { model_spec: { signature_name: signatureName }, inputs } } })).finish(),
    ),
  );
}
