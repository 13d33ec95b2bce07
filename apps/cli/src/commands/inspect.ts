// `tensorsky inspect`: what `saved_model_cli show --all` prints, plus graph statistics. saved_model_cli's
// spellings work too: --dir DIR, --tag_set, --signature_def NAME, --all.
import { preprocessingSteps, type PreprocessingSteps } from '@tensorsky/export';
import { readOnnxRecord, savedModelDigest } from '@tensorsky/predict-local';
import {
  readSavedModel,
  summarizeSavedModel,
  type MetaGraphSummary,
  type SavedModelSummary,
  type TensorSummary,
} from '@tensorsky/saved-model';
import type { CommandModule } from 'yargs';
import { didYouMean } from '../did-you-mean.js';
import { formatOnnxRecord } from '../onnx-record.js';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { FlagError, UsageError } from '../usage.js';

interface InspectArgs {
  directory?: string;
  dir?: string;
  json: boolean;
  tag?: string;
  'signature-def'?: string;
  all: boolean;
}

/** Op kinds listed in text output; --json has them all. */
const TOP_OPS = 12;

const options = withSnakeAliases({
  dir: { type: 'string', describe: "SavedModel directory, saved_model_cli's way (instead of DIRECTORY)" },
  json: { type: 'boolean', default: false, describe: 'Print JSON' },
  tag: {
    type: 'string',
    alias: ['tag-set', 'tag_set'],
    describe: 'Only the MetaGraphDef with this tag-set, comma-separated (e.g. serve or serve,gpu)',
  },
  'signature-def': { type: 'string', describe: 'Only this SignatureDef (e.g. serving_default): its inputs and outputs' },
  all: { type: 'boolean', default: false, describe: "Everything, as saved_model_cli's --all (what inspect shows anyway)" },
} as const);

export class InspectCommandError extends Error {
  override name = 'InspectCommandError';
}

export function inspectCommand(output: Output): CommandModule<object, InspectArgs> {
  return {
    command: 'inspect [directory]',
    describe: 'Show a SavedModel: tags, signatures, ops, constants, variables',
    builder: (y) =>
      y
        .positional('directory', { type: 'string', describe: 'SavedModel directory (holds saved_model.pb)' })
        .options(options),
    handler: async (args) => {
      const dir = savedModelDir(args);
      const signature = args['signature-def'];
      if (signature !== undefined && args.all) throw new FlagError('signature-def', 'shows one SignatureDef and --all every one: give one of them');
      const tags = args.tag?.split(',').map((t) => t.trim()).filter(Boolean);
      const loaded = await readSavedModel(dir);
      const summary = await summarizeSavedModel(loaded, { tags });
      const shown = signature === undefined ? summary : onlySignature(summary, signature, args.tag);
      // The image preprocessing of a tensorsky export (its serve graph), when the graph has one.
      const graph = loaded.savedModel.meta_graphs?.find((mg) => mg.meta_info_def?.tags?.includes('serve'))?.graph_def;
      const preprocessing = signature === undefined && graph ? await preprocessingSteps(summary.dir, graph) : undefined;
      // export --onnx's network, and whether it still matches this SavedModel (loadModel ignores it otherwise).
      const onnxRecord = signature === undefined ? await readOnnxRecord(summary.dir) : undefined;
      const onnx = onnxRecord && { ...onnxRecord, matchesSavedModel: onnxRecord.savedModel === (await savedModelDigest(summary.dir)) };
      if (args.json) output.json({ ...shown, ...(preprocessing ? { preprocessing } : {}), ...(onnx ? { onnx } : {}) });
      else {
        for (const line of formatSummary(shown, { graph: signature === undefined })) output.out(line);
        if (preprocessing) for (const line of formatPreprocessing(preprocessing)) output.out(line);
        if (onnx) {
          output.out('');
          for (const line of formatOnnxRecord(onnx, '')) output.out(line);
          if (!onnx.matchesSavedModel) output.out('  stale: written for another version of this SavedModel (engine onnx ignores it; export again with --onnx)');
        }
      }
    },
  };
}

/** The directory, given as the positional argument or as --dir (saved_model_cli's spelling). */
function savedModelDir(args: InspectArgs): string {
  if (args.directory !== undefined && args.dir !== undefined) {
    throw new FlagError('dir', 'and a DIRECTORY argument both name the SavedModel: give one of them');
  }
  const dir = args.directory ?? args.dir;
  if (dir === undefined) throw new UsageError('inspect needs a SavedModel directory: tensorsky inspect DIRECTORY, or --dir DIRECTORY');
  return dir;
}

/** The summary with only SignatureDef `key`, in each MetaGraphDef that has it. */
function onlySignature(summary: SavedModelSummary, key: string, tagSet: string | undefined): SavedModelSummary {
  const metaGraphs = summary.metaGraphs.flatMap((mg) => {
    const signature = mg.signatures.find((s) => s.key === key);
    return signature ? [{ ...mg, signatures: [signature] }] : [];
  });
  if (metaGraphs.length === 0) {
    const available = [...new Set(summary.metaGraphs.flatMap((mg) => mg.signatures.map((s) => s.key)))];
    const where = tagSet === undefined ? 'this SavedModel' : `the MetaGraphDef with tag-set "${tagSet}"`;
    const meant = didYouMean(key, available);
    throw new InspectCommandError(
      `no SignatureDef "${key}" in ${where}; available SignatureDefs: ${available.map((k) => `"${k}"`).join(', ') || 'none'}${meant ? `; did you mean "${meant}"?` : ''}`,
    );
  }
  return { ...summary, metaGraphs };
}

/** saved_model_cli-style text, one tensor per line; without `graph`, only the signatures. */
function formatSummary(summary: SavedModelSummary, { graph }: { graph: boolean }): string[] {
  const lines = [`SavedModel ${summary.dir} (saved_model.pb ${formatBytes(summary.pbBytes)})`];
  for (const metaGraph of summary.metaGraphs) {
    lines.push('', ...formatSignatures(metaGraph));
    if (graph) lines.push('', ...formatGraph(metaGraph));
  }
  if (!graph) return lines;
  lines.push('');
  const { variables } = summary;
  if (variables.present) {
    lines.push(`Variables: ${variables.files.map((f) => `${f.name} (${formatBytes(f.bytes)})`).join(', ')}`);
  } else {
    lines.push('Variables: none (variables/variables.index missing or empty)');
  }
  lines.push(`Assets: ${summary.assets.length > 0 ? summary.assets.join(', ') : 'none'}`);
  return lines;
}

function formatPreprocessing(p: PreprocessingSteps): string[] {
  const from = p.from === 'record' ? 'assets.extra/tensorsky_preprocessing.json, checked against the graph' : 'read from the graph ops';
  return ['', `Preprocessing (${from}):`, ...(p.note ? [`  note: ${p.note}`] : []), ...p.steps.map((step, i) => `  ${i + 1}. ${step}`)];
}

function formatSignatures(mg: MetaGraphSummary): string[] {
  const lines = [`MetaGraphDef with tag-set: '${mg.tags.join(', ')}' contains the following SignatureDefs:`];
  for (const sig of mg.signatures) {
    lines.push('', `signature_def['${sig.key}']:`);
    for (const t of sig.inputs) lines.push(`  inputs['${t.alias}'] ${formatTensor(t)}`);
    for (const t of sig.outputs) lines.push(`  outputs['${t.alias}'] ${formatTensor(t)}`);
    lines.push(`  Method name is: ${sig.methodName}`);
  }
  return lines;
}

function formatGraph(mg: MetaGraphSummary): string[] {
  const { graph, functions, functionNodes } = mg.nodes;
  const shownOps = mg.ops.slice(0, TOP_OPS).map((o) => `${o.op} ${o.count}`);
  const moreOps = mg.ops.length > TOP_OPS ? `, and ${mg.ops.length - TOP_OPS} more` : '';
  return [
    `TensorFlow version: ${mg.tensorflowVersion || 'unknown'}`,
    `Nodes: ${graph} in the graph, ${functionNodes} in ${functions} function${functions === 1 ? '' : 's'}`,
    `Ops (${mg.ops.length} kinds): ${shownOps.join(', ')}${moreOps}`,
    `Constants: ${mg.constants.count} Const nodes holding ${formatBytes(mg.constants.bytes)}`,
    `Saver: ${mg.saverDef ? 'yes' : 'no'}`,
    `JPEG decoding: ${formatJpegDecoders(mg.jpegDecoders)}`,
  ];
}

/** E.g. "DecodeJpeg 1 (accurate IDCT, dct_method INTEGER_ACCURATE), DecodeImage 1 (fast IDCT)". */
function formatJpegDecoders(decoders: MetaGraphSummary['jpegDecoders']): string {
  if (decoders.length === 0) return 'none (no decode op in the graph)';
  return decoders
    .map((d) => `${d.op} ${d.count} (${d.idct} IDCT${d.idct === 'accurate' ? ', dct_method INTEGER_ACCURATE' : ''})`)
    .join(', ');
}

function formatTensor(t: TensorSummary): string {
  // saved_model_cli's notation: (-1, 1), () for a scalar, unknown_rank.
  const shape = t.shape === null ? 'unknown_rank' : `(${t.shape.join(', ')})`;
  return `tensor_info: dtype: ${t.dtype} shape: ${shape} name: ${t.name}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
