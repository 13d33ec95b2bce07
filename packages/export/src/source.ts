// The model side of `tensorsky export`: turns --model / --weights / --seed into a loaded tf.LayersModel
// plus what the exporter needs to know about it (input size, class count, preprocessing, labels).
import { open, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { PreprocessMode } from '@tensorsky/preprocess';
import type { ModelProvenance, WeightsProvenance } from '@tensorsky/saved-model';
import { APPLICATION_NAMES, isApplicationName, KERAS_APPLICATIONS, type ApplicationName } from './applications/registry.js';
import { fileMd5 } from './file-md5.js';
import { fetchImagenetWeights, type ImagenetWeightsOptions } from './imagenet-weights.js';
import { loadTfjsGraphModel, tfjsGraphModel, type TfjsGraphModel } from './graph-model.js';
import { loadKerasArchive } from './keras-archive.js';
import { loadKerasModel, loadKerasWeights } from './keras-h5.js';
import { loadTfjsLayersModel } from './layers-model.js';
import { inputPreprocessingOf, type ModelPreprocessing } from './preprocessing-layers.js';
import { initTfjs, type TfjsBackend } from './tfjs-engine.js';
import { readModelJson } from './tfjs-weights.js';
import { randomWeights } from './weights.js';

export interface ModelSourceOptions {
  /**
   * A built-in Keras application (inception_v3, mobilenet_v2, resnet50, xception), a Keras full-model .h5,
   * a Keras 3 .keras archive, or a TF.js layers or graph model (model.json or its folder). Default: inception_v3.
   */
  model?: string;
  /** 'imagenet' (built-in applications only; their default), 'random' (seeded), or a Keras .h5 weights file. */
  weights?: string;
  /** Seed for --weights random (default 0). */
  seed?: number;
  /** Download progress for --weights imagenet. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Overrides for the application's ImageNet weights download (URL, md5, cache folder); tests point these at a local server. */
  imagenet?: Omit<ImagenetWeightsOptions, 'onProgress'>;
  /** TF.js backend; default: tfjs-node if importable, else wasm, else cpu. */
  backend?: TfjsBackend;
}

interface ModelSourceInfo {
  /** Short model name: the application ('inception_v3'), or the file/folder name of --model. */
  name: string;
  /** [height, width, channels] of one input image. */
  inputShape: [number, number, number];
  /** Number of output classes. */
  classes: number;
  /** Preprocessing the model was trained with, when the source tells (undefined for user models). */
  preprocess: PreprocessMode | undefined;
  /** Label set hint: 'imagenet' for a 1000-class built-in application. */
  labels: 'imagenet' | undefined;
  /** Where the weights came from, for messages: 'imagenet', 'random (seed 3)', a file path, or 'model file'. */
  weights: string;
  /** What the export records in its provenance file: the model and its weights, files named with their md5. */
  provenance: { model: ModelProvenance; weights: WeightsProvenance };
}

/** A Keras or TF.js layers model: converted layer by layer. */
export interface LayersModelSource extends ModelSourceInfo {
  kind: 'layers';
  model: tf.LayersModel;
  /** The preprocessing layers that followed the model file's input, taken out of `model` for the serving graph to do. */
  inputPreprocessing?: ModelPreprocessing;
}

/** A TF.js graph model: its graph is converted; `model` is TF.js's own GraphModel of the same files (the reference). */
export interface GraphModelSource extends ModelSourceInfo {
  kind: 'graph';
  model: tf.GraphModel;
  graph: TfjsGraphModel;
}

export type ModelSource = LayersModelSource | GraphModelSource;

/** How the weights were described and what provenance records of them. */
interface AppliedWeights {
  described: string;
  provenance: WeightsProvenance;
}

export async function loadModelSource(options: ModelSourceOptions = {}): Promise<ModelSource> {
  await initTfjs(options.backend);
  const seed = options.seed ?? 0;
  const application = await builtInApplication(options.model);
  if (application !== undefined) return loadApplication(application, options, seed);

  const path = options.model!;
  if (options.weights === 'imagenet') {
    throw new ModelSourceError(`--weights imagenet applies to the built-in applications only (${APPLICATION_NAMES.join(', ')}); pass --weights FILE.h5`);
  }
  const kind = await detectModelFile(path);
  const name = kind === 'tfjs-folder' ? basename(path) : kind === 'tfjs-json' ? basename(dirname(path)) : basename(path, extname(path));
  // A TF.js model is identified by its model.json, which names its weight files.
  const modelFile = kind === 'tfjs-folder' ? join(path, 'model.json') : path;
  const modelProvenance = async (): Promise<ModelProvenance> => ({ kind: 'file', name, file: basename(modelFile), md5: await md5Of(modelFile) });
  if (kind !== 'keras-h5' && kind !== 'keras-archive' && (await readModelJson(modelFile)).json.format === 'graph-model') {
    if (options.weights !== undefined) {
      throw new ModelSourceError(`--weights applies to Keras and TF.js layers models; the weights of the graph model ${modelFile} are the ones its weightsManifest lists`);
    }
    const graph = await loadTfjsGraphModel(modelFile);
    const provenance = { model: await modelProvenance(), weights: { kind: 'model-file' } as const };
    const info = { name, inputShape: graph.inputShape, classes: graph.classes, preprocess: undefined, labels: undefined, weights: 'model file', provenance };
    return { kind: 'graph', model: await tfjsGraphModel(graph), graph, ...info };
  }
  const model = await MODEL_LOADERS[kind](path);
  return withModel(model, async () => {
    const applied: AppliedWeights =
      options.weights === undefined ? { described: 'model file', provenance: { kind: 'model-file' } } : await applyWeights(model, options.weights, seed);
    return describe(model, name, applied, await modelProvenance(), { preprocess: undefined, labels: undefined });
  });
}

/** The built-in application --model names (inception_v3 when it is absent), or undefined for a model file. */
async function builtInApplication(model: string | undefined): Promise<ApplicationName | undefined> {
  if (model === undefined) return 'inception_v3';
  if (!isApplicationName(model)) return undefined;
  if (await exists(model)) {
    throw new ModelSourceError(`--model ${model} names both a built-in application and a file here; write ./${model} for the file`);
  }
  return model;
}

async function loadApplication(name: ApplicationName, options: ModelSourceOptions, seed: number): Promise<LayersModelSource> {
  const application = KERAS_APPLICATIONS[name];
  const weights = options.weights ?? 'imagenet';
  const imagenet = { ...application.imagenet, ...options.imagenet };
  // Download (or find) the ImageNet file before spending time on the model.
  const imagenetFile = weights === 'imagenet' ? await fetchImagenetWeights({ ...imagenet, onProgress: options.onProgress }) : undefined;
  return withModel(application.build(), async (model) => {
    let applied: AppliedWeights;
    if (imagenetFile) {
      await loadKerasWeights(model, imagenetFile);
      // fetchImagenetWeights returns only a file whose md5 it verified, where Keras publishes one.
      const md5 = imagenet.md5 ?? (await md5Of(imagenetFile));
      applied = { described: 'imagenet', provenance: { kind: 'imagenet', file: basename(imagenetFile), md5 } };
    } else {
      applied = await applyWeights(model, weights, seed, application.preprocess);
    }
    return describe(model, name, applied, { kind: 'built-in', name }, { preprocess: application.preprocess, labels: 'imagenet' });
  });
}

/** Runs `use`, disposing the model's weights if it throws (the caller never gets the model). */
async function withModel<T>(model: tf.LayersModel, use: (model: tf.LayersModel) => Promise<T>): Promise<T> {
  try {
    return await use(model);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function applyWeights(model: tf.LayersModel, weights: string, seed: number, preprocess?: PreprocessMode): Promise<AppliedWeights> {
  if (weights === 'random') {
    await randomWeights(model, seed, preprocess);
    return { described: `random (seed ${seed})`, provenance: { kind: 'random', seed } };
  }
  if ((await detectModelFile(weights)) !== 'keras-h5') {
    throw new ModelSourceError(`--weights ${weights}: expected 'imagenet', 'random' or a Keras .h5 weights file`);
  }
  await loadKerasWeights(model, weights);
  return { described: weights, provenance: { kind: 'file', file: basename(weights), md5: await md5Of(weights) } };
}

async function md5Of(file: string): Promise<string> {
  const md5 = await fileMd5(file);
  if (md5 === undefined) throw new ModelSourceError(`${file} disappeared while it was being loaded`);
  return md5;
}

function describe(
  model: tf.LayersModel,
  name: string,
  weights: AppliedWeights,
  modelProvenance: ModelProvenance,
  hints: Pick<ModelSource, 'preprocess' | 'labels'>,
): LayersModelSource {
  const inputs = model.inputs;
  const outputs = model.outputs;
  const [, height, width, channels] = inputs[0]?.shape ?? [];
  const outputShape = outputs[0]?.shape ?? [];
  if (inputs.length !== 1 || inputs[0].shape.length !== 4 || outputs.length !== 1 || outputShape.length !== 2) {
    throw new ModelSourceError(
      `${name} is not an image classifier: expected one input [batch, height, width, channels] and one output [batch, classes], got inputs ${shapes(inputs)} and outputs ${shapes(outputs)}`,
    );
  }
  if (!height || !width || !channels || !outputShape[1]) {
    throw new ModelSourceError(
      `${name} has input ${shapes(inputs)}; tensorsky export needs a fixed image size: build the model with a fixed input_shape (e.g. (224, 224, 3)) or a Resizing layer right after its input, and save it again`,
    );
  }
  if (channels !== 1 && channels !== 3) {
    throw new ModelSourceError(`${name} takes ${channels}-channel images; tensorsky export supports 1 (grayscale) or 3 (RGB)`);
  }
  const classes = outputShape[1];
  const inputPreprocessing = inputPreprocessingOf(model);
  return {
    kind: 'layers',
    model,
    ...(inputPreprocessing ? { inputPreprocessing } : {}),
    name,
    inputShape: [height, width, channels],
    classes,
    preprocess: hints.preprocess,
    labels: hints.labels === 'imagenet' && classes === 1000 ? 'imagenet' : undefined,
    weights: weights.described,
    provenance: { model: modelProvenance, weights: weights.provenance },
  };
}

function shapes(tensors: tf.SymbolicTensor[]): string {
  return tensors.map((t) => `[${t.shape.map((d) => d ?? 'None').join(', ')}]`).join(', ') || '(none)';
}

type ModelFileKind = 'keras-h5' | 'keras-archive' | 'tfjs-folder' | 'tfjs-json';

const MODEL_LOADERS: Readonly<Record<ModelFileKind, (path: string) => Promise<tf.LayersModel>>> = {
  'keras-h5': loadKerasModel,
  'keras-archive': loadKerasArchive,
  'tfjs-folder': loadTfjsLayersModel,
  'tfjs-json': loadTfjsLayersModel,
};

/** Tells Keras .h5 and .keras, TF.js model.json and folders apart, with a clear error for formats we do not read. */
async function detectModelFile(path: string): Promise<ModelFileKind> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ModelSourceError(`${path} does not exist`);
  }
  if (info.isDirectory()) {
    if (await exists(join(path, 'model.json'))) return 'tfjs-folder';
    if (await exists(join(path, 'saved_model.pb'))) {
      throw new ModelSourceError(`${path} is already a TensorFlow SavedModel; tensorsky export reads Keras .h5 and .keras files and TF.js layers and graph models`);
    }
    throw new ModelSourceError(`${path} is a folder without model.json; pass a Keras .h5 or .keras file or a TF.js model`);
  }
  // The extension decides for .h5 and .keras so that a damaged file gets its reader's precise error.
  if (['.h5', '.hdf5'].includes(extname(path).toLowerCase())) return 'keras-h5';
  if (extname(path).toLowerCase() === '.keras') return 'keras-archive';
  const head = Buffer.alloc(8);
  const handle = await open(path, 'r');
  try {
    await handle.read(head, 0, 8, 0);
  } finally {
    await handle.close();
  }
  if (head.subarray(0, 4).toString('latin1') === '\x89HDF') return 'keras-h5';
  if (head.subarray(0, 2).toString('latin1') === 'PK') return 'keras-archive';
  if (head.toString('utf8').trimStart().startsWith('{')) return 'tfjs-json';
  throw new ModelSourceError(`${path} is neither a Keras .h5 or .keras file nor a TF.js model.json`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}
