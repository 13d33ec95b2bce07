// Converts a frozen TensorFlow graph into the artifacts tfjs-converter's GraphModel loads: the GraphDef
// in protobuf-JSON form (camelCase, bytes as base64, Const values only in weightSpecs/weightData,
// matched by node name) — and lists the ops tfjs-converter cannot execute.
import { createRequire } from 'node:module';
import type * as tfTypes from './tf.js';
import {
  attrValueCase,
  canonicalTensorName,
  DataType,
  dataTypeName,
  GraphPreparationError,
  parseTensorName,
  tfjsDtype,
  tensorName,
  type ConstValue,
  type FrozenGraph,
  type TfjsDtype,
  int64ToNumber,
  shapeFromProto,
  tensorProtoToArray,
  type AttrValue,
  type FunctionDef,
  type NodeDef,
  type TensorShapeProto,
} from '@tensorsky/saved-model';

/**
 * Names of the TensorFlow ops the installed tfjs-converter executes: the keys of metadata/kernel2op.json,
 * the TF op → tfjs kernels table tfjs-converter ships (and tfjs's custom-bundle tooling reads).
 */
let converterOps: Set<string> | undefined;
function tfjsConverterOps(): Set<string> {
  converterOps ??= new Set(Object.keys(createRequire(import.meta.url)('@tensorflow/tfjs-converter/metadata/kernel2op.json') as Record<string, string[]>));
  return converterOps;
}

/** Ops of the graph (and of the functions it calls) that neither tfjs-converter nor `customOps` implement. */
export function unsupportedOps(graph: FrozenGraph, customOps: ReadonlySet<string>): string[] {
  const known = tfjsConverterOps();
  const ops = new Set<string>();
  for (const n of [...graph.nodes, ...graph.functions.flatMap((f) => f.node_def ?? [])]) ops.add(n.op);
  return [...ops].filter((op) => !known.has(op) && !customOps.has(op)).sort();
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Weight bytes in tfjs's layout: little-endian values; strings as uint32 length + bytes each. */
function weightBytes(value: ConstValue, dtype: TfjsDtype, where: string): Uint8Array {
  const { values } = value;
  const count = values.length;
  switch (dtype) {
    case 'float32': {
      const floats = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
      return new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
    }
    case 'int32': {
      if (values instanceof Int32Array) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      const out = new Int32Array(count);
      // int64 values beyond int32 (e.g. INT64_MAX as a StridedSlice end) saturate rather than wrap.
      for (let i = 0; i < count; i++) out[i] = Math.min(INT32_MAX, Math.max(INT32_MIN, Number((values as ArrayLike<number | bigint>)[i])));
      return new Uint8Array(out.buffer);
    }
    case 'bool':
      return Uint8Array.from(values as ArrayLike<number | boolean>, (v) => (v ? 1 : 0));
    case 'string': {
      const strings = values as Uint8Array[];
      const out = new Uint8Array(strings.reduce((n, s) => n + 4 + s.length, 0));
      const view = new DataView(out.buffer);
      let at = 0;
      for (const s of strings) {
        view.setUint32(at, s.length, true);
        out.set(s, at + 4);
        at += 4 + s.length;
      }
      return out;
    }
    default:
      throw new GraphPreparationError(`${where}: constants of ${dataTypeName(value.dtype)} are not supported`);
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

function shapeJson(shape: TensorShapeProto): Record<string, unknown> {
  const dims = shapeFromProto(shape);
  return dims === undefined ? { unknownRank: true } : { dim: dims.map((size) => ({ size })) };
}

/**
 * AttrValue in tfjs's protobuf-JSON form. Custom ops (run by our kernels) get type attrs as their
 * DataType number, since tfjs would hand them lossy tfjs dtypes (uint8 → int32, uint16 → null).
 */
function attrJson(value: AttrValue, forCustomOp: boolean): Record<string, unknown> | undefined {
  switch (attrValueCase(value)) {
    case 's':
      return { s: base64(value.s!) };
    case 'i':
      return { i: int64ToNumber(value.i) };
    case 'f':
      return { f: value.f };
    case 'b':
      return { b: value.b };
    case 'type':
      return forCustomOp ? { i: value.type } : { type: value.type };
    case 'shape':
      return { shape: shapeJson(value.shape!) };
    case 'func':
      return { func: { name: value.func!.name } };
    case 'list': {
      const list = value.list!;
      const out: Record<string, unknown> = {};
      if (list.s?.length) out.s = list.s.map(base64);
      if (list.i?.length) out.i = list.i.map(int64ToNumber);
      if (list.f?.length) out.f = [...list.f];
      if (list.b?.length) out.b = [...list.b];
      if (list.type?.length) out.type = [...list.type];
      if (list.shape?.length) out.shape = list.shape.map(shapeJson);
      if (list.func?.length) out.func = list.func.map((f) => ({ name: f.name }));
      return { list: out };
    }
    default:
      // Tensor-valued attrs (only Const's value, which goes to the weights) and unset values.
      return undefined;
  }
}

function nodeJson(node: NodeDef, customOps: ReadonlySet<string>, rename: (input: string) => string = (i) => i) {
  const attr: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node.attr ?? {})) {
    const json = attrJson(value, customOps.has(node.op));
    if (json) attr[key] = json;
  }
  return { name: rename(node.name), op: node.op, input: (node.input ?? []).map(rename), attr };
}

class WeightWriter {
  readonly specs: tfTypes.io.WeightsManifestEntry[] = [];
  readonly chunks: Uint8Array[] = [];

  add(name: string, value: ConstValue, where: string): void {
    const dtype = tfjsDtype(value.dtype);
    if (!dtype) throw new GraphPreparationError(`${where}: constants of ${dataTypeName(value.dtype)} are not supported`);
    this.specs.push({ name, shape: [...value.shape], dtype });
    this.chunks.push(weightBytes(value, dtype, where));
  }

  addConstNode(node: NodeDef, name: string, constants: FrozenGraph['constants']): void {
    const load = constants.get(node.name);
    const proto = node.attr?.value?.tensor;
    if (!load && !proto) throw new GraphPreparationError(`Const node "${node.name}" has no value`);
    // Float weights, nearly all of a model's bytes, are already in tfjs's layout in tensor_content
    // (little-endian float32): taking the bytes as they are saves a copy of the whole model.
    const shape = proto && shapeFromProto(proto.tensor_shape);
    const content = proto?.tensor_content;
    if (!load && HOST_IS_LITTLE_ENDIAN && proto!.dtype === DataType.DT_FLOAT && shape && content && content.length === 4 * shape.reduce((n, d) => n * d, 1)) {
      this.specs.push({ name, shape, dtype: 'float32' });
      this.chunks.push(content);
      return;
    }
    const value: ConstValue = load
      ? load()
      : { dtype: proto!.dtype ?? DataType.DT_INVALID, shape: shapeFromProto(proto!.tensor_shape) ?? [], values: tensorProtoToArray(proto!) };
    this.add(name, value, `Const node "${node.name}"`);
  }

  data(): ArrayBuffer {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out.buffer;
  }
}

/**
 * A library function in tfjs's JSON form. Body nodes are renamed "<function>/<node>" because tfjs
 * looks up the values of Consts inside functions in the same by-name weight map as the main graph.
 */
function functionJson(fdef: FunctionDef, customOps: ReadonlySet<string>, weights: WeightWriter, constants: FrozenGraph['constants']) {
  const fname = fdef.signature?.name ?? '';
  const bodyNames = new Set((fdef.node_def ?? []).map((n) => n.name));
  const rename = (ref: string) => {
    const control = ref.startsWith('^');
    const bare = control ? ref.slice(1) : ref;
    const [node, ...rest] = bare.split(':');
    if (!bodyNames.has(node)) return ref;
    return `${control ? '^' : ''}${[`${fname}/${node}`, ...rest].join(':')}`;
  };
  for (const node of fdef.node_def ?? []) if (node.op === 'Const') weights.addConstNode(node, rename(node.name), constants);
  const arg = (a: { name: string; type?: DataType }) => ({ name: a.name, type: a.type });
  return {
    signature: { name: fname, inputArg: (fdef.signature?.input_arg ?? []).map(arg), outputArg: (fdef.signature?.output_arg ?? []).map(arg) },
    nodeDef: (fdef.node_def ?? []).map((n) => nodeJson(n, customOps, rename)),
    ret: Object.fromEntries(Object.entries(fdef.ret ?? {}).map(([k, v]) => [k, rename(v)])),
  };
}

// ---------------------------------------------------------------------------------------------
// Fusion: Conv2D/DepthwiseConv2dNative → BiasAdd (→ Relu/Relu6) become one tfjs-converter fused op,
// so the backend adds the bias and clamps while writing the convolution's output instead of making two
// more passes over it. Exports with batch norm folded into the convolutions consist of such chains.
// FusedBatchNorm is left as it is: folding it into the weights here would change rounding in every
// layer, which moves InceptionV3's probabilities by ~1e-4, far more than running the graph as written.
// MatMul → BiasAdd is not fused: TensorFlow adds the bias to the finished product (unfused, and in
// _FusedMatMul's BiasAddOutputKernel, core/kernels/fused_eigen_output_kernels.h: output + bias after the
// contraction), while XNNPACK's fused kernel starts each sum with the bias. A classifier's logits are
// sums of large terms that cancel, so that order moves its probabilities by up to ~1e-5 (Xception with
// random weights); the separate add over a [batch, units] tensor costs nothing.

/** Op → the tfjs-converter op that computes it followed by BiasAdd and an optional activation. */
const FUSED_OPS: Readonly<Record<string, string>> = {
  Conv2D: '_FusedConv2D',
  DepthwiseConv2dNative: 'FusedDepthwiseConv2dNative',
};
const FUSABLE_ACTIVATIONS = new Set(['Relu', 'Relu6']);
const ascii = new TextEncoder();
const fromAscii = new TextDecoder();

function isFloat(node: NodeDef): boolean {
  const t = node.attr?.T?.type;
  return t === undefined || t === DataType.DT_FLOAT;
}

/** tfjs's fused kernels take channels-last data only. */
function isChannelsLast(node: NodeDef): boolean {
  const format = node.attr?.data_format?.s;
  return format === undefined || format.length === 0 || fromAscii.decode(format) === 'NHWC';
}

/**
 * Rewrites X → BiasAdd → (Relu | Relu6) chains, X one of Conv2D and DepthwiseConv2dNative, into the
 * fused ops tfjs-converter executes (fused_ops ["BiasAdd", activation],
 * num_args 1). A chain is fused only when each intermediate tensor feeds nothing but the next op of
 * the chain and is not in `fetched` (node names whose outputs are read). The fused node keeps the
 * name of the chain's last node, so its consumers need no change.
 */
export function fuseBiasActivations(nodes: readonly NodeDef[], fetched: ReadonlySet<string>): NodeDef[] {
  const consumers = new Map<string, NodeDef[]>();
  for (const node of nodes) {
    for (const input of node.input ?? []) {
      const source = parseTensorName(input).node;
      const readers = consumers.get(source) ?? [];
      readers.push(node);
      consumers.set(source, readers);
    }
  }
  /** The one node reading `node`'s output through its first input, if nothing else reads it. */
  const soleConsumer = (node: NodeDef, ops: (op: string) => boolean): NodeDef | undefined => {
    const readers = consumers.get(node.name) ?? [];
    if (fetched.has(node.name) || readers.length !== 1) return undefined;
    const [reader] = readers;
    const first = reader.input?.[0];
    return ops(reader.op) && first !== undefined && canonicalTensorName(first) === tensorName(node.name) && isFloat(reader) ? reader : undefined;
  };

  const replaced = new Map<string, NodeDef>();
  const removed = new Set<string>();
  for (const node of nodes) {
    const fusedOp = FUSED_OPS[node.op];
    if (!fusedOp || !isFloat(node) || !isChannelsLast(node)) continue;
    const biasAdd = soleConsumer(node, (op) => op === 'BiasAdd');
    if (!biasAdd || !isChannelsLast(biasAdd) || (biasAdd.input ?? []).length !== 2) continue;
    const activation = soleConsumer(biasAdd, (op) => FUSABLE_ACTIVATIONS.has(op));
    const last = activation ?? biasAdd;
    const [x, filter] = node.input ?? [];
    replaced.set(last.name, {
      name: last.name,
      op: fusedOp,
      input: [x, filter, biasAdd.input![1]],
      attr: {
        ...node.attr,
        num_args: { i: 1 },
        fused_ops: { list: { s: ['BiasAdd', ...(activation ? [activation.op] : [])].map((op) => ascii.encode(op)) } },
        epsilon: { f: 0 },
      },
    });
    removed.add(node.name);
    if (activation) removed.add(biasAdd.name);
  }
  return nodes.filter((n) => !removed.has(n.name)).map((n) => replaced.get(n.name) ?? n);
}

export interface TfjsModel {
  artifacts: tfTypes.io.ModelArtifacts;
  /** Names to fetch with executeAsync, in the order of graph.outputs. */
  outputNames: string[];
  /** Two-phase execution, when the graph's outputs can be computed synchronously (see asyncBoundary). */
  split?: TwoPhasePlan;
}

export interface TwoPhasePlan {
  /** Tensors ("node:index") the first phase (executeAsync) computes and the second phase is fed. */
  boundary: string[];
  /** What to fetch with executeAsync for them (identities, see toTfjsModel); empty when nothing is async. */
  boundaryNames: string[];
  /** Graph inputs ("node:index") the second phase reads directly. */
  inputs: string[];
  /** The outputs, in the order of graph.outputs, for GraphModel.execute. */
  outputs: string[];
}

/**
 * Ops GraphModel.execute cannot run: control flow, dynamic shapes, tables, function calls and
 * TensorArray/TensorList state (tfjs-converter's executeAsync-only ops), plus our async kernels.
 */
const SYNC_UNSAFE_OPS = new Set([
  'Switch', 'Merge', 'Enter', 'Exit', 'RefEnter', 'RefExit', 'RefMerge', 'RefSwitch', 'NextIteration', 'RefNextIteration', 'LoopCond',
  'If', 'StatelessIf', 'While', 'StatelessWhile', 'PartitionedCall', 'StatefulPartitionedCall',
  'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'Where',
  'HashTable', 'HashTableV2', 'LookupTableImport', 'LookupTableImportV2', 'LookupTableFind', 'LookupTableFindV2', 'LookupTableSize', 'LookupTableSizeV2',
]);

function syncUnsafe(op: string, asyncOps: ReadonlySet<string>): boolean {
  return SYNC_UNSAFE_OPS.has(op) || asyncOps.has(op) || op.startsWith('TensorArray') || op.startsWith('TensorList');
}

/**
 * Plans two-phase execution: executeAsync runs the ops that need it (async kernels, control flow: the
 * image-decoding loop of an export) and everything they read; GraphModel.execute then runs the rest
 * (the network), which skips executeAsync's per-node promise bookkeeping, about 5% of an InceptionV3
 * prediction on wasm. Undefined when an output itself needs executeAsync, or when a synchronous node
 * depends on the first phase through a control input.
 */
export function asyncBoundary(nodes: readonly NodeDef[], outputs: readonly string[], asyncOps: ReadonlySet<string>): Omit<TwoPhasePlan, 'boundaryNames'> | undefined {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const closure = (starts: Iterable<string>): Set<string> => {
    const seen = new Set<string>();
    const stack = [...starts];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name) || !byName.has(name)) continue;
      seen.add(name);
      for (const input of byName.get(name)!.input ?? []) stack.push(parseTensorName(input).node);
    }
    return seen;
  };
  const first = closure(nodes.filter((n) => syncUnsafe(n.op, asyncOps)).map((n) => n.name));
  const outputNodes = outputs.map((o) => parseTensorName(o).node);
  if (outputNodes.some((n) => first.has(n))) return undefined;
  const boundary = new Set<string>();
  const inputs = new Set<string>();
  for (const name of closure(outputNodes)) {
    if (first.has(name)) continue;
    if (byName.get(name)!.op === 'Placeholder') inputs.add(tensorName(name));
    for (const input of byName.get(name)!.input ?? []) {
      const ref = parseTensorName(input);
      if (!first.has(ref.node)) continue;
      if (ref.control) return undefined;
      (byName.get(ref.node)!.op === 'Placeholder' ? inputs : boundary).add(tensorName(ref.node, ref.index));
    }
  }
  return { boundary: [...boundary], inputs: [...inputs], outputs: outputs.map(canonicalTensorName) };
}

/**
 * The artifacts for tf.io.fromMemory(); constant values are read here (from the checkpoint if frozen).
 * Bias and activation chains are fused (see fuseBiasActivations) unless `fuse` is false.
 * Each output is fetched through a one-input Merge (an identity): GraphModel.executeAsync, which async
 * kernels need, warns on every call of a graph without control-flow ops, and the Merge makes it one.
 */
export function toTfjsModel(
  graph: FrozenGraph,
  customOps: ReadonlySet<string>,
  options: { fuse?: boolean; split?: boolean; asyncOps?: ReadonlySet<string> } = {},
): TfjsModel {
  const weights = new WeightWriter();
  const fetched = new Set(graph.outputs.map((o) => parseTensorName(o.tensor).node));
  const nodes = options.fuse === false ? graph.nodes : fuseBiasActivations(graph.nodes, fetched);
  const node = nodes.map((n) => {
    if (n.op === 'Const') weights.addConstNode(n, n.name, graph.constants);
    return nodeJson(n, customOps);
  });
  // tfjs's Merge reads no attrs: T is only there to keep the node TensorFlow-shaped.
  const identity = (name: string, tensor: string, type = DataType.DT_FLOAT) => {
    node.push({ name, op: 'Merge', input: [tensor], attr: { T: { type }, N: { i: 1 } } });
    return name;
  };
  const outputNames = graph.outputs.map((o, i) => identity(`__tensorsky_output_${i}`, o.tensor, o.dtype));
  const plan = options.split === false || graph.functions.length > 0 ? undefined : asyncBoundary(nodes, graph.outputs.map((o) => o.tensor), options.asyncOps ?? customOps);
  const split = plan && { ...plan, boundaryNames: plan.boundary.map((t, i) => identity(`__tensorsky_boundary_${i}`, t)) };
  const library = graph.functions.length ? { function: graph.functions.map((f) => functionJson(f, customOps, weights, graph.constants)) } : undefined;
  return {
    artifacts: {
      modelTopology: { node, library, versions: { producer: graph.producer, minConsumer: 0 } },
      weightSpecs: weights.specs,
      weightData: weights.data(),
      format: 'graph-model',
    },
    outputNames,
    split,
  };
}

