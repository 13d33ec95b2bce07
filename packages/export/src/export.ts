// `tensorsky export`: a Keras or TF.js image classifier → a frozen TensorFlow SavedModel whose graph
// decodes, resizes and normalizes images itself (serving_default: inputs DT_STRING [-1] → outputs
// DT_FLOAT [-1, classes]). Weights are constants (variables/ stays empty); labels go to assets/labels.txt,
// and where the model and its weights came from to assets.extra/tensorsky_provenance.json.
import { readFileSync } from 'node:fs';
import { access, constants as fsConstants, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { loadLabels, type Labels } from '@tensorsky/decode';
import {
  describePreprocessing,
  PREPROCESS_MODES,
  PREPROCESS_STEPS,
  PREPROCESSING_FILE,
  PREPROCESSING_SCHEMA,
  resolvePreprocessing,
  type Geometry,
  type PixelGrid,
  type PreprocessingRecord,
  type PreprocessMode,
  type PreprocessStep,
  type ResizeMethod,
} from '@tensorsky/preprocess';
import {
  assertValidGraph,
  DataType,
  GraphBuilder,
  IMAGE_ENCODINGS,
  lockTarget,
  PROVENANCE_FILE,
  PROVENANCE_SCHEMA,
  SAVED_MODEL_PB,
  serializeProvenance,
  shapeProto,
  tfOpDefs,
  writeSavedModel,
  type AssetFileDef,
  type GraphDef,
  type GraphTensor,
  type ImageEncoding,
  type OpDef,
  type Provenance,
  type SavedModel,
  type SignatureDef,
  type TargetLock,
} from '@tensorsky/saved-model';
import { isApplicationName, KERAS_APPLICATIONS } from './applications/registry.js';
import { layersModelToGraph } from './convert/layers.js';
import { graphModelToGraph } from './graph-model.js';
import { JPEG_DCT_METHODS, type JpegDct } from './jpeg-dct.js';
import { readModelPreprocessing } from './preprocess-from.js';
import type { ModelPreprocessing } from './preprocessing-layers.js';
import {
  frozenGraphToGraph,
  imageInputProblem,
  loadSavedModelSource,
  type FrozenSignature,
  type SavedModelSource,
  type SavedModelSourceOptions,
} from './saved-model-source.js';
import { buildImageInputGraph, type ImageInputOptions } from './serving-input.js';
import { loadModelSource, type ModelSource, type ModelSourceOptions } from './source.js';

export const SIGNATURE_KEY = 'serving_default';
/** --input_format that keeps a SavedModel signature's own inputs (no image front). */
export const TENSOR_INPUT = 'tensor';
/** The key a kept serving_default of the source gets, next to the new serving_default. */
export const ORIGINAL_SERVING_DEFAULT = 'serving_default_original';
export const LABELS_FILE = 'labels.txt';

/** This package, as the provenance record names the exporter (src/ and dist/ are both one level below package.json). */
const EXPORTER: Provenance['exporter'] = (() => {
  const { name, version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return { name, version };
})();

export type ExportStep = 'download' | 'load' | 'convert' | 'validate' | 'write';

export interface ExportProgress {
  step: ExportStep;
  message: string;
  /** For 'download': bytes received so far and the total when known. */
  bytes?: number;
  total?: number;
}

export interface ExportOptions extends Omit<ModelSourceOptions, 'onProgress'> {
  /** SavedModel directory to create. */
  modelDir: string;
  /** An already loaded model to export (the caller keeps and disposes it); otherwise loaded from the source options. */
  source?: ModelSource;
  /** A TensorFlow SavedModel directory to export instead of a Keras or TF.js model (see saved-model-source.ts). */
  savedModel?: string;
  /** With savedModel: the signature to export (default serving_default). */
  signature?: SavedModelSourceOptions['signature'];
  /** With savedModel: a concrete function of its object graph to export instead of a signature. */
  function?: SavedModelSourceOptions['function'];
  /** With savedModel: keep its signatures (frozen, inputs unchanged) next to the new serving_default. */
  keepSignatures?: boolean;
  /**
   * Default 'b64' (web-safe base64 strings, as in the tutorial). 'tensor' (savedModel only): no image
   * front; the signature is frozen with its inputs as they are.
   */
  inputFormat?: ImageEncoding | typeof TENSOR_INPUT;
  /** Default: what the source says (the built-in application's preprocess_input), else 'inception'. */
  preprocess?: PreprocessMode;
  /** Normalization steps instead of a preset (e.g. from normalizationSteps: --mean/--std/--channel_order). */
  normalize?: readonly PreprocessStep[];
  /** Resize method; default bilinear. */
  resize?: ResizeMethod;
  /** Pixel grid of the resize; default half_pixel (TF2). */
  grid?: PixelGrid;
  /** Antialiased bilinear/bicubic resizing (tf.image.resize(antialias=True)); default false. */
  antialias?: boolean;
  /** Crop/pad before or after resizing; default stretch. */
  geometry?: Geometry;
  /**
   * A Keras model (or JSON config) whose input preprocessing layers (Resizing, CenterCrop, Rescaling,
   * Normalization) give the resize, geometry and normalization; the options above win over it.
   */
  preprocessFrom?: string;
  /** The IDCT the serving graph decodes JPEGs with: 'accurate' (default; PIL's and sharp's) or 'fast' (TensorFlow's DecodeImage). */
  jpegDct?: JpegDct;
  /** A label preset ('imagenet', 'none', ...) or a labels file; default: ImageNet labels for the 1000-class built-in applications. */
  labels?: string;
  /** Fold batch norms into the preceding convolution (smaller graph; exact only to float32 rounding per layer). Default false. */
  foldBatchNorms?: boolean;
  /** Replace a non-empty modelDir. */
  force?: boolean;
  /**
   * More files for assets.extra/, written with the model (atomically), e.g. TF Serving's warmup requests
   * (tf_serving_warmup_requests, which @tensorsky/serve's warmupFileBytes writes).
   */
  assetsExtra?: Record<string, Uint8Array | string>;
  /**
   * Runs on the written SavedModel in its staging directory before it moves into place (see
   * writeSavedModel's beforeMove): `export --onnx` translates the network there into
   * assets.extra/model.onnx. An error leaves nothing at modelDir.
   */
  beforeMove?: (stagedDir: string) => Promise<void>;
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportedTensor {
  name: string;
  dtype: string;
  shape: number[];
}

export interface ExportResult {
  /** Absolute path of the SavedModel directory. */
  modelDir: string;
  model: string;
  weights: string;
  /** [height, width, channels] the graph resizes images to; null with input format 'tensor'. */
  inputShape: [number, number, number] | null;
  /** Output classes; null when the output is not [batch, classes] (input format 'tensor'). */
  classes: number | null;
  inputFormat: ImageEncoding | typeof TENSOR_INPUT;
  /** Signatures of the source kept next to serving_default (--keep_signatures), by key. */
  keptSignatures: string[];
  /** The normalization preset, or 'custom' for steps given otherwise. */
  preprocess: PreprocessMode | 'custom';
  /** What the serving graph does to each image, one line per step (also in assets.extra/tensorsky_preprocessing.json); empty with input format 'tensor'. */
  preprocessing: string[];
  /** The model config --preprocess_from read, or the model file itself when it carries its preprocessing layers, and which of its layers the serving graph does. */
  preprocessFrom: { source: string; layers: string[] } | null;
  /** The IDCT the serving graph decodes JPEGs with; null without the image front (input format 'tensor'). */
  jpegDct: JpegDct | null;
  signature: { key: string; method: string; inputs: Record<string, ExportedTensor>; outputs: Record<string, ExportedTensor> };
  /** assets/labels.txt, or null without labels. */
  labels: { file: string; count: number; source: string } | null;
  /** What assets.extra/tensorsky_provenance.json records. */
  provenance: Provenance;
  nodes: number;
  /** Node count per op type. */
  ops: Record<string, number>;
  foldedBatchNorms: number;
  savedModelBytes: number;
  /** Milliseconds per step. */
  timings: { load: number; convert: number; write: number; total: number };
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/**
 * Loads the model (unless `source` is given), converts it with the image input graph in front,
 * validates every node against TensorFlow's OpDefs and writes the SavedModel atomically: on any error
 * nothing is left at modelDir.
 */
export async function exportSavedModel(options: ExportOptions): Promise<ExportResult> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  checkOptions(options);
  const modelDir = resolve(options.modelDir);
  // Refuse before the slow part; writeSavedModel checks again when it moves the model into place.
  await checkOutputDir(modelDir, options.force ?? false);
  const userLabels = options.labels === undefined ? undefined : await loadLabels(options.labels);
  const fromModel = options.preprocessFrom === undefined ? undefined : await readModelPreprocessing(options.preprocessFrom);

  let source: ModelSource | SavedModelSource | undefined = options.source;
  if (options.savedModel !== undefined) {
    progress({ step: 'load', message: `loading SavedModel ${options.savedModel}` });
    source = await loadSavedModelSource({
      dir: options.savedModel,
      signature: options.signature,
      function: options.function,
      keepSignatures: options.keepSignatures,
    });
  } else if (!source) {
    const application = options.model === undefined ? 'inception_v3' : isApplicationName(options.model) ? options.model : undefined;
    progress({ step: 'load', message: application ? `building ${KERAS_APPLICATIONS[application].title}` : `loading ${options.model}` });
    source = await loadModelSource({
      model: options.model,
      weights: options.weights,
      seed: options.seed,
      imagenet: options.imagenet,
      backend: options.backend,
      onProgress: (bytes, total) => progress({ step: 'download', message: 'downloading ImageNet weights', bytes, total }),
    });
  }
  const loaded = performance.now();
  // Refused before the target is locked (which creates its parent folders).
  if (source.kind === 'saved-model') checkSavedModelSource(source, options);
  // The model file's own preprocessing layers, taken out of the network when it was loaded.
  const carried = source.kind === 'layers' ? source.inputPreprocessing : undefined;
  if (carried && fromModel) {
    if (!options.source && source.kind === 'layers') source.model.dispose();
    throw new ExportError(`${source.name} carries its preprocessing layers (${carried.layers.join(', ')}), which the serving graph does; --preprocess_from is for a model without them`);
  }

  let lock: TargetLock | undefined;
  let built: ReturnType<typeof buildSavedModel>;
  try {
    // From here on a second export into modelDir is refused; taking the lock also clears what a killed export left.
    lock = await lockTarget(modelDir);
    const size =
      source.kind === 'saved-model'
        ? `${source.picked}, ${source.main.graph.nodes.length} nodes frozen`
        : source.kind === 'graph'
          ? `${source.graph.nodes.size} nodes`
          : `${source.model.layers.length} layers`;
    progress({ step: 'convert', message: `converting ${source.name} (${size}) to TensorFlow ops` });
    built = buildSavedModel(source, {
      inputFormat: options.inputFormat ?? 'b64',
      preprocess: options.preprocess ?? (source.kind === 'saved-model' ? undefined : source.preprocess) ?? 'inception',
      normalize: carried
        ? // The model's layers normalize what they get: any --preprocess or custom normalization comes before them.
          [...(options.normalize ?? (options.preprocess ? PREPROCESS_STEPS[options.preprocess] : [])), ...carried.normalize]
        : (options.normalize ?? (options.preprocess === undefined && fromModel ? fromModel.normalize : undefined)),
      resize: options.resize ?? (fromModel ?? carried)?.resize,
      grid: options.grid,
      antialias: options.antialias ?? (fromModel ?? carried)?.antialias,
      geometry: options.geometry ?? (fromModel ?? carried)?.geometry,
      fromModel: fromModel ?? carried,
      labels: userLabels ?? (source.kind !== 'saved-model' && source.labels ? await loadLabels(source.labels) : undefined),
      jpegDct: options.jpegDct ?? 'accurate',
      foldBatchNorms: options.foldBatchNorms ?? false,
      progress,
    });
  } catch (err) {
    await lock?.release();
    throw err;
  } finally {
    if (!options.source && source.kind !== 'saved-model') source.model.dispose();
  }
  const converted = performance.now();

  progress({ step: 'write', message: `writing ${modelDir}` });
  const provenance: Provenance = {
    schema: PROVENANCE_SCHEMA,
    exporter: EXPORTER,
    exportedAt: new Date().toISOString(),
    ...source.provenance,
    ...(built.result.jpegDct === null ? {} : { jpegDct: built.result.jpegDct }),
  };
  try {
    await writeSavedModel(
      modelDir,
      {
        savedModel: built.savedModel,
        assets: built.assets,
        assetsExtra: {
          ...options.assetsExtra,
          [PROVENANCE_FILE]: serializeProvenance(provenance),
          ...(built.preprocessingRecord === undefined ? {} : { [PREPROCESSING_FILE]: built.preprocessingRecord }),
        },
      },
      { overwrite: options.force, lock, beforeMove: options.beforeMove },
    );
  } finally {
    await lock.release();
  }
  const savedModelBytes = (await stat(join(modelDir, SAVED_MODEL_PB))).size;
  const written = performance.now();

  return {
    ...built.result,
    modelDir,
    provenance,
    savedModelBytes,
    timings: {
      load: Math.round(loaded - started),
      convert: Math.round(converted - loaded),
      write: Math.round(written - converted),
      total: Math.round(written - started),
    },
  };
}

interface BuildOptions {
  inputFormat: ImageEncoding | typeof TENSOR_INPUT;
  preprocess: PreprocessMode;
  normalize: readonly PreprocessStep[] | undefined;
  resize: ResizeMethod | undefined;
  grid: PixelGrid | undefined;
  antialias: boolean | undefined;
  geometry: Geometry | undefined;
  fromModel: ModelPreprocessing | undefined;
  jpegDct: JpegDct;
  labels: Labels | undefined;
  foldBatchNorms: boolean;
  progress: (progress: ExportProgress) => void;
}

function buildSavedModel(
  source: ModelSource | SavedModelSource,
  options: BuildOptions,
): {
  savedModel: SavedModel;
  assets: Record<string, string> | undefined;
  /** assets.extra/tensorsky_preprocessing.json; undefined without the image front. */
  preprocessingRecord: string | undefined;
  result: Omit<ExportResult, 'modelDir' | 'provenance' | 'savedModelBytes' | 'timings'>;
} {
  const g = new GraphBuilder();
  // Weights written once, whichever signatures of a SavedModel use them.
  const constants = new Map<object, GraphTensor>();
  const network = buildNetwork(g, source, options, constants);
  const { signature, foldedBatchNorms, classes } = network;
  const labels = classes === null ? undefined : labelsText(options.labels, classes);
  const signatures: Record<string, SignatureDef> = { [SIGNATURE_KEY]: signature };
  // The source's own signatures, frozen with their inputs unchanged, each under its own name scope.
  const kept = source.kind === 'saved-model' ? source.kept : [];
  for (const original of kept) {
    const key = original.key === SIGNATURE_KEY ? ORIGINAL_SERVING_DEFAULT : original.key;
    signatures[key] = g.withScope(`signature_${key.replace(/[^A-Za-z0-9_.\-]/g, '_')}`, () =>
      frozenSignature(g, original, `signature "${original.key}" of ${source.name}`, constants),
    );
  }

  // An asset is announced to TensorFlow by a graph tensor holding its file name, which the loader
  // replaces with the full path (TF1's asset collection); nothing else in the graph reads it.
  const assetFileDefs: AssetFileDef[] = [];
  if (labels) {
    const file = g.constant('labels_file', LABELS_FILE);
    assetFileDefs.push({ tensor_info: { name: file.name, dtype: DataType.DT_STRING, tensor_shape: shapeProto([]) }, filename: LABELS_FILE });
  }

  // Attrs equal to their defaults are left out (TensorFlow re-adds them when loading), so TensorFlow
  // Serving builds that predate an attr (e.g. MatMul's grad_a) still load the graph.
  const graphDef = g.toGraphDef({ stripDefaultAttrs: true });
  options.progress({ step: 'validate', message: `checking ${graphDef.node?.length ?? 0} nodes against TensorFlow's op definitions` });
  assertValidGraph(graphDef, tfOpDefs(), { signatures });

  const ops = opHistogram(graphDef);
  const { imageInput } = network;
  let steps: string[] = [];
  let record: PreprocessingRecord | undefined;
  if (imageInput) {
    const preprocessing = resolvePreprocessing(imageInput);
    const decodeOps = Object.keys(ops).filter((op) => op === 'DecodeBase64' || op.startsWith('Decode'));
    steps = [
      `decode the ${options.inputFormat === 'b64' ? 'web-safe base64 of an ' : ''}image file to ${preprocessing.channels === 1 ? 'grayscale' : 'RGB'} (${decodeOps.join(', ')}), then to float`,
      ...describePreprocessing(preprocessing),
    ];
    record = { schema: PREPROCESSING_SCHEMA, steps, preprocessing };
  }
  const savedModel: SavedModel = {
    saved_model_schema_version: 1,
    meta_graphs: [
      {
        meta_info_def: { tags: ['serve'], stripped_default_attrs: true, stripped_op_list: { op: usedOpDefs(ops) } },
        graph_def: graphDef,
        signature_def: signatures,
        ...(assetFileDefs.length > 0 ? { asset_file_def: assetFileDefs } : {}),
      },
    ],
  };
  const tensors = (infos: SignatureDef['inputs']): Record<string, ExportedTensor> =>
    Object.fromEntries(
      Object.entries(infos ?? {}).map(([alias, info]) => [
        alias,
        { name: info.name!, dtype: DataType[info.dtype!], shape: (info.tensor_shape?.dim ?? []).map((d) => Number(d.size)) },
      ]),
    );
  return {
    savedModel,
    assets: labels ? { [LABELS_FILE]: labels.text } : undefined,
    preprocessingRecord: record && `${JSON.stringify(record, null, 2)}\n`,
    result: {
      model: source.name,
      weights: source.weights,
      inputShape: network.inputShape,
      classes,
      inputFormat: options.inputFormat,
      preprocess: options.normalize === undefined ? options.preprocess : 'custom',
      preprocessing: steps,
      preprocessFrom: options.fromModel ? { source: options.fromModel.source, layers: options.fromModel.layers } : null,
      jpegDct: network.imageInput ? options.jpegDct : null,
      signature: {
        key: SIGNATURE_KEY,
        method: signature.method_name!,
        inputs: tensors(signature.inputs),
        outputs: tensors(signature.outputs),
      },
      keptSignatures: Object.keys(signatures).filter((key) => key !== SIGNATURE_KEY),
      labels: labels ? { file: `assets/${LABELS_FILE}`, count: labels.count, source: labels.source } : null,
      nodes: graphDef.node?.length ?? 0,
      ops,
      foldedBatchNorms,
    },
  };
}

/** The serving_default signature: the image front, then the model (or, for input format 'tensor', the frozen signature alone). */
function buildNetwork(
  g: GraphBuilder,
  source: ModelSource | SavedModelSource,
  options: BuildOptions,
  constants: Map<object, GraphTensor>,
): {
  signature: SignatureDef;
  inputShape: [number, number, number] | null;
  classes: number | null;
  foldedBatchNorms: number;
  /** The image front's options; null for input format 'tensor'. */
  imageInput: ImageInputOptions | null;
} {
  if (options.inputFormat === TENSOR_INPUT) {
    if (source.kind !== 'saved-model') throw new ExportError(`--input_format ${TENSOR_INPUT} applies to --saved_model only; other models get the image front`);
    const signature = frozenSignature(g, source.main, `the ${source.picked} of ${source.name}`, constants);
    return { signature, inputShape: null, classes: source.classes ?? null, foldedBatchNorms: 0, imageInput: null };
  }
  if (source.kind === 'saved-model') checkSavedModelSource(source, { inputFormat: options.inputFormat });
  const inputShape = source.kind === 'saved-model' ? source.imageShape! : source.inputShape;
  const [height, width, channels] = inputShape;
  const { fromModel } = options;
  if (fromModel?.size && (fromModel.size.height !== height || fromModel.size.width !== width)) {
    throw new ExportError(
      `--preprocess_from ${fromModel.source} makes ${fromModel.size.height}x${fromModel.size.width} images but ${source.name} takes ${height}x${width}`,
    );
  }
  const imageInput = {
    inputFormat: options.inputFormat,
    height,
    width,
    preprocess: options.preprocess,
    channels: channels as 1 | 3,
    normalize: options.normalize,
    resize: options.resize,
    grid: options.grid,
    antialias: options.antialias,
    geometry: options.geometry,
    jpegDct: options.jpegDct,
  };
  const { input, images } = buildImageInputGraph(g, imageInput);
  let output: GraphTensor;
  let folded = 0;
  if (source.kind === 'saved-model') {
    const [spec] = source.main.graph.inputs;
    const where = `the ${source.picked} of ${source.name}`;
    output = [...frozenGraphToGraph(source.main.graph, g, new Map([[spec!.alias, images]]), where, constants).outputs.values()][0]!;
  } else if (source.kind === 'graph') {
    // A graph model's batch norms are already folded or fused by tfjs-converter.
    output = graphModelToGraph(source.graph, g, images);
  } else {
    const converted = layersModelToGraph(source.model, g, images, { foldBatchNorms: options.foldBatchNorms });
    output = converted.output;
    folded = converted.foldedBatchNorms.length;
  }
  if (output.dtype !== DataType.DT_FLOAT) throw new ExportError(`the model output is ${DataType[output.dtype]}, expected DT_FLOAT`);
  const classes = source.classes ?? null;
  const signature: SignatureDef = g.signature({ inputs: input }, { outputs: output });
  // The builder does not track shapes through the network; the model knows its output shape.
  signature.outputs!.outputs!.tensor_shape = shapeProto([-1, classes ?? -1]);
  return { signature, inputShape, classes, foldedBatchNorms: folded, imageInput };
}

/** Whether the frozen signature can be exported as asked: behind the image front, it must take one image batch. */
function checkSavedModelSource(source: SavedModelSource, options: Pick<ExportOptions, 'inputFormat' | 'labels'>): void {
  if (options.labels !== undefined && source.classes === undefined) {
    throw new ExportError(`--labels needs an output [batch, classes]; the ${source.picked} of ${source.name} returns ${source.main.graph.outputs.length} outputs of other shapes`);
  }
  if (options.inputFormat === TENSOR_INPUT) return;
  const problem = imageInputProblem(source);
  if (problem) throw new ExportError(`${problem}; export it frozen without the image front with --input_format ${TENSOR_INPUT}`);
}

/** A frozen signature of a SavedModel copied into `g` with its own inputs, shapes and method as the source declares them. */
function frozenSignature(g: GraphBuilder, frozen: FrozenSignature, where: string, constants: Map<object, GraphTensor>): SignatureDef {
  const { inputs, outputs } = frozenGraphToGraph(frozen.graph, g, new Map(), where, constants);
  const signature = g.signature(Object.fromEntries(inputs), Object.fromEntries(outputs), frozen.method || undefined);
  for (const spec of frozen.graph.inputs) signature.inputs![spec.alias]!.tensor_shape = shapeProto(spec.shape);
  for (const spec of frozen.graph.outputs) signature.outputs![spec.alias]!.tensor_shape = shapeProto(spec.shape);
  return signature;
}

/** labels.txt content: one label per line, line 1 = class 0. */
function labelsText(labels: BuildOptions['labels'], classes: number): { text: string; count: number; source: string } | undefined {
  if (!labels?.classes) return undefined;
  const names = labels.classes.map((c) => c.label);
  if (names.length !== classes) {
    throw new ExportError(`labels ${labels.source} has ${names.length} labels but the model has ${classes} classes`);
  }
  const multiline = names.findIndex((name) => /[\r\n]/.test(name));
  if (multiline >= 0) throw new ExportError(`label ${multiline} of ${labels.source} contains a line break; labels.txt holds one label per line`);
  return { text: `${names.join('\n')}\n`, count: names.length, source: labels.source };
}

function opHistogram(graphDef: GraphDef): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of graphDef.node ?? []) counts[node.op] = (counts[node.op] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
}

/** meta_info_def.stripped_op_list: the OpDefs of the ops the graph uses, as TensorFlow writes it. */
function usedOpDefs(ops: Record<string, number>): OpDef[] {
  const defs = tfOpDefs();
  return Object.keys(ops)
    .sort()
    .map((op) => defs.get(op)!);
}

/** Option mistakes are reported before any slow work. */
function checkOptions(options: ExportOptions): void {
  if (!options.modelDir) throw new ExportError('no SavedModel directory given (--model_dir)');
  const formats: readonly string[] = options.savedModel === undefined ? IMAGE_ENCODINGS : [...IMAGE_ENCODINGS, TENSOR_INPUT];
  if (options.inputFormat !== undefined && !formats.includes(options.inputFormat)) {
    throw new ExportError(
      options.inputFormat === TENSOR_INPUT
        ? `--input_format ${TENSOR_INPUT} applies to --saved_model only; other models get the image front`
        : `unknown input format '${options.inputFormat}'; use ${formats.join(', ')}`,
    );
  }
  if (options.savedModel !== undefined && (options.model !== undefined || options.weights !== undefined || options.source !== undefined)) {
    throw new ExportError('--saved_model is the whole model: give it without --model or --weights');
  }
  if (options.savedModel !== undefined && options.foldBatchNorms) {
    throw new ExportError('--fold-batch-norms applies to Keras and TF.js layers models; a SavedModel is exported as its graph computes');
  }
  if (options.savedModel === undefined && (options.signature !== undefined || options.function !== undefined || options.keepSignatures)) {
    throw new ExportError('--signature, --function and --keep_signatures apply to --saved_model only');
  }
  if (options.preprocess !== undefined && !(options.preprocess in PREPROCESS_MODES)) {
    throw new ExportError(`unknown preprocessing '${options.preprocess}'; use one of ${Object.keys(PREPROCESS_MODES).join(', ')}`);
  }
  if (options.preprocess !== undefined && options.normalize !== undefined) {
    throw new ExportError(`--preprocess ${options.preprocess} and a custom normalization (--mean/--std/--scale/--channel_order) both say how to normalize: give one of them`);
  }
  if (options.jpegDct !== undefined && !JPEG_DCT_METHODS.includes(options.jpegDct)) {
    throw new ExportError(`unknown JPEG IDCT '${options.jpegDct}'; use ${JPEG_DCT_METHODS.join(' or ')}`);
  }
}

/**
 * Fails early, with a clear message, when modelDir cannot be written: a non-empty directory without
 * force, a file in its place, or an ancestor that is a file or not writable.
 */
async function checkOutputDir(modelDir: string, force: boolean): Promise<void> {
  const existing = await statIfExists(modelDir);
  if (existing) {
    if (!existing.isDirectory()) throw new ExportError(`cannot export to ${modelDir}: it exists and is not a directory`);
    if (!force && (await readdir(modelDir)).length > 0) {
      throw new ExportError(`refusing to overwrite ${modelDir}: the directory is not empty (use --force to replace it)`);
    }
  }
  // The SavedModel is assembled next to modelDir, so the nearest existing ancestor must be a writable directory.
  let ancestor = dirname(modelDir);
  for (;;) {
    const info = await statIfExists(ancestor);
    if (info) {
      if (!info.isDirectory()) throw new ExportError(`cannot export to ${modelDir}: ${ancestor} is a file, not a directory`);
      try {
        await access(ancestor, fsConstants.W_OK);
      } catch {
        throw new ExportError(`cannot export to ${modelDir}: ${ancestor} is not writable`);
      }
      return;
    }
    if (dirname(ancestor) === ancestor) return;
    ancestor = dirname(ancestor);
  }
}

async function statIfExists(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ExportError(`cannot check ${path}: ${(err as Error).message}`);
  }
}
