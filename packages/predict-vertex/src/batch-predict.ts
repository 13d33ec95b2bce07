// Classifying many images with Vertex AI batch prediction: the images go to Cloud Storage (local ones
// uploaded, unless an object with the same MD5 is there), JSONL instances are built for the model
// version's signature (the input deploy recorded in its labels), a batchPredictionJobs job runs them
// on dedicated machines, and its prediction shards are decoded into one top-k result per image.
// A state file beside the results records the job, so a rerun after an interruption re-attaches to it
// instead of uploading and paying again.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { CloudError, checkModelName, checkProjectId, checkRegion, parseGcsFolder, parseModelVersion } from '@tensorsky/cloud-errors';
import { loadLabels } from '@tensorsky/decode';
import {
  DEFAULT_MACHINE_TYPE,
  DryRunReads,
  VertexClient,
  accessTokenFromEnv,
  createStorage,
  formatElapsed,
  formatRestCall,
  type BatchPredictionJob,
  type RestCall,
  type VertexAuth,
} from '@tensorsky/deploy';
import { DEFAULT_INPUT_NAME, PredictTargetError, imageInstance, withRetries } from '@tensorsky/predict-cloud';
import { expandImagePaths, readImageFile } from '@tensorsky/preprocess';
import { detectImageFormat } from '@tensorsky/image';
import type { ImageEncoding } from '@tensorsky/saved-model';
import { KEY_FIELD, decodeShards, isErrorShard, writeAtomically, writeResults, type BatchImageResult } from './batch-results.js';
import { deleteObject, gsUri, inParallel, listObjects, putObject, readObject, type GcsAccess, type GcsLocation } from './gcs-objects.js';
import { labelsInput } from './vertex-backend.js';

/** Jobs in these states will not change any more. */
const FINAL_STATES = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_PARTIALLY_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'];
const SUCCEEDED_STATES = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_PARTIALLY_SUCCEEDED'];
const IMAGE_NAME = /\.(jpe?g|png|gif|bmp)$/i;
const STATE_FILE = '.tensorsky-batch-state.json';

export class BatchPredictError extends Error {
  override name = 'BatchPredictError';
}

export interface BatchPollOptions {
  /** First wait between job reads; default 5000 ms, growing to maxDelayMs. */
  initialDelayMs?: number;
  /** Default 60000 ms: a job takes minutes to hours. */
  maxDelayMs?: number;
  /** Say the job's state when it changes and at least this often; default 30000 ms. */
  progressIntervalMs?: number;
  /** Give up waiting (the job keeps running; rerun to re-attach); default 24 h. */
  timeoutMs?: number;
}

/** Progress for --json: the upload, the job's state, the results. */
export type BatchEvent =
  | { event: 'upload'; done: number; total: number; uploaded: number; skipped: number }
  | { event: 'instances'; files: number; uploaded: number; skipped: number }
  | { event: 'job'; name: string; state: string; successful: number; failed: number; elapsedMs: number; attached: boolean }
  | { event: 'results'; images: number; failed: number };

export interface BatchPredictOptions {
  projectId: string;
  region: string;
  /** As given to tensorsky deploy. */
  modelName: string;
  modelVersion: string;
  /** A local folder of images (those directly inside it; a `**` glob reaches subfolders), or gs://BUCKET/FOLDER holding them. */
  images: string;
  /** gs://BUCKET/FOLDER for the uploaded images, the instances and the job's output. */
  output: string;
  /** Where predictions.jsonl, predictions.csv and the state file go; default the current directory. */
  resultsDir?: string;
  machineType?: string;
  /** Machines the job runs on (starting and maximum replica count); default 1. */
  replicas?: number;
  /** Classes per image; default 5. */
  top?: number;
  /** Labels preset or file; default inception. */
  labels?: string;
  /** Default: what deploy recorded on the model version, else b64 / "inputs". */
  inputFormat?: ImageEncoding | 'auto';
  inputName?: string;
  /** Images per JSONL instances file; default 500. */
  imagesPerFile?: number;
  /** Transfers at once; default 8. */
  concurrency?: number;
  apiRoot?: string;
  accessToken?: string;
  auth?: VertexAuth;
  /** Cloud Storage client (default one for the project, or for storageEndpoint: an emulator). */
  storage?: Storage;
  storageEndpoint?: string;
  /** Print every call; make the reads a plan needs (bounded), no writes. */
  dryRun?: boolean;
  onCall?: (call: RestCall) => void;
  log?: (line: string) => void;
  onEvent?: (event: BatchEvent) => void;
  poll?: BatchPollOptions;
  /** Stops the run between steps (the job keeps running; rerun to re-attach). */
  signal?: AbortSignal;
}

export interface BatchPredictResult {
  /** The job's resource name ({new-batch-prediction-job-id} in a dry run). */
  job: string;
  state: string;
  /** True when a job recorded by an earlier run was picked up. */
  attached: boolean;
  images: number;
  uploaded: number;
  skipped: number;
  results: BatchImageResult[];
  files?: { jsonl: string; csv: string };
  /** Every call as REST, in a dry run. */
  calls: string[];
  /** Why a dry run could not read the current state (it planned as for a fresh project). */
  stateUnreadable?: string;
}

interface BatchState {
  output: string;
  images: string;
  model: string;
  job: string;
  /** Result names, in order, as the job's instances carry them. */
  keys: string[];
}

interface SourceImage {
  /** How results name it: the local path, or the gs:// URI. */
  key: string;
  read(): Promise<Uint8Array>;
  /** A local file to upload to this object name. */
  uploadAs?: string;
}

export async function batchPredict(options: BatchPredictOptions): Promise<BatchPredictResult> {
  const projectId = checkProjectId(options.projectId);
  const region = checkRegion(options.region);
  const modelName = checkModelName(options.modelName);
  const version = parseModelVersion(options.modelVersion);
  const output = parseGcsFolder(options.output, '--output');
  const top = options.top ?? 5;
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw new BatchPredictError(`--replicas must be a whole number of at least 1, got ${replicas}`);
  const log = options.log ?? (() => {});
  const emit = options.onEvent ?? (() => {});
  const calls: string[] = [];
  const onCall = (call: RestCall) => {
    if (options.dryRun) calls.push(formatRestCall(call));
    options.onCall?.(call);
  };
  const dryRunReads = new DryRunReads(log);
  const accessToken = options.accessToken ?? accessTokenFromEnv();
  const vertex = new VertexClient({ projectId, region, apiRoot: options.apiRoot, auth: options.auth, accessToken, dryRun: options.dryRun, dryRunReads, onCall, log });
  const storage =
    options.storage ??
    createStorage({ projectId, apiEndpoint: options.storageEndpoint, accessToken, ...(options.dryRun ? { timeoutMs: dryRunReads.timeoutMs, autoRetry: false } : {}) });
  const gcs: GcsAccess = { storage, dryRun: options.dryRun, dryRunReads, onCall, project: projectId };
  const resultsDir = path.resolve(options.resultsDir ?? '.');
  const stateFile = path.join(resultsDir, STATE_FILE);
  const checkAborted = () => {
    if (options.signal?.aborted) {
      throw new BatchPredictError(`interrupted; rerun the same command to resume (state in ${stateFile})`);
    }
  };

  // The model version, and the input its signature takes (recorded by deploy).
  const found = await vertex.findModel(modelName);
  if (!found?.name && !options.dryRun) {
    throw new PredictTargetError(`no Vertex AI model named ${modelName} in project ${projectId}, region ${region}; deploy it with tensorsky deploy, or check --model_name and --region`);
  }
  const modelResource = found?.name?.replace(/@[^/]*$/, '') ?? `${vertex.parent}/models/{model-id}`;
  const modelVersion = found?.name ? await vertex.getModel(`${modelResource}@${version.alias}`) : undefined;
  if (!modelVersion?.versionId && !options.dryRun) {
    throw new PredictTargetError(`model ${modelName} has no version ${version.alias} in ${region}; deploy it with tensorsky deploy --model_version ${version.name}, or check --model_version`);
  }
  const model = `${modelResource}@${modelVersion?.versionId ?? version.alias}`;
  const known = labelsInput(modelVersion?.labels);
  if (known.takesImages === false) throw new PredictTargetError(`model ${modelName} version ${version.alias} does not take encoded images; batch prediction sends image files`);
  const inputFormat = options.inputFormat && options.inputFormat !== 'auto' ? options.inputFormat : (known.inputFormat ?? 'b64');
  const inputName = options.inputName ?? known.inputName ?? DEFAULT_INPUT_NAME;
  if (inputName === KEY_FIELD) throw new BatchPredictError(`the model's input is named "${KEY_FIELD}", the field batch prediction names images by; re-export the model with another input name`);

  // A job an earlier run created for the same images, model and output: re-attach to it.
  const previous = await readState(stateFile);
  let job: BatchPredictionJob | undefined;
  let keys: string[] = [];
  let uploaded = 0;
  let skipped = 0;
  if (previous && previous.output === options.output && previous.images === options.images && previous.model === model) {
    job = await vertex.getBatchPredictionJob(previous.job);
    if (job && ['JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].includes(job.state ?? '')) {
      log(`the previous job ${previous.job} ended ${job.state}: starting a new one`);
      job = undefined;
    }
    if (job) keys = previous.keys;
  }
  const attached = job !== undefined;

  if (!job) {
    const images = await listImages(options.images, output, gcs);
    if (images.length === 0 && !options.dryRun) throw new BatchPredictError(`no images in ${options.images}; give a folder of JPEG/PNG/GIF/BMP files or a gs:// folder holding them`);
    keys = images.map((i) => i.key);
    const concurrency = options.concurrency ?? 8;

    // Local images to Cloud Storage, skipping those already there with the same MD5.
    const toUpload = images.filter((i) => i.uploadAs !== undefined);
    if (toUpload.length > 0) {
      const there = new Map((await listObjects(gcs, { bucket: output.bucket, prefix: `${output.prefix}images/` })).map((o) => [o.name, o]));
      let done = 0;
      let lastReport = 0;
      await inParallel(toUpload, concurrency, async (image) => {
        checkAborted();
        const wrote = await putObject(gcs, output.bucket, image.uploadAs!, await image.read(), there.get(image.uploadAs!));
        if (wrote) uploaded++;
        else skipped++;
        done++;
        if (done === toUpload.length || Date.now() - lastReport >= 2000) {
          lastReport = Date.now();
          log(`images: ${done}/${toUpload.length} (${uploaded} uploaded, ${skipped} already in ${gsUri(output.bucket, `${output.prefix}images/`)})`);
          emit({ event: 'upload', done, total: toUpload.length, uploaded, skipped });
        }
      });
    }
    checkAborted();

    // JSONL instances, a file per imagesPerFile images; files of an earlier, larger run are removed.
    const perFile = options.imagesPerFile ?? 500;
    const instancesFolder: GcsLocation = { bucket: output.bucket, prefix: `${output.prefix}instances/` };
    const existingParts = new Map((await listObjects(gcs, instancesFolder)).map((o) => [o.name, o]));
    const parts: SourceImage[][] = [];
    for (let i = 0; i < images.length; i += perFile) parts.push(images.slice(i, i + perFile));
    const partNames = parts.map((_, i) => `${instancesFolder.prefix}part-${String(i).padStart(5, '0')}.jsonl`);
    let partsWritten = 0;
    await inParallel(parts, Math.max(1, Math.floor(concurrency / 4)), async (part, i) => {
      checkAborted();
      const lines: string[] = [];
      for (const image of part) lines.push(JSON.stringify({ [KEY_FIELD]: image.key, ...imageInstance(await image.read(), inputFormat, inputName) }));
      if (await putObject(gcs, output.bucket, partNames[i], Buffer.from(`${lines.join('\n')}\n`), existingParts.get(partNames[i]))) partsWritten++;
    });
    for (const name of existingParts.keys()) if (!partNames.includes(name)) await deleteObject(gcs, output.bucket, name);
    emit({ event: 'instances', files: parts.length, uploaded: partsWritten, skipped: parts.length - partsWritten });
    log(`instances: ${parts.length} JSONL file${parts.length === 1 ? '' : 's'} in ${gsUri(output.bucket, instancesFolder.prefix)} (${inputName} as ${inputFormat})`);
    checkAborted();

    job = await vertex.createBatchPredictionJob({
      displayName: `${modelName}-${version.name}-batch`,
      model,
      inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: [gsUri(output.bucket, `${instancesFolder.prefix}part-*.jsonl`)] } },
      instanceConfig: { keyField: KEY_FIELD },
      outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: gsUri(output.bucket, `${output.prefix}predictions/`) } },
      dedicatedResources: { machineSpec: { machineType: options.machineType ?? DEFAULT_MACHINE_TYPE }, startingReplicaCount: replicas, maxReplicaCount: replicas },
    });
    if (options.dryRun) {
      return { job: job.name!, state: job.state ?? 'JOB_STATE_QUEUED', attached: false, images: images.length, uploaded, skipped, results: [], calls, stateUnreadable: dryRunReads.unreadable };
    }
    await fs.mkdir(resultsDir, { recursive: true });
    await writeAtomically(stateFile, `${JSON.stringify({ output: options.output, images: options.images, model, job: job.name!, keys } satisfies BatchState, null, 2)}\n`);
    log(`created batch prediction job ${job.name} on ${replicas} ${options.machineType ?? DEFAULT_MACHINE_TYPE} machine${replicas === 1 ? '' : 's'}`);
  } else {
    log(`re-attached to batch prediction job ${job.name} (${job.state}), recorded in ${stateFile}`);
    if (options.dryRun) return { job: job.name!, state: job.state ?? 'JOB_STATE_UNSPECIFIED', attached, images: keys.length, uploaded, skipped, results: [], calls };
  }

  job = await waitForJob(vertex, job, attached, options, emit, log, checkAborted);
  if (!SUCCEEDED_STATES.includes(job.state ?? '')) {
    const reason = job.error?.message ? `: ${job.error.message}` : '';
    throw new CloudError(`Vertex AI batch prediction job ${job.name} ended ${job.state}${reason}; fix the cause and rerun (a new job is created)`, job.state === 'JOB_STATE_FAILED' ? 'FAILED_PRECONDITION' : 'CANCELLED');
  }

  // The shards, decoded into one result per image.
  const outputDir = job.outputInfo?.gcsOutputDirectory;
  if (!outputDir) throw new CloudError(`Vertex AI batch prediction job ${job.name} succeeded without naming its output folder; see it in the console`, 'INTERNAL');
  const where = parseGcsFolder(outputDir, 'the job output');
  const shardNames = (await listObjects(gcs, where)).map((o) => o.name).filter((n) => /(^|\/)prediction[^/]*$/.test(n) || isErrorShard(n));
  const shards = await inParallel(shardNames, options.concurrency ?? 8, async (name) => ({ name, text: (await readObject(gcs, where.bucket, name)).toString('utf8') }));
  const results = decodeShards(shards, keys, await loadLabels(options.labels ?? 'inception'), top);
  const files = await writeResults(results, resultsDir, top);
  const failed = results.filter((r) => r.error !== undefined).length;
  emit({ event: 'results', images: results.length, failed });
  log(`results: ${results.length - failed} of ${results.length} images predicted, written to ${files.jsonl} and ${files.csv}`);
  return { job: job.name!, state: job.state!, attached, images: keys.length, uploaded, skipped, results, files, calls };
}

/** Polls the job until it ends, saying its state and counts when they change and every progressIntervalMs. */
async function waitForJob(
  vertex: VertexClient,
  created: BatchPredictionJob,
  attached: boolean,
  options: BatchPredictOptions,
  emit: (event: BatchEvent) => void,
  log: (line: string) => void,
  checkAborted: () => void,
): Promise<BatchPredictionJob> {
  const { initialDelayMs = 5000, maxDelayMs = 60_000, progressIntervalMs = 30_000, timeoutMs = 24 * 3600_000 } = options.poll ?? {};
  const started = Date.now();
  let delay = initialDelayMs;
  let job = created;
  let said = { line: '', at: 0 };
  for (;;) {
    const stats = job.completionStats ?? {};
    const successful = Number(stats.successfulCount ?? 0);
    const failed = Number(stats.failedCount ?? 0);
    const elapsedMs = Date.now() - started;
    const line = `${job.state}, ${successful} predicted, ${failed} failed`;
    if (line !== said.line || Date.now() - said.at >= progressIntervalMs) {
      said = { line, at: Date.now() };
      log(`batch prediction job ${job.name}: ${line} (${formatElapsed(elapsedMs)} elapsed)`);
      emit({ event: 'job', name: job.name!, state: job.state ?? 'JOB_STATE_UNSPECIFIED', successful, failed, elapsedMs, attached });
    }
    if (FINAL_STATES.includes(job.state ?? '')) return job;
    if (elapsedMs >= timeoutMs) {
      throw new CloudError(`batch prediction job ${job.name} is still ${job.state} after ${formatElapsed(elapsedMs)}; it keeps running: rerun the same command later to re-attach`, 'DEADLINE_EXCEEDED');
    }
    await sleep(Math.min(delay, progressIntervalMs), options.signal);
    checkAborted();
    delay = Math.min(maxDelayMs, delay * 1.5);
    // A job runs for hours: a dropped connection or a busy API (429, 503) must not end the wait.
    const next = await withRetries(() => vertex.getBatchPredictionJob(job.name!));
    if (!next) throw new CloudError(`batch prediction job ${job.name} no longer exists (deleted?); rerun to create a new one`, 'NOT_FOUND');
    job = next;
  }
}

/** The images to predict: local files (uploaded under OUTPUT/images/) or the image objects of a gs:// folder. */
async function listImages(images: string, output: GcsLocation, gcs: GcsAccess): Promise<SourceImage[]> {
  if (images.startsWith('gs://')) {
    const folder = parseGcsFolder(images, '--images');
    const objects = (await listObjects(gcs, folder)).filter((o) => IMAGE_NAME.test(o.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
    return objects.map((o) => ({
      key: gsUri(folder.bucket, o.name),
      read: async () => {
        const bytes = await readObject(gcs, folder.bucket, o.name);
        if (detectImageFormat(bytes) === undefined) throw new BatchPredictError(`${gsUri(folder.bucket, o.name)} is not a JPEG, PNG, GIF or BMP image; remove it from ${images}`);
        return bytes;
      },
    }));
  }
  const files = await expandImagePaths([images]);
  // Object names keep the path below the folder given (for a glob, the folder before its first wildcard).
  const stat = await fs.stat(images).catch(() => undefined);
  const base = stat?.isDirectory() ? images : path.dirname(`${images.split(/[*?[]/)[0]}x`);
  return files.map((file) => ({
    key: file,
    uploadAs: `${output.prefix}images/${path.relative(base, file).split(path.sep).join('/')}`,
    read: async () => (await readImageFile(file)).bytes,
  }));
}

async function readState(file: string): Promise<BatchState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const state = JSON.parse(text) as BatchState;
    return typeof state.job === 'string' && Array.isArray(state.keys) ? state : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
