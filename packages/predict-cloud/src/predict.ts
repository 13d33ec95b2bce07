// Classifying image files with a remote model: requests built for its signature, split under the
// payload limit, retried with backoff when the service is busy (429/503), then class scores decoded
// into labelled top-k predictions.
import { CloudError } from '@tensorsky/cloud-errors';
import { decodeTopK, loadLabels, type Prediction } from '@tensorsky/decode';
import { expandImagePaths, readImageFile } from '@tensorsky/preprocess';
import { PredictTargetError, TfServingBackend, type PredictBackend, type TfServingTarget } from './backends.js';
import type { ImageEncoding } from '@tensorsky/saved-model';
import { DEFAULT_INPUT_NAME, imageInstance, splitIntoRequests, type ImageInstance } from './request.js';

export interface RetryOptions {
  /** Retries after the first attempt; default 4. */
  retries?: number;
  /** First wait; doubles each time (with jitter), default 1000 ms. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export interface PredictImagesOptions {
  /** 'auto' (default): what the backend knows about the signature, else 'b64' (the tutorial's export). */
  inputFormat?: ImageEncoding | 'auto';
  /** Input alias; default what the backend knows, else "inputs". */
  inputName?: string;
  maxRequestBytes?: number;
  maxInstancesPerRequest?: number;
  /** Per request; default 60000 ms. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Called before each request is sent (request number from 1, requests in all, instances in it). */
  onRequest?: (index: number, total: number, instances: number) => void;
}

export interface ImageScores {
  source: string;
  scores: number[];
}

export interface PredictImagesResult {
  results: ImageScores[];
  requests: number;
  inputFormat: ImageEncoding;
  inputName: string;
  /** The model version that answered, when the service says (Vertex AI's modelVersionId). */
  modelVersion?: string;
  /** What the server says to warn about the model (random weights), when it can tell; see ModelInput. */
  warnings: string[];
}

export async function predictImages(backend: PredictBackend, images: readonly ImageInstance[], options: PredictImagesOptions = {}): Promise<PredictImagesResult> {
  const wanted = options.inputFormat ?? 'auto';
  const known = wanted === 'auto' || options.inputName === undefined ? await backend.describeInput() : {};
  if (known.takesImages === false) {
    throw new PredictTargetError(
      `${backend.description} does not take encoded images (serving_default input ${known.inputName ?? '(several)'}${known.dtype ? ` is ${known.dtype}` : ''}); predict-cloud sends image files to models exported with an image input`,
    );
  }
  const inputFormat = wanted === 'auto' ? (known.inputFormat ?? 'b64') : wanted;
  const inputName = options.inputName ?? known.inputName ?? DEFAULT_INPUT_NAME;
  const items = images.map((image) => ({ source: image.source, instance: imageInstance(image.bytes, inputFormat, inputName) }));
  const batches = splitIntoRequests(items, { maxRequestBytes: options.maxRequestBytes, maxInstances: options.maxInstancesPerRequest });
  const results: ImageScores[] = [];
  let modelVersion: string | undefined;
  for (const [index, batch] of batches.entries()) {
    options.onRequest?.(index + 1, batches.length, batch.length);
    const answer = await withRetries(() => backend.predict(batch.map((b) => b.instance), options.timeoutMs ?? 60_000), options.retry);
    if (answer.predictions.length !== batch.length) {
      throw new CloudError(`${backend.description} returned ${answer.predictions.length} predictions for ${batch.length} images`, 'INTERNAL');
    }
    modelVersion ??= answer.modelVersion;
    batch.forEach((item, i) => results.push({ source: item.source, scores: classScores(answer.predictions[i], item.source) }));
  }
  return { results, requests: batches.length, inputFormat, inputName, modelVersion, warnings: known.warnings ?? [] };
}

/** Runs `attempt`, retrying quota (429), unavailability (503) and dropped connections with exponential backoff and jitter. */
export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retries = 4, initialDelayMs = 1000, maxDelayMs = 30_000 } = options;
  for (let tried = 0; ; tried++) {
    try {
      return await attempt();
    } catch (err) {
      // A request that timed out is not retried: waiting as long again rarely helps; --timeout does.
      const busy = err instanceof CloudError && err.retryable && err.reason !== 'DEADLINE_EXCEEDED';
      if (!busy || tried >= retries) throw err;
      const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** tried);
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
    }
  }
}

/** One prediction as class scores: a list of numbers, or an object whose only (or "outputs") entry is one. */
export function classScores(prediction: unknown, source: string): number[] {
  let value = prediction;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value);
    value = (value as Record<string, unknown>).outputs ?? (entries.length === 1 ? entries[0][1] : undefined);
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) {
    throw new CloudError(`the prediction for ${source} is not a list of class scores (got ${JSON.stringify(prediction).slice(0, 80)}); is this an image classifier?`, 'INVALID_ARGUMENT');
  }
  return value;
}

export interface CloudPredictOptions extends PredictImagesOptions {
  /** Image files, directories or globs. */
  images: string[];
  /** A TF Serving REST API, or any backend (a Vertex AI endpoint: VertexBackend of @tensorsky/predict-vertex). */
  target: TfServingTarget | PredictBackend;
  /** Labels preset or file (inception, imagenet, transfert, none, or a path); default inception. */
  labels?: string;
  /** Classes per image; default 5. */
  top?: number;
}

export interface CloudPredictResult extends Omit<PredictImagesResult, 'results'> {
  target: string;
  images: { file: string; predictions: Prediction[] }[];
}

/** Reads the images, predicts them remotely and decodes the top classes of each. */
export async function predictCloud(options: CloudPredictOptions): Promise<CloudPredictResult> {
  const labels = await loadLabels(options.labels ?? 'inception');
  const files = await expandImagePaths(options.images);
  if (files.length === 0) throw new PredictTargetError('no images given; pass --image FILE (or a directory or glob)');
  const images: ImageInstance[] = [];
  for (const file of files) images.push({ source: file, bytes: (await readImageFile(file)).bytes });
  const backend = 'predict' in options.target ? options.target : new TfServingBackend(options.target);
  const { results, ...rest } = await predictImages(backend, images, options);
  return {
    target: backend.description,
    ...rest,
    images: results.map((r) => ({ file: r.source, predictions: decodeTopK(r.scores, labels, options.top ?? 5) })),
  };
}
