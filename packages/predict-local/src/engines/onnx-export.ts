// The network as a plain ONNX model inside the SavedModel: `tensorsky export --onnx` writes
// assets.extra/model.onnx (what engine onnx translates the network into, self-contained, for the ONNX
// ecosystem) and assets.extra/tensorsky_onnx.json, which records what it was translated from (the
// SavedModel's digest, the signature, the translator's digest) and the image front that computes its
// input. TensorFlow Serving and Vertex AI leave assets.extra/ alone. loadModel uses the file instead of
// translating again only when the record matches the SavedModel and this translator; otherwise it
// says in one line why it ignored it.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  ASSETS_EXTRA_DIR,
  dataTypeName,
  dtypeInfo,
  readSavedModel,
  type FrozenGraph,
  type NodeDef,
} from '@tensorsky/saved-model';
import { OPSET } from '../onnx/builder.js';
import { frozenSignatureGraph } from '../signature-graph.js';
import { fileSha256, savedModelDigest, translatorDigest } from './network-digest.js';
import { frontOf, splitNetwork, translateNetwork, type NetworkSplit } from './onnx.js';

export const ONNX_MODEL_FILE = 'model.onnx';
export const ONNX_RECORD_FILE = 'tensorsky_onnx.json';
const SCHEMA = 'tensorsky.onnx/1';

export interface OnnxTensorRecord {
  /** The ONNX model's input or output name (the TensorFlow tensor it stands for). */
  name: string;
  /** ONNX element type, e.g. float32. */
  type: string;
  /** -1 for a dimension of any size (the batch). */
  shape: number[] | null;
}

/** assets.extra/tensorsky_onnx.json. */
export interface OnnxRecord {
  schema: typeof SCHEMA;
  file: string;
  /** ONNX opset the model imports (ai.onnx). */
  opset: number;
  bytes: number;
  sha256: string;
  /** savedModelDigest of the SavedModel the network was translated from. */
  savedModel: string;
  tags: string[];
  signature: string;
  /** translatorDigest of the translator that wrote it. */
  translator: string;
  /** Inputs: the image front's outputs (layout NHWC, as TensorFlow computes them), then signature inputs the network reads. */
  inputs: (OnnxTensorRecord & { from: 'front' | 'signature'; layout?: 'NHWC' })[];
  outputs: (OnnxTensorRecord & { signatureKey: string })[];
  /** The op types the image front runs before the network, in graph order (the steps are in tensorsky_preprocessing.json). */
  frontOps: string[];
}

function tensorRecord(name: string, dtype: number, shape: readonly number[] | undefined | null): OnnxTensorRecord {
  return { name, type: dtypeInfo(dtype).ort ?? dataTypeName(dtype), shape: shape ? [...shape] : null };
}

/**
 * Translates the signature of the SavedModel in `dir` and writes assets.extra/model.onnx and its record
 * there (for `export --onnx`, into the export's staging dir before it moves into place). Throws
 * OnnxUnavailableError (one line) when the network cannot be translated; then nothing is written.
 */
export async function writeOnnxModel(dir: string, options: { tags?: string[]; signature?: string } = {}): Promise<OnnxRecord> {
  const tags = options.tags ?? ['serve'];
  const signature = options.signature ?? 'serving_default';
  const graph = frozenSignatureGraph(await readSavedModel(dir), tags, signature);
  const split = splitNetwork(graph);
  const translated = translateNetwork(graph, split);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const record: OnnxRecord = {
    schema: SCHEMA,
    file: ONNX_MODEL_FILE,
    opset: OPSET,
    bytes: translated.bytes.length,
    sha256: createHash('sha256').update(translated.bytes).digest('hex'),
    savedModel: await savedModelDigest(dir),
    tags,
    signature,
    translator: await translatorDigest(),
    inputs: split.feeds.map((f, i) => ({
      ...tensorRecord(translated.inputNames[i], f.dtype, f.shape),
      from: i < split.boundary ? ('front' as const) : ('signature' as const),
      ...(i < split.boundary && f.shape?.length === 4 ? { layout: 'NHWC' as const } : {}),
    })),
    outputs: graph.outputs.map((o, i) => ({ ...tensorRecord(translated.outputNames[i], o.dtype, o.shape), signatureKey: o.alias })),
    frontOps: frontOps(split, byName),
  };
  const extra = path.join(dir, ASSETS_EXTRA_DIR);
  await fs.mkdir(extra, { recursive: true });
  await fs.writeFile(path.join(extra, ONNX_MODEL_FILE), translated.bytes);
  await fs.writeFile(path.join(extra, ONNX_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** Distinct op types the front runs, in graph order (constants and pass-throughs left out). */
function frontOps(split: NetworkSplit, byName: ReadonlyMap<string, NodeDef>): string[] {
  const ops = frontOf(split.feeds.slice(0, split.boundary).map((f) => f.tensor), byName).map((n) => n.op);
  return [...new Set(ops)].filter((op) => !['Const', 'Identity', 'NoOp'].includes(op));
}

/** assets.extra/tensorsky_onnx.json of the SavedModel in `dir`, if there is one that parses. */
export async function readOnnxRecord(dir: string): Promise<OnnxRecord | undefined> {
  try {
    const record = JSON.parse(await fs.readFile(path.join(dir, ASSETS_EXTRA_DIR, ONNX_RECORD_FILE), 'utf8')) as OnnxRecord;
    return record?.schema === SCHEMA ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The exported network of the SavedModel in `dir` when its record matches (`digest` = savedModelDigest(dir),
 * this translator, the signature, where `graph` splits); undefined when there is none; an Error (one line) saying
 * why an existing one is ignored.
 */
export async function readExportedOnnx(
  dir: string,
  digest: string,
  tags: readonly string[],
  signature: string,
  graph: FrozenGraph,
): Promise<{ path: string; inputNames: string[]; outputNames: string[] } | Error | undefined> {
  const file = path.join(dir, ASSETS_EXTRA_DIR, ONNX_MODEL_FILE);
  const exists = await fs.stat(file).then(() => true, () => false);
  if (!exists) return undefined;
  const ignored = (why: string) => new Error(`${ASSETS_EXTRA_DIR}/${ONNX_MODEL_FILE} ignored (${why}); translated the network again`);
  let split: NetworkSplit;
  try {
    split = splitNetwork(graph);
  } catch {
    return undefined; // loadWithOnnx says why the network cannot run on ORT
  }
  const record = await readOnnxRecord(dir);
  if (!record) return ignored(`no readable ${ONNX_RECORD_FILE} says what it was translated from`);
  if (record.signature !== signature || [...record.tags].sort().join() !== [...tags].sort().join()) return ignored(`it is the network of signature ${record.signature}, not ${signature}`);
  if (record.savedModel !== digest) return ignored('written for another version of this SavedModel');
  if (record.translator !== (await translatorDigest())) return ignored('written by another version of the translator');
  const names = record.inputs.map((i) => i.name);
  if (record.inputs.length !== split.feeds.length || record.inputs.filter((i) => i.from === 'front').length !== split.boundary) {
    return ignored('its inputs are not where this graph splits');
  }
  // Hashed in pieces, and ORT reads the file itself: a 100 MB buffer of our own would cost as much as
  // translating again (first-touch page faults).
  if ((await fs.stat(file)).size !== record.bytes || (await fileSha256(file)) !== record.sha256) return ignored('its bytes are not those recorded');
  return { path: file, inputNames: names, outputNames: record.outputs.map((o) => o.name) };
}
