// `tensorsky predict`: the tutorial's local prediction. With --model_path it runs a SavedModel (fed the
// image files as the graph expects: web-safe base64 or raw bytes; its image input and scores output
// chosen by saved-model's rules, as verify chooses them); without it, @tensorsky/verify's reference model:
// the in-memory source model (built-in InceptionV3) on the reference decoding and preprocessing, in TF.js.
// Images go through in small batches, and a bad image is reported on its own while the others are
// still predicted. A model with random weights is said to be one (stderr, or "warnings" in --json).
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  decodeTopK,
  formatPredictionsTable,
  formatPredictionsText,
  loadLabels,
  predictionsToJson,
  type Labels,
  type Prediction,
  type PredictionJson,
} from '@tensorsky/decode';
import type { TensorInfoSummary } from '@tensorsky/predict-local';
import { DEFAULT_MAX_PIXELS, checkImageSize, probeImageSize, type RgbImage } from '@tensorsky/image';
import { expandImagePaths, readImageFile } from '@tensorsky/preprocess';
import { checkProvenance, imageFeed, imageInput, scoresOutput, weightsWarning, type ImageEncoding } from '@tensorsky/saved-model';
import { loadReferenceModel, scoreRows } from '@tensorsky/verify';
import type { CommandModule } from 'yargs';
import { IMAGE_OPTION, withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { FlagError } from '../usage.js';

const BACKENDS = ['auto', 'tensorflow', 'onnx', 'wasm', 'cpu'] as const;
type BackendChoice = (typeof BACKENDS)[number];
const MAX_BATCH_SIZE = 64;

const options = withSnakeAliases({
  image: IMAGE_OPTION,
  'model-path': { type: 'string', describe: 'SavedModel directory; without it, the in-memory reference model (InceptionV3) is used' },
  'decode-preds-fn': {
    type: 'string',
    describe: "Labels: inception (ImageNet), transfert, none (class indices) or a labels file; default: the SavedModel's assets/labels.txt, ImageNet for the reference model",
  },
  top: { type: 'number', default: 5, describe: 'How many classes to show per image' },
  json: { type: 'boolean', default: false, describe: 'Print JSON' },
  table: { type: 'boolean', default: false, describe: 'Print a table per image instead of the tutorial text' },
  backend: {
    type: 'string',
    choices: BACKENDS,
    default: 'auto',
    describe: 'tensorflow (tfjs-node), onnx (ONNX Runtime for the network), wasm or cpu (TF.js); auto picks the first that works, in that order',
  },
  threads: { type: 'number', describe: 'Threads for the model (ONNX Runtime, wasm); default TENSORSKY_THREADS or one per core' },
  weights: {
    type: 'string',
    describe: 'Reference model only: imagenet (default; downloaded once), random (seeded) or a Keras .h5 weights file',
  },
  seed: { type: 'number', describe: 'Reference model only: seed for --weights random (default 0)' },
  'batch-size': { type: 'number', default: 1, describe: `Images per model call (1-${MAX_BATCH_SIZE}); memory grows with it` },
} as const);

export class PredictCommandError extends Error {
  override name = 'PredictCommandError';
}

/** Scores of one image, or why it has none. */
type Scored = { scores: Float32Array } | { error: string };

/** An image file that passed the checks before prediction. */
interface ReadyImage {
  path: string;
  bytes: Uint8Array;
}

/** The model behind predict: scores a batch of prepared images. */
interface Predictor<T extends { path: string }> {
  /** Model name for output: the SavedModel path or the reference model's name. */
  model: string;
  backend: string;
  /** Why a preferred engine did not run the model (see LocalModel.fallback). */
  fallback?: string;
  /** Why engine onnx's cache or export --onnx's model.onnx was not used (see OnnxDetails.note). */
  onnxNote?: string;
  /** Labels when --decode_preds_fn is not given. */
  defaultLabels: string;
  /** Largest batch the model takes (1 for a scalar input). */
  maxBatch: number;
  /** What to tell about the model before its predictions (random weights). */
  warnings: string[];
  /** Reads and checks (and on the reference path decodes) one image; throws for a bad image. */
  prepare(path: string): Promise<T>;
  score(batch: T[]): Promise<Float32Array[]>;
  dispose(): void;
}

interface PredictArgs {
  image: string[];
  'model-path'?: string;
  'decode-preds-fn'?: string;
  top: number;
  json: boolean;
  table: boolean;
  backend: BackendChoice;
  threads?: number;
  weights?: string;
  seed?: number;
  'batch-size': number;
}

export function predictCommand(output: Output): CommandModule<object, PredictArgs> {
  return {
    command: 'predict',
    describe: 'Classify images with a SavedModel (--model_path) or the in-memory reference model',
    builder: (y) => y.options(options),
    handler: async (args) => {
      const top = positiveInteger(args.top, 'top');
      const batchSize = positiveInteger(args['batch-size'], 'batch-size');
      const threads = args.threads === undefined ? undefined : positiveInteger(args.threads, 'threads');
      if (batchSize > MAX_BATCH_SIZE) throw new FlagError('batch-size', `must be at most ${MAX_BATCH_SIZE}, got ${batchSize}`);
      const modelPath = args['model-path'];
      if (modelPath !== undefined && (args.weights !== undefined || args.seed !== undefined)) {
        throw new PredictCommandError('--weights and --seed choose the reference model; a SavedModel (--model_path) has its own weights');
      }
      const paths = await expandImagePaths(args.image);
      if (paths.length === 0) throw new PredictCommandError('no images given (--image PATH)');

      // Labels named on the command line are checked before the (slow) model load.
      const chosenLabels = args['decode-preds-fn'] === undefined ? undefined : await loadLabels(args['decode-preds-fn']);
      const predictor: Predictor<{ path: string }> =
        modelPath === undefined ? await referencePredictor(args) : await savedModelPredictor(modelPath, args.backend, threads);
      const results: ({ image: string; top: PredictionJson[] } | { image: string; error: string })[] = [];
      if (!args.json) for (const warning of predictor.warnings) output.err(`tensorsky: warning: ${warning}`);
      if (!args.json && predictor.fallback) output.err(`tensorsky: note: ${predictor.fallback}`);
      if (!args.json && predictor.onnxNote) output.err(`tensorsky: note: ${predictor.onnxNote}`);
      let printed = 0;
      try {
        const labels = chosenLabels ?? (await loadLabels(predictor.defaultLabels));
        const size = Math.min(batchSize, predictor.maxBatch);
        for (let at = 0; at < paths.length; at += size) {
          for (const [image, scored] of await scoreBatch(predictor, paths.slice(at, at + size))) {
            const outcome = 'error' in scored ? scored : topK(image, scored.scores, labels, top);
            if ('error' in outcome) {
              results.push({ image, error: outcome.error });
              if (!args.json) output.err(`tensorsky: ${outcome.error}`);
              continue;
            }
            const { predictions } = outcome;
            results.push({ image, top: predictionsToJson(predictions) });
            if (args.json) continue;
            if (printed++ > 0) output.out('');
            output.out(image);
            const text = args.table ? formatPredictionsTable(predictions) : formatPredictionsText(predictions);
            for (const line of text.split('\n')) output.out(line);
          }
        }
      } finally {
        predictor.dispose();
      }

      if (args.json) output.json({ model: predictor.model, backend: predictor.backend, ...(predictor.fallback ? { fallback: predictor.fallback } : {}), warnings: predictor.warnings, predictions: results });
      const failed = results.filter((r) => 'error' in r).length;
      if (failed > 0) throw new PredictCommandError(`${failed} of ${results.length} images could not be predicted`);
    },
  };
}

/**
 * Prepares and scores one batch. Images that fail their checks are reported alone; if the model call
 * fails for a batch of several, each image is retried alone so one bad image does not sink the others.
 */
async function scoreBatch<T extends { path: string }>(predictor: Predictor<T>, paths: string[]): Promise<[string, Scored][]> {
  const scored = new Map<string, Scored>();
  const ready: T[] = [];
  for (const p of paths) {
    try {
      ready.push(await predictor.prepare(p));
    } catch (err) {
      scored.set(p, { error: imageMessage(p, err) });
    }
  }
  if (ready.length > 0) {
    try {
      const rows = await predictor.score(ready);
      ready.forEach((r, i) => scored.set(r.path, { scores: rows[i] }));
    } catch (err) {
      if (ready.length === 1) scored.set(ready[0].path, { error: imageMessage(ready[0].path, err) });
      else for (const r of ready) scored.set(r.path, (await scoreBatch(predictor, [r.path]))[0][1]);
    }
  }
  return paths.map((p) => [p, scored.get(p)!]);
}

/** Reads an image file and checks its header, so that no oversized image reaches a decoder. */
async function readCheckedImage(file: string): Promise<ReadyImage> {
  const { bytes } = await readImageFile(file);
  checkImageSize(probeImageSize(bytes, file), DEFAULT_MAX_PIXELS, file);
  return { path: file, bytes };
}

// ---------------------------------------------------------------------------------------------
// SavedModel.

async function savedModelPredictor(dir: string, backend: BackendChoice, threads: number | undefined): Promise<Predictor<ReadyImage>> {
  const { loadModel } = await import('@tensorsky/predict-local');
  const model = await loadModel(dir, { backend, threads });
  try {
    const input = imageTensor(model.signature.inputs, dir);
    const outputName = scoresTensor(model.signature.outputs, dir);
    const labelsFile = path.join(dir, 'assets', 'labels.txt');
    const scalar = input.shape !== null && input.shape.length === 0;
    return {
      model: dir,
      backend: model.backend,
      fallback: model.fallback,
      onnxNote: model.onnx?.note,
      defaultLabels: existsSync(labelsFile) ? labelsFile : 'none',
      maxBatch: scalar ? 1 : MAX_BATCH_SIZE,
      warnings: (await checkProvenance(dir)).warnings,
      prepare: readCheckedImage,
      async score(batch) {
        const files = batch.map((r) => imageFeed(r.bytes, input.encoding));
        const out = (await model.predict({ [input.name]: scalar ? files[0] : files }))[outputName];
        return scoreRows(out.data as Float32Array, out.shape, batch.length, dir);
      },
      dispose: () => model.dispose(),
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** The signature input that takes encoded images (saved-model's imageInput), or why the model has none. */
function imageTensor(inputs: TensorInfoSummary[], dir: string): TensorInfoSummary & { encoding: ImageEncoding } {
  const input = imageInput(inputs);
  if (!input) {
    const list = inputs.map((i) => `${i.name} (${i.dtype})`).join(', ') || 'none';
    throw new PredictCommandError(
      `${dir}: predict needs a model whose serving signature takes encoded images as one DT_STRING input; its inputs are ${list}`,
    );
  }
  return input;
}

/** The class-scores output's name (saved-model's scoresOutput, the rule verify uses too), or why there is none. */
function scoresTensor(outputs: TensorInfoSummary[], dir: string): string {
  const chosen = scoresOutput(outputs);
  if (!chosen || chosen.dtype !== 'DT_FLOAT') {
    const list = outputs.map((o) => `${o.name} (${o.dtype})`).join(', ') || 'none';
    throw new PredictCommandError(`${dir}: cannot tell which output holds the class scores; its outputs are ${list}`);
  }
  return chosen.name;
}

// ---------------------------------------------------------------------------------------------
// Reference model.

async function referencePredictor(args: PredictArgs): Promise<Predictor<{ path: string; image: RgbImage }>> {
  // The reference is a TF.js layers model: engine onnx does not apply to it, it runs on wasm.
  const reference = await loadReferenceModel({
    weights: args.weights ?? 'imagenet',
    seed: args.seed,
    backend: args.backend === 'onnx' || args.backend === 'auto' ? undefined : args.backend,
    threads: args.threads,
  });
  const { source } = reference;
  const channels = source.inputShape[2];
  if (channels !== 3) {
    reference.dispose();
    throw new PredictCommandError(`${source.name} takes ${channels}-channel images; the reference path decodes RGB`);
  }
  const warning = weightsWarning(source.provenance.weights);
  return {
    model: source.name,
    backend: reference.backend,
    defaultLabels: source.labels ?? 'none',
    maxBatch: MAX_BATCH_SIZE,
    warnings: warning ? [warning] : [],
    async prepare(file) {
      const { bytes } = await readCheckedImage(file);
      return { path: file, image: await reference.decode(bytes, file) };
    },
    score: (batch) => reference.scores(batch.map((b) => b.image)),
    dispose: () => reference.dispose(),
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** The best classes of one image; a label count that does not match the model fails the whole command. */
function topK(image: string, scores: Float32Array, labels: Labels, k: number): { predictions: Prediction[] } | { error: string } {
  if (labels.classes !== null && labels.classes.length !== scores.length) {
    throw new PredictCommandError(
      `the model outputs ${scores.length} classes but the labels (${labels.source}) have ${labels.classes.length}; pass matching labels with --decode_preds_fn`,
    );
  }
  try {
    return { predictions: decodeTopK(scores, labels, k) };
  } catch (err) {
    return { error: imageMessage(image, err) };
  }
}

function imageMessage(image: string, err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return message.includes(image) ? message : `${image}: ${message}`;
}

function positiveInteger(value: number, key: string): number {
  if (!Number.isInteger(value) || value < 1) throw new FlagError(key, `must be a positive integer, got ${value}`);
  return value;
}
