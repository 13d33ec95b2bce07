// Translates the part of a frozen TensorFlow graph between some fed tensors and some fetched ones into
// an ONNX model: walks the nodes the fetches need (stopping at feeds) in topological order and looks each
// op up in the merged translator tables (ops/*.ts). Values keep TensorFlow's dtypes and shapes at the
// model's edges; inside, image tensors are held NCHW (see context.ts and layout.ts). Every op that
// cannot be translated exactly is collected, and then none of the model is: UntranslatableGraphError.
import { readFileSync } from 'node:fs';
import {
  canonicalTensorName,
  DataType,
  dataInputs as dataInputNames,
  dataTypeName,
  parseTensorName,
  shapeFromProto,
  tensorProtoToArray,
  type ConstValue,
  type FrozenGraph,
  type NodeDef,
  type TypedArray,
} from '@tensorsky/saved-model';
import { attr, OnnxGraphBuilder, type Attr } from './builder.js';
import {
  attrType,
  fail,
  onnxType,
  requireOnnxType,
  Untranslatable,
  UntranslatableGraphError,
  type ConstTensor,
  type OpContext,
  type OpTable,
  type Value,
} from './context.js';
import { permute, TO_NCHW, TO_NHWC, transposeData } from './layout.js';
import { basicOps } from './ops/basic.js';
import { convOps } from './ops/conv.js';
import { elementwiseOps } from './ops/elementwise.js';
import { matmulOps } from './ops/matmul.js';
import { normalizationOps } from './ops/normalization.js';
import { poolingOps } from './ops/pooling.js';
import { reduceOps } from './ops/reduce.js';
import { shapeOps } from './ops/shape.js';
import { softmaxOps } from './ops/softmax.js';

export interface OnnxFeed {
  /** TF tensor, "node:0". */
  tensor: string;
  dtype: DataType;
  /** -1 for an unknown dimension; undefined for unknown rank. */
  shape: number[] | undefined;
}

export interface OnnxFetch {
  tensor: string;
  dtype: DataType;
}

export interface OnnxModel {
  /** Serialized ModelProto. */
  bytes: Uint8Array;
  /** ONNX graph input names, in the order of `feeds`. */
  inputNames: string[];
  /** ONNX graph output names, in the order of `fetches`. */
  outputNames: string[];
}

/** Every op the translator knows, by TensorFlow op name. */
export const ONNX_TRANSLATORS: OpTable = {
  ...basicOps,
  ...convOps,
  ...poolingOps,
  ...reduceOps,
  ...matmulOps,
  ...normalizationOps,
  ...elementwiseOps,
  ...shapeOps,
  ...softmaxOps,
};

const PRODUCER_VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
})();

/** Data inputs as full tensor names ("node:0"). */
function dataInputs(node: NodeDef): string[] {
  return dataInputNames(node).map(canonicalTensorName);
}

/** A Const node's value: the checkpoint's (frozen variables) or the TensorProto in its value attr. */
function constTensor(node: NodeDef, constants: FrozenGraph['constants']): ConstTensor {
  const load = constants.get(node.name);
  let value: ConstValue;
  if (load) {
    value = load();
  } else {
    const proto = node.attr?.value?.tensor ?? fail('no value');
    const dtype = proto.dtype ?? DataType.DT_INVALID;
    const shape = shapeFromProto(proto.tensor_shape) ?? fail('value of unknown rank');
    const content = proto.tensor_content;
    const count = shape.reduce((n, d) => n * d, 1);
    // Float weights, nearly all bytes of a model, are read from tensor_content where they are, and copied
    // (once) only when a translator wants them as an array of their own.
    if (dtype === DataType.DT_FLOAT && content && content.length === 4 * count && HOST_IS_LITTLE_ENDIAN) {
      return lazyFloats(shape, content);
    }
    try {
      value = { dtype, shape, values: tensorProtoToArray(proto) };
    } catch {
      fail(`dtype=${dataTypeName(dtype)}`);
    }
  }
  const { dtype, shape, values } = value;
  if (dtype === DataType.DT_STRING) return { dtype, shape, strings: values as Uint8Array[] };
  if (dtype === DataType.DT_BOOL) return { dtype, shape, data: Uint8Array.from(values as ArrayLike<boolean | number>, (v) => (v ? 1 : 0)) };
  if (onnxType(dtype) === undefined || Array.isArray(values)) fail(`dtype=${dataTypeName(dtype)}`);
  return { dtype, shape, data: values as TypedArray };
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let scratch = new Float32Array(0);

/** A DT_FLOAT constant over little-endian bytes: `view` reads them in place (see ConstTensor). */
function lazyFloats(shape: number[], bytes: Uint8Array): ConstTensor {
  const count = bytes.length / 4;
  const aligned = bytes.byteOffset % 4 === 0;
  const view = (): Float32Array => {
    if (aligned) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    if (scratch.length < count) scratch = new Float32Array(count);
    new Uint8Array(scratch.buffer, 0, bytes.length).set(bytes);
    return scratch.subarray(0, count);
  };
  let own: Float32Array | undefined;
  const c: ConstTensor = { dtype: DataType.DT_FLOAT, shape, view };
  // An own enumerable getter, so that spreading the constant ({ ...c, shape }) still carries its data.
  // (Node Buffers' slice() is a view: new Uint8Array(bytes) is the copy.)
  Object.defineProperty(c, 'data', { enumerable: true, get: () => (own ??= aligned ? view() : new Float32Array(new Uint8Array(bytes).buffer)) });
  return c;
}

/** Symbolic names for unknown sizes: the batch dimension is "N" everywhere, others are numbered. */
function onnxDims(shape: number[] | undefined, unknown: () => string): (number | string)[] | undefined {
  return shape?.map((d, i) => (d >= 0 ? d : i === 0 ? 'N' : unknown()));
}

export function translateToOnnx(graph: Pick<FrozenGraph, 'nodes' | 'constants'>, feeds: OnnxFeed[], fetches: OnnxFetch[]): OnnxModel {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const fed = new Map(feeds.map((f) => [canonicalTensorName(f.tensor), f]));

  // The nodes the fetches need, in topological order (iterative DFS; a feed stops the walk).
  const order: NodeDef[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const readers = new Map<string, number>();
  const usedOutputs = new Map<string, Set<number>>();
  const use = (tensor: string) => {
    readers.set(tensor, (readers.get(tensor) ?? 0) + 1);
    // A fed output of a node translated for another output is the feed, not what the node computes.
    if (fed.has(tensor)) return;
    const r = parseTensorName(tensor);
    if (!usedOutputs.has(r.node)) usedOutputs.set(r.node, new Set());
    usedOutputs.get(r.node)!.add(r.index);
  };
  // A node is expanded the first time it is popped, emitted once its inputs are done; an input still
  // open is a cycle (TF1 loops), which no translator accepts.
  const stack: { node: NodeDef; expanded: boolean }[] = [];
  const push = (tensor: string) => {
    if (fed.has(tensor)) return;
    const name = parseTensorName(tensor).node;
    if (state.has(name)) return;
    const node = byName.get(name);
    if (!node) throw new Error(`the graph has no node "${name}" (needed for ${tensor})`);
    stack.push({ node, expanded: false });
  };
  for (const f of [...fetches].reverse()) push(canonicalTensorName(f.tensor));
  while (stack.length > 0) {
    const top = stack.pop()!;
    const name = top.node.name;
    if (top.expanded) {
      state.set(name, 'done');
      order.push(top.node);
      continue;
    }
    if (state.has(name)) continue;
    state.set(name, 'open');
    stack.push({ node: top.node, expanded: true });
    const inputs = dataInputs(top.node);
    for (const input of inputs) use(input);
    for (let i = inputs.length - 1; i >= 0; i--) push(inputs[i]);
  }
  for (const f of fetches) readers.set(canonicalTensorName(f.tensor), (readers.get(canonicalTensorName(f.tensor)) ?? 0) + 1);
  for (const f of fetches) {
    if (fed.has(canonicalTensorName(f.tensor))) continue;
    const r = parseTensorName(canonicalTensorName(f.tensor));
    if (!usedOutputs.has(r.node)) usedOutputs.set(r.node, new Set());
    usedOutputs.get(r.node)!.add(r.index);
  }

  const b = new OnnxGraphBuilder();
  const values = new Map<string, Value>();
  const problems = new Set<string>();
  const report = (what: string) => problems.add(what);

  // Inputs: TF's dtype and shape, NHWC.
  let unknownDims = 0;
  const unknown = () => `d${++unknownDims}`;
  const inputNames = feeds.map((f) => {
    const type = onnxType(f.dtype);
    if (type === undefined) report(`feed ${f.tensor} (${dataTypeName(f.dtype)})`);
    const name = b.input(canonicalTensorName(f.tensor), type ?? 0, onnxDims(f.shape, unknown));
    values.set(canonicalTensorName(f.tensor), { name, dtype: f.dtype, shape: f.shape && [...f.shape], nchw: false, label: canonicalTensorName(f.tensor), poisoned: type === undefined });
    return name;
  });

  const materialize = (v: Value): string => {
    if (v.name !== undefined) return v.name;
    const c = v.constant ?? fail('value without a name');
    if (c.view) {
      const view = c.view;
      v.name = b.deferredInitializer(v.label ?? 'const', c.shape, (out) => out.set(view())).name;
      return v.name;
    }
    if (!c.data) fail(`constant of ${dataTypeName(c.dtype)}`);
    v.name = b.initializer(v.label ?? 'const', requireOnnxType(c.dtype), c.shape, c.data).name;
    return v.name;
  };
  const emit: OpContext['emit'] = (op, inputs, outputs, attrs) => b.node(op, inputs, outputs, attrs as Record<string, Attr | undefined>);
  const toTf = (v: Value): string => {
    if (!v.nchw) return materialize(v);
    if (v.other && !v.other.nchw) return v.other.name!;
    const [name] = emit('Transpose', [v.name!], [`${v.label ?? v.name}/nhwc`], { perm: attr.ints(TO_NHWC) });
    v.other = { name, dtype: v.dtype, shape: v.shape, nchw: false, label: v.label, other: v };
    return name;
  };
  const toNchw = (v: Value): string => {
    if (v.nchw) return v.name!;
    if (v.other?.nchw) return v.other.name!;
    const rank = v.shape?.length ?? 4;
    if (rank > 4) fail(`rank-${rank} tensor in NCHW`);
    const padded = [...new Array(4 - rank).fill(1), ...(v.shape ?? [-1, -1, -1, -1])];
    let name: string;
    if (v.constant?.data) {
      // Broadcast-padded to rank 4 and permuted once, here.
      const data = transposeData(v.constant.data, padded, TO_NCHW);
      name = b.initializer(`${v.label ?? 'const'}/nchw`, requireOnnxType(v.dtype), permute(padded, TO_NCHW), data).name;
    } else {
      let source = materialize(v);
      if (rank < 4) source = emit('Unsqueeze', [source, b.int64s([...Array(4 - rank).keys()])], [`${v.label ?? source}/rank4`])[0];
      [name] = emit('Transpose', [source], [`${v.label ?? source}/nchw`], { perm: attr.ints(TO_NCHW) });
    }
    v.other = { name, dtype: v.dtype, shape: rank === 4 ? v.shape : padded, nchw: true, label: v.label, other: v };
    return name;
  };

  for (const node of order) {
    const inputTensors = dataInputs(node);
    const inputs = inputTensors.map((t) => values.get(t));
    const translator = ONNX_TRANSLATORS[node.op];
    const outputs = usedOutputs.get(node.name) ?? new Set([0]);
    const poison = () => {
      for (const i of outputs) values.set(`${node.name}:${i}`, { dtype: attrType(node, 'T') ?? DataType.DT_INVALID, shape: undefined, nchw: false, poisoned: true });
    };
    if (node.op !== 'Const' && node.op !== 'Placeholder' && !translator) {
      report(node.op);
      poison();
      continue;
    }
    if (inputs.some((v) => v === undefined)) {
      report(`${node.op}(in a cycle)`);
      poison();
      continue;
    }
    if (inputs.some((v) => v!.poisoned)) {
      poison();
      continue;
    }
    try {
      let results: (Value | undefined)[];
      if (node.op === 'Const') {
        const c = constTensor(node, graph.constants);
        results = [{ dtype: c.dtype, shape: c.shape, nchw: false, constant: c }];
      } else if (node.op === 'Placeholder') {
        fail('not fed');
      } else {
        const ctx: OpContext = {
          node,
          inputs: inputs as Value[],
          inputTensors,
          b,
          usedOutputs: outputs,
          readers: (t) => readers.get(canonicalTensorName(t)) ?? 0,
          outName: (i = 0) => `${node.name}:${i}`,
          name: materialize,
          tf: toTf,
          nchw: toNchw,
          emit,
        };
        results = translator(ctx);
      }
      for (const i of outputs) {
        const v = results[i];
        if (!v) throw new Error(`translator of ${node.op} gave no output ${i} for node ${node.name}`);
        v.label ??= `${node.name}:${i}`;
        values.set(`${node.name}:${i}`, v);
      }
    } catch (err) {
      if (!(err instanceof Untranslatable)) throw err;
      report(err.detail ? `${node.op}(${err.detail})` : node.op);
      poison();
    }
  }

  // Outputs: TF's layout, each its own ONNX value (an Identity where the value is an input, an
  // initializer, or fetched twice).
  const outputNames: string[] = [];
  const taken = new Set<string>();
  for (const f of fetches) {
    const v = values.get(canonicalTensorName(f.tensor));
    if (!v) throw new Error(`no value for fetch ${f.tensor}`);
    if (v.poisoned) continue;
    try {
      if (v.dtype !== f.dtype) fail(`fetch ${f.tensor} is ${dataTypeName(v.dtype)}, not ${dataTypeName(f.dtype)}`);
      let name = toTf(v);
      if (taken.has(name) || b.isGraphInput(name) || b.isInitializer(name)) [name] = emit('Identity', [name], [canonicalTensorName(f.tensor)]);
      taken.add(name);
      b.output(name, requireOnnxType(v.dtype), onnxDims(v.shape, unknown));
      outputNames.push(name);
    } catch (err) {
      if (!(err instanceof Untranslatable)) throw err;
      report(err.detail ?? `fetch ${f.tensor}`);
    }
  }
  if (problems.size > 0) throw new UntranslatableGraphError([...problems]);
  const bytes = b.encode({ producerName: '@tensorsky/predict-local', producerVersion: PRODUCER_VERSION, graphName: 'tensorsky' });
  return { bytes, inputNames, outputNames };
}
