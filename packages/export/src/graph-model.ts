// `--model PATH` for TF.js graph models (tensorflowjs_converter --output_format tfjs_graph_model), in
// tfjs-converter's graph-model format: model.json with format 'graph-model', modelTopology a GraphDef in
// protobuf's JSON mapping (camelCase fields, int64 as strings, bytes as base64), `signature` naming the
// graph's input and output tensors, and a weightsManifest holding every Const node's value under the
// node's name (quantized as its entry says; see tfjs-weights.ts).
//
// The converter's grappler pass fuses ops into kernels TF.js has but TensorFlow Serving does not:
// _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul with fused_ops [BiasAdd] or [FusedBatchNorm],
// optionally followed by an activation (Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh). They are unfused
// here into Conv2D / DepthwiseConv2dNative / MatMul → BiasAdd or FusedBatchNormV3 → activation. Every
// other node must be a TensorFlow op of the vendored op definitions and is kept as it is; the graph's
// float image input is replaced by the image-decoding front.
import * as tf from '@tensorflow/tfjs';
import {
  dataDependencyOrder,
  DataType,
  parseDataType,
  parseTensorName,
  shapeProto,
  tfOpDefs,
  type AttrInput,
  type GraphBuilder,
  type GraphTensor,
  type TensorProto,
} from '@tensorsky/saved-model';
import { decodeWeights, modelArtifacts, readModelJson, readWeightData, type DecodedWeight, type ModelJSONFile } from './tfjs-weights.js';

interface ShapeJSON {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}

interface TensorJSON {
  dtype?: string;
  tensorShape?: ShapeJSON;
  tensorContent?: string;
  floatVal?: (number | string)[];
  doubleVal?: (number | string)[];
  intVal?: number[];
  int64Val?: (string | number)[];
  boolVal?: boolean[];
  halfVal?: number[];
}

interface AttrJSON {
  s?: string;
  i?: string | number;
  f?: number | string;
  b?: boolean;
  type?: string;
  shape?: ShapeJSON;
  tensor?: TensorJSON;
  list?: { s?: string[]; i?: (string | number)[]; f?: (number | string)[]; b?: boolean[]; type?: string[]; shape?: ShapeJSON[] };
  func?: unknown;
}

export interface NodeJSON {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrJSON>;
}

interface TensorInfoJSON {
  name?: string;
  dtype?: string;
  tensorShape?: ShapeJSON;
}

/** A TF.js graph model as read from its files: the graph, its weights and what the exporter needs to know. */
export interface TfjsGraphModel {
  /** model.json, for messages. */
  source: string;
  nodes: ReadonlyMap<string, NodeJSON>;
  weights: ReadonlyMap<string, DecodedWeight>;
  /** The Placeholder fed with images. */
  input: string;
  /** The output tensor, "node:index". */
  output: string;
  /** [height, width, channels] of one input image. */
  inputShape: [number, number, number];
  classes: number;
  /** The files as TF.js's own loader takes them (tf.loadGraphModel), for the reference model. */
  artifacts: tf.io.ModelArtifacts;
}

/** Reads a TF.js graph model (model.json or its folder) and checks that it is a float image classifier. */
export async function loadTfjsGraphModel(path: string): Promise<TfjsGraphModel> {
  const { modelJsonPath: source, json } = await readModelJson(path);
  const topology = json.modelTopology as { node?: NodeJSON[] } | undefined;
  if (json.format !== 'graph-model' || !Array.isArray(topology?.node)) {
    throw new GraphModelError(`${source} is not a TF.js graph model (format 'graph-model' with a GraphDef in modelTopology)`);
  }
  const nodes = new Map(topology.node.map((node) => [node.name, node]));
  const { weightSpecs, weightData } = await readWeightData(json, source);
  const weights = decodeWeights(weightSpecs, weightData, source);
  const { input, output, inputShape, classes } = inputAndOutput(json, nodes, source);
  // Ops are checked before anything is converted or written.
  for (const name of dependencyOrder({ source, nodes, input, output })) {
    const { op } = nodes.get(name)!;
    if (!['Const', 'Placeholder'].includes(op) && !FUSED[op] && !tfOpDefs().has(op)) {
      throw new GraphModelError(
        `${source}: node '${name}' has op ${op}, which tensorsky export cannot write: it is neither a TensorFlow op it has the definition of nor a fused op of tfjs-converter (${Object.keys(FUSED).join(', ')})`,
      );
    }
  }
  const artifacts = modelArtifacts(json, weightSpecs, weightData);
  return { source, nodes, weights, input, output, inputShape, classes, artifacts };
}

/** The one float image input and one [batch, classes] output: from the signature, else the graph. */
function inputAndOutput(json: ModelJSONFile, nodes: Map<string, NodeJSON>, source: string): Pick<TfjsGraphModel, 'input' | 'output' | 'inputShape' | 'classes'> {
  const signature = json.signature as { inputs?: Record<string, TensorInfoJSON>; outputs?: Record<string, TensorInfoJSON> } | undefined;
  const placeholders = [...nodes.values()].filter((n) => n.op === 'Placeholder');
  const inputs = signature?.inputs ? Object.values(signature.inputs).map((t) => parseTensorName(t.name ?? '').node) : placeholders.map((n) => n.name);
  const outputs = Object.values(signature?.outputs ?? {});
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new GraphModelError(`${source} has ${inputs.length} inputs and ${outputs.length} outputs in its signature; tensorsky export converts models with one image input and one output`);
  }
  const inputNode = nodes.get(inputs[0]);
  if (inputNode?.op !== 'Placeholder') throw new GraphModelError(`${source}: the signature's input ${inputs[0]} is not a Placeholder of the graph`);
  const dtype = inputNode.attr?.dtype?.type;
  const shape = dims(inputNode.attr?.shape?.shape) ?? dims(signature?.inputs && Object.values(signature.inputs)[0].tensorShape);
  if (dtype !== 'DT_FLOAT' || shape?.length !== 4 || shape.slice(1).some((d) => d <= 0) || ![1, 3].includes(shape[3])) {
    throw new GraphModelError(
      `${source}: input ${inputNode.name} is ${dtype ?? 'of unknown dtype'} [${shape?.join(', ') ?? 'unknown shape'}]; tensorsky export needs float32 images [batch, height, width, 1 or 3] of a fixed size`,
    );
  }
  const outputShape = dims(outputs[0].tensorShape);
  if (outputShape?.length !== 2 || !(outputShape[1] > 0)) {
    throw new GraphModelError(`${source}: output ${outputs[0].name} has shape [${outputShape?.join(', ') ?? 'unknown'}]; tensorsky export needs [batch, classes]`);
  }
  return { input: inputNode.name, output: outputs[0].name ?? '', inputShape: [shape[1], shape[2], shape[3]], classes: outputShape[1] };
}

function dims(shape: ShapeJSON | undefined): number[] | undefined {
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => Number(d.size ?? -1));
}

/**
 * Adds the ops computing `model.output` to `g`, fed by `images` in place of the input Placeholder.
 * Nodes are converted in dependency order from the output, so nodes it does not need are left out.
 */
export function graphModelToGraph(model: TfjsGraphModel, g: GraphBuilder, images: GraphTensor): GraphTensor {
  const converted = new Map<string, readonly GraphTensor[]>([[model.input, [images]]]);
  for (const name of dependencyOrder(model)) {
    const node = model.nodes.get(name)!;
    const inputs = (node.input ?? [])
      // Control dependencies order stateful ops; an inference graph's ops are stateless (see dependencyOrder).
      .filter((ref) => !ref.startsWith('^'))
      .map((ref) => {
        const { node: from, index } = parseTensorName(ref);
        const tensor = converted.get(from)?.[index];
        if (!tensor) throw new GraphModelError(`${model.source}: node '${name}' reads ${ref}, which the graph does not produce`);
        return tensor;
      });
    converted.set(name, convertNode(model, node, inputs, g));
  }
  const { node, index } = parseTensorName(model.output);
  const output = converted.get(node)?.[index];
  if (output?.dtype !== DataType.DT_FLOAT) throw new GraphModelError(`${model.source}: output ${model.output} is not a float tensor of the graph`);
  return output;
}

/** The nodes the output depends on, inputs before their readers; the input Placeholder is fed. */
function dependencyOrder(model: Pick<TfjsGraphModel, 'source' | 'nodes' | 'input' | 'output'>): string[] {
  return dataDependencyOrder([parseTensorName(model.output).node], (name) => model.nodes.get(name), {
    given: [model.input],
    cycle: (name) => new GraphModelError(`${model.source}: node '${name}' is part of a cycle (a while loop); tensorsky export converts graphs without control flow`),
    missing: (name) => new GraphModelError(`${model.source}: the graph reads node '${name}', which it does not have`),
  });
}

function convertNode(model: TfjsGraphModel, node: NodeJSON, inputs: GraphTensor[], g: GraphBuilder): readonly GraphTensor[] {
  const fail = (problem: string): never => {
    throw new GraphModelError(`${model.source}: node '${node.name}' (${node.op}) ${problem}`);
  };
  if (node.op === 'Placeholder') return fail('is a second input; tensorsky export converts models with one image input');
  if (node.op === 'Const') return [constant(model, node, g, fail)];
  const unfuse = FUSED[node.op];
  if (unfuse) return [unfuse({ g, node, inputs, fail, attr: (key) => node.attr?.[key] })];
  // loadTfjsGraphModel checked that every op is known.
  const opDef = tfOpDefs().get(node.op)!;
  // One entry per OpDef input arg; list args take as many tensors as their length attr says.
  let next = 0;
  const grouped = (opDef.input_arg ?? []).map((arg) => {
    if (!arg.number_attr && !arg.type_list_attr) return inputs[next++];
    const length = arg.number_attr ? Number(node.attr?.[arg.number_attr]?.i ?? 0) : (node.attr?.[arg.type_list_attr!]?.list?.type?.length ?? 0);
    next += length;
    return inputs.slice(next - length, next);
  });
  if (next !== inputs.length || grouped.some((x) => x === undefined)) fail(`has ${inputs.length} inputs, its op definition takes ${next}`);
  // Attrs the builder infers from the inputs are left to it.
  const inferred = new Set((opDef.input_arg ?? []).flatMap((arg) => [arg.type_attr, arg.number_attr, arg.type_list_attr].filter(Boolean)));
  const attrs = Object.fromEntries(
    Object.entries(node.attr ?? {})
      .filter(([key]) => !key.startsWith('_') && !inferred.has(key))
      .map(([key, value]) => [key, attrInput(value, (problem) => fail(`attr ${key}: ${problem}`))]),
  );
  try {
    return g.op(node.op, grouped, attrs, { name: node.name }).outputs;
  } catch (err) {
    return fail(`cannot be added: ${(err as Error).message}`);
  }
}

/** A Const from the weightsManifest (the converter moves every value there), else from its own attr. */
function constant(model: TfjsGraphModel, node: NodeJSON, g: GraphBuilder, fail: (problem: string) => never): GraphTensor {
  const weight = model.weights.get(node.name);
  if (weight) {
    const dtype = { float32: DataType.DT_FLOAT, int32: DataType.DT_INT32, bool: DataType.DT_BOOL }[weight.dtype];
    const values = weight.dtype === 'bool' ? Array.from(weight.values, Boolean) : weight.values;
    return g.constant(node.name, values, weight.shape, dtype);
  }
  const value = node.attr?.value?.tensor;
  if (!value || (value.tensorContent === undefined && !Object.keys(value).some((k) => k.endsWith('Val')))) {
    return fail('has no value: it is neither in the weightsManifest nor in the node');
  }
  return g.apply('Const', [], { value: tensorProto(value, fail), dtype: dtypeOf(value.dtype, fail) }, { name: node.name });
}

interface FusedContext {
  g: GraphBuilder;
  node: NodeJSON;
  inputs: GraphTensor[];
  attr: (key: string) => AttrJSON | undefined;
  fail: (problem: string) => never;
}

/** The convolution or MatMul a fused op starts with, then its fused_ops. */
const FUSED: Readonly<Record<string, (ctx: FusedContext) => GraphTensor>> = {
  _FusedConv2D: (ctx) => unfused(ctx, 'Conv2D', ['strides', 'padding', 'explicit_paddings', 'data_format', 'dilations', 'use_cudnn_on_gpu']),
  FusedDepthwiseConv2dNative: (ctx) => unfused(ctx, 'DepthwiseConv2dNative', ['strides', 'padding', 'explicit_paddings', 'data_format', 'dilations']),
  _FusedMatMul: (ctx) => unfused(ctx, 'MatMul', ['transpose_a', 'transpose_b']),
};

/** One TensorFlow op per fused activation (LeakyRelu is max(x, alpha * x), exact for 0 <= alpha <= 1). */
const ACTIVATIONS: Readonly<Record<string, (g: GraphBuilder, x: GraphTensor, ctx: FusedContext) => GraphTensor>> = {
  Relu: (g, x) => g.relu(x),
  Relu6: (g, x) => g.apply('Relu6', [x]),
  Elu: (g, x) => g.apply('Elu', [x]),
  Sigmoid: (g, x) => g.apply('Sigmoid', [x]),
  Tanh: (g, x) => g.apply('Tanh', [x]),
  LeakyRelu: (g, x, ctx) => {
    const alpha = Number(ctx.attr('leakyrelu_alpha')?.f ?? 0.2);
    if (!(alpha >= 0 && alpha <= 1)) ctx.fail(`has leakyrelu_alpha ${alpha}; only 0 <= alpha <= 1 is supported`);
    return g.apply('Maximum', [x, g.mul(x, g.constant('alpha', alpha))], {}, { name: 'LeakyRelu' });
  },
};

function unfused(ctx: FusedContext, baseOp: string, attrNames: string[]): GraphTensor {
  const { g, node, fail } = ctx;
  const fusedOps = (ctx.attr('fused_ops')?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
  const [x, filter, ...args] = ctx.inputs;
  const [extra, ...activations] = fusedOps;
  const expectedArgs = extra === 'BiasAdd' ? 1 : extra === 'FusedBatchNorm' && baseOp !== 'MatMul' ? 4 : undefined;
  if (expectedArgs === undefined || activations.length > 1 || (activations[0] !== undefined && !ACTIVATIONS[activations[0]])) {
    fail(
      `fuses [${fusedOps.join(', ')}]; tensorsky export unfuses BiasAdd${baseOp === 'MatMul' ? '' : ' or FusedBatchNorm'} followed by at most one of ${Object.keys(ACTIVATIONS).join(', ')}`,
    );
  }
  if (args.length !== expectedArgs) fail(`has ${args.length} fused arguments; ${extra} takes ${expectedArgs}`);
  const attrs = Object.fromEntries(
    attrNames.filter((key) => ctx.attr(key) !== undefined).map((key) => [key, attrInput(ctx.attr(key)!, (p) => fail(`attr ${key}: ${p}`))]),
  );
  return g.withScope(node.name, () => {
    const y = g.apply(baseOp, [x, filter], attrs, { name: baseOp });
    const dataFormat = baseOp === 'MatMul' ? {} : { data_format: attrs.data_format };
    const z =
      extra === 'BiasAdd'
        ? g.apply('BiasAdd', [y, args[0]], dataFormat, { name: 'BiasAdd' })
        : g.apply('FusedBatchNormV3', [y, ...args], { ...dataFormat, epsilon: Number(ctx.attr('epsilon')?.f ?? 0.0001), is_training: false }, { name: 'FusedBatchNormV3' });
    return activations[0] ? ACTIVATIONS[activations[0]](g, z, ctx) : z;
  });
}

// ---------------------------------------------------------------------------------------------
// Protobuf JSON → the builder's attr values

function attrInput(value: AttrJSON, fail: (problem: string) => never): AttrInput {
  if (value.s !== undefined) return new Uint8Array(Buffer.from(value.s, 'base64'));
  if (value.i !== undefined) return Number(value.i);
  if (value.f !== undefined) return Number(value.f);
  if (value.b !== undefined) return value.b;
  if (value.type !== undefined) return dtypeOf(value.type, fail);
  if (value.shape !== undefined) return dims(value.shape) ?? null;
  if (value.tensor !== undefined) return tensorProto(value.tensor, fail);
  if (value.list !== undefined) {
    const list = value.list;
    if (list.s) return list.s.map((s) => new Uint8Array(Buffer.from(s, 'base64')));
    if (list.i) return list.i.map(Number);
    if (list.f) return list.f.map(Number);
    if (list.b) return list.b;
    if (list.type) return list.type.map((t) => dtypeOf(t, fail));
    if (list.shape) return list.shape.map((s) => dims(s) ?? null);
    return [];
  }
  return fail(`has a value tensorsky export cannot read (${JSON.stringify(value).slice(0, 80)})`);
}

function dtypeOf(name: string | undefined, fail: (problem: string) => never): DataType {
  return parseDataType(name ?? '') ?? fail(`has unknown dtype ${name}`);
}

function tensorProto(value: TensorJSON, fail: (problem: string) => never): TensorProto {
  const numbers = (values: (number | string)[] | undefined) => values?.map(Number);
  return {
    dtype: dtypeOf(value.dtype, fail),
    tensor_shape: shapeProto(dims(value.tensorShape) ?? []),
    ...(value.tensorContent !== undefined ? { tensor_content: new Uint8Array(Buffer.from(value.tensorContent, 'base64')) } : {}),
    ...(value.floatVal ? { float_val: numbers(value.floatVal) } : {}),
    ...(value.doubleVal ? { double_val: numbers(value.doubleVal) } : {}),
    ...(value.intVal ? { int_val: value.intVal } : {}),
    ...(value.int64Val ? { int64_val: numbers(value.int64Val) } : {}),
    ...(value.boolVal ? { bool_val: value.boolVal } : {}),
    ...(value.halfVal ? { half_val: value.halfVal } : {}),
  };
}

/** TF.js's own GraphModel of the same files: the reference `predict` and `verify` run. */
export function tfjsGraphModel(model: TfjsGraphModel): Promise<tf.GraphModel> {
  return tf.loadGraphModel({ load: async () => model.artifacts });
}

export class GraphModelError extends Error {
  override name = 'GraphModelError';
}
