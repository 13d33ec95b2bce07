// Engine 'onnx': the numeric network of a signature on ONNX Runtime. The graph is split where the
// executor already splits it (see asyncBoundary): the string and image front (DecodeBase64, image
// decoding, resize, the TensorArray loop) keeps running on our executor, and everything after the
// boundary is translated once, at load, into an in-memory ONNX model run by an InferenceSession.
import {
  attrsWithDefaults,
  canonicalTensorName,
  DataType,
  dataTypeName,
  dtypeInfo,
  outputDtypes,
  parseTensorName,
  shapeFromProto,
  tfOpDefs,
  type FrozenGraph,
  type NodeDef,
  type TensorSpec,
} from '@tensorsky/saved-model';
import { ASYNC_CUSTOM_OPS } from '../kernels/index.js';
import { checkInputNames, feedTensors, type OutputTensor } from '../io.js';
import type { LocalModel, OnnxDetails, SignatureInfo } from '../local-model.js';
import { translateToOnnx, type OnnxFeed } from '../onnx/index.js';
import * as tf from '../tf.js';
import { asyncBoundary } from '../tfjs-model.js';
import { loadExecutorGraph, loadWithExecutor, type ExecutorBackend, type ExecutorGraph } from './executor.js';
import { fastImageFront, type ImageBatch } from './image-front.js';
import { createSessionWritingCache, type CachedNetwork, type OnnxCacheSlot } from './onnx-cache.js';
import { sessionOptions, type OnnxRuntime, type OnnxSessionSettings } from './onnxruntime.js';

/** Why the onnx engine cannot take this signature (the caller falls back to the executor). */
export class OnnxUnavailableError extends Error {
  override name = 'OnnxUnavailableError';
}

/** Where the network is cut from the front: the ONNX model's inputs and how many the front computes. */
export interface NetworkSplit {
  /** The front's tensors (`boundary` of them), then graph inputs the network reads directly. */
  feeds: OnnxFeed[];
  boundary: number;
}

/**
 * The split of the signature's graph at the executor's async boundary. Throws OnnxUnavailableError
 * (one line saying why) when there is no network to hand to ORT.
 */
export function splitNetwork(graph: FrozenGraph): NetworkSplit {
  const plan = graph.functions.length > 0 ? undefined : asyncBoundary(graph.nodes, graph.outputs.map((o) => o.tensor), ASYNC_CUSTOM_OPS);
  if (!plan) throw new OnnxUnavailableError('its outputs cannot be computed apart from the graph\'s control flow (no network to hand to ONNX Runtime)');
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const placeholders = new Map(graph.inputs.map((s) => [canonicalTensorName(s.tensor), s]));
  // ONNX inputs: the boundary tensors the front computes, then graph inputs the network reads directly.
  const crossing = [...plan.boundary, ...plan.inputs];
  const feeds: OnnxFeed[] = crossing.map((tensor) => {
    const spec = placeholders.get(tensor);
    return spec ? { tensor, dtype: spec.dtype, shape: spec.shape } : boundaryFeed(tensor, byName);
  });
  const unsupported = feeds.filter((f) => !dtypeInfo(f.dtype).ort).map((f) => `${f.tensor} (${dataTypeName(f.dtype)})`);
  if (unsupported.length > 0) throw new OnnxUnavailableError(`tensors ${unsupported.join(', ')} cannot be handed to ONNX Runtime`);
  return { feeds, boundary: plan.boundary.length };
}

/** The network translated to an ONNX model (OnnxUnavailableError when an op has no translator). */
export function translateNetwork(graph: FrozenGraph, split: NetworkSplit): ReturnType<typeof translateToOnnx> {
  try {
    return translateToOnnx(graph, split.feeds, graph.outputs.map((o) => ({ tensor: o.tensor, dtype: o.dtype })));
  } catch (err) {
    if ((err as Error).name === 'UntranslatableGraphError') throw new OnnxUnavailableError((err as Error).message);
    throw err;
  }
}

/** Where loadWithOnnx gets the network's session from, besides translating the graph. */
export interface OnnxNetworkOptions {
  /** A network read back from the cache: `graph` is then the front alone (see onnx-cache.ts). */
  cached?: CachedNetwork;
  /** The cache slot to write a freshly translated network into. */
  cacheSlot?: OnnxCacheSlot;
  /** The translation `export --onnx` wrote into the SavedModel, already checked against it (onnx-export.ts). */
  exported?: { path: string; inputNames: string[]; outputNames: string[] };
  /** Why the cache or the exported model.onnx was not used (one line), shown in `onnx.note`. */
  note?: string;
  /** The whole signature graph, for calls the network cannot take (when `graph` is the cached front). */
  fullGraph?: () => Promise<FrozenGraph>;
}

/**
 * Loads the signature with the network on ORT. Throws OnnxUnavailableError (with one line saying why)
 * when the graph cannot be split or translated. The image front runs on TF.js's current backend.
 */
export async function loadWithOnnx(
  ort: OnnxRuntime,
  graph: FrozenGraph,
  signature: SignatureInfo,
  settings: OnnxSessionSettings,
  options: OnnxNetworkOptions = {},
): Promise<LocalModel> {
  const { cached } = options;
  const { feeds, boundary } = cached ?? splitNetwork(graph);
  const plan = { boundary: feeds.slice(0, boundary).map((f) => f.tensor), inputs: feeds.slice(boundary).map((f) => f.tensor) };
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const frontNodes = frontOf(plan.boundary, byName);

  let started = performance.now();
  let translated: { bytes?: Uint8Array; inputNames: string[]; outputNames: string[] };
  if (cached) translated = cached;
  else if (options.exported) translated = options.exported;
  else translated = translateNetwork(graph, { feeds, boundary });
  const translateMs = cached || options.exported ? 0 : performance.now() - started;
  started = performance.now();
  let session: Awaited<ReturnType<OnnxRuntime['InferenceSession']['create']>>;
  let note = options.note;
  let cache: OnnxDetails['cache'] = options.cacheSlot ? 'miss' : 'off';
  if (cached) {
    session = cached.session;
    cache = 'hit';
  } else {
    const entry = { graph, frontNodes, signature, feeds, boundary, inputNames: translated.inputNames, outputNames: translated.outputNames };
    const network = translated.bytes ?? options.exported!.path;
    const created = await createSessionWritingCache(ort, network, sessionOptions(settings), options.cacheSlot, entry);
    session = created.session;
    if (created.written) cache = 'written';
    if (created.note) note = note ? `${note}; ${created.note}` : created.note;
  }
  const sessionMs = cached ? cached.sessionMs : performance.now() - started;
  const source: OnnxDetails['source'] = cached ? 'cache' : options.exported ? 'export' : 'translation';

  const front = plan.boundary.length > 0 ? await loadFront(graph, feeds.slice(0, plan.boundary.length), frontNodes) : undefined;
  // An export's image front runs image by image without the executor's loop (same kernels, same bits).
  const fastFront = front ? fastImageFront(graph, frontNodes, plan.boundary, { decodeThreads: settings.threads - 1 }) : undefined;
  const frontInputs = front ? graph.inputs.filter((s) => front.reads.has(parseTensorName(s.tensor).node)) : [];
  // TensorFlow does not hold a fed tensor to its placeholder's shape (TF Serving's half_plus_two, [-1, 1],
  // answers [1, 2, 5]); ONNX Runtime does. Such a call runs on the executor, loaded the first time.
  let lenient: Promise<LocalModel> | undefined;
  const executor = () => (lenient ??= (options.fullGraph?.() ?? Promise.resolve(graph)).then((g) => loadWithExecutor(g, tf.getBackend() as ExecutorBackend, signature)));
  return {
    backend: 'onnx',
    signature,
    onnx: { model: translated.bytes, inputNames: translated.inputNames, outputNames: translated.outputNames, translateMs, sessionMs, source, cache, ...(note ? { note } : {}), imageFront: fastFront ? 'direct' : front ? 'executor' : 'none' },
    async predict(inputs) {
      checkInputNames(inputs, graph.inputs);
      const tensors = feedTensors(inputs, graph.inputs, (t) => parseTensorName(t).node);
      const computed: tf.Tensor[] = [];
      let batch: ImageBatch | undefined;
      try {
        if (front) {
          const frontFeeds = Object.fromEntries(frontInputs.map((s) => [parseTensorName(s.tensor).node, tensors[parseTensorName(s.tensor).node]]));
          batch = await fastFront?.run(frontFeeds);
          if (!batch) computed.push(...(await front.graph.run(frontFeeds)));
        }
        const values: Array<tf.Tensor | ImageBatch> = [...(batch ? [batch] : computed), ...plan.inputs.map((t) => tensors[parseTensorName(t).node])];
        if (values.some((t, i) => !fitsShape(t.shape, feeds[i].shape))) return await (await executor()).predict(inputs);
        const ortFeeds: Record<string, InstanceType<OnnxRuntime['Tensor']>> = {};
        for (const [i, t] of values.entries()) {
          ortFeeds[translated.inputNames[i]] = 'values' in t ? new ort.Tensor('float32', t.values, t.shape) : await toOrtTensor(ort, t, feeds[i].dtype);
        }
        const results = await session.run(ortFeeds);
        const out: Record<string, OutputTensor> = {};
        graph.outputs.forEach((spec, i) => (out[spec.alias] = fromOrtTensor(results[translated.outputNames[i]], spec)));
        return out;
      } finally {
        batch?.release();
        tf.dispose([...Object.values(tensors), ...computed]);
      }
    },
    dispose() {
      front?.graph.dispose();
      fastFront?.dispose();
      void lenient?.then((m) => m.dispose());
      void session.release();
    },
  };
}

/** Whether a tensor of `shape` may be fed where `declared` (-1: any size; undefined: any shape) is expected. */
function fitsShape(shape: readonly number[], declared: readonly number[] | undefined): boolean {
  return declared === undefined || (shape.length === declared.length && shape.every((d, i) => declared[i] < 0 || declared[i] === d));
}

/** The dtype (from the producing op's definition) and static shape of a boundary tensor. */
function boundaryFeed(tensor: string, byName: ReadonlyMap<string, NodeDef>): OnnxFeed {
  const { node: name, index } = parseTensorName(tensor);
  const node = byName.get(name)!;
  const def = tfOpDefs().get(node.op);
  const dtype = def ? outputDtypes(def, attrsWithDefaults(def, node))?.[index] : undefined;
  return { tensor, dtype: dtype ?? DataType.DT_INVALID, shape: staticShape(node, index) };
}

/** What the graph says of a tensor's shape: `_output_shapes`, or a TensorArray gather's element shape. */
function staticShape(node: NodeDef, index: number): number[] | undefined {
  const listed = node.attr?._output_shapes?.list?.shape?.[index];
  if (listed) return shapeFromProto(listed) ?? undefined;
  if (node.op === 'TensorArrayGatherV3' && node.attr?.element_shape?.shape) {
    const element = shapeFromProto(node.attr.element_shape.shape);
    return element ? [-1, ...element] : undefined;
  }
  return undefined;
}

/** The image front's nodes: those the boundary tensors need, in graph order. */
export function frontOf(boundary: readonly string[], byName: ReadonlyMap<string, NodeDef>): NodeDef[] {
  const keep = new Set<string>();
  const stack = boundary.map((t) => parseTensorName(t).node);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (keep.has(name) || !byName.has(name)) continue;
    keep.add(name);
    for (const input of byName.get(name)!.input ?? []) stack.push(parseTensorName(input).node);
  }
  return [...byName.values()].filter((n) => keep.has(n.name));
}

/** The image front as an executor graph fetching the boundary tensors. */
export async function loadFront(graph: FrozenGraph, boundary: readonly OnnxFeed[], nodes: NodeDef[]): Promise<{ graph: ExecutorGraph; reads: Set<string> }> {
  const keep = new Set(nodes.map((n) => n.name));
  const outputs: TensorSpec[] = boundary.map(({ tensor, dtype }) => ({ alias: tensor, tensor, dtype, shape: undefined }));
  const front: FrozenGraph = { ...graph, nodes, outputs, inputs: graph.inputs.filter((s) => keep.has(parseTensorName(s.tensor).node)) };
  return { graph: await loadExecutorGraph(front), reads: new Set(nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name)) };
}

/** A tfjs tensor as an ORT tensor of the feed's dtype (the dtype's own typed array; int64 as BigInt64Array). */
async function toOrtTensor(ort: OnnxRuntime, t: tf.Tensor, dtype: DataType): Promise<InstanceType<OnnxRuntime['Tensor']>> {
  const { ort: type, array } = dtypeInfo(dtype);
  const data = (await t.data()) as ArrayLike<number>;
  const values = data instanceof array! ? data : array === BigInt64Array ? BigInt64Array.from(data, (v) => BigInt(v)) : (array as Exclude<typeof array, BigInt64ArrayConstructor | BigUint64ArrayConstructor | undefined>)!.from(data);
  return new ort.Tensor(type!, values as never, t.shape);
}

/** ORT's result in the executor's output form: Float32Array for floats, Int32Array for integers, Uint8Array for bools. */
function fromOrtTensor(t: { type: string; data: unknown; dims: readonly number[] }, spec: TensorSpec): OutputTensor {
  const dtype = dataTypeName(spec.dtype);
  const shape = [...t.dims];
  const data = t.data as ArrayLike<number | bigint>;
  if (t.type === 'float32') return { dtype, shape, data: data as Float32Array };
  if (t.type === 'float64' || t.type === 'float16') return { dtype, shape, data: Float32Array.from(data as ArrayLike<number>) };
  if (t.type === 'bool') return { dtype, shape, data: Uint8Array.from(data as ArrayLike<number>) };
  if (t.type === 'int32') return { dtype, shape, data: data as Int32Array };
  return { dtype, shape, data: Int32Array.from(data as ArrayLike<number>, Number) };
}
