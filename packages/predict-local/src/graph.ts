// Turns one signature of a SavedModel's MetaGraphDef into a self-contained, frozen inference graph:
// function calls (TF2's StatefulPartitionedCall) are inlined, variables are replaced by constants
// holding the values TensorFlow's loader would give them (restored from the checkpoint, then the init
// op's constant assignments), asset paths become constants, signature inputs become placeholders, and
// everything the signature outputs do not need is pruned.
import path from 'node:path';
import {
  attrValueCase,
  attrsWithDefaults,
  DataType,
  REF_OFFSET,
  dataTypeName,
  int64ToNumber,
  shapeFromProto,
  tensorProtoToArray,
  tfOpDefs,
  type ArgDef,
  type AttrValue,
  type BundleTensor,
  type BundleValues,
  type FunctionDef,
  type MetaGraphDef,
  type NodeDef,
  type OpDef,
  type TensorArray,
  type TensorInfo,
  type TensorProto,
} from '@tensorsky/saved-model';

export class GraphPreparationError extends Error {
  override name = 'GraphPreparationError';
}

/** Values of a constant: from a Const node's TensorProto or read from the checkpoint. */
export interface ConstValue {
  dtype: DataType;
  shape: number[];
  values: TensorArray | BundleValues;
}

export interface TensorSpec {
  /** Signature key ("x", "scores"). */
  alias: string;
  /** Tensor in the frozen graph ("x:0"). */
  tensor: string;
  /** Base dtype (refs are reported as their value type). */
  dtype: DataType;
  /** -1 for unknown dimensions; undefined for unknown rank. */
  shape: number[] | undefined;
  /** Value used when the input is not given (SignatureDef.defaults). */
  defaultValue?: ConstValue;
}

export interface FrozenGraph {
  /** Pruned nodes; every Const's value is in `constants` or in its `value` attr. */
  nodes: NodeDef[];
  /** Lazily read values of Const nodes created by freezing. */
  constants: Map<string, () => ConstValue>;
  /** Library functions still referenced by kept nodes (bodies of If/While). */
  functions: FunctionDef[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** GraphDef versions.producer. */
  producer: number;
}

export interface FreezeOptions {
  /** Signature key, e.g. "serving_default". */
  signature: string;
  /** The checkpoint (variables/variables), when the SavedModel has one. */
  variables?: Map<string, BundleTensor>;
  /** SavedModel directory, to resolve asset file paths. */
  dir: string;
}

const CALL_OPS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);
const REF_VARIABLE_OPS = new Set(['VariableV2', 'Variable']);
const ASSIGN_OPS = new Set(['Assign', 'AssignVariableOp']);
/** Collections naming the op TensorFlow's loader runs after restoring variables. */
const INIT_OP_COLLECTIONS = ['saved_model_main_op', 'main_op', 'legacy_init_op'];
const INIT_OP_SIGNATURE = '__saved_model_init_op';

// ---------------------------------------------------------------------------------------------
// Tensor names: "node" and "node:1" are outputs, "^node" a control dependency.

interface Ref {
  node: string;
  index: number;
  control: boolean;
}

export function parseRef(input: string): Ref {
  if (input.startsWith('^')) return { node: input.slice(1), index: 0, control: true };
  const colon = input.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(input.slice(colon + 1))) {
    return { node: input.slice(0, colon), index: Number(input.slice(colon + 1)), control: false };
  }
  return { node: input, index: 0, control: false };
}

function tensorName(node: string, index: number): string {
  return `${node}:${index}`;
}

function canonical(input: string): string {
  const r = parseRef(input);
  return r.control ? input : tensorName(r.node, r.index);
}

/** Input string for a tensor: "node" for output 0, as TensorFlow writes it. */
function inputString(tensor: string): string {
  const r = parseRef(tensor);
  return r.index === 0 ? r.node : tensor;
}

const utf8 = new TextDecoder();

/** How many tensors an output arg stands for (number_attr repeats, type_list_attr expands). */
function argCount(arg: ArgDef, attrs: Record<string, AttrValue>): number | undefined {
  if (arg.number_attr) return attrs[arg.number_attr] && attrValueCase(attrs[arg.number_attr]) === 'i' ? int64ToNumber(attrs[arg.number_attr].i) : undefined;
  if (arg.type_list_attr) return attrs[arg.type_list_attr]?.list ? (attrs[arg.type_list_attr].list!.type ?? []).length : undefined;
  return 1;
}

function baseType(t: DataType): DataType {
  return t > REF_OFFSET ? t - REF_OFFSET : t;
}

// ---------------------------------------------------------------------------------------------
// Function inlining.

type OpDefLookup = (op: string) => OpDef | undefined;

interface Inlined {
  nodes: NodeDef[];
  /** Maps a tensor name of the original graph to the tensor that now computes it. */
  resolve: (tensor: string) => string;
}

function callTarget(node: NodeDef, library: Map<string, FunctionDef>): { name: string; attrs: Record<string, AttrValue> } | undefined {
  if (CALL_OPS.has(node.op)) {
    const func = node.attr?.f?.func;
    if (func?.name && library.has(func.name)) return { name: func.name, attrs: func.attr ?? {} };
  }
  if (library.has(node.op)) return { name: node.op, attrs: node.attr ?? {} };
  return undefined;
}

function substitutePlaceholders(attrs: Record<string, AttrValue> | undefined, given: Record<string, AttrValue>, where: string) {
  const out: Record<string, AttrValue> = {};
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (attrValueCase(value) === 'placeholder') {
      const bound = given[value.placeholder!];
      if (!bound) throw new GraphPreparationError(`${where}: attr "${key}" refers to function attr "${value.placeholder}", which the call does not set`);
      out[key] = bound;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * Inlines every call of a library function, recursively, the way TensorFlow's function inliner does:
 * body nodes are renamed "<call>/<node>", arguments become the call's inputs, and the call's outputs
 * resolve to the returned tensors. Body nodes without inputs inherit the call's control inputs.
 */
function inlineCalls(nodes: NodeDef[], library: Map<string, FunctionDef>, opDef: OpDefLookup, roots: string[]): Inlined {
  // Only calls the roots depend on are inlined (not, for one, the SavedModel's save function).
  const needed = new GraphIndex(nodes).closure(roots);
  const alias = new Map<string, string>();
  const controlAlias = new Map<string, string[]>();
  const queue = [...nodes];
  const out: NodeDef[] = [];
  for (let q = 0; q < queue.length; q++) {
    const call = queue[q];
    const target = needed.has(call.name) ? callTarget(call, library) : undefined;
    if (!target) {
      out.push(call);
      continue;
    }
    const fdef = library.get(target.name)!;
    const where = `function ${target.name} (called by node ${call.name})`;
    const signature = fdef.signature ?? { name: target.name };
    const prefix = `${call.name}/`;
    const dataInputs = (call.input ?? []).filter((i) => !i.startsWith('^'));
    const controlInputs = (call.input ?? []).filter((i) => i.startsWith('^'));
    const inputArgs = signature.input_arg ?? [];
    if (dataInputs.length !== inputArgs.length) {
      throw new GraphPreparationError(`${where}: takes ${inputArgs.length} inputs but is given ${dataInputs.length} (list-typed function arguments are not supported)`);
    }
    const args = new Map(inputArgs.map((arg, i) => [arg.name, dataInputs[i]]));
    const body = new Map((fdef.node_def ?? []).map((n) => [n.name, n]));
    const bodyAttrs = new Map((fdef.node_def ?? []).map((n) => [n.name, substitutePlaceholders(n.attr, target.attrs, where)]));

    // Output args each node is referenced by, for ops without a known OpDef (see outputIndex).
    const referencedArgs = new Map<string, Set<string>>();
    for (const ref of [...(fdef.node_def ?? []).flatMap((n) => n.input ?? []), ...Object.values(fdef.ret ?? {})]) {
      const [node, outArg] = ref.split(':');
      if (outArg !== undefined) referencedArgs.set(node, (referencedArgs.get(node) ?? new Set()).add(outArg));
    }
    const outputIndex = (nodeName: string, outArg: string, index: number): number => {
      const node = body.get(nodeName);
      if (!node) throw new GraphPreparationError(`${where}: refers to missing node "${nodeName}"`);
      const def = library.get(node.op)?.signature ?? opDef(node.op);
      if (!def) {
        // Older TF2 SavedModels list only top-level ops in stripped_op_list. Without the OpDef, an op
        // referenced through a single output arg is taken to have only that one (as tfjs-converter does).
        if (referencedArgs.get(nodeName)?.size === 1) return index;
        throw new GraphPreparationError(`${where}: op ${node.op} of node "${nodeName}" has no OpDef in the SavedModel`);
      }
      const attrs = attrsWithDefaults(def, { attr: bodyAttrs.get(nodeName) });
      let offset = 0;
      for (const arg of def.output_arg ?? []) {
        const count = argCount(arg, attrs);
        if (count === undefined) throw new GraphPreparationError(`${where}: cannot count the outputs of node "${nodeName}" (${node.op})`);
        if (arg.name === outArg) return offset + index;
        offset += count;
      }
      throw new GraphPreparationError(`${where}: op ${node.op} has no output "${outArg}"`);
    };
    const translate = (input: string): string => {
      if (input.startsWith('^')) {
        const name = input.slice(1);
        const arg = args.get(name);
        return arg !== undefined ? `^${parseRef(arg).node}` : `^${prefix}${name}`;
      }
      const parts = input.split(':');
      if (parts.length === 1) {
        const arg = args.get(input);
        if (arg === undefined) throw new GraphPreparationError(`${where}: input "${input}" is neither an argument nor "node:output:index"`);
        return arg;
      }
      if (parts.length === 3) return tensorName(`${prefix}${parts[0]}`, outputIndex(parts[0], parts[1], Number(parts[2])));
      throw new GraphPreparationError(`${where}: unsupported input reference "${input}"`);
    };

    for (const node of fdef.node_def ?? []) {
      const inputs = (node.input ?? []).map(translate).map((i) => (i.startsWith('^') ? i : inputString(i)));
      needed.add(`${prefix}${node.name}`);
      queue.push({
        ...node,
        name: `${prefix}${node.name}`,
        input: inputs.length === 0 ? [...controlInputs] : inputs,
        attr: bodyAttrs.get(node.name),
      });
    }
    const returned: string[] = [];
    (signature.output_arg ?? []).forEach((arg, k) => {
      const ret = fdef.ret?.[arg.name];
      if (ret === undefined) throw new GraphPreparationError(`${where}: output "${arg.name}" is not returned`);
      const tensor = canonical(translate(ret));
      alias.set(tensorName(call.name, k), tensor);
      returned.push(`^${parseRef(tensor).node}`);
    });
    const controlReturns = Object.values(fdef.control_ret ?? {}).map((n) => `^${prefix}${n}`);
    controlAlias.set(call.name, [...returned, ...controlReturns]);
  }

  const resolve = (tensor: string): string => {
    let current = canonical(tensor);
    for (let guard = 0; alias.has(current); guard++) {
      if (guard > alias.size) throw new GraphPreparationError(`cyclic function outputs at ${tensor}`);
      current = alias.get(current)!;
    }
    return current;
  };
  const resolveControl = (input: string, seen = new Set<string>()): string[] => {
    const name = input.slice(1);
    const targets = controlAlias.get(name);
    if (!targets) return [input];
    if (seen.has(name)) return [];
    seen.add(name);
    return targets.flatMap((t) => resolveControl(t, seen));
  };
  if (alias.size > 0 || controlAlias.size > 0) {
    for (const node of out) {
      node.input = (node.input ?? []).flatMap((i) => (i.startsWith('^') ? resolveControl(i) : [inputString(resolve(i))]));
    }
  }
  return { nodes: out, resolve };
}

// ---------------------------------------------------------------------------------------------
// Variables.

function protoValue(proto: TensorProto, where: string): ConstValue {
  try {
    return { dtype: proto.dtype ?? DataType.DT_INVALID, shape: shapeFromProto(proto.tensor_shape) ?? [], values: tensorProtoToArray(proto) };
  } catch (err) {
    throw new GraphPreparationError(`${where}: ${(err as Error).message}`);
  }
}

class GraphIndex {
  readonly byName: Map<string, NodeDef>;
  constructor(nodes: NodeDef[]) {
    this.byName = new Map(nodes.map((n) => [n.name, n]));
  }

  /** The tensor an input ultimately comes from, looking through Identity nodes. */
  source(input: string): { node: NodeDef; index: number } | undefined {
    let ref = parseRef(input);
    for (let guard = 0; guard < 1000; guard++) {
      const node = this.byName.get(ref.node);
      if (!node) return undefined;
      if ((node.op !== 'Identity' && node.op !== 'Snapshot') || ref.index !== 0) return { node, index: ref.index };
      const next = (node.input ?? []).find((i) => !i.startsWith('^'));
      if (next === undefined) return { node, index: ref.index };
      ref = parseRef(next);
    }
    return undefined;
  }

  constStrings(input: string): string[] | undefined {
    const src = this.source(input);
    const proto = src?.node.op === 'Const' ? src.node.attr?.value?.tensor : undefined;
    if (!proto || proto.dtype !== DataType.DT_STRING) return undefined;
    return (tensorProtoToArray(proto) as Uint8Array[]).map((b) => utf8.decode(b));
  }

  /** Names of all nodes `roots` depend on (data and control inputs). */
  closure(roots: string[]): Set<string> {
    const seen = new Set<string>();
    const stack = roots.map((r) => parseRef(r).node);
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      const node = this.byName.get(name);
      if (!node) continue;
      seen.add(name);
      for (const i of node.input ?? []) stack.push(parseRef(i).node);
    }
    return seen;
  }
}

type VariableValue = { load: () => ConstValue } | { problem: string };

/**
 * What each variable holds once TensorFlow's loader has run the restore op and then the init op:
 * assignments fed by RestoreV2 map variables to checkpoint keys; constant assignments in the init op
 * (run after restoring) win over them. TF1 graphs whose restore op is missing fall back to the TF1
 * convention that a variable's checkpoint key is its node name.
 */
function variableValues(index: GraphIndex, nodes: NodeDef[], metaGraph: MetaGraphDef, initRoots: string[], bundle: Map<string, BundleTensor> | undefined): Map<string, VariableValue> {
  const values = new Map<string, VariableValue>();
  const fromBundle = (key: string, variable: NodeDef): VariableValue => {
    const tensor = bundle?.get(key);
    if (!tensor) return { problem: `its checkpoint key "${key}" is not in variables/variables.index` };
    const dtype = variable.attr?.dtype?.type;
    if (dtype !== undefined && baseType(dtype) !== tensor.dtype) {
      return { problem: `the checkpoint holds ${dataTypeName(tensor.dtype)} under "${key}" but the variable is ${dataTypeName(dtype)}` };
    }
    return { load: () => ({ dtype: tensor.dtype, shape: tensor.shape, values: tensor.read() }) };
  };

  for (const node of nodes) {
    if (!ASSIGN_OPS.has(node.op)) continue;
    const [target, value] = (node.input ?? []).filter((i) => !i.startsWith('^'));
    const variable = target === undefined ? undefined : index.source(target)?.node;
    const src = value === undefined ? undefined : index.source(value);
    if (!variable || src?.node.op !== 'RestoreV2') continue;
    const [, namesInput, slicesInput] = src.node.input ?? [];
    const key = index.constStrings(namesInput)?.[src.index];
    const slice = index.constStrings(slicesInput)?.[src.index];
    if (key === undefined) continue;
    values.set(variable.name, slice ? { problem: `it is restored from a slice ("${slice}") of a partitioned variable, which is not supported` } : fromBundle(key, variable));
  }

  const hasRestoreOp = values.size > 0;
  for (const node of nodes) {
    if (!REF_VARIABLE_OPS.has(node.op) || values.has(node.name) || hasRestoreOp || !metaGraph.saver_def) continue;
    values.set(node.name, fromBundle(node.name, node));
  }

  const initNodes = index.closure(initRoots);
  for (const name of initNodes) {
    const node = index.byName.get(name)!;
    if (!ASSIGN_OPS.has(node.op)) continue;
    const [target, value] = (node.input ?? []).filter((i) => !i.startsWith('^'));
    const variable = target === undefined ? undefined : index.source(target)?.node;
    if (!variable) continue;
    const src = value === undefined ? undefined : index.source(value);
    const proto = src?.node.op === 'Const' ? src.node.attr?.value?.tensor : undefined;
    values.set(
      variable.name,
      proto
        ? { load: () => protoValue(proto, `init op constant ${src!.node.name}`) }
        : { problem: `the init op assigns it a value computed at load time (${src?.node.op ?? 'unknown'} ${src?.node.name ?? ''}), which is not supported` },
    );
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// The whole preparation.

function opDefLookup(metaGraph: MetaGraphDef): OpDefLookup {
  const stripped = new Map((metaGraph.meta_info_def?.stripped_op_list?.op ?? []).map((op) => [op.name, op]));
  const vendored = tfOpDefs();
  return (op) => stripped.get(op) ?? vendored.get(op);
}

function initOpRoots(metaGraph: MetaGraphDef): string[] {
  const roots: string[] = [];
  for (const key of INIT_OP_COLLECTIONS) roots.push(...(metaGraph.collection_def?.[key]?.node_list?.value ?? []));
  for (const info of Object.values(metaGraph.signature_def?.[INIT_OP_SIGNATURE]?.outputs ?? {})) {
    if (info.name) roots.push(info.name);
  }
  return roots;
}

function constNode(name: string, dtype: DataType, value?: TensorProto): NodeDef {
  return { name, op: 'Const', input: [], attr: { dtype: { type: dtype }, ...(value ? { value: { tensor: value } } : {}) } };
}

function referencedFunctions(nodes: NodeDef[], library: Map<string, FunctionDef>): FunctionDef[] {
  const found = new Map<string, FunctionDef>();
  const visit = (attrs: Record<string, AttrValue> | undefined) => {
    for (const value of Object.values(attrs ?? {})) {
      const names = [value.func?.name, ...(value.list?.func ?? []).map((f) => f.name)];
      for (const name of names) {
        const fdef = name ? library.get(name) : undefined;
        if (fdef && !found.has(name!)) {
          found.set(name!, fdef);
          for (const n of fdef.node_def ?? []) visit(n.attr);
        }
      }
    }
  };
  for (const n of nodes) visit(n.attr);
  return [...found.values()];
}

/** Names of the SavedModel's callable signatures (without the init-op pseudo-signature). */
export function signatureKeys(metaGraph: MetaGraphDef): string[] {
  return Object.keys(metaGraph.signature_def ?? {}).filter((k) => k !== INIT_OP_SIGNATURE);
}

export function freezeSignatureGraph(metaGraph: MetaGraphDef, options: FreezeOptions): FrozenGraph {
  const signature = metaGraph.signature_def?.[options.signature];
  if (!signature || options.signature === INIT_OP_SIGNATURE) {
    const available = signatureKeys(metaGraph);
    throw new GraphPreparationError(`no signature "${options.signature}" in this MetaGraphDef; available: ${available.join(', ') || 'none'}`);
  }
  const graphDef = metaGraph.graph_def ?? {};
  const library = new Map((graphDef.library?.function ?? []).map((f) => [f.signature?.name ?? '', f]));
  const opDef = opDefLookup(metaGraph);
  const initRoots = initOpRoots(metaGraph);
  const roots = [
    ...Object.values(signature.outputs ?? {}).map((t) => t.name ?? ''),
    ...(metaGraph.saver_def?.restore_op_name ? [metaGraph.saver_def.restore_op_name] : []),
    ...initRoots,
  ];
  const { nodes: inlined, resolve } = inlineCalls(graphDef.node ?? [], library, opDef, roots);

  // Asset placeholders/constants get the asset's path, as the loader feeds them.
  const assets = new Map<string, string>();
  for (const asset of metaGraph.asset_file_def ?? []) {
    const name = asset.tensor_info?.name;
    if (name && asset.filename) assets.set(parseRef(name).node, path.join(options.dir, 'assets', asset.filename));
  }
  let nodes = inlined.map((n) =>
    assets.has(n.name)
      ? constNode(n.name, DataType.DT_STRING, { dtype: DataType.DT_STRING, tensor_shape: {}, string_val: [new TextEncoder().encode(assets.get(n.name)!)] })
      : n,
  );

  // Freeze: variables and their reads become constants.
  const index = new GraphIndex(nodes);
  const values = variableValues(index, nodes, metaGraph, initRoots, options.variables);
  const constants = new Map<string, () => ConstValue>();
  const unfrozen = new Map<string, string>();
  const problemOf = (variable: string) => {
    const value = values.get(variable);
    return value === undefined ? 'it is neither restored from the checkpoint nor assigned a constant by the init op' : 'problem' in value ? value.problem : undefined;
  };
  nodes = nodes.map((node) => {
    let variable: NodeDef | undefined;
    let dtype: DataType | undefined;
    if (REF_VARIABLE_OPS.has(node.op)) {
      variable = node;
      dtype = node.attr?.dtype?.type;
    } else if (node.op === 'ReadVariableOp') {
      const handle = (node.input ?? []).find((i) => !i.startsWith('^'));
      variable = handle === undefined ? undefined : index.source(handle)?.node;
      if (variable?.op !== 'VarHandleOp') return node;
      dtype = node.attr?.dtype?.type;
    } else {
      return node;
    }
    if (!variable) return node;
    const problem = problemOf(variable.name);
    if (problem !== undefined) {
      unfrozen.set(node.name, `variable "${variable.name}" has no value: ${problem}`);
      return node;
    }
    const value = values.get(variable.name) as { load: () => ConstValue };
    constants.set(node.name, value.load);
    return constNode(node.name, dtype ?? DataType.DT_INVALID);
  });

  // Feeds: each signature input becomes a placeholder producing that tensor.
  const spec = (alias: string, info: TensorInfo): TensorSpec => {
    if (!info.name) throw new GraphPreparationError(`signature "${options.signature}" entry "${alias}" has no tensor name (sparse and composite tensors are not supported)`);
    return {
      alias,
      tensor: resolve(info.name),
      dtype: baseType(info.dtype ?? DataType.DT_INVALID),
      shape: shapeFromProto(info.tensor_shape),
    };
  };
  const inputs = Object.entries(signature.inputs ?? {}).map(([alias, info]) => {
    const fallback = signature.defaults?.[alias];
    return { ...spec(alias, info), ...(fallback ? { defaultValue: protoValue(fallback, `default of signature input "${alias}"`) } : {}) };
  });
  const outputs = Object.entries(signature.outputs ?? {}).map(([alias, info]) => spec(alias, info));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const renamed = new Map<string, string>();
  for (const input of inputs) {
    const ref = parseRef(input.tensor);
    if (!byName.has(ref.node)) throw new GraphPreparationError(`signature input "${input.alias}" names missing tensor ${input.tensor}`);
    const placeholderName = ref.index === 0 ? ref.node : `${ref.node}/__feed_${ref.index}`;
    // Unknown rank: TensorFlow does not check fed shapes against the signature, so neither do we.
    const attr = { dtype: { type: input.dtype }, shape: { shape: { unknown_rank: true } } };
    byName.set(placeholderName, { name: placeholderName, op: 'Placeholder', input: [], attr });
    if (ref.index !== 0) renamed.set(input.tensor, placeholderName);
    input.tensor = tensorName(placeholderName, 0);
  }
  if (renamed.size > 0) {
    for (const [name, node] of byName) {
      byName.set(name, { ...node, input: (node.input ?? []).map((i) => (renamed.has(canonical(i)) ? renamed.get(canonical(i))! : i)) });
    }
    for (const output of outputs) output.tensor = renamed.has(output.tensor) ? tensorName(renamed.get(output.tensor)!, 0) : output.tensor;
  }

  // Prune to what the outputs need. Control dependencies are dropped: tfjs-converter would treat them
  // as data inputs, and what they order (Assert, variable updates) is not executed here.
  const keep = new Set<string>();
  const stack = outputs.map((o) => parseRef(o.tensor).node);
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    const node = byName.get(name);
    if (!node) throw new GraphPreparationError(`the graph refers to node "${name}", which does not exist`);
    keep.add(name);
    for (const i of node.input ?? []) if (!i.startsWith('^')) stack.push(parseRef(i).node);
  }
  const problems = [...keep].filter((n) => unfrozen.has(n)).map((n) => unfrozen.get(n)!);
  if (problems.length > 0) {
    throw new GraphPreparationError(`cannot freeze signature "${options.signature}": ${[...new Set(problems)].join('; ')}`);
  }

  const kept = [...byName.values()]
    .filter((n) => keep.has(n.name))
    .map((n) => {
      const def = library.get(n.op)?.signature ?? opDef(n.op);
      const input = (n.input ?? []).filter((i) => !i.startsWith('^'));
      return { ...n, input, attr: def ? attrsWithDefaults(def, n) : n.attr };
    });
  for (const name of constants.keys()) if (!keep.has(name)) constants.delete(name);
  return {
    nodes: kept,
    constants,
    functions: referencedFunctions(kept, library),
    inputs,
    outputs,
    producer: graphDef.versions?.producer ?? 0,
  };
}
