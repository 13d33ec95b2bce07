// GraphBuilder: builds TensorFlow GraphDefs the way TensorFlow's Python op construction does. Every op
// goes through the OpDef: type attrs (T, Tidx, ...) and list lengths (N) are inferred from the inputs,
// every attr with a default is written explicitly, inputs whose dtype conflicts with the OpDef are
// rejected when the op is added, and outputs carry their dtype so downstream ops infer correctly.
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
    return `${this.node}:${this.index}`;
  }

  /** How a NodeDef input refers to this tensor: "node" for output 0, "node:index" otherwise. */
  get inputName(): string {
    return this.index === 0 ? this.node : `${this.node}:${this.index}`;
  }
}

/** A node that was added, with all its outputs. */
export interface GraphOperation {
  readonly name: string;
  readonly op: string;
  readonly outputs: readonly GraphTensor[];
}

/** One entry per OpDef input arg: a tensor, or an array for list args (number_attr / type_list_attr). */
export type OpInput = GraphTensor | readonly GraphTensor[];

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
    attrs: Readonly<Record<string, AttrInput>> = {},
    options: OpOptions = {},
  ): GraphOperation {
    const opDef = this.opDef(opType);
    return this.addNode(opDef, this.uniqueName(options.name ?? opType), inputs, attrs, options.controlInputs ?? []);
  }

  private opDef(opType: string): OpDef {
    const opDef = this.opDefs.get(opType);
    if (!opDef) throw new GraphBuildError(`unknown op "${opType}": it is not in the OpDefs this builder uses`);
    return opDef;
  }

  private addNode(
    opDef: OpDef,
    name: string,
    inputs: readonly OpInput[],
    attrInputs: Readonly<Record<string, AttrInput>>,
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
    return this.op('Placeholder', [], { dtype, shape: shape ?? null }, { name }).outputs[0]!;
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

  /** Adds opType under a reserved name, turning literal int inputs into Consts named "<name>/<arg>". */
  private opWithLiterals(
    opType: string,
    name: string | undefined,
    inputs: readonly (OpInput | { literal: IntInput | readonly (readonly number[])[] })[],
    attrs: Readonly<Record<string, AttrInput | undefined>> = {},
  ): GraphOperation {
    const opDef = this.opDef(opType);
    const full = this.uniqueName(name ?? opType);
    const resolved = inputs.map((input, i) => {
      if (input instanceof GraphTensor || Array.isArray(input)) return input as OpInput;
      const literal = (input as { literal: IntInput | readonly (readonly number[])[] }).literal;
      if (literal instanceof GraphTensor) return literal;
      const argName = opDef.input_arg?.[i]?.name ?? `input_${i}`;
      const constName = this.claimName(`${full}/${argName}`);
      if (typeof literal === 'number') return this.addConst(constName, new Int32Array([literal]), []);
      const rows = literal as readonly (number | readonly number[])[];
      if (rows.every((r) => typeof r === 'number')) {
        return this.addConst(constName, Int32Array.from(rows as readonly number[]), [rows.length]);
      }
      const matrix = rows as readonly (readonly number[])[];
      const cols = matrix[0]?.length ?? 0;
      if (matrix.some((r) => !Array.isArray(r) || r.length !== cols)) {
        const expected = 'a number, a list of numbers or a rectangular list of lists';
        throw new GraphBuildError(`node "${full}" (${opType}): input "${argName}" must be ${expected}`);
      }
      return this.addConst(constName, Int32Array.from(matrix.flat()), [matrix.length, cols]);
    });
    return this.addNode(opDef, full, resolved, definedAttrs(attrs), []);
  }

  private unary(opType: string, x: GraphTensor, opts: NameOption = {}): GraphTensor {
    return this.op(opType, [x], {}, opts).outputs[0]!;
  }

  private binary(opType: string, x: GraphTensor, y: GraphTensor, opts: NameOption = {}): GraphTensor {
    return this.op(opType, [x, y], {}, opts).outputs[0]!;
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
    const attrs = definedAttrs({
      strides: opts.strides ?? [1, 1, 1, 1],
      padding: opts.padding,
      explicit_paddings: opts.explicitPaddings,
      data_format: opts.dataFormat,
      dilations: opts.dilations,
    });
    return this.op(opType, [input, filter], attrs, { name: opts.name }).outputs[0]!;
  }

  biasAdd(value: GraphTensor, bias: GraphTensor, opts: NameOption & { dataFormat?: 'NHWC' | 'NCHW' } = {}): GraphTensor {
    return this.op('BiasAdd', [value, bias], definedAttrs({ data_format: opts.dataFormat }), { name: opts.name }).outputs[0]!;
  }

  relu(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Relu', x, opts);
  }

  relu6(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Relu6', x, opts);
  }

  elu(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Elu', x, opts);
  }

  selu(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Selu', x, opts);
  }

  sigmoid(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Sigmoid', x, opts);
  }

  tanh(x: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Tanh', x, opts);
  }

  softmax(logits: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('Softmax', logits, opts);
  }

  matMul(a: GraphTensor, b: GraphTensor, opts: NameOption & { transposeA?: boolean; transposeB?: boolean } = {}): GraphTensor {
    const attrs = definedAttrs({ transpose_a: opts.transposeA, transpose_b: opts.transposeB });
    return this.op('MatMul', [a, b], attrs, { name: opts.name }).outputs[0]!;
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

  realDiv(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('RealDiv', x, y, opts);
  }

  maximum(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('Maximum', x, y, opts);
  }

  minimum(x: GraphTensor, y: GraphTensor, opts?: NameOption): GraphTensor {
    return this.binary('Minimum', x, y, opts);
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
    const attrs = definedAttrs({ ksize: opts.ksize, strides: opts.strides, padding: opts.padding, data_format: opts.dataFormat });
    return this.op(opType, [input], attrs, { name: opts.name }).outputs[0]!;
  }

  mean(input: GraphTensor, axis: IntInput, opts: NameOption & { keepDims?: boolean } = {}): GraphTensor {
    return this.opWithLiterals('Mean', opts.name, [input, { literal: axis }], { keep_dims: opts.keepDims }).outputs[0]!;
  }

  max(input: GraphTensor, axis: IntInput, opts: NameOption & { keepDims?: boolean } = {}): GraphTensor {
    return this.opWithLiterals('Max', opts.name, [input, { literal: axis }], { keep_dims: opts.keepDims }).outputs[0]!;
  }

  concatV2(values: readonly GraphTensor[], axis: IntInput, opts: NameOption = {}): GraphTensor {
    return this.opWithLiterals('ConcatV2', opts.name, [values, { literal: axis }]).outputs[0]!;
  }

  reshape(tensor: GraphTensor, shape: IntInput, opts: NameOption = {}): GraphTensor {
    return this.opWithLiterals('Reshape', opts.name, [tensor, { literal: shape }]).outputs[0]!;
  }

  /** paddings: a [rank, 2] int32 tensor or literal rows [[before, after], ...]. */
  pad(input: GraphTensor, paddings: GraphTensor | readonly (readonly number[])[], opts: NameOption = {}): GraphTensor {
    return this.opWithLiterals('Pad', opts.name, [input, { literal: paddings }]).outputs[0]!;
  }

  squeeze(input: GraphTensor, opts: NameOption & { axis?: readonly number[] } = {}): GraphTensor {
    return this.op('Squeeze', [input], definedAttrs({ squeeze_dims: opts.axis }), { name: opts.name }).outputs[0]!;
  }

  expandDims(input: GraphTensor, axis: IntInput, opts: NameOption = {}): GraphTensor {
    return this.opWithLiterals('ExpandDims', opts.name, [input, { literal: axis }]).outputs[0]!;
  }

  cast(x: GraphTensor, dtype: DataType, opts: NameOption & { truncate?: boolean } = {}): GraphTensor {
    return this.op('Cast', [x], definedAttrs({ DstT: dtype, Truncate: opts.truncate }), { name: opts.name }).outputs[0]!;
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
    const attrs = definedAttrs({ epsilon: opts.epsilon, data_format: opts.dataFormat, is_training: false });
    return this.op('FusedBatchNormV3', [x, scale, offset, mean, variance], attrs, { name: opts.name }).outputs[0]!;
  }

  /** Output is DT_FLOAT whatever the input type (TensorFlow's ResizeBilinear). size: [height, width]. */
  resizeBilinear(
    images: GraphTensor,
    size: IntInput,
    opts: NameOption & { alignCorners?: boolean; halfPixelCenters?: boolean } = {},
  ): GraphTensor {
    const attrs = { align_corners: opts.alignCorners, half_pixel_centers: opts.halfPixelCenters };
    return this.opWithLiterals('ResizeBilinear', opts.name, [images, { literal: size }], attrs).outputs[0]!;
  }

  /** Decodes web-safe base64 (TensorFlow's DecodeBase64 alphabet uses - and _). */
  decodeBase64(input: GraphTensor, opts?: NameOption): GraphTensor {
    return this.unary('DecodeBase64', input, opts);
  }

  decodeImage(
    contents: GraphTensor,
    opts: NameOption & { channels?: number; dtype?: DataType; expandAnimations?: boolean } = {},
  ): GraphTensor {
    const attrs = definedAttrs({ channels: opts.channels, dtype: opts.dtype, expand_animations: opts.expandAnimations });
    return this.op('DecodeImage', [contents], attrs, { name: opts.name }).outputs[0]!;
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
    const attrs = definedAttrs({
      channels: opts.channels,
      ratio: opts.ratio,
      fancy_upscaling: opts.fancyUpscaling,
      try_recover_truncated: opts.tryRecoverTruncated,
      acceptable_fraction: opts.acceptableFraction,
      dct_method: opts.dctMethod,
    });
    return this.op('DecodeJpeg', [contents], attrs, { name: opts.name }).outputs[0]!;
  }

  decodePng(contents: GraphTensor, opts: NameOption & { channels?: number; dtype?: DataType } = {}): GraphTensor {
    return this.op('DecodePng', [contents], definedAttrs({ channels: opts.channels, dtype: opts.dtype }), { name: opts.name }).outputs[0]!;
  }

  shape(input: GraphTensor, opts: NameOption & { outType?: DataType } = {}): GraphTensor {
    return this.op('Shape', [input], definedAttrs({ out_type: opts.outType }), { name: opts.name }).outputs[0]!;
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
    const inputs = [input, { literal: begin }, { literal: end }, { literal: strides }];
    return this.opWithLiterals('StridedSlice', opts.name, inputs, attrs).outputs[0]!;
  }

  pack(values: readonly GraphTensor[], opts: NameOption & { axis?: number } = {}): GraphTensor {
    return this.op('Pack', [values], definedAttrs({ axis: opts.axis }), { name: opts.name }).outputs[0]!;
  }

  gatherV2(params: GraphTensor, indices: IntInput, axis: IntInput, opts: NameOption & { batchDims?: number } = {}): GraphTensor {
    const inputs = [params, { literal: indices }, { literal: axis }];
    return this.opWithLiterals('GatherV2', opts.name, inputs, { batch_dims: opts.batchDims }).outputs[0]!;
  }

  // TF1 control flow (while loops as Enter/Merge/Switch/NextIteration/Exit frames).

  enter(data: GraphTensor, frameName: string, opts: NameOption & { isConstant?: boolean; parallelIterations?: number } = {}): GraphTensor {
    const attrs = definedAttrs({ frame_name: frameName, is_constant: opts.isConstant, parallel_iterations: opts.parallelIterations });
    return this.op('Enter', [data], attrs, { name: opts.name }).outputs[0]!;
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
    const [handle, flow] = this.opWithLiterals('TensorArrayV3', opts.name, [{ literal: size }], attrs).outputs;
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
    return this.opWithLiterals('TensorArrayScatterV3', opts.name, [handle, { literal: indices }, value, flowIn]).outputs[0]!;
  }

  tensorArrayReadV3(handle: GraphTensor, index: IntInput, flowIn: GraphTensor, dtype: DataType, opts: NameOption = {}): GraphTensor {
    return this.opWithLiterals('TensorArrayReadV3', opts.name, [handle, { literal: index }, flowIn], { dtype }).outputs[0]!;
  }

  /** Returns flow_out. */
  tensorArrayWriteV3(handle: GraphTensor, index: IntInput, value: GraphTensor, flowIn: GraphTensor, opts: NameOption = {}): GraphTensor {
    return this.opWithLiterals('TensorArrayWriteV3', opts.name, [handle, { literal: index }, value, flowIn]).outputs[0]!;
  }

  tensorArrayGatherV3(
    handle: GraphTensor,
    indices: IntInput,
    flowIn: GraphTensor,
    dtype: DataType,
    opts: NameOption & { elementShape?: Shape } = {},
  ): GraphTensor {
    const attrs = { dtype, element_shape: opts.elementShape };
    return this.opWithLiterals('TensorArrayGatherV3', opts.name, [handle, { literal: indices }, flowIn], attrs).outputs[0]!;
  }

  tensorArraySizeV3(handle: GraphTensor, flowIn: GraphTensor, opts?: NameOption): GraphTensor {
    return this.op('TensorArraySizeV3', [handle, flowIn], {}, opts).outputs[0]!;
  }
}

// -----------------------------------------------------------------------------------------------

function baseType(t: DataType): DataType {
  return t > REF_OFFSET ? t - REF_OFFSET : t;
}

function definedAttrs(attrs: Readonly<Record<string, AttrInput | undefined>>): Record<string, AttrInput> {
  return Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as Record<string, AttrInput>;
}

function sameAttrValue(a: AttrValue, b: AttrValue): boolean {
  const x = encodeMessage('AttrValue', a);
  const y = encodeMessage('AttrValue', b);
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

function inferDtype(value: ConstantValue): DataType {
  if (value instanceof Float32Array) return DataType.DT_FLOAT;
  if (value instanceof Float64Array) return DataType.DT_DOUBLE;
  if (value instanceof Int32Array) return DataType.DT_INT32;
  if (value instanceof Int16Array) return DataType.DT_INT16;
  if (value instanceof Int8Array) return DataType.DT_INT8;
  if (value instanceof Uint8Array) return DataType.DT_UINT8;
  if (value instanceof Uint16Array) return DataType.DT_UINT16;
  if (value instanceof Uint32Array) return DataType.DT_UINT32;
  if (value instanceof BigInt64Array) return DataType.DT_INT64;
  if (value instanceof BigUint64Array) return DataType.DT_UINT64;
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

function toAttrValue(def: AttrDef, value: AttrInput, fail: (problem: string) => never): AttrValue {
  const wrong = (): never => fail(`attr "${def.name}" (${def.type}) cannot be set from ${JSON.stringify(value) ?? String(value)}`);
  const isList = def.type.startsWith('list(');
  const itemType = isList ? def.type.slice(5, -1) : def.type;
  if (isList) {
    if (!Array.isArray(value)) wrong();
    const items = value as readonly unknown[];
    const list: NonNullable<AttrValue['list']> = {};
    switch (itemType) {
      case 'int':
        list.i = items.map((v) => (Number.isInteger(v) ? (v as number) : wrong()));
        break;
      case 'float':
        list.f = items.map((v) => (typeof v === 'number' ? v : wrong()));
        break;
      case 'bool':
        list.b = items.map((v) => (typeof v === 'boolean' ? v : wrong()));
        break;
      case 'type':
        list.type = items.map((v) => (Number.isInteger(v) ? (v as DataType) : wrong()));
        break;
      case 'string':
        list.s = items.map((v) => (typeof v === 'string' ? utf8.encode(v) : v instanceof Uint8Array ? v : wrong()));
        break;
      case 'shape':
        list.shape = items.map((v) => toShapeProto(v, wrong));
        break;
      case 'tensor':
        list.tensor = items as TensorProto[];
        break;
      case 'func':
        list.func = items.map((v) => (typeof v === 'string' ? { name: v } : (v as NameAttrList)));
        break;
      default:
        wrong();
    }
    return { list };
  }
  switch (itemType) {
    case 'string':
      if (typeof value === 'string') return { s: utf8.encode(value) };
      if (value instanceof Uint8Array) return { s: value };
      return wrong();
    case 'int':
      return Number.isInteger(value) ? { i: value as number } : wrong();
    case 'float':
      return typeof value === 'number' ? { f: value } : wrong();
    case 'bool':
      return typeof value === 'boolean' ? { b: value } : wrong();
    case 'type':
      return Number.isInteger(value) ? { type: value as DataType } : wrong();
    case 'shape':
      return { shape: toShapeProto(value, wrong) };
    case 'tensor':
      return value && typeof value === 'object' && !Array.isArray(value) ? { tensor: value as TensorProto } : wrong();
    case 'func':
      if (typeof value === 'string') return { func: { name: value } };
      return value && typeof value === 'object' && !Array.isArray(value) ? { func: value as NameAttrList } : wrong();
    default:
      return wrong();
  }
}

function toShapeProto(v: unknown, wrong: () => never): TensorShapeProto {
  if (v === null) return shapeProto(undefined);
  if (Array.isArray(v)) {
    if (!v.every((d) => Number.isInteger(d) && d >= -1)) wrong();
    return shapeProto(v as number[]);
  }
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) return v as TensorShapeProto;
  return wrong();
}
