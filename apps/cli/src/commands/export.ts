import {
  APPLICATION_NAMES,
  exportSavedModel,
  JPEG_DCT_METHODS,
  PREPROCESS_MODES,
  SIGNATURE_KEY,
  TENSOR_INPUT,
  type ExportOptions,
  type ExportProgress,
  type ExportResult,
} from '@tensorsky/export';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { detectImageFormat, notAnImageMessage } from '@tensorsky/image';
import { ASSETS_EXTRA_DIR, DataType, IMAGE_ENCODINGS, tensorProto, toBase64, type ImageEncoding } from '@tensorsky/saved-model';
import { ONNX_MODEL_FILE, OnnxUnavailableError, writeOnnxModel, type OnnxRecord } from '@tensorsky/predict-local';
import { formatOnnxRecord } from '../onnx-record.js';
import { WARMUP_FILE, warmupFileBytes } from '@tensorsky/serve';
import { normalizationSteps, PIXEL_GRIDS, RESIZE_METHODS, type Geometry, type NormalizationValues } from '@tensorsky/preprocess';
import type { CommandModule } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { FlagError } from '../usage.js';

const options = withSnakeAliases({
  'model-dir': {
    type: 'string',
    demandOption: true,
    describe: 'SavedModel directory to create, e.g. models/inception/1 (refused if not empty, unless --force)',
  },
  model: {
    type: 'string',
    describe: `A built-in Keras application (${APPLICATION_NAMES.join(', ')}), a Keras .h5 model, Keras 3 .keras archive, or TF.js layers or graph model (model.json or its folder); default: inception_v3`,
  },
  'saved-model': {
    type: 'string',
    describe: 'A TensorFlow SavedModel folder (tf.saved_model.save, model.export()): its signature is frozen (functions inlined, variables made constants) behind the image front',
  },
  signature: { type: 'string', describe: 'With --saved_model: the signature to export (default serving_default)' },
  function: { type: 'string', describe: 'With --saved_model: a concrete function of its TF2 object graph to export instead of a signature' },
  'keep-signatures': {
    type: 'boolean',
    default: false,
    describe: `With --saved_model: keep its signatures (frozen, inputs unchanged) next to the new serving_default (its own serving_default as serving_default_original)`,
  },
  weights: {
    type: 'string',
    describe: "imagenet (the built-in application's ImageNet weights from Keras, downloaded once into ~/.keras/models; its default), random, or a Keras .h5 weights file",
  },
  seed: { type: 'number', default: 0, describe: 'Seed for --weights random' },
  'input-format': {
    type: 'string',
    choices: [...IMAGE_ENCODINGS, TENSOR_INPUT],
    default: 'b64',
    describe: `b64: web-safe base64 strings of image files; bytes: the raw files (TF Serving / Vertex AI {"b64": ...}); ${TENSOR_INPUT} (--saved_model only): no image front, the signature frozen with its own inputs`,
  },
  preprocess: {
    type: 'string',
    choices: Object.keys(PREPROCESS_MODES),
    describe: `Pixel scaling: ${Object.entries(PREPROCESS_MODES).map(([mode, what]) => `${mode} = ${what}`).join('; ')}. Default: inception`,
  },
  resize: {
    type: 'string',
    choices: Object.keys(RESIZE_METHODS),
    describe: 'Resize method (TensorFlow op): bilinear (default), nearest, bicubic, area',
  },
  'resize-grid': {
    type: 'string',
    choices: Object.keys(PIXEL_GRIDS),
    describe: `Pixel centers of the resize: ${Object.entries(PIXEL_GRIDS).map(([grid, what]) => `${grid} = ${what}`).join('; ')}. Default: half_pixel`,
  },
  antialias: { type: 'boolean', describe: 'Antialiased bilinear/bicubic resizing, as tf.image.resize(antialias=True) (ScaleAndTranslate)' },
  'central-crop': { type: 'number', describe: 'Keep the central FRACTION of each side first (tf.image.central_crop; TF-slim Inception eval uses 0.875)' },
  'short-side': { type: 'number', describe: 'Resize so the short side is N (aspect ratio kept), then crop the center to the network size (torchvision/Keras-CV: 256 for 224)' },
  'pad-to-square': { type: 'boolean', describe: 'Zero-pad to a square (image centered, tf.image.pad_to_bounding_box) before resizing' },
  scale: { type: 'number', describe: 'Custom normalization: multiply pixels 0-255 by this first (Keras Rescaling), e.g. 0.00392156862745098' },
  mean: { type: 'string', describe: 'Custom normalization: subtract this, one value or one per channel (comma-separated, in the model channel order)' },
  std: { type: 'string', describe: 'Custom normalization: then divide by this, one value or one per channel (comma-separated)' },
  'channel-order': { type: 'string', choices: ['rgb', 'bgr'], describe: 'Custom normalization: channel order the model takes (bgr reorders first, as Keras caffe mode). Default: rgb' },
  'preprocess-from': {
    type: 'string',
    describe: "A Keras model (.keras, .h5, TF.js model.json, or its folder) or JSON config whose Resizing/CenterCrop/Rescaling/Normalization input layers give the preprocessing; flags given here win",
  },
  'jpeg-dct': {
    type: 'string',
    choices: JPEG_DCT_METHODS,
    default: 'accurate',
    describe:
      "IDCT for JPEGs in the serving graph: accurate (libjpeg's ISLOW, as PIL and sharp decode: DecodeJpeg dct_method=INTEGER_ACCURATE) or fast (IFAST, TensorFlow's DecodeImage default)",
  },
  labels: { type: 'string', describe: 'Labels for assets/labels.txt: imagenet, none, or a file (one label per line, or JSON)' },
  'fold-batch-norms': {
    type: 'boolean',
    default: false,
    describe: 'Fold batch norms into the convolutions before them (smaller graph, exact only to float32 rounding per layer)',
  },
  'warmup-images': {
    type: 'string',
    describe:
      'Images (comma-separated files) written as predict requests to assets.extra/tf_serving_warmup_requests: TF Serving and tensorsky serve replay them as the version loads, so the first real request is not a cold one',
  },
  onnx: {
    type: 'boolean',
    default: false,
    describe:
      'Also write the numeric network as a plain ONNX model, assets.extra/model.onnx (input: the image front\'s output, NHWC float32; see assets.extra/tensorsky_onnx.json); refused if an op has no ONNX translation',
  },
  force: { type: 'boolean', default: false, describe: 'Replace a non-empty --model_dir' },
  json: { type: 'boolean', default: false, describe: 'Print the result as JSON' },
} as const);

export function exportCommand(output: Output): CommandModule {
  return {
    command: 'export',
    describe: 'Export an image classifier (a built-in Keras application, a Keras .h5/.keras, TF.js model or TensorFlow SavedModel) as a frozen SavedModel that decodes images itself',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const seed = argv.seed as number;
      if (!Number.isSafeInteger(seed)) throw new FlagError('seed', `must be an integer, got ${seed}`);
      const normalize = normalizationFlags(argv);
      if (normalize !== undefined && argv.preprocess !== undefined) {
        throw new FlagError('preprocess', 'and --mean/--std/--scale/--channel_order both say how to normalize: give one of them');
      }
      const inputFormat = argv['input-format'] as ImageEncoding;
      const warmupImages = argv['warmup-images'] as string | undefined;
      const assetsExtra = warmupImages === undefined ? undefined : { [path.basename(WARMUP_FILE)]: await warmupRequests(warmupImages, inputFormat) };
      let onnx: OnnxRecord | undefined;
      const result = await exportSavedModel({
        modelDir: argv['model-dir'] as string,
        model: argv.model as string | undefined,
        savedModel: argv['saved-model'] as string | undefined,
        signature: argv.signature as string | undefined,
        function: argv.function as string | undefined,
        keepSignatures: (argv['keep-signatures'] as boolean) || undefined,
        weights: argv.weights as string | undefined,
        seed,
        inputFormat,
        preprocess: argv.preprocess as ExportOptions['preprocess'],
        normalize,
        resize: argv.resize as ExportOptions['resize'],
        grid: argv['resize-grid'] as ExportOptions['grid'],
        antialias: argv.antialias as boolean | undefined,
        geometry: geometryFlags(argv),
        preprocessFrom: argv['preprocess-from'] as string | undefined,
        jpegDct: argv['jpeg-dct'] as ExportOptions['jpegDct'],
        labels: argv.labels as string | undefined,
        foldBatchNorms: argv['fold-batch-norms'] as boolean,
        force: argv.force as boolean,
        assetsExtra,
        beforeMove: argv.onnx ? async (staged) => void (onnx = await writeOnnx(staged, (line) => output.err(`tensorsky export: ${line}`))) : undefined,
        onProgress: progressPrinter((line) => output.err(`tensorsky export: ${line}`)),
      });
      if (argv.json) output.json(onnx ? { ...result, onnx } : result);
      else for (const line of [...formatResult(result), ...(onnx ? formatOnnxRecord(onnx, '  ') : [])]) output.out(line);
    },
  };
}

/** --central-crop, --short-side, --pad-to-square: at most one. */
function geometryFlags(argv: Record<string, unknown>): Geometry | undefined {
  const given = (['central-crop', 'short-side', 'pad-to-square'] as const).filter((k) => argv[k] !== undefined && argv[k] !== false);
  if (given.length > 1) throw new FlagError(given[1]!, `and --${given[0]} both say how to crop: give one of them`);
  const fraction = argv['central-crop'] as number | undefined;
  if (fraction !== undefined) {
    if (!(fraction > 0 && fraction <= 1)) throw new FlagError('central-crop', `must be a fraction in (0, 1], got ${fraction}`);
    return { kind: 'central_crop', fraction };
  }
  const shortSide = argv['short-side'] as number | undefined;
  if (shortSide !== undefined) {
    if (!Number.isInteger(shortSide) || shortSide < 1) throw new FlagError('short-side', `must be a positive integer (pixels), got ${shortSide}`);
    return { kind: 'short_side', shortSide };
  }
  return argv['pad-to-square'] ? { kind: 'pad_to_square' } : undefined;
}

/** --scale, --mean, --std, --channel-order as normalization steps, or undefined when none is given. */
function normalizationFlags(argv: Record<string, unknown>): ExportOptions['normalize'] {
  const values: NormalizationValues = {
    scale: argv.scale as number | undefined,
    mean: numberList(argv, 'mean'),
    std: numberList(argv, 'std'),
    channelOrder: argv['channel-order'] as NormalizationValues['channelOrder'],
  };
  if (values.scale !== undefined && !Number.isFinite(values.scale)) throw new FlagError('scale', `must be a number, got ${String(argv.scale)}`);
  if (Object.values(values).every((v) => v === undefined)) return undefined;
  return normalizationSteps(values);
}

function numberList(argv: Record<string, unknown>, key: 'mean' | 'std'): number | number[] | undefined {
  const text = argv[key] as string | undefined;
  if (text === undefined) return undefined;
  const values = text.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
  if (values.some((v) => !Number.isFinite(v))) throw new FlagError(key, `must be a number or comma-separated numbers (one per channel), got '${text}'`);
  if (key === 'std' && values.some((v) => v === 0)) throw new FlagError(key, `must not be 0, got '${text}'`);
  return values.length === 1 ? values[0]! : values;
}

/**
 * TF Serving's warmup file for the exported signature: one predict request per image, its input
 * (DT_STRING [1]) holding the file as the model takes it (web-safe base64 text, or the raw bytes).
 * Images are checked here: one the model cannot decode would make every load of the version fail.
 */
async function warmupRequests(list: string, inputFormat: ImageEncoding): Promise<Uint8Array> {
  const files = list.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (files.length === 0) throw new FlagError('warmup-images', 'names no file; give image files separated by commas');
  const requests = [];
  for (const file of files) {
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new FlagError('warmup-images', `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    if (!detectImageFormat(bytes)) throw new FlagError('warmup-images', notAnImageMessage(file, bytes));
    const value = inputFormat === 'b64' ? new TextEncoder().encode(toBase64(bytes, 'web-safe')) : new Uint8Array(bytes);
    requests.push({ signatureName: SIGNATURE_KEY, inputs: { inputs: tensorProto(DataType.DT_STRING, [1], [value], { fields: true }) } });
  }
  return warmupFileBytes(requests);
}

/** export --onnx: the network of the staged SavedModel translated into assets.extra/model.onnx, or one line saying why not. */
async function writeOnnx(staged: string, progress: (line: string) => void): Promise<OnnxRecord> {
  progress(`translating the network to ONNX (${ASSETS_EXTRA_DIR}/${ONNX_MODEL_FILE})`);
  try {
    return await writeOnnxModel(staged);
  } catch (err) {
    if (!(err instanceof OnnxUnavailableError)) throw err;
    throw new Error(`--onnx: the network cannot be written as ONNX: ${err.message}; nothing was written (export without --onnx)`);
  }
}

/** One line per step; downloads print every 10% (or every 10 MiB when the size is unknown). */
function progressPrinter(print: (line: string) => void): (progress: ExportProgress) => void {
  let lastShown = -1;
  return (p) => {
    if (p.step !== 'download') {
      print(p.message);
      return;
    }
    const bytes = p.bytes ?? 0;
    const mark = p.total ? Math.floor((bytes / p.total) * 10) : Math.floor(bytes / (10 * 2 ** 20));
    if (mark === lastShown && bytes !== p.total) return;
    lastShown = mark;
    const amount = p.total ? `${formatBytes(bytes)} of ${formatBytes(p.total)} (${Math.floor((bytes / p.total) * 100)}%)` : formatBytes(bytes);
    print(`${p.message}: ${amount}`);
  };
}

function formatResult(r: ExportResult): string[] {
  const tensor = (t: { dtype: string; shape: number[] }) => `${t.dtype} [${t.shape.join(', ')}]`;
  const tensors = (ts: Record<string, { dtype: string; shape: number[] }>) =>
    Object.entries(ts)
      .map(([alias, t]) => `${alias} ${tensor(t)}`)
      .join(', ');
  const { inputs, outputs } = r.signature;
  const encoding = r.inputFormat === 'b64' ? 'web-safe base64 of' : 'raw bytes of';
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const input = r.inputShape
    ? [
        `  input: ${encoding} JPEG/PNG/GIF/BMP files, decoded to ${r.inputShape[2] === 1 ? 'grayscale' : 'RGB'} and resized to ${r.inputShape[0]}x${r.inputShape[1]}`,
        `  preprocess: ${r.preprocess}${r.preprocess === 'custom' ? '' : `, ${PREPROCESS_MODES[r.preprocess]}`}`,
        ...(r.preprocessFrom ? [`  preprocessing from ${r.preprocessFrom.source}: ${r.preprocessFrom.layers.join(', ')}`] : []),
        ...r.preprocessing.map((line, i) => `    ${i + 1}. ${line}`),
        `  JPEG IDCT: ${r.jpegDct === 'accurate' ? 'accurate (DecodeJpeg dct_method=INTEGER_ACCURATE; DecodeImage for other formats)' : 'fast (DecodeImage, IFAST)'}`,
      ]
    : ['  input: the signature\'s own tensors (no image front)'];
  return [
    `Exported ${r.model} (weights: ${r.weights}) to ${r.modelDir}`,
    `  signature ${r.signature.key}: ${tensors(inputs)} -> ${tensors(outputs)}`,
    ...input,
    ...(r.keptSignatures.length > 0 ? [`  kept signatures: ${r.keptSignatures.join(', ')}`] : []),
    `  graph: ${r.nodes} nodes, ${r.foldedBatchNorms} batch norms folded; saved_model.pb ${formatBytes(r.savedModelBytes)}, variables/ empty`,
    `  labels: ${r.labels ? `${r.labels.file} (${r.labels.count} classes, from ${r.labels.source})` : 'none'}`,
    `  time: ${seconds(r.timings.total)} (load ${seconds(r.timings.load)}, convert ${seconds(r.timings.convert)}, write ${seconds(r.timings.write)})`,
  ];
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
