// GraphBuilder: builds TensorFlow GraphDefs the way TensorFlow's Python op construction does. Every op
// goes through the OpDef: type attrs (T, Tidx, ...) and list lengths (N) are inferred from the inputs,
// every attr with a default is written explicitly, inputs whose dtype conflicts with the OpDef are
// rejected when the op is added, and outputs carry their dtype so downstream ops infer correctly.
import { baseType, dtypeOfArray } from './dtypes.js';
import { encodeMessage, DataType, REF_OFFSET, dataTypeName } from './proto.js';
import type {
  AttrDef,
  AttrValue,
  GraphDef,
  NameAttrList,
  NodeDef,
  OpDef,
  SignatureDef,
  TensorInfo,
  TensorProto,
  TensorShapeProto,
} from './proto.js';
import { attrValueProblem, dtypeFits, formatAttrValue, inputDtypes, outputDtypes, tfOpDefs, type OpDefs } from './opdefs.js';
import { inputName, tensorName } from './tensor-name.js';
import { shapeFromProto, shapeProto, tensorProto, type Shape, type TensorValues } from './tensor.js';

/**
 * GraphDef versions written by the builder. TensorFlow rejects a graph only when min_consumer exceeds
 * its own GraphDef version or producer is below its minimum producer (0), so every TF 2.x loads this.
 * producer 1286 (the TF 2.11 era) is recent enough that TensorFlow applies current op semantics rather
 * than compatibility behaviour for old graphs; min_consumer 12 is what TensorFlow itself writes.
 */
export const GRAPH_DEF_VERSIONS = { producer: 1286, min_consumer: 12 } as const;

export class GraphBuildError extends Error {
  override name = 'GraphBuildError';
}

/** One output of a node in the graph being built. */
export class GraphTensor {
  constructor(
    readonly node: string,
    readonly index: number,
    readonly dtype: DataType,
    /** Static shape when cheaply known (-1 for unknown dimensions); undefined when unknown. */
    readonly shape?: Shape,
  ) {}

  /** TensorFlow's tensor name, e.g. "conv2d/Conv2D:0" (signatures, feeds, fetches). */
  get name(): string {
    return tensorName(this.node, this.index);
  }

  /** How a NodeDef input refers to this tensor: "node" for output 0, "node:index" otherwise. */
  get inputName(): string {
    return inputName(this.node, this.index);
  }
}

/** A node that was added, with all its outputs. */
export interface GraphOperation {
  readonly name: string;
  readonly op: string;
  readonly outputs: readonly GraphTensor[];
}

/** Literal values for an integer input: a scalar, a vector, or a rectangular matrix (rows). */
export type IntLiteral = number | readonly number[] | readonly (readonly number[])[];

/**
 * One entry per OpDef input arg: a tensor, an array of tensors for list args (number_attr /
 * type_list_attr), or literal values, which become a Const named "<node>/<arg>" of the arg's dtype.
 */
export type OpInput = GraphTensor | readonly GraphTensor[] | IntLiteral;

/** Something a control input can name: a node's tensor, an operation, or a node name. */
export type ControlInput = GraphTensor | GraphOperation | string;

/**
 * An attr value in JavaScript form, converted according to the attr's type in the OpDef:
 * string → string|Uint8Array, int/float → number, bool → boolean, type → DataType,
 * shape → number[] (-1 unknown) | null (unknown rank) | TensorShapeProto, tensor → TensorProto,
 * func → name | NameAttrList, list(...) → arrays of those.
 * Internal attrs ("_" prefix) are not in the OpDef and must be given as AttrValue.
 */
export type AttrInput =
  | number
  | boolean
  | string
  | Uint8Array
  | null
  | readonly number[]
  | readonly boolean[]
  | readonly (string | Uint8Array)[]
  | readonly (Shape | null)[]
  | TensorShapeProto
  | TensorProto
  | NameAttrList
  | AttrValue;

export interface OpOptions {
  /** Node name relative to the current scope; made unique TensorFlow-style (name, name_1, ...). Default: the op type. */
  name?: string;
  /** Nodes that must run first ("^node" inputs). */
  controlInputs?: readonly ControlInput[];
}

export interface NameOption {
  name?: string;
}

/** A constant's value: an array of values or a single scalar. */
export type ConstantValue = TensorValues | number | bigint | boolean | string;

/** An int32 input given as a tensor or as literal values (a Const is added under the op's name). */
export type IntInput = GraphTensor | number | readonly number[];

export type Padding = 'SAME' | 'VALID' | 'EXPLICIT';

export interface ConvOptions extends NameOption {
  /** Default [1, 1, 1, 1]. */
  strides?: readonly number[];
  padding: Padding;
  /** With padding EXPLICIT: [before, after] per dimension, flattened (8 values for NHWC). */
  explicitPaddings?: readonly number[];
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: readonly number[];
}

export interface PoolOptions extends NameOption {
  ksize: readonly number[];
  strides: readonly number[];
  padding: 'SAME' | 'VALID';
  dataFormat?: 'NHWC' | 'NCHW';
}

export interface ToGraphDefOptions {
  /**
   * Leave out attrs whose value equals the OpDef default, as tf.saved_model does (set
   * meta_info_def.stripped_default_attrs). TensorFlow re-adds defaults when loading; stripping keeps
   * graphs loadable by older TensorFlow versions that predate an attr (e.g. MatMul's grad_a/grad_b).
   */
  stripDefaultAttrs?: boolean;
}

interface NodeEntry {
  node: NodeDef & { input: string[]; attr: Record<string, AttrValue> };
  opDef: OpDef;
  outputs: GraphTensor[];
}

const utf8 = new TextEncoder();
// TensorFlow's node name rule (NodeDef.name): [A-Za-z0-9.][A-Za-z0-9_.\-/>]*
const nodeNamePattern = /^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$/;
// Ops whose first output has the shape of their first input.
const shapePreservingOps = new Set([
  'Identity', 'Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'Softmax', 'Cast', 'BiasAdd', 'FusedBatchNormV3',
]);

export class GraphBuilder {
  private readonly nodes: NodeEntry[] = [];
  private readonly byName = new Map<string, NodeEntry>();
  // Lower-cased name → use count, as in tf.Graph.unique_name.
  private readonly namesInUse = new Map<string, number>();
  private scope = '';
  // Control dependencies every node gets while inside withControlDependencies.
  private controlDeps: string[] = [];

  constructor(private readonly opDefs: OpDefs = tfOpDefs()) {}

  // ---------------------------------------------------------------------------------------------
  // Names

  /** Current name scope ("" at the root, else "a/b"). */
  get currentScope(): string {
    return this.scope;
  }

  /**
   * Runs fn with a name scope: nodes created inside are named "<scope>/<name>". The scope name is made
   * unique like a node name (conv2d, conv2d_1, ...); a name ending in "/" re-enters that exact scope.
   */
  withScope<T>(name: string, fn: () => T): T {
    const outer = this.scope;
    this.scope = name.endsWith('/') ? name.slice(0, -1) : this.uniqueName(name);
    try {
      return fn();
    } finally {
      this.scope = outer;
    }
  }

  /**
   * Runs fn with control dependencies: every node created inside gets "^dep" inputs (as in
   * tf.control_dependencies). E.g. Consts inside a while-loop body depend on the loop's pivot so they
   * belong to the loop frame.
   */
  withControlDependencies<T>(deps: readonly ControlInput[], fn: () => T): T {
    const outer = this.controlDeps;
    const fail = (problem: string): never => {
      throw new GraphBuildError(`withControlDependencies: ${problem}`);
    };
    this.controlDeps = [...outer, ...deps.map((d) => this.controlName(d, fail))];
    try {
      return fn();
    } finally {
      this.controlDeps = outer;
    }
  }

  /** TensorFlow's unique_name: prefixes the scope, then appends _1, _2, ... while the name is taken. */
  private uniqueName(name: string): string {
    const full = this.scope ? `${this.scope}/${name}` : name;
    if (!nodeNamePattern.test(full)) {
      throw new GraphBuildError(`invalid node name "${full}": TensorFlow names match [A-Za-z0-9.][A-Za-z0-9_.\\-/>]*`);
    }
    let key = full.toLowerCase();
    let i = this.namesInUse.get(key) ?? 0;
    this.namesInUse.set(key, i + 1);
    if (i === 0) return full;
    const baseKey = key;
    while (this.namesInUse.has(key)) {
      key = `${baseKey}_${i}`;
      i += 1;
    }
    this.namesInUse.set(key, 1);
    return `${full}_${i - 1}`;
  }

  /** Claims an exact absolute name (for Consts created under an op's name); throws when taken. */
  private claimName(full: string): string {
    const key = full.toLowerCase();
    if (this.namesInUse.has(key)) throw new GraphBuildError(`node name "${full}" is already used`);
    if (!nodeNamePattern.test(full)) throw new GraphBuildError(`invalid node name "${full}"`);
    this.namesInUse.set(key, 1);
    return full;
  }

  // ---------------------------------------------------------------------------------------------
  // Generic op construction

  /**
   * Adds a node of type opType. inputs has one entry per OpDef input arg (arrays for list args); attrs
   * in JavaScript form (see AttrInput). Type attrs and list lengths are inferred from the inputs,
   * defaults are filled, and everything is checked against the OpDef.
   */
  op(
    opType: string,
    inputs: readonly OpInput[] = [],
    attrs: Readonly<Record<string, AttrInput | undefined>> = {},
    options: OpOptions = {},
  ): GraphOperation {
    const opDef = this.opDef(opType);
    const name = this.uniqueName(options.name ?? opType);
    return this.addNode(opDef, name, this.literalInputs(opDef, name, inputs, attrs), attrs, options.controlInputs ?? []);
  }

  /** op() for the usual case of one output (or only the first one wanted): returns output 0. */
  apply(
    opType: string,
    inputs: readonly OpInput[] = [],
    attrs: Readonly<Record<string, AttrInput | undefined>> = {},
    options: OpOptions = {},
  ): GraphTensor {
    const outputs = this.op(opType, inputs, attrs, options).outputs;
    if (outputs.length === 0) throw new GraphBuildError(`${opType} has no outputs`);
    return outputs[0]!;
  }

  /**
   * Turns literal inputs into Consts named "<node>/<arg>", created before the node. Their dtype is the
   * arg's: its fixed type, else its type attr as given or defaulted in the OpDef (Tidx = DT_INT32), else DT_INT32.
   */
  private literalInputs(
    opDef: OpDef,
    name: string,
    inputs: readonly OpInput[],
    attrs: Readonly<Record<string, AttrInput | undefined>>,
  ): (GraphTensor | readonly GraphTensor[])[] {
    return inputs.map((input, i) => {
      const arg = opDef.input_arg?.[i];
      const isList = Boolean(arg?.number_attr || arg?.type_list_attr);
      const tensors = input instanceof GraphTensor || (Array.isArray(input) && (isList || input.some((t) => t instanceof GraphTensor)));
      if (tensors || !arg) return input as GraphTensor | readonly GraphTensor[];
      const typeAttr = arg.type_attr ? (attrs[arg.type_attr] ?? opDef.attr?.find((a) => a.name === arg.type_attr)?.default_value?.type) : undefined;
      const dtype = arg.type || (typeof typeAttr === 'number' ? typeAttr : DataType.DT_INT32);
      const constName = this.claimName(`${name}/${arg.name}`);
      const rows = input as IntLiteral;
      if (typeof rows === 'number') return this.addConst(constName, [rows], [], dtype);
      if (rows.every((r) => typeof r === 'number')) return this.addConst(constName, rows as readonly number[], [rows.length], dtype);
      const matrix = rows as readonly (readonly number[])[];
      const cols = matrix[0]?.length ?? 0;
      if (matrix.some((r) => !Array.isArray(r) || r.length !== cols)) {
        const expected = 'a tensor, a number, a list of numbers or a rectangular list of lists';
        throw new GraphBuildError(`node "${name}" (${opDef.name}): input "${arg.name}" must be ${expected}`);
      }
      return this.addConst(constName, matrix.flat(), [matrix.length, cols], dtype);
    });
  }

  private opDef(opType: string): OpDef {
    const opDef = this.opDefs.get(opType);
    if (!opDef) throw new GraphBuildError(`unknown op "${opType}": it is not in the OpDefs this builder uses`);
    return opDef;
  }

  private addNode(
    opDef: OpDef,
    name: string,
    inputs: readonly (GraphTensor | readonly GraphTensor[])[],
    attrInputs: Readonly<Record<string, AttrInput | undefined>>,
    controlInputs: readonly ControlInput[],
  ): GraphOperation {
    const fail = (problem: string): never => {
      throw new GraphBuildError(`node "${name}" (${opDef.name}): ${problem}`);
    };
    const attrDefs = new Map((opDef.attr ?? []).map((a) => [a.name, a]));

    const attrs: Record<string, AttrValue> = {};
    for (const [key, value] of Object.entries(attrInputs)) {
      if (value === undefined) continue;
      if (key.startsWith('_')) {
        attrs[key] = value as AttrValue;
        continue;
      }
      const def = attrDefs.get(key);
      if (!def) fail(`attr "${key}" is not defined by the OpDef (attrs: ${[...attrDefs.keys()].join(', ') || 'none'})`);
      attrs[key] = toAttrValue(def!, value, fail);
    }

    // Inputs: infer type attrs and list lengths, check fixed dtypes (tf's _apply_op_helper).
    const args = opDef.input_arg ?? [];
    if (inputs.length !== args.length) {
      fail(`expects ${args.length} input args (${args.map((a) => a.name).join(', ') || 'none'}), got ${inputs.length}`);
    }
    const inferredFrom = new Map<string, string>();
    const dataInputs: string[] = [];
    args.forEach((arg, i) => {
      const given = inputs[i]!;
      const isList = Boolean(arg.number_attr || arg.type_list_attr);
      if (isList !== Array.isArray(given)) {
        fail(`input "${arg.name}" must be ${isList ? 'a list of tensors' : 'a single tensor'}`);
      }
      const tensors = (isList ? given : [given]) as readonly GraphTensor[];
      for (const t of tensors) {
        if (!(t instanceof GraphTensor) || this.byName.get(t.node)?.outputs[t.index] !== t) {
          fail(`input "${arg.name}" is not a tensor of this graph`);
        }
      }
      if (arg.number_attr) this.setInferred(attrs, arg.number_attr, { i: tensors.length }, `input "${arg.name}"`, inferredFrom, fail);
      if (arg.type_list_attr) {
        const types = tensors.map((t) => baseType(t.dtype));
        this.setInferred(attrs, arg.type_list_attr, { list: { type: types } }, `input "${arg.name}"`, inferredFrom, fail);
      }
      for (const t of tensors) {
        if (arg.is_ref && t.dtype < REF_OFFSET) {
          fail(`input "${arg.name}" must be a reference tensor, got ${dataTypeName(t.dtype)} from "${t.name}"`);
        }
        if (arg.type && !dtypeFits(arg.type + (arg.is_ref ? REF_OFFSET : 0), t.dtype)) {
          fail(`input "${arg.name}" must be ${dataTypeName(arg.type)}, got ${dataTypeName(t.dtype)} from "${t.name}"`);
        }
        if (arg.type_attr) {
          this.setInferred(attrs, arg.type_attr, { type: baseType(t.dtype) }, `input "${arg.name}" ("${t.name}")`, inferredFrom, fail);
        }
      }
      dataInputs.push(...tensors.map((t) => t.inputName));
    });

    // Every attr: explicit, inferred, or the OpDef default (written out, as TensorFlow's Python does).
    const ordered: Record<string, AttrValue> = {};
    for (const def of opDef.attr ?? []) {
      let value = attrs[def.name];
      if (value === undefined) {
        if (!def.default_value) fail(`missing required attr "${def.name}" (${def.type})`);
        value = structuredClone(def.default_value!);
      }
      const problem = attrValueProblem(def, value);
      if (problem) {
        const source = inferredFrom.get(def.name);
        fail(source ? `${problem} (inferred from ${source})` : problem);
      }
      ordered[def.name] = value;
    }
    for (const [key, value] of Object.entries(attrs)) if (key.startsWith('_')) ordered[key] = value;

    const dtypes = outputDtypes(opDef, ordered) ?? fail('cannot determine output dtypes');
    const controls = [...this.controlDeps, ...controlInputs.map((c) => this.controlName(c, fail))].map((c) => `^${c}`);
    const node: NodeEntry['node'] = { name, op: opDef.name, input: [...dataInputs, ...new Set(controls)], attr: ordered };
    const firstInput = inputs[0];
    const shapes = staticShapes(opDef.name, ordered, firstInput instanceof GraphTensor ? firstInput.shape : undefined);
    const outputs = dtypes.map((dt, i) => new GraphTensor(name, i, dt, i === 0 ? shapes : undefined));
    const entry: NodeEntry = { node, opDef, outputs };
    this.nodes.push(entry);
    this.byName.set(name, entry);
    return { name, op: opDef.name, outputs };
  }

  private setInferred(
    attrs: Record<string, AttrValue>,
    attr: string,
    value: AttrValue,
    source: string,
    inferredFrom: Map<string, string>,
    fail: (problem: string) => never,
  ): void {
    const current = attrs[attr];
    if (current === undefined) {
      attrs[attr] = value;
      inferredFrom.set(attr, source);
      return;
    }
    if (!sameAttrValue(current, value)) {
      const was = inferredFrom.get(attr);
      const origin = was ? `from ${was}` : 'was given';
      fail(`${source} gives ${attr} = ${formatAttrValue(value)}, but ${attr} = ${formatAttrValue(current)} ${origin}`);
    }
  }

  private controlName(c: ControlInput, fail: (problem: string) => never): string {
    const name = typeof c === 'string' ? c : c instanceof GraphTensor ? c.node : c.name;
    if (!this.byName.has(name)) fail(`control input "${name}" is not a node of this graph`);
    return name;
  }

  private entry(node: string | GraphTensor | GraphOperation): NodeEntry {
    const name = typeof node === 'string' ? node : node instanceof GraphTensor ? node.node : node.name;
    const entry = this.byName.get(name);
    if (!entry) throw new GraphBuildError(`no node named "${name}" in this graph`);
    return entry;
  }

  /**
   * Replaces data input `index` of an existing node, e.g. a loop's Merge, created with its Enter twice,
   * gets its NextIteration back-edge (what TensorFlow's while_loop does with _update_input).
   */
  setInput(node: string | GraphTensor | GraphOperation, index: number, tensor: GraphTensor): void {
    const { node: def, opDef } = this.entry(node);
    const fail = (problem: string): never => {
      throw new GraphBuildError(`node "${def.name}" (${def.op}): ${problem}`);
    };
    const dataCount = def.input.filter((i) => !i.startsWith('^')).length;
    if (!Number.isInteger(index) || index < 0 || index >= dataCount) fail(`has no data input ${index} (it has ${dataCount})`);
    if (this.byName.get(tensor.node)?.outputs[tensor.index] !== tensor) fail(`"${tensor.name}" is not a tensor of this graph`);
    const expected = inputDtypes(opDef, def.attr)![index]!;
    if (!dtypeFits(expected, tensor.dtype)) {
      fail(`input ${index} must be ${dataTypeName(expected)}, got ${dataTypeName(tensor.dtype)} from "${tensor.name}"`);
    }
    def.input[index] = tensor.inputName;
  }

  /** Makes `node` run after `dependency` (appends "^dependency"). */
  addControlInput(node: string | GraphTensor | GraphOperation, dependency: ControlInput): void {
    const { node: def } = this.entry(node);
    const ref = `^${this.controlName(dependency, (p) => {
      throw new GraphBuildError(`node "${def.name}" (${def.op}): ${p}`);
    })}`;
    if (!def.input.includes(ref)) def.input.push(ref);
  }

  /** The GraphDef built so far (nodes in creation order). */
  toGraphDef(options: ToGraphDefOptions = {}): GraphDef {
    const node = this.nodes.map(({ node: n, opDef }) => {
      const attr = { ...n.attr };
      if (options.stripDefaultAttrs) {
        for (const def of opDef.attr ?? []) {
          if (def.default_value && attr[def.name] && sameAttrValue(attr[def.name]!, def.default_value)) delete attr[def.name];
        }
      }
      return { ...n, input: [...n.input], attr };
    });
    return { node, versions: { ...GRAPH_DEF_VERSIONS } };
  }

  /** A SignatureDef whose TensorInfos carry each tensor's name, dtype and static shape (unknown rank if not known). */
  signature(
    inputs: Readonly<Record<string, GraphTensor>>,
    outputs: Readonly<Record<string, GraphTensor>>,
    methodName = 'tensorflow/serving/predict',
  ): SignatureDef {
    const info = (t: GraphTensor): TensorInfo => {
      if (this.byName.get(t.node)?.outputs[t.index] !== t) {
        throw new GraphBuildError(`signature tensor "${t.name}" is not a tensor of this graph`);
      }
      return { name: t.name, dtype: t.dtype, tensor_shape: shapeProto(t.shape) };
    };
    const map = (m: Readonly<Record<string, GraphTensor>>) => Object.fromEntries(Object.entries(m).map(([k, t]) => [k, info(t)]));
    return { inputs: map(inputs), outputs: map(outputs), method_name: methodName };
  }

  // ---------------------------------------------------------------------------------------------
  // Typed helpers

  /** A Placeholder; shape undefined means unknown rank, -1 an unknown dimension. */
  placeholder(name: string, dtype: DataType, shape?: Shape): GraphTensor {
    return this.apply('Placeholder', [], { dtype, shape: shape ?? null }, { name });
  }

  /**
   * A Const. The dtype follows the value unless given: Float32Array → DT_FLOAT, Int32Array → DT_INT32,
   * Uint8Array → DT_UINT8, BigInt64Array/bigint → DT_INT64, number/number[] → DT_FLOAT,
   * boolean → DT_BOOL, string → DT_STRING. The shape defaults to [] for a scalar and [length] for arrays.
   */
  constant(name: string, value: ConstantValue, shape?: Shape, dtype?: DataType): GraphTensor {
    return this.addConst(this.uniqueName(name), value, shape, dtype);
  }

  private addConst(fullName: string, value: ConstantValue, shape?: Shape, dtype?: DataType): GraphTensor {
    const isScalar = typeof value !== 'object' || (dtype === DataType.DT_STRING && value instanceof Uint8Array);
    const values = (isScalar ? [value] : value) as TensorValues;
    const dt = dtype ?? inferDtype(value);
    let tensor: TensorProto;
    try {
      tensor = tensorProto(dt, shape ?? (isScalar ? [] : [values.length]), values);
    } catch (err) {
      throw new GraphBuildError(`node "${fullName}" (Const): ${(err as Error).message}`);
    }
    return this.addNode(this.opDef('Const'), fullName, [], { value: tensor, dtype: dt }, []).outputs[0]!;
  }

  private unary(opType: string, x: GraphTensor, opts: NameOption = {}): GraphTensor {
    return this.apply(opType, [x], {}, opts);
  }

  private binary(opType: string, x: GraphTensor, y: GraphTensor, opts: NameOption = {}): GraphTensor {
    return this.apply(opType, [x, y], {}, opts);
  }

  identity(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Identity', x, opts);
  }

  conv2d(input: GraphTensor, filter: GraphTensor, opts: ConvOptions): GraphTensor {
    return this.convolution('Conv2D', input, filter, opts);
  }

  depthwiseConv2dNative(input: GraphTensor, filter: GraphTensor, opts: ConvOptions): GraphTensor {
    return this.convolution('DepthwiseConv2dNative', input, filter, opts);
  }

  private convolution(opType: string, input: GraphTensor, filter: GraphTensor, opts: ConvOptions): GraphTensor {
    const attrs = {
      strides: opts.strides ?? [1, 1, 1, 1],
      padding: opts.padding,
      explicit_paddings: opts.explicitPaddings,
      data_format: opts.dataFormat,
      dilations: opts.dilations,
    };
    return this.apply(opType, [input, filter], attrs, { name: opts.name });
  }

  biasAdd(value: GraphTensor, bias: GraphTensor, opts: NameOption & { dataFormat?: 'NHWC' | 'NCHW' } = {}): GraphTensor {
    return this.apply('BiasAdd', [value, bias], { data_format: opts.dataFormat }, { name: opts.name });
  }

  relu(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Relu', x, opts);
  }

  relu6(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Relu6', x, opts);
  }

  softmax(logits: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Softmax', logits, opts);
  }

  matMul(a: GraphTensor, b: GraphTensor, opts: NameOption & { transposeA?: boolean; transposeB?: boolean } = {}): GraphTensor {
    const attrs = { transpose_a: opts.transposeA, transpose_b: opts.transposeB };
    return this.apply('MatMul', [a, b], attrs, { name: opts.name });
  }

  /** x + y (AddV2). */
  add(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('AddV2', x, y, opts);
  }

  sub(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('Sub', x, y, opts);
  }

  mul(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('Mul', x, y, opts);
  }

  less(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('Less', x, y, opts);
  }

  maxPool(input: GraphTensor, opts: PoolOptions): GraphTensor {
    return this.pool('MaxPool', input, opts);
  }

  avgPool(value: GraphTensor, opts: PoolOptions): GraphTensor {
    return this.pool('AvgPool', value, opts);
  }

  private pool(opType: string, input: GraphTensor, opts: PoolOptions): GraphTensor {
    const attrs = { ksize: opts.ksize, strides: opts.strides, padding: opts.padding, data_format: opts.dataFormat };
    return this.apply(opType, [input], attrs, { name: opts.name });
  }

  mean(input: GraphTensor, axis: IntInput, opts: NameOption & { keepDims?: boolean } = {}): GraphTensor {
    return this.apply('Mean', [input, axis], { keep_dims: opts.keepDims }, { name: opts.name });
  }

  concatV2(values: readonly GraphTensor[], axis: IntInput, opts: NameOption = {}): GraphTensor {
    return this.apply('ConcatV2', [values, axis], {}, { name: opts.name });
  }

  reshape(tensor: GraphTensor, shape: IntInput, opts: NameOption = {}): GraphTensor {
    return this.apply('Reshape', [tensor, shape], {}, { name: opts.name });
  }

  /** paddings: a [rank, 2] int32 tensor or literal rows [[before, after], ...]. */
  pad(input: GraphTensor, paddings: GraphTensor | readonly (readonly number[])[], opts: NameOption = {}): GraphTensor {
    return this.apply('Pad', [input, paddings], {}, { name: opts.name });
  }

  squeeze(input: GraphTensor, opts: NameOption & { axis?: readonly number[] } = {}): GraphTensor {
    return this.apply('Squeeze', [input], { squeeze_dims: opts.axis }, { name: opts.name });
  }

  expandDims(input: GraphTensor, axis: IntInput, opts: NameOption = {}): GraphTensor {
    return this.apply('ExpandDims', [input, axis], {}, { name: opts.name });
  }

  cast(x: GraphTensor, dtype: DataType, opts: NameOption & { truncate?: boolean } = {}): GraphTensor {
    return this.apply('Cast', [x], { DstT: dtype, Truncate: opts.truncate }, { name: opts.name });
  }

  /** Inference-mode batch norm (is_training=false); returns y. The op's other outputs are training-only. */
  fusedBatchNormV3(
    x: GraphTensor,
    scale: GraphTensor,
    offset: GraphTensor,
    mean: GraphTensor,
    variance: GraphTensor,
    opts: NameOption & { epsilon?: number; dataFormat?: 'NHWC' | 'NCHW' } = {},
  ): GraphTensor {
    const attrs = { epsilon: opts.epsilon, data_format: opts.dataFormat, is_training: false };
    return this.apply('FusedBatchNormV3', [x, scale, offset, mean, variance], attrs, { name: opts.name });
  }

  /** Output is DT_FLOAT whatever the input type (TensorFlow's ResizeBilinear). size: [height, width]. */
  resizeBilinear(
    images: GraphTensor,
    size: IntInput,
    opts: NameOption & { alignCorners?: boolean; halfPixelCenters?: boolean } = {},
  ): GraphTensor {
    const attrs = { align_corners: opts.alignCorners, half_pixel_centers: opts.halfPixelCenters };
    return this.apply('ResizeBilinear', [images, size], attrs, { name: opts.name });
  }

  /** Decodes web-safe base64 (TensorFlow's DecodeBase64 alphabet uses - and _). */
  decodeBase64(input: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('DecodeBase64', input, opts);
  }

  decodeImage(
    contents: GraphTensor,
    opts: NameOption & { channels?: number; dtype?: DataType; expandAnimations?: boolean } = {},
  ): GraphTensor {
    const attrs = { channels: opts.channels, dtype: opts.dtype, expand_animations: opts.expandAnimations };
    return this.apply('DecodeImage', [contents], attrs, { name: opts.name });
  }

  decodeJpeg(
    contents: GraphTensor,
    opts: NameOption & {
      channels?: number;
      ratio?: number;
      fancyUpscaling?: boolean;
      tryRecoverTruncated?: boolean;
      acceptableFraction?: number;
      dctMethod?: string;
    } = {},
  ): GraphTensor {
    const attrs = {
      channels: opts.channels,
      ratio: opts.ratio,
      fancy_upscaling: opts.fancyUpscaling,
      try_recover_truncated: opts.tryRecoverTruncated,
      acceptable_fraction: opts.acceptableFraction,
      dct_method: opts.dctMethod,
    };
    return this.apply('DecodeJpeg', [contents], attrs, { name: opts.name });
  }

  decodePng(contents: GraphTensor, opts: NameOption & { channels?: number; dtype?: DataType } = {}): GraphTensor {
    return this.apply('DecodePng', [contents], { channels: opts.channels, dtype: opts.dtype }, { name: opts.name });
  }

  shape(input: GraphTensor, opts: NameOption & { outType?: DataType } = {}): GraphTensor {
    return this.apply('Shape', [input], { out_type: opts.outType }, { name: opts.name });
  }

  stridedSlice(
    input: GraphTensor,
    begin: IntInput,
    end: IntInput,
    strides: IntInput,
    opts: NameOption & { beginMask?: number; endMask?: number; ellipsisMask?: number; newAxisMask?: number; shrinkAxisMask?: number } = {},
  ): GraphTensor {
    const attrs = {
      begin_mask: opts.beginMask,
      end_mask: opts.endMask,
      ellipsis_mask: opts.ellipsisMask,
      new_axis_mask: opts.newAxisMask,
      shrink_axis_mask: opts.shrinkAxisMask,
    };
    const inputs = [input, begin, end, strides];
    return this.apply('StridedSlice', inputs, attrs, { name: opts.name });
  }

  gatherV2(params: GraphTensor, indices: IntInput, axis: IntInput, opts: NameOption & { batchDims?: number } = {}): GraphTensor {
    const inputs = [params, indices, axis];
    return this.apply('GatherV2', inputs, { batch_dims: opts.batchDims }, { name: opts.name });
  }

  // TF1 control flow (while loops as Enter/Merge/Switch/NextIteration/Exit frames).

  enter(data: GraphTensor, frameName: string, opts: NameOption & { isConstant?: boolean; parallelIterations?: number } = {}): GraphTensor {
    const attrs = { frame_name: frameName, is_constant: opts.isConstant, parallel_iterations: opts.parallelIterations };
    return this.apply('Enter', [data], attrs, { name: opts.name });
  }

  exit(data: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Exit', data, opts);
  }

  /** Returns [output, value_index]. For a loop, pass the Enter twice and setInput(…, 1, nextIteration) later. */
  merge(inputs: readonly GraphTensor[], opts: NameOption = {}): [output: GraphTensor, valueIndex: GraphTensor] {
    const [output, valueIndex] = this.op('Merge', [inputs], {}, opts).outputs;
    return [output!, valueIndex!];
  }

  /** Returns [output_false, output_true]. */
  switch(data: GraphTensor, pred: GraphTensor, opts: NameOption = {}): [outputFalse: GraphTensor, outputTrue: GraphTensor] {
    const [outputFalse, outputTrue] = this.op('Switch', [data, pred], {}, opts).outputs;
    return [outputFalse!, outputTrue!];
  }

  nextIteration(data: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('NextIteration', data, opts);
  }

  loopCond(input: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('LoopCond', input, opts);
  }

  // TensorArrays (resource handle + float "flow" that orders reads after writes).

  /** Returns [handle, flow]. */
  tensorArrayV3(
    size: IntInput,
    dtype: DataType,
    opts: NameOption & {
      elementShape?: Shape;
      dynamicSize?: boolean;
      clearAfterRead?: boolean;
      identicalElementShapes?: boolean;
      tensorArrayName?: string;
    } = {},
  ): [handle: GraphTensor, flow: GraphTensor] {
    const attrs = {
      dtype,
      element_shape: opts.elementShape,
      dynamic_size: opts.dynamicSize,
      clear_after_read: opts.clearAfterRead,
      identical_element_shapes: opts.identicalElementShapes,
      tensor_array_name: opts.tensorArrayName,
    };
    const [handle, flow] = this.op('TensorArrayV3', [size], attrs, { name: opts.name }).outputs;
    return [handle!, flow!];
  }

  /** Returns flow_out. */
  tensorArrayScatterV3(
    handle: GraphTensor,
    indices: IntInput,
    value: GraphTensor,
    flowIn: GraphTensor,
    opts: NameOption = {},
  ): GraphTensor {
    return this.apply('TensorArrayScatterV3', [handle, indices, value, flowIn], {}, { name: opts.name });
  }

  tensorArrayReadV3(handle: GraphTensor, index: IntInput, flowIn: GraphTensor, dtype: DataType, opts: NameOption = {}): GraphTensor {
    return this.apply('TensorArrayReadV3', [handle, index, flowIn], { dtype }, { name: opts.name });
  }

  /** Returns flow_out. */
  tensorArrayWriteV3(handle: GraphTensor, index: IntInput, value: GraphTensor, flowIn: GraphTensor, opts: NameOption = {}): GraphTensor {
    return this.apply('TensorArrayWriteV3', [handle, index, value, flowIn], {}, { name: opts.name });
  }

  tensorArrayGatherV3(
    handle: GraphTensor,
    indices: IntInput,
    flowIn: GraphTensor,
    dtype: DataType,
    opts: NameOption & { elementShape?: Shape } = {},
  ): GraphTensor {
    const attrs = { dtype, element_shape: opts.elementShape };
    return this.apply('TensorArrayGatherV3', [handle, indices, flowIn], attrs, { name: opts.name });
  }

  tensorArraySizeV3(handle: GraphTensor, flowIn: GraphTensor, opts?: NameOption): GraphTensor {
    return this.apply('TensorArraySizeV3', [handle, flowIn], {}, opts);
  }
}

// -----------------------------------------------------------------------------------------------

function sameAttrValue(a: AttrValue, b: AttrValue): boolean {
  const x = encodeMessage('AttrValue', a);
  const y = encodeMessage('AttrValue', b);
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** A constant's dtype when none is given: the typed array's, else from the JS type of its (first) value. */
function inferDtype(value: ConstantValue): DataType {
  if (ArrayBuffer.isView(value)) return dtypeOfArray(value) ?? DataType.DT_FLOAT;
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first === 'bigint') return DataType.DT_INT64;
  if (typeof first === 'boolean') return DataType.DT_BOOL;
  if (typeof first === 'string' || first instanceof Uint8Array) return DataType.DT_STRING;
  return DataType.DT_FLOAT;
}

/** Static shape of output 0 where it is cheap to know. */
function staticShapes(op: string, attrs: Record<string, AttrValue>, firstInputShape: Shape | undefined): Shape | undefined {
  if (op === 'Placeholder') return shapeFromProto(attrs.shape?.shape);
  if (op === 'Const') return shapeFromProto(attrs.value?.tensor?.tensor_shape);
  if (shapePreservingOps.has(op)) return firstInputShape;
  return undefined;
}

type AttrItem = string | number | boolean | Uint8Array | TensorShapeProto | TensorProto | NameAttrList;

/** Per OpDef attr kind: the AttrValue field it is written to and how one JavaScript value converts (undefined: it cannot). */
const ATTR_KINDS: Readonly<Record<string, { field: 's' | 'i' | 'f' | 'b' | 'type' | 'shape' | 'tensor' | 'func'; convert: (v: unknown) => AttrItem | undefined }>> = {
  string: { field: 's', convert: (v) => (typeof v === 'string' ? utf8.encode(v) : v instanceof Uint8Array ? v : undefined) },
  int: { field: 'i', convert: (v) => (Number.isInteger(v) ? (v as number) : undefined) },
  float: { field: 'f', convert: (v) => (typeof v === 'number' ? v : undefined) },
  bool: { field: 'b', convert: (v) => (typeof v === 'boolean' ? v : undefined) },
  type: { field: 'type', convert: (v) => (Number.isInteger(v) ? (v as DataType) : undefined) },
  shape: { field: 'shape', convert: toShapeProto },
  tensor: { field: 'tensor', convert: (v) => (isMessage(v) ? (v as TensorProto) : undefined) },
  func: { field: 'func', convert: (v) => (typeof v === 'string' ? { name: v } : isMessage(v) ? (v as NameAttrList) : undefined) },
};

function isMessage(v: unknown): boolean {
  return Boolean(v) && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** An attr value in JavaScript form (see AttrInput) as the AttrValue its OpDef kind ("int", "list(shape)", ...) takes. */
function toAttrValue(def: AttrDef, value: AttrInput, fail: (problem: string) => never): AttrValue {
  const wrong = (): never => fail(`attr "${def.name}" (${def.type}) cannot be set from ${JSON.stringify(value) ?? String(value)}`);
  const isList = def.type.startsWith('list(');
  const kind = ATTR_KINDS[isList ? def.type.slice(5, -1) : def.type] ?? wrong();
  const convert = (v: unknown): AttrItem => kind.convert(v) ?? wrong();
  if (!isList) return { [kind.field]: convert(value) } as AttrValue;
  if (!Array.isArray(value)) wrong();
  return { list: { [kind.field]: (value as readonly unknown[]).map(convert) } } as AttrValue;
}

/** A shape attr: number[] (-1 unknown), null (unknown rank) or a TensorShapeProto. */
function toShapeProto(v: unknown): TensorShapeProto | undefined {
  if (v === null) return shapeProto(undefined);
  if (Array.isArray(v)) {
    return v.every((d) => Number.isInteger(d) && d >= -1) ? shapeProto(v as number[]) : undefined;
  }
  return isMessage(v) ? (v as TensorShapeProto) : undefined;
}
