// The serving signature's contract with its clients, decided here once for every package: what the
// signature takes and returns, how an image input wants its bytes (and how to send them), and which
// output holds the class scores. predict, verify, deploy, predict-cloud and the exporter all ask here,
// so that they cannot disagree on the same model.
import { toBase64 } from './base64.js';
import { getMetaGraph, type LoadedSavedModel } from './io.js';
import { DataType, dataTypeName, type MetaGraphDef, type NodeDef, type TensorInfo } from './proto.js';
import { shapeFromProto } from './tensor.js';
import { CALL_OPS } from './tensor-name.js';

/**
 * How a DT_STRING image input wants its bytes: 'b64' when the graph first decodes the string with
 * DecodeBase64 (send web-safe base64 text, as in the tutorial's export), 'bytes' when it reaches an
 * image decoder directly (the file itself; TF Serving and Vertex AI clients send it as {"b64": ...}).
 */
export type ImageEncoding = 'b64' | 'bytes';
export const IMAGE_ENCODINGS: readonly ImageEncoding[] = ['b64', 'bytes'];

/** The key of the signature TF Serving and Vertex AI call. */
export const DEFAULT_SIGNATURE = 'serving_default';
/** TF1's key for the init op; a SignatureDef by form, not one to call. */
export const INIT_OP_SIGNATURE = '__saved_model_init_op';

export interface TensorSummary {
  /** The signature's key for the tensor (inputs['x']). */
  alias: string;
  /** Graph tensor name, e.g. "x:0". */
  name: string;
  /** e.g. "DT_FLOAT". */
  dtype: string;
  /** -1 for unknown dimensions; null when even the rank is unknown. */
  shape: number[] | null;
  /** For DT_STRING inputs that reach a decoder (describeSignature only): how they want the image's bytes. */
  encoding?: ImageEncoding;
}

export interface SignatureSummary {
  key: string;
  methodName: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
}

/** A TensorInfo as saved_model_cli shows it. */
export function summarizeTensor(alias: string, info: TensorInfo): TensorSummary {
  return { alias, name: info.name ?? '', dtype: dataTypeName(info.dtype ?? DataType.DT_INVALID), shape: shapeFromProto(info.tensor_shape) ?? null };
}

export class SignatureError extends Error {
  override name = 'SignatureError';
}

/** The signatures one can call (TF1's init-op entry excluded). */
export function signatureKeys(metaGraph: MetaGraphDef): string[] {
  return Object.keys(metaGraph.signature_def ?? {}).filter((k) => k !== INIT_OP_SIGNATURE);
}

/** Describes signature `key` of `metaGraph`, with the encoding of each image input. */
export function describeSignature(metaGraph: MetaGraphDef, key: string): SignatureSummary {
  const sig = metaGraph.signature_def?.[key];
  if (!sig || !signatureKeys(metaGraph).includes(key)) {
    throw new SignatureError(`no signature "${key}" in this SavedModel; available: ${signatureKeys(metaGraph).join(', ') || 'none'}`);
  }
  // Fed and fetched by base type: a TF1 ref dtype (DT_FLOAT_REF) is read as its value.
  const tensors = (entries: Record<string, TensorInfo>, isInput: boolean): TensorSummary[] =>
    Object.entries(entries).map(([alias, t]) => {
      const encoding = isInput && t.dtype === DataType.DT_STRING && t.name ? imageInputEncoding(metaGraph, t.name) : undefined;
      const summary = summarizeTensor(alias, t);
      return { ...summary, dtype: summary.dtype.replace(/_REF$/, ''), ...(encoding ? { encoding } : {}) };
    });
  return { key, methodName: sig.method_name ?? '', inputs: tensors(sig.inputs ?? {}, true), outputs: tensors(sig.outputs ?? {}, false) };
}

/** describeSignature on the SavedModel's MetaGraphDef with `tags` (default ["serve"]). */
export function describeSavedModelSignature(model: LoadedSavedModel, key = DEFAULT_SIGNATURE, tags: string[] = ['serve']): SignatureSummary {
  return describeSignature(getMetaGraph(model.savedModel, tags), key);
}

const IMAGE_DECODE_OPS = new Set(['DecodeJpeg', 'DecodeAndCropJpeg', 'DecodePng', 'DecodeGif', 'DecodeBmp', 'DecodeImage']);

/**
 * Follows the string tensor `tensor` forward through the graph (and into the bodies of the functions it
 * is passed to) to the first decoding op on each path: DecodeBase64 → 'b64', an image decoder → 'bytes';
 * undefined when it reaches neither (a text input).
 */
export function imageInputEncoding(metaGraph: MetaGraphDef, tensor: string): ImageEncoding | undefined {
  const library = new Map((metaGraph.graph_def?.library?.function ?? []).map((f) => [f.signature?.name ?? '', f]));
  // A node is "<scope>\0<name>" (NUL-separated), scope '' for the graph, else the function name. Inputs name nodes
  // ("node", "node:1", "^node") or, in function bodies, arguments and "node:output:index".
  const consumers = new Map<string, { node: NodeDef; scope: string; index: number }[]>();
  const index = (scope: string, nodes: NodeDef[]) => {
    for (const node of nodes) {
      (node.input ?? []).forEach((input, i) => {
        if (input.startsWith('^')) return;
        const key = `${scope}\0${input.split(':')[0]}`;
        const list = consumers.get(key) ?? [];
        list.push({ node, scope, index: i });
        consumers.set(key, list);
      });
    }
  };
  index('', metaGraph.graph_def?.node ?? []);
  for (const [name, f] of library) index(name, f.node_def ?? []);

  let found: ImageEncoding | undefined;
  const seen = new Set<string>();
  const queue = [`\0${tensor.split(':')[0]}`];
  while (queue.length > 0) {
    for (const { node, scope, index: i } of consumers.get(queue.shift()!) ?? []) {
      if (node.op === 'DecodeBase64') return 'b64';
      if (IMAGE_DECODE_OPS.has(node.op)) {
        found = 'bytes';
        continue;
      }
      const key = `${scope}\0${node.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      queue.push(key);
      const callee = library.get(CALL_OPS.has(node.op) ? (node.attr?.f?.func?.name ?? '') : node.op);
      const arg = callee?.signature?.input_arg?.[i]?.name;
      if (arg !== undefined) queue.push(`${callee!.signature!.name}\0${arg}`);
    }
  }
  return found;
}

/**
 * TF Serving's REST convention: a DT_STRING input or output whose alias ends in "_bytes" carries binary
 * data, written {"b64": ...} in JSON. The only encoding rule left when the graph cannot be seen (a
 * remote server's metadata).
 */
export function isBinaryAlias(alias: string): boolean {
  return alias.endsWith('_bytes');
}

type TensorLike = { dtype: string; shape: number[] | null };

/** The image input: the signature's only input, a DT_STRING that reaches a decoder; else undefined. */
export function imageInput<T extends TensorLike & { encoding?: ImageEncoding }>(inputs: readonly T[]): (T & { encoding: ImageEncoding }) | undefined {
  const [only] = inputs;
  return inputs.length === 1 && only.dtype === 'DT_STRING' && only.encoding ? (only as T & { encoding: ImageEncoding }) : undefined;
}

/** Output names that mean class scores, in the order they are preferred when several outputs are floats. */
const SCORES_NAMES = ['outputs', 'scores', 'probabilities', 'predictions'];

/**
 * The class-scores output: the only output; else the only DT_FLOAT output of rank <= 2 (or unknown
 * rank); else, among those, the first with a conventional name (outputs, scores, probabilities,
 * predictions). undefined when none of these rules decides.
 */
export function scoresOutput<T extends TensorLike & ({ alias: string } | { name: string })>(outputs: readonly T[]): T | undefined {
  if (outputs.length === 1) return outputs[0];
  const key = (o: T) => ('alias' in o ? o.alias : o.name);
  const floats = outputs.filter((o) => o.dtype === 'DT_FLOAT' && (o.shape === null || o.shape.length <= 2));
  if (floats.length === 1) return floats[0];
  for (const name of SCORES_NAMES) {
    const found = floats.find((o) => key(o) === name);
    if (found) return found;
  }
  return undefined;
}

/** What to feed a local run of the graph for one image file: web-safe base64 text, or the bytes. */
export function imageFeed(bytes: Uint8Array, encoding: ImageEncoding): string | Uint8Array {
  return encoding === 'b64' ? toBase64(bytes, 'web-safe') : bytes;
}

/**
 * One image as the JSON value of an image input (TF Serving / Vertex AI): the web-safe base64 text the
 * graph decodes itself, or {"b64": standard base64} for raw bytes (the servers decode that JSON form
 * before the graph runs). A row-format instance is {[input alias]: imageValue(...)}.
 */
export function imageValue(bytes: Uint8Array, encoding: ImageEncoding): string | { b64: string } {
  return encoding === 'b64' ? toBase64(bytes, 'web-safe') : { b64: toBase64(bytes, 'standard') };
}
