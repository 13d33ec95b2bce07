// Shared by the onnx-*.test.ts files: small frozen graphs, run (a) translated to ONNX on ONNX Runtime
// and (b) on this package's TF.js executor (toTfjsModel + GraphModel, cpu backend unless set), compared.
import * as tf from '@tensorflow/tfjs';
import {
  DataType,
  freezeSignatureGraph,
  GraphBuilder,
  parseOpDefs,
  parseTensorName,
  shapeProto,
  tfjsDtype,
  tfOpDefs,
  type FrozenGraph,
  type GraphTensor,
  type MetaGraphDef,
  type NodeDef,
  type OpDefs,
  type SignatureDef,
} from '@tensorsky/saved-model';
import { toTfjsModel } from '../src/tfjs-model.js';
import { translateToOnnx, type OnnxModel } from '../src/onnx/index.js';
import { size, values } from './support/values.js';

export { size, values };

export type Data = Float32Array | Int32Array | Uint8Array | BigInt64Array;
export interface HostTensor {
  data: Data;
  shape: number[];
}

function metaGraph(graphDef: MetaGraphDef['graph_def'], signature: SignatureDef): MetaGraphDef {
  return { meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } };
}

// OpDefs of TensorFlow ops outside the vendored set (which covers what the exporter writes), as
// TensorFlow registers them (tensorflow/core/ops/*.cc), for building test graphs.
const type = (name: string, fallback?: string) => ({ name, type: 'type', ...(fallback ? { default_value: { type: fallback } } : {}) });
const arg = (name: string, typeAttr = 'T') => ({ name, type_attr: typeAttr });
const boolArg = (name: string) => ({ name, type: 'DT_BOOL' });
const unaryDef = (name: string, extra: object[] = []) => ({ name, input_arg: [arg('x')], output_arg: [arg('y')], attr: [type('T'), ...extra] });
const binaryDef = (name: string, boolOut = false, extra: object[] = []) => ({
  name,
  input_arg: [arg('x'), arg('y')],
  output_arg: [boolOut ? boolArg('z') : arg('z')],
  attr: [type('T'), ...extra],
});
const reductionDef = (name: string) => ({
  name,
  input_arg: [arg('input'), arg('reduction_indices', 'Tidx')],
  output_arg: [arg('output')],
  attr: [{ name: 'keep_dims', type: 'bool', default_value: { b: false } }, type('T'), type('Tidx', 'DT_INT32')],
});
const EXTRA_OPDEFS: Record<string, object> = {
  ...Object.fromEntries(
    ['Sqrt', 'Rsqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Erf', 'Softplus', 'Softsign', 'Square', 'Floor', 'Ceil', 'Round', 'Sign', 'Reciprocal', 'Sin', 'Cos'].map((n) => [n, unaryDef(n)]),
  ),
  LeakyRelu: unaryDef('LeakyRelu', [{ name: 'alpha', type: 'float', default_value: { f: 0.2 } }]),
  ...Object.fromEntries(['Pow', 'SquaredDifference', 'Div', 'FloorDiv'].map((n) => [n, binaryDef(n)])),
  ...Object.fromEntries(['Greater', 'LessEqual', 'GreaterEqual'].map((n) => [n, binaryDef(n, true)])),
  ...Object.fromEntries(['Equal', 'NotEqual'].map((n) => [n, binaryDef(n, true, [{ name: 'incompatible_shape_error', type: 'bool', default_value: { b: true } }])])),
  LogicalOr: { name: 'LogicalOr', input_arg: [boolArg('x'), boolArg('y')], output_arg: [boolArg('z')], attr: [] },
  LogicalNot: { name: 'LogicalNot', input_arg: [boolArg('x')], output_arg: [boolArg('y')], attr: [] },
  ...Object.fromEntries(['Sum', 'Min', 'Prod'].map((n) => [n, reductionDef(n)])),
  Transpose: { name: 'Transpose', input_arg: [arg('x'), arg('perm', 'Tperm')], output_arg: [arg('y')], attr: [type('T'), type('Tperm', 'DT_INT32')] },
  BatchMatMulV2: {
    name: 'BatchMatMulV2',
    input_arg: [arg('x'), arg('y')],
    output_arg: [arg('output')],
    attr: [type('T'), { name: 'adj_x', type: 'bool', default_value: { b: false } }, { name: 'adj_y', type: 'bool', default_value: { b: false } }],
  },
  Slice: { name: 'Slice', input_arg: [arg('input'), arg('begin', 'Index'), arg('size', 'Index')], output_arg: [arg('output')], attr: [type('T'), type('Index')] },
  PadV2: {
    name: 'PadV2',
    input_arg: [arg('input'), arg('paddings', 'Tpaddings'), arg('constant_values')],
    output_arg: [arg('output')],
    attr: [type('T'), type('Tpaddings', 'DT_INT32')],
  },
  MirrorPad: {
    name: 'MirrorPad',
    input_arg: [arg('input'), arg('paddings', 'Tpaddings')],
    output_arg: [arg('output')],
    attr: [type('T'), type('Tpaddings', 'DT_INT32'), { name: 'mode', type: 'string' }],
  },
  Tile: { name: 'Tile', input_arg: [arg('input'), arg('multiples', 'Tmultiples')], output_arg: [arg('output')], attr: [type('T'), type('Tmultiples', 'DT_INT32')] },
  LogSoftmax: { name: 'LogSoftmax', input_arg: [arg('logits')], output_arg: [arg('logsoftmax')], attr: [type('T')] },
  SelectV2: { name: 'SelectV2', input_arg: [boolArg('condition'), arg('t'), arg('e')], output_arg: [arg('output')], attr: [type('T')] },
  AddN: { name: 'AddN', input_arg: [{ name: 'inputs', number_attr: 'N', type_attr: 'T' }], output_arg: [arg('sum')], attr: [{ name: 'N', type: 'int', has_minimum: true, minimum: 1 }, type('T')] },
  Cumsum: {
    name: 'Cumsum',
    input_arg: [arg('x'), arg('axis', 'Tidx')],
    output_arg: [arg('out')],
    attr: [{ name: 'exclusive', type: 'bool', default_value: { b: false } }, { name: 'reverse', type: 'bool', default_value: { b: false } }, type('T'), type('Tidx', 'DT_INT32')],
  },
};

let testOpDefs: OpDefs | undefined;
export function opDefs(): OpDefs {
  testOpDefs ??= new Map([...tfOpDefs(), ...parseOpDefs(EXTRA_OPDEFS as Record<string, unknown>)]);
  return testOpDefs;
}

/** A frozen graph built with GraphBuilder; inputs and outputs by signature alias. */
export function buildGraph(make: (b: GraphBuilder) => { inputs: Record<string, GraphTensor>; outputs: Record<string, GraphTensor> }): FrozenGraph {
  const b = new GraphBuilder(opDefs());
  const { inputs, outputs } = make(b);
  return freezeSignatureGraph(metaGraph(b.toGraphDef(), b.signature(inputs, outputs)), { signature: 'serving_default', dir: '.' });
}

/** A frozen graph from hand-written NodeDefs (ops outside the vendored OpDefs need every attr written). */
export function nodesGraph(
  nodes: NodeDef[],
  inputs: Record<string, { tensor: string; dtype: DataType; shape?: number[] }>,
  outputs: Record<string, { tensor: string; dtype: DataType }>,
): FrozenGraph {
  const info = (t: { tensor: string; dtype: DataType; shape?: number[] }) => ({ name: t.tensor, dtype: t.dtype, tensor_shape: shapeProto(t.shape) });
  const signature: SignatureDef = {
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, info(t)])),
    outputs: Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, info(t)])),
    method_name: 'tensorflow/serving/predict',
  };
  return freezeSignatureGraph(metaGraph({ node: nodes, versions: { producer: 1286, min_consumer: 12 } }, signature), { signature: 'serving_default', dir: '.' });
}

export const T = (type: DataType) => ({ type });
export const ints = (...i: number[]) => ({ list: { i } });
export const str = (s: string) => ({ s: new TextEncoder().encode(s) });

/** Runs the graph on this package's TF.js executor (bias/activation fusion as loadModel does). */
export async function runTfjs(graph: FrozenGraph, feeds: Record<string, HostTensor>, backend = 'cpu'): Promise<Record<string, Data>> {
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
  const { artifacts, outputNames } = toTfjsModel(graph, new Set());
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const inputs: Record<string, tf.Tensor> = {};
  for (const spec of graph.inputs) {
    const feed = feeds[spec.alias];
    const data = feed.data instanceof BigInt64Array || (feed.data instanceof Uint8Array && spec.dtype !== DataType.DT_BOOL) ? Int32Array.from(feed.data, Number) : feed.data;
    inputs[parseTensorName(spec.tensor).node] = tf.tensor(data, feed.shape, tfjsDtype(spec.dtype));
  }
  try {
    const results = [await model.executeAsync(inputs, outputNames)].flat();
    const out: Record<string, Data> = {};
    for (const [i, spec] of graph.outputs.entries()) out[spec.alias] = (await results[i].data()) as Data;
    tf.dispose(results);
    return out;
  } finally {
    tf.dispose(Object.values(inputs));
    model.dispose();
  }
}

/** Translates with the signature's shapes, or the given ones per input alias. */
export function translate(graph: FrozenGraph, shapes: Record<string, number[] | undefined> = {}): OnnxModel {
  return translateToOnnx(
    graph,
    graph.inputs.map((i) => ({ tensor: i.tensor, dtype: i.dtype, shape: i.alias in shapes ? shapes[i.alias] : i.shape })),
    graph.outputs.map((o) => ({ tensor: o.tensor, dtype: o.dtype })),
  );
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Ort | undefined;
export async function ort(): Promise<Ort> {
  ortModule ??= await import('onnxruntime-node');
  return ortModule;
}

const ORT_TYPES: Partial<Record<DataType, 'float32' | 'int32' | 'int64' | 'uint8' | 'bool'>> = {
  [DataType.DT_FLOAT]: 'float32',
  [DataType.DT_UINT8]: 'uint8',
  [DataType.DT_INT32]: 'int32',
  [DataType.DT_INT64]: 'int64',
  [DataType.DT_BOOL]: 'bool',
};

export async function session(model: OnnxModel, threads = 1) {
  return (await ort()).InferenceSession.create(model.bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: threads });
}

/** Runs a translated model on ONNX Runtime; outputs by the graph's output aliases. */
export async function runOrt(
  model: OnnxModel,
  graph: FrozenGraph,
  feeds: Record<string, HostTensor>,
  existing?: Awaited<ReturnType<typeof session>>,
): Promise<Record<string, Data>> {
  const { Tensor } = await ort();
  const s = existing ?? (await session(model));
  try {
    const inputs: Record<string, InstanceType<typeof Tensor>> = {};
    graph.inputs.forEach((spec, i) => {
      const feed = feeds[spec.alias];
      inputs[model.inputNames[i]] = new Tensor(ORT_TYPES[spec.dtype]!, feed.data, feed.shape);
    });
    const results = await s.run(inputs);
    const out: Record<string, Data> = {};
    graph.outputs.forEach((spec, i) => (out[spec.alias] = results[model.outputNames[i]].data as Data));
    return out;
  } finally {
    if (!existing) await s.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(Number(a[i]) - Number(b[i])));
  return max;
}

/** Seeded floats in [lo, hi). */
export function uniform(shape: number[], seed: number, lo = -1, hi = 1): HostTensor {
  const v = values(size(shape), seed);
  for (let i = 0; i < v.length; i++) v[i] = lo + ((v[i] + 1) / 2) * (hi - lo);
  return { data: v, shape };
}

/**
 * Translates (with `shapes` for the inputs, default the signature's), runs both engines and returns the
 * max abs difference per output; also checks the output shapes agree with TF.js's element counts.
 */
export async function compare(
  graph: FrozenGraph,
  feeds: Record<string, HostTensor>,
  shapes: Record<string, number[] | undefined> = {},
): Promise<{ diffs: Record<string, number>; onnx: Record<string, Data>; tfjs: Record<string, Data>; model: OnnxModel }> {
  const model = translate(graph, shapes);
  const [onnx, tfjs] = [await runOrt(model, graph, feeds), await runTfjs(graph, feeds)];
  const diffs: Record<string, number> = {};
  for (const spec of graph.outputs) diffs[spec.alias] = maxAbsDiff(onnx[spec.alias], tfjs[spec.alias]);
  return { diffs, onnx, tfjs, model };
}

/** ONNX op types of a translated model's nodes (decoded with our schema). */
export async function onnxOps(model: OnnxModel): Promise<string[]> {
  const { onnxMessageType } = await import('../src/onnx/proto.js');
  const decoded = onnxMessageType('ModelProto').decode(model.bytes) as unknown as { graph: { node: { op_type: string }[] } };
  return decoded.graph.node.map((n) => n.op_type);
}
