// `tensorsky export`: a Keras or TF.js image classifier → a frozen TensorFlow SavedModel whose graph
// decodes, resizes and normalizes images itself (serving_default: inputs DT_STRING [-1] → outputs
// DT_FLOAT [-1, classes]). Weights are constants (variables/ stays empty); labels go to assets/labels.txt,
// and where the model and its weights came from to assets.extra/tensorsky_provenance.json.
import { readFileSync } from 'node:fs';
import { access, constants as fsConstants, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { loadLabels, type Labels } from '@tensorsky/decode';
import { PREPROCESS_MODES, type PreprocessMode } from '@tensorsky/preprocess';
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
  type ImageEncoding,
  type OpDef,
  type Provenance,
  type SavedModel,
  type SignatureDef,
  type TargetLock,
} from '@tensorsky/saved-model';
import { layersModelToGraph } from './convert/layers.js';
import { graphModelToGraph } from './graph-model.js';
import { JPEG_DCT_METHODS, type JpegDct } from './jpeg-dct.js';
import { buildImageInputGraph } from './serving-input.js';
import { loadModelSource, type ModelSource, type ModelSourceOptions } from './source.js';

export const SIGNATURE_KEY = 'serving_default';
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
  /** Default 'b64' (web-safe base64 strings, as in the tutorial). */
  inputFormat?: ImageEncoding;
  /** Default: what the source says (inception for InceptionV3), else 'inception'. */
  preprocess?: PreprocessMode;
  /** The IDCT the serving graph decodes JPEGs with: 'accurate' (default; PIL's and sharp's) or 'fast' (TensorFlow's DecodeImage). */
  jpegDct?: JpegDct;
  /** A label preset ('imagenet', 'none', ...) or a labels file; default: ImageNet labels for the 1000-class InceptionV3. */
  labels?: string;
  /** Fold batch norms into the preceding convolution (smaller graph; exact only to float32 rounding per layer). Default false. */
  foldBatchNorms?: boolean;
  /** Replace a non-empty modelDir. */
  force?: boolean;
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
  /** [height, width, channels] the graph resizes images to. */
  inputShape: [number, number, number];
  classes: number;
  inputFormat: ImageEncoding;
  preprocess: PreprocessMode;
  jpegDct: JpegDct;
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

  let source = options.source;
  if (!source) {
    progress({ step: 'load', message: options.model ? `loading ${options.model}` : 'building InceptionV3' });
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

  let lock: TargetLock | undefined;
  let built: ReturnType<typeof buildSavedModel>;
  try {
    // From here on a second export into modelDir is refused; taking the lock also clears what a killed export left.
    lock = await lockTarget(modelDir);
    const size = source.kind === 'graph' ? `${source.graph.nodes.size} nodes` : `${source.model.layers.length} layers`;
    progress({ step: 'convert', message: `converting ${source.name} (${size}) to TensorFlow ops` });
    built = buildSavedModel(source, {
      inputFormat: options.inputFormat ?? 'b64',
      preprocess: options.preprocess ?? source.preprocess ?? 'inception',
      jpegDct: options.jpegDct ?? 'accurate',
      labels: userLabels ?? (source.labels ? await loadLabels(source.labels) : undefined),
      foldBatchNorms: options.foldBatchNorms ?? false,
      progress,
    });
  } catch (err) {
    await lock?.release();
    throw err;
  } finally {
    if (!options.source) source.model.dispose();
  }
  const converted = performance.now();

  progress({ step: 'write', message: `writing ${modelDir}` });
  const provenance: Provenance = {
    schema: PROVENANCE_SCHEMA,
    exporter: EXPORTER,
    exportedAt: new Date().toISOString(),
    ...source.provenance,
    jpegDct: built.result.jpegDct,
  };
  try {
    await writeSavedModel(
      modelDir,
      { savedModel: built.savedModel, assets: built.assets, assetsExtra: { [PROVENANCE_FILE]: serializeProvenance(provenance) } },
      { overwrite: options.force, lock },
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
  inputFormat: ImageEncoding;
  preprocess: PreprocessMode;
  jpegDct: JpegDct;
  labels: Labels | undefined;
  foldBatchNorms: boolean;
  progress: (progress: ExportProgress) => void;
}

function buildSavedModel(
  source: ModelSource,
  options: BuildOptions,
): {
  savedModel: SavedModel;
  assets: Record<string, string> | undefined;
  result: Omit<ExportResult, 'modelDir' | 'provenance' | 'savedModelBytes' | 'timings'>;
} {
  const [height, width, channels] = source.inputShape;
  const labels = labelsText(options.labels, source.classes);

  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, {
    inputFormat: options.inputFormat,
    height,
    width,
    preprocess: options.preprocess,
    channels: channels as 1 | 3,
    jpegDct: options.jpegDct,
  });
  // A graph model's batch norms are already folded or fused by tfjs-converter.
  const { output, foldedBatchNorms } =
    source.kind === 'graph'
      ? { output: graphModelToGraph(source.graph, g, images), foldedBatchNorms: [] }
      : layersModelToGraph(source.model, g, images, { foldBatchNorms: options.foldBatchNorms });
  if (output.dtype !== DataType.DT_FLOAT) throw new ExportError(`the model output is ${DataType[output.dtype]}, expected DT_FLOAT`);

  const signature: SignatureDef = g.signature({ inputs: input }, { outputs: output });
  // The builder does not track shapes through the network; the model knows its output shape.
  signature.outputs!.outputs!.tensor_shape = shapeProto([-1, source.classes]);

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
  assertValidGraph(graphDef, tfOpDefs(), { signatures: { [SIGNATURE_KEY]: signature } });

  const ops = opHistogram(graphDef);
  const savedModel: SavedModel = {
    saved_model_schema_version: 1,
    meta_graphs: [
      {
        meta_info_def: { tags: ['serve'], stripped_default_attrs: true, stripped_op_list: { op: usedOpDefs(ops) } },
        graph_def: graphDef,
        signature_def: { [SIGNATURE_KEY]: signature },
        ...(assetFileDefs.length > 0 ? { asset_file_def: assetFileDefs } : {}),
      },
    ],
  };
  const tensor = (alias: 'inputs' | 'outputs'): ExportedTensor => {
    const info = (alias === 'inputs' ? signature.inputs : signature.outputs)![alias]!;
    return { name: info.name!, dtype: DataType[info.dtype!], shape: (info.tensor_shape?.dim ?? []).map((d) => Number(d.size)) };
  };
  return {
    savedModel,
    assets: labels ? { [LABELS_FILE]: labels.text } : undefined,
    result: {
      model: source.name,
      weights: source.weights,
      inputShape: source.inputShape,
      classes: source.classes,
      inputFormat: options.inputFormat,
      preprocess: options.preprocess,
      jpegDct: options.jpegDct,
      signature: {
        key: SIGNATURE_KEY,
        method: signature.method_name!,
        inputs: { inputs: tensor('inputs') },
        outputs: { outputs: tensor('outputs') },
      },
      labels: labels ? { file: `assets/${LABELS_FILE}`, count: labels.count, source: labels.source } : null,
      nodes: graphDef.node?.length ?? 0,
      ops,
      foldedBatchNorms: foldedBatchNorms.length,
    },
  };
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
  if (options.inputFormat !== undefined && !IMAGE_ENCODINGS.includes(options.inputFormat)) {
    throw new ExportError(`unknown input format '${options.inputFormat}'; use ${IMAGE_ENCODINGS.join(' or ')}`);
  }
  if (options.preprocess !== undefined && !(options.preprocess in PREPROCESS_MODES)) {
    throw new ExportError(`unknown preprocessing '${options.preprocess}'; use one of ${Object.keys(PREPROCESS_MODES).join(', ')}`);
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
