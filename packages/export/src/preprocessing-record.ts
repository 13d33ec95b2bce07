// What an exported model does to an image before the network, for `tensorsky inspect`: the record the
// export writes (assets.extra/tensorsky_preprocessing.json) says it in words, with the numbers the user
// gave (0.875, not the float64 constant and arithmetic the graph computes it with), and is used when the
// graph agrees with it (same resize op and attrs, same crop/pad steps). Without a record (an export from
// an older tensorsky, or a graph edited since), the steps are read from the graph itself.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANTIALIAS_KERNELS, PREPROCESSING_FILE, PREPROCESSING_SCHEMA, resizeAttrs, type PreprocessingRecord } from '@tensorsky/preprocess';
import { ASSETS_EXTRA_DIR, tensorProtoToArray, type GraphDef, type NodeDef } from '@tensorsky/saved-model';

export interface PreprocessingSteps {
  /** 'record': assets.extra/tensorsky_preprocessing.json, checked against the graph; 'graph': read from the graph's ops. */
  from: 'record' | 'graph';
  steps: string[];
  /** Why the record was not used, when there is one. */
  note?: string;
}

const RESIZE_OPS: Record<string, string> = {
  ResizeBilinear: 'bilinear',
  ResizeNearestNeighbor: 'nearest',
  ResizeBicubic: 'bicubic',
  ResizeArea: 'area',
  ScaleAndTranslate: 'antialiased',
};

function kernelType(node: NodeDef): string {
  const s = node.attr?.kernel_type?.s;
  // The OpDef default, when the attr was stripped.
  return s === undefined ? 'lanczos3' : typeof s === 'string' ? s : new TextDecoder().decode(s);
}

/** The preprocessing steps of the export in `dir` whose graph is `graph`; undefined if it has no image input graph. */
export async function preprocessingSteps(dir: string, graph: GraphDef): Promise<PreprocessingSteps | undefined> {
  const nodes = graph.node ?? [];
  const record = await readRecord(dir);
  const fromGraph = stepsFromGraph(nodes);
  if (record === undefined) return fromGraph && { from: 'graph', steps: fromGraph };
  const mismatch = recordMismatch(record, nodes);
  if (!mismatch) return { from: 'record', steps: record.steps };
  return { from: 'graph', steps: fromGraph ?? [], note: `${PREPROCESSING_FILE} does not match the graph (${mismatch}); steps read from the graph` };
}

async function readRecord(dir: string): Promise<PreprocessingRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, ASSETS_EXTRA_DIR, PREPROCESSING_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const record = JSON.parse(text) as PreprocessingRecord;
    return record.schema === PREPROCESSING_SCHEMA && Array.isArray(record.steps) ? record : undefined;
  } catch {
    return undefined;
  }
}

function boolAttr(node: NodeDef, name: string): boolean {
  return node.attr?.[name]?.b ?? false;
}

function recordMismatch(record: PreprocessingRecord, nodes: readonly NodeDef[]): string | undefined {
  const p = record.preprocessing;
  const resizes = nodes.filter((n) => n.op in RESIZE_OPS);
  if (resizes.length !== 1) return `${resizes.length} resize ops`;
  const [resize] = resizes as [NodeDef];
  if (p.antialias) {
    const expected = ANTIALIAS_KERNELS[p.resize];
    if (resize.op !== 'ScaleAndTranslate' || kernelType(resize) !== expected) return `the record says ${p.resize} antialiased (ScaleAndTranslate ${expected}), the graph has ${resize.op}`;
    return geometryMismatch(p, nodes);
  }
  if (RESIZE_OPS[resize.op] !== p.resize) return `the graph resizes with ${resize.op}, the record says ${p.resize}`;
  const attrs = resizeAttrs(p.resize, p.grid);
  if (boolAttr(resize, 'align_corners') !== attrs.alignCorners || boolAttr(resize, 'half_pixel_centers') !== (attrs.halfPixelCenters ?? false)) {
    return `${resize.op}'s align_corners/half_pixel_centers differ from the record's ${p.grid}`;
  }
  return geometryMismatch(p, nodes);
}

function geometryMismatch(p: PreprocessingRecord['preprocessing'], nodes: readonly NodeDef[]): string | undefined {
  const scopes = { central_crop: '/central_crop/', pad_to_square: '/pad_to_square/', short_side: '/short_side/', resize_then_crop: '/center_crop/' } as const;
  for (const [kind, scope] of Object.entries(scopes)) {
    const inGraph = nodes.some((n) => n.name.includes(scope) && (n.op === 'Slice' || n.op === 'Pad' || n.op === 'Minimum'));
    const expected = p.geometry.kind === kind || (kind === 'resize_then_crop' && p.geometry.kind === 'short_side');
    if (inGraph !== expected) return `the graph ${inGraph ? 'has' : 'lacks'} the ${kind} step`;
  }
  return undefined;
}

/** Decode, resize and normalization ops of a tensorsky serving graph, one line each, read from the nodes. */
function stepsFromGraph(nodes: readonly NodeDef[]): string[] | undefined {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const images = byName.get('preprocess/images');
  if (!images) return undefined;
  const steps: string[] = [];
  const decodes = [...new Set(nodes.filter((n) => n.op.startsWith('Decode')).map((n) => n.op))];
  if (decodes.length > 0) steps.push(`decode (${decodes.join(', ')})`);
  for (const n of nodes) {
    if (n.name.includes('/central_crop/') && n.op === 'Slice') steps.push('central crop (Slice; fraction computed in float64)');
    if (n.name.includes('/pad_to_square/') && n.op === 'Pad') steps.push('pad to a square with zeros (Pad)');
    if (n.op === 'ScaleAndTranslate') steps.push(`resize with ScaleAndTranslate (kernel_type=${kernelType(n)}, antialias=${n.attr?.antialias?.b ?? true})`);
    else if (n.op in RESIZE_OPS) {
      const attrs = ['align_corners', 'half_pixel_centers'].filter((a) => boolAttr(n, a)).map((a) => `${a}=true`);
      steps.push(`resize with ${n.op}${attrs.length ? ` (${attrs.join(', ')})` : ' (legacy pixel centers)'}`);
    }
    if (n.name.includes('/center_crop/') && n.op === 'Slice') steps.push('crop the center (Slice)');
  }
  // Normalization: the chain of ops between the gathered batch and preprocess/images.
  const chain: string[] = [];
  let node: NodeDef | undefined = byName.get(images.input?.[0] ?? '');
  while (node && node.op !== 'TensorArrayGatherV3') {
    const operand = byName.get((node.input?.[1] ?? '').split(':')[0]!);
    const value = operand?.op === 'Const' && operand.attr?.value?.tensor ? Array.from(tensorProtoToArray(operand.attr.value.tensor) as ArrayLike<number>, Number) : undefined;
    const shown = value === undefined ? '' : value.length === 1 ? ` ${value[0]}` : ` [${value.join(', ')}]`;
    const verb = { RealDiv: 'divide by', Sub: 'subtract', Mul: 'multiply by', AddV2: 'add', GatherV2: 'reorder channels' }[node.op] ?? node.op;
    chain.unshift(node.op === 'GatherV2' ? 'reorder channels RGB -> BGR' : `${verb}${shown}`);
    node = byName.get((node.input?.[0] ?? '').split(':')[0]!);
  }
  return [...steps, ...chain];
}
