import {
  readSavedModel,
  summarizeSavedModel,
  type MetaGraphSummary,
  type SavedModelSummary,
  type TensorSummary,
} from '@tensorsky/saved-model';
import type { CommandModule } from 'yargs';
import type { Output } from '../output.js';

interface InspectArgs {
  dir: string;
  json: boolean;
  tag?: string;
}

/** Op kinds listed in text output; --json has them all. */
const TOP_OPS = 12;

export function inspectCommand(output: Output): CommandModule<object, InspectArgs> {
  return {
    command: 'inspect <dir>',
    describe: 'Show a SavedModel: tags, signatures, ops, constants, variables',
    builder: (y) =>
      y
        .positional('dir', {
          type: 'string',
          demandOption: true,
          describe: 'SavedModel directory (holds saved_model.pb)',
        })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
        .option('tag', {
          type: 'string',
          describe: 'Only the MetaGraphDef with this tag-set, comma-separated (e.g. serve or serve,gpu)',
        }),
    handler: async (args) => {
      const tags = args.tag?.split(',').map((t) => t.trim()).filter(Boolean);
      const summary = await summarizeSavedModel(await readSavedModel(args.dir), { tags });
      if (args.json) output.json(summary);
      else for (const line of formatSummary(summary)) output.out(line);
    },
  };
}

/** saved_model_cli-style text, one tensor per line. */
function formatSummary(summary: SavedModelSummary): string[] {
  const lines = [`SavedModel ${summary.dir} (saved_model.pb ${formatBytes(summary.pbBytes)})`];
  for (const metaGraph of summary.metaGraphs) lines.push('', ...formatMetaGraph(metaGraph));
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

function formatMetaGraph(mg: MetaGraphSummary): string[] {
  const lines = [`MetaGraphDef with tag-set: '${mg.tags.join(', ')}' contains the following SignatureDefs:`];
  for (const sig of mg.signatures) {
    lines.push('', `signature_def['${sig.key}']:`);
    for (const t of sig.inputs) lines.push(`  inputs['${t.alias}'] ${formatTensor(t)}`);
    for (const t of sig.outputs) lines.push(`  outputs['${t.alias}'] ${formatTensor(t)}`);
    lines.push(`  Method name is: ${sig.methodName}`);
  }
  const { graph, functions, functionNodes } = mg.nodes;
  const shownOps = mg.ops.slice(0, TOP_OPS).map((o) => `${o.op} ${o.count}`);
  const moreOps = mg.ops.length > TOP_OPS ? `, and ${mg.ops.length - TOP_OPS} more` : '';
  lines.push(
    '',
    `TensorFlow version: ${mg.tensorflowVersion || 'unknown'}`,
    `Nodes: ${graph} in the graph, ${functionNodes} in ${functions} function${functions === 1 ? '' : 's'}`,
    `Ops (${mg.ops.length} kinds): ${shownOps.join(', ')}${moreOps}`,
    `Constants: ${mg.constants.count} Const nodes holding ${formatBytes(mg.constants.bytes)}`,
    `Saver: ${mg.saverDef ? 'yes' : 'no'}`,
  );
  return lines;
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
