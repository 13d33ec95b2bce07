import {
  exportSavedModel,
  JPEG_DCT_METHODS,
  PREPROCESS_MODES,
  type ExportOptions,
  type ExportProgress,
  type ExportResult,
} from '@tensorsky/export';
import { IMAGE_ENCODINGS } from '@tensorsky/saved-model';
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
    describe: 'Keras .h5 model, Keras 3 .keras archive, or TF.js layers or graph model (model.json or its folder); default: Keras InceptionV3',
  },
  weights: {
    type: 'string',
    describe: "imagenet (InceptionV3's ImageNet weights, downloaded once; the default for InceptionV3), random, or a Keras .h5 weights file",
  },
  seed: { type: 'number', default: 0, describe: 'Seed for --weights random' },
  'input-format': {
    type: 'string',
    choices: IMAGE_ENCODINGS,
    default: 'b64',
    describe: 'b64: web-safe base64 strings of image files; bytes: the raw files (TF Serving / Vertex AI {"b64": ...})',
  },
  preprocess: {
    type: 'string',
    choices: Object.keys(PREPROCESS_MODES),
    describe: `Pixel scaling: ${Object.entries(PREPROCESS_MODES).map(([mode, what]) => `${mode} = ${what}`).join('; ')}. Default: inception`,
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
  force: { type: 'boolean', default: false, describe: 'Replace a non-empty --model_dir' },
  json: { type: 'boolean', default: false, describe: 'Print the result as JSON' },
} as const);

export function exportCommand(output: Output): CommandModule {
  return {
    command: 'export',
    describe: 'Export an image classifier (Keras InceptionV3, a Keras .h5 or TF.js model) as a frozen SavedModel that decodes images itself',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const seed = argv.seed as number;
      if (!Number.isSafeInteger(seed)) throw new FlagError('seed', `must be an integer, got ${seed}`);
      const result = await exportSavedModel({
        modelDir: argv['model-dir'] as string,
        model: argv.model as string | undefined,
        weights: argv.weights as string | undefined,
        seed,
        inputFormat: argv['input-format'] as ExportOptions['inputFormat'],
        preprocess: argv.preprocess as ExportOptions['preprocess'],
        jpegDct: argv['jpeg-dct'] as ExportOptions['jpegDct'],
        labels: argv.labels as string | undefined,
        foldBatchNorms: argv['fold-batch-norms'] as boolean,
        force: argv.force as boolean,
        onProgress: progressPrinter((line) => output.err(`tensorsky export: ${line}`)),
      });
      if (argv.json) output.json(result);
      else for (const line of formatResult(result)) output.out(line);
    },
  };
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
  const { inputs, outputs } = r.signature;
  const [height, width, channels] = r.inputShape;
  const encoding = r.inputFormat === 'b64' ? 'web-safe base64 of' : 'raw bytes of';
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    `Exported ${r.model} (weights: ${r.weights}) to ${r.modelDir}`,
    `  signature ${r.signature.key}: inputs ${tensor(inputs.inputs)} -> outputs ${tensor(outputs.outputs)}`,
    `  input: ${encoding} JPEG/PNG/GIF/BMP files, decoded to ${channels === 1 ? 'grayscale' : 'RGB'} and resized to ${height}x${width}`,
    `  preprocess: ${r.preprocess}, ${PREPROCESS_MODES[r.preprocess]}`,
    `  JPEG IDCT: ${r.jpegDct === 'accurate' ? 'accurate (DecodeJpeg dct_method=INTEGER_ACCURATE; DecodeImage for other formats)' : 'fast (DecodeImage, IFAST)'}`,
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
