// loadModel: runs a SavedModel signature in Node, either with real TensorFlow (@tensorflow/tfjs-node,
// when installed) or with our executor: the signature's frozen graph on tfjs-converter (wasm or cpu).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from './tf.js';
import {
  DataType,
  dataTypeName,
  getMetaGraph,
  readSavedModel,
  readTensorBundle,
  shapeFromProto,
  type BundleTensor,
  type MetaGraphDef,
  type NodeDef,
  type TensorInfo,
} from '@tensorsky/saved-model';
import { ASYNC_CUSTOM_OPS, CUSTOM_OPS, registerCustomOps } from './custom-ops.js';
import { freezeSignatureGraph, parseRef, signatureKeys, type FrozenGraph, type TensorSpec } from './graph.js';
import { tfjsDtype, toTfjsModel, unsupportedOps } from './tfjs-model.js';
import { defaultWasmThreads, setWasmThreads } from './wasm-backend.js';

export class PredictLocalError extends Error {
  override name = 'PredictLocalError';
}

/** The signature uses ops neither tfjs-converter nor our kernels implement. */
export class UnsupportedOpsError extends PredictLocalError {
  override name = 'UnsupportedOpsError';
  constructor(readonly ops: string[]) {
    super(
      `the local executor cannot run ops ${ops.join(', ')}; install @tensorflow/tfjs-node to run this model with TensorFlow itself (backend 'tensorflow')`,
    );
  }
}

/** 'tensorflow' = @tensorflow/tfjs-node; 'wasm'/'cpu' = our executor on that TF.js backend; 'auto' picks the first that works. */
export type Backend = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface LoadModelOptions {
  backend?: Backend;
  /** MetaGraphDef tag-set; default ["serve"]. */
  tags?: string[];
  /** Signature key; default "serving_default". */
  signature?: string;
  /**
   * Threads of the wasm backend (XNNPACK's pool), fixed when this thread first starts it; default
   * TENSORSKY_WASM_THREADS or one per core. Give 1 where threads already run models side by side.
   */
  threads?: number;
}

export interface TensorInfoSummary {
  /** Signature key of the input or output. */
  name: string;
  /** TensorFlow dtype name, e.g. "DT_FLOAT". */
  dtype: string;
  /** -1 for unknown dimensions; null for unknown rank. */
  shape: number[] | null;
  /**
   * For DT_STRING inputs, what the graph does with the string first: 'base64' when it reaches a
   * DecodeBase64 (feed web-safe base64 text), 'bytes' when it reaches an image decoder directly (feed
   * the file's bytes); absent when neither is found.
   */
  encoding?: 'base64' | 'bytes';
}

export interface SignatureInfo {
  key: string;
  methodName: string;
  inputs: TensorInfoSummary[];
  outputs: TensorInfoSummary[];
}

/** A numeric tensor (nested arrays, typed array, tf.Tensor), or for DT_STRING inputs strings/bytes. */
export type InputValue = tf.Tensor | tf.TensorLike | Uint8Array | (string | Uint8Array)[];

export interface OutputTensor {
  /** TensorFlow dtype name from the signature, e.g. "DT_FLOAT". */
  dtype: string;
  shape: number[];
  /** Float32Array for floats, Int32Array for integer types (TF.js computes them as int32), Uint8Array of 0/1 for bools, bytes per element for strings. */
  data: Float32Array | Int32Array | Uint8Array | Uint8Array[];
}

export interface LocalModel {
  /** What runs the graph: 'tensorflow' (tfjs-node) or the TF.js backend of our executor. */
  backend: 'tensorflow' | 'wasm' | 'cpu';
  signature: SignatureInfo;
  predict(inputs: Record<string, InputValue>): Promise<Record<string, OutputTensor>>;
  /** Frees the model's weights. */
  dispose(): void;
}

const DEFAULT_SIGNATURE = 'serving_default';

function summarize(metaGraph: MetaGraphDef, key: string): SignatureInfo {
  const sig = metaGraph.signature_def?.[key];
  if (!sig || !signatureKeys(metaGraph).includes(key)) {
    throw new PredictLocalError(`no signature "${key}" in this SavedModel; available: ${signatureKeys(metaGraph).join(', ') || 'none'}`);
  }
  const info = (entries: Record<string, TensorInfo>, isInput: boolean): TensorInfoSummary[] =>
    Object.entries(entries).map(([name, t]) => {
      const encoding = isInput && t.dtype === DataType.DT_STRING && t.name ? stringInputEncoding(metaGraph, t.name) : undefined;
      return {
        name,
        dtype: dataTypeName(t.dtype ?? DataType.DT_INVALID).replace(/_REF$/, ''),
        shape: shapeFromProto(t.tensor_shape) ?? null,
        ...(encoding ? { encoding } : {}),
      };
    });
  return { key, methodName: sig.method_name ?? '', inputs: info(sig.inputs ?? {}, true), outputs: info(sig.outputs ?? {}, false) };
}

const IMAGE_DECODE_OPS = new Set(['DecodeJpeg', 'DecodeAndCropJpeg', 'DecodePng', 'DecodeGif', 'DecodeBmp', 'DecodeImage']);
const CALL_OPS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);

/**
 * Follows the string tensor `tensor` forward through the graph (and into the bodies of the functions
 * it is passed to) to the first decoding op on each path: DecodeBase64 → 'base64', an image decoder → 'bytes'.
 */
function stringInputEncoding(metaGraph: MetaGraphDef, tensor: string): 'base64' | 'bytes' | undefined {
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

  let found: 'base64' | 'bytes' | undefined;
  const seen = new Set<string>();
  const queue = [`\0${tensor.split(':')[0]}`];
  while (queue.length > 0) {
    for (const { node, scope, index: i } of consumers.get(queue.shift()!) ?? []) {
      if (node.op === 'DecodeBase64') return 'base64';
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

// ---------------------------------------------------------------------------------------------
// Backends.

/** The part of @tensorflow/tfjs-node's API used here. */
interface TfjsNode {
  tensor: MakeTensor;
  node: {
    loadSavedModel(dir: string, tags: string[], signature: string): Promise<{
      predict(inputs: Record<string, tf.Tensor>): tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;
      dispose(): void;
    }>;
  };
}

/** @tensorflow/tfjs-node, or why it cannot be loaded (not installed, or its native library is missing). */
async function importTfjsNode(): Promise<TfjsNode | Error> {
  const name = '@tensorflow/tfjs-node';
  try {
    return (await import(name)) as TfjsNode;
  } catch (err) {
    return err as Error;
  }
}

// Backend switches are serialised and shared by concurrent loads: while setBackend() is pending,
// tf.getBackend() already names the new backend (or starts initialising another one), so a second
// caller must await the same switch instead of asking TF.js.
let lastSwitch: { name: 'wasm' | 'cpu'; done: Promise<boolean> } | undefined;

function useTfjsBackend(name: 'wasm' | 'cpu', threads: number): Promise<boolean> {
  const previous = lastSwitch;
  const done =
    previous?.name === name
      ? previous.done.then((ok) => (ok && tf.getBackend() === name ? true : switchTfjsBackend(name, threads)))
      : (previous?.done ?? Promise.resolve(true)).then(() => switchTfjsBackend(name, threads));
  lastSwitch = { name, done };
  return done;
}

async function switchTfjsBackend(name: 'wasm' | 'cpu', threads: number): Promise<boolean> {
  try {
    if (name === 'wasm') await setWasmThreads(threads);
    else await import('@tensorflow/tfjs-backend-cpu');
  } catch {
    return false;
  }
  try {
    return tf.getBackend() === name || (await tf.setBackend(name));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs and outputs.

type MakeTensor = (values: tf.TensorLike, shape?: number[], dtype?: tf.DataType) => tf.Tensor;

function toTensor(value: InputValue, spec: TensorSpec, make: MakeTensor): tf.Tensor {
  const dtype = tfjsDtype(spec.dtype);
  if (!dtype) throw new PredictLocalError(`input "${spec.alias}" has dtype ${dataTypeName(spec.dtype)}, which is not supported`);
  if (value instanceof tf.Tensor) {
    if (dtype === 'string' && value.dtype !== 'string') throw new PredictLocalError(`input "${spec.alias}" must be strings (DT_STRING)`);
    return dtype === 'string' || value.dtype === dtype ? value.clone() : tf.cast(value, dtype);
  }
  try {
    if (dtype !== 'string') return make(value, undefined, dtype);
    const scalar = typeof value === 'string' || value instanceof Uint8Array;
    return make(scalar ? [value] : value, scalar ? [] : undefined, 'string');
  } catch (err) {
    throw new PredictLocalError(`input "${spec.alias}" is not a valid ${dataTypeName(spec.dtype)} tensor: ${(err as Error).message}`);
  }
}

/** A signature input's default (SignatureDef.defaults) as a tensor. */
function defaultTensor(spec: TensorSpec): tf.Tensor {
  const { values, shape, dtype } = spec.defaultValue!;
  const tfjs = tfjsDtype(dtype);
  if (!tfjs) throw new PredictLocalError(`default of input "${spec.alias}" has dtype ${dataTypeName(dtype)}, which is not supported`);
  const flat = tfjs === 'string' ? (values as Uint8Array[]) : Array.from(values as ArrayLike<number | bigint | boolean>, Number);
  return tf.tensor(flat, shape, tfjs);
}

function checkInputNames(inputs: Record<string, InputValue>, specs: TensorSpec[]): void {
  const expected = specs.map((s) => s.alias);
  const unknown = Object.keys(inputs).filter((k) => !expected.includes(k));
  const missing = specs.filter((s) => !(s.alias in inputs) && !s.defaultValue).map((s) => s.alias);
  if (unknown.length || missing.length) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', unknown.length ? `unknown ${unknown.join(', ')}` : ''].filter(Boolean);
    throw new PredictLocalError(`inputs do not match the signature (${parts.join('; ')}); expected: ${expected.join(', ')}`);
  }
}

async function readOutput(t: tf.Tensor, spec: TensorSpec): Promise<OutputTensor> {
  const dtype = dataTypeName(spec.dtype);
  if (t.dtype === 'string') return { dtype, shape: t.shape, data: (await t.bytes()) as Uint8Array[] };
  const data = (await t.data()) as ArrayLike<number>;
  // TF.js may keep a cast tensor's original storage (an int32 → float32 Cast holds an Int32Array).
  if (t.dtype === 'float32') return { dtype, shape: t.shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
  if (t.dtype === 'int32') return { dtype, shape: t.shape, data: data instanceof Int32Array ? data : Int32Array.from(data) };
  return { dtype, shape: t.shape, data: Uint8Array.from(data) };
}

// ---------------------------------------------------------------------------------------------
// Engines.

async function loadWithTfjsNode(tfnode: TfjsNode, dir: string, tags: string[], key: string, signature: SignatureInfo, specs: { inputs: TensorSpec[]; outputs: TensorSpec[] }): Promise<LocalModel> {
  const model = await tfnode.node.loadSavedModel(dir, tags, key);
  return {
    backend: 'tensorflow',
    signature,
    async predict(inputs) {
      checkInputNames(inputs, specs.inputs);
      const feeds = Object.fromEntries(specs.inputs.map((s) => [s.alias, toTensor(inputs[s.alias], s, tfnode.tensor)]));
      try {
        const result = model.predict(feeds);
        const named: Record<string, tf.Tensor> =
          result instanceof tf.Tensor || Array.isArray(result)
            ? Object.fromEntries([result].flat().map((t, i) => [specs.outputs[i].alias, t]))
            : (result as Record<string, tf.Tensor>);
        const out: Record<string, OutputTensor> = {};
        for (const s of specs.outputs) out[s.alias] = await readOutput(named[s.alias], s);
        Object.values(named).forEach((t) => t.dispose());
        return out;
      } finally {
        Object.values(feeds).forEach((t) => t.dispose());
      }
    },
    dispose: () => model.dispose(),
  };
}

async function loadWithExecutor(graph: FrozenGraph, backend: 'wasm' | 'cpu', signature: SignatureInfo): Promise<LocalModel> {
  registerCustomOps();
  const { artifacts, outputNames, split } = toTfjsModel(graph, CUSTOM_OPS, { asyncOps: ASYNC_CUSTOM_OPS });
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  let plan = split;
  /** Outputs in the order of graph.outputs: in two phases when planned (see asyncBoundary), else all through executeAsync. */
  const run = async (feeds: Record<string, tf.Tensor>): Promise<tf.Tensor[]> => {
    if (plan) {
      const current = plan;
      const crossing = current.boundary.length > 0 ? [await model.executeAsync(feeds, current.boundaryNames)].flat() : [];
      try {
        const second: Record<string, tf.Tensor> = {};
        current.boundary.forEach((t, i) => (second[t] = crossing[i]));
        for (const t of current.inputs) second[t] = feeds[parseRef(t).node];
        return [model.execute(second, current.outputs)].flat();
      } catch (err) {
        // An op the plan took for synchronous is not (tfjs asks for executeAsync): run as a whole from now on.
        if (!/executeAsync/.test((err as Error).message)) throw err;
        plan = undefined;
      } finally {
        tf.dispose(crossing);
      }
    }
    return [await model.executeAsync(feeds, outputNames)].flat();
  };
  return {
    backend,
    signature,
    async predict(inputs) {
      checkInputNames(inputs, graph.inputs);
      const feeds: Record<string, tf.Tensor> = {};
      try {
        for (const s of graph.inputs) {
          feeds[parseRef(s.tensor).node] = s.alias in inputs ? toTensor(inputs[s.alias], s, tf.tensor) : defaultTensor(s);
        }
        const results = await run(feeds);
        try {
          const out: Record<string, OutputTensor> = {};
          for (const [i, s] of graph.outputs.entries()) out[s.alias] = await readOutput(results[i], s);
          return out;
        } finally {
          results.forEach((t) => t.dispose());
        }
      } finally {
        Object.values(feeds).forEach((t) => t.dispose());
      }
    },
    dispose: () => model.dispose(),
  };
}

function readVariables(dir: string): Map<string, BundleTensor> | undefined {
  const prefix = path.join(dir, 'variables', 'variables');
  return fs.existsSync(`${prefix}.index`) ? readTensorBundle(prefix) : undefined;
}

/**
 * Loads one signature of the SavedModel in `dir` for prediction. With backend 'auto' (default) it uses
 * TensorFlow through @tensorflow/tfjs-node when that is installed, otherwise our executor on the wasm
 * backend (cpu if wasm cannot start). The executor sets TF.js's global backend.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<LocalModel> {
  const backend = options.backend ?? 'auto';
  const tags = options.tags ?? ['serve'];
  const key = options.signature ?? DEFAULT_SIGNATURE;
  const tfnode = backend === 'tensorflow' || backend === 'auto' ? await importTfjsNode() : undefined;
  if (backend === 'tensorflow' && tfnode instanceof Error) {
    throw new PredictLocalError(
      `backend 'tensorflow' needs @tensorflow/tfjs-node, which is not installed or cannot load (${tfnode.message.split('\n')[0]}); install it, or use backend 'wasm' or 'cpu'`,
    );
  }
  // Without tfjs-node, the executor's TF.js backend starts (the threaded wasm build starts its worker
  // threads) while this thread reads the model.
  const executorBackend = tfnode === undefined || tfnode instanceof Error ? startExecutorBackend(backend, options.threads ?? defaultWasmThreads()) : undefined;
  const loaded = await readSavedModel(dir);
  const metaGraph = getMetaGraph(loaded.savedModel, tags);
  const signature = summarize(metaGraph, key);
  if (!executorBackend) return loadWithTfjsNode(tfnode as TfjsNode, loaded.dir, tags, key, signature, signatureSpecs(signature));

  const graph = freezeSignatureGraph(metaGraph, { signature: key, variables: readVariables(loaded.dir), dir: loaded.dir });
  const unsupported = unsupportedOps(graph, CUSTOM_OPS);
  if (unsupported.length > 0) throw new UnsupportedOpsError(unsupported);
  const name = await executorBackend;
  if (!name) throw new PredictLocalError(`the TF.js ${backend} backend could not be initialized`);
  return loadWithExecutor(graph, name, signature);
}

/** The first of the executor's TF.js backends for `backend` that starts. */
async function startExecutorBackend(backend: Backend, threads: number): Promise<'wasm' | 'cpu' | undefined> {
  for (const name of backend === 'wasm' || backend === 'cpu' ? [backend] : (['wasm', 'cpu'] as const)) {
    if (await useTfjsBackend(name, threads)) return name;
  }
  return undefined;
}

/** Input and output specs of a signature for the tfjs-node engine (which feeds by signature key). */
function signatureSpecs(signature: SignatureInfo): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const spec = (t: TensorInfoSummary): TensorSpec => ({
    alias: t.name,
    tensor: t.name,
    dtype: (DataType as unknown as Record<string, DataType>)[t.dtype] ?? DataType.DT_INVALID,
    shape: t.shape ?? undefined,
  });
  return { inputs: signature.inputs.map(spec), outputs: signature.outputs.map(spec) };
}

/** Loads, predicts once, and frees the model. */
export async function predictLocal(dir: string, inputs: Record<string, InputValue>, options: LoadModelOptions = {}): Promise<Record<string, OutputTensor>> {
  const model = await loadModel(dir, options);
  try {
    return await model.predict(inputs);
  } finally {
    model.dispose();
  }
}
