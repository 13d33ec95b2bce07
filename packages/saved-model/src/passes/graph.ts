// What the passes share: the frozen graph they produce, the state they hand each other, and a by-name
// index of a GraphDef's nodes.
import { DataType, type FunctionDef, type MetaGraphDef, type NodeDef, type OpDef, type SignatureDef, type TensorProto } from '../proto.js';
import type { BundleTensor, BundleValues } from '../bundle.js';
import { tfOpDefs } from '../opdefs.js';
import { shapeFromProto, tensorProtoToArray, type TensorArray } from '../tensor.js';
import { INIT_OP_SIGNATURE } from '../signature.js';
import { dataInputs, parseTensorName } from '../tensor-name.js';

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

export type OpDefLookup = (op: string) => OpDef | undefined;

/** The graph as the passes hand it on; each pass reads what the earlier ones left and updates it. */
export interface PassState {
  readonly metaGraph: MetaGraphDef;
  readonly options: FreezeOptions;
  readonly signature: SignatureDef;
  /** Library functions by name. */
  readonly library: ReadonlyMap<string, FunctionDef>;
  /** The SavedModel's stripped_op_list, then TensorFlow's OpDefs. */
  readonly opDef: OpDefLookup;
  /** Nodes the loader's init op runs (after restoring variables). */
  readonly initRoots: readonly string[];
  nodes: NodeDef[];
  /** Maps a tensor name of the original graph to the tensor that now computes it (see inline). */
  resolve: (tensor: string) => string;
  /** Lazily read values of the Const nodes that replaced variables. */
  constants: Map<string, () => ConstValue>;
  /** Nodes that could not be frozen, with why: an error only if the outputs need them. */
  unfrozen: Map<string, string>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  functions: FunctionDef[];
}

export type Pass = (state: PassState) => void;

/** Collections naming the op TensorFlow's loader runs after restoring variables. */
const INIT_OP_COLLECTIONS = ['saved_model_main_op', 'main_op', 'legacy_init_op'];

export function opDefLookup(metaGraph: MetaGraphDef): OpDefLookup {
  const stripped = new Map((metaGraph.meta_info_def?.stripped_op_list?.op ?? []).map((op) => [op.name, op]));
  const vendored = tfOpDefs();
  return (op) => stripped.get(op) ?? vendored.get(op);
}

export function initOpRoots(metaGraph: MetaGraphDef): string[] {
  const roots: string[] = [];
  for (const key of INIT_OP_COLLECTIONS) roots.push(...(metaGraph.collection_def?.[key]?.node_list?.value ?? []));
  for (const info of Object.values(metaGraph.signature_def?.[INIT_OP_SIGNATURE]?.outputs ?? {})) {
    if (info.name) roots.push(info.name);
  }
  return roots;
}

export function constNode(name: string, dtype: DataType, value?: TensorProto): NodeDef {
  return { name, op: 'Const', input: [], attr: { dtype: { type: dtype }, ...(value ? { value: { tensor: value } } : {}) } };
}

export function protoValue(proto: TensorProto, where: string): ConstValue {
  try {
    return { dtype: proto.dtype ?? DataType.DT_INVALID, shape: shapeFromProto(proto.tensor_shape) ?? [], values: tensorProtoToArray(proto) };
  } catch (err) {
    throw new GraphPreparationError(`${where}: ${(err as Error).message}`);
  }
}

const utf8 = new TextDecoder();

/** A graph's nodes by name, with the walks the passes make over them. */
export class GraphIndex {
  readonly byName: Map<string, NodeDef>;
  constructor(nodes: readonly NodeDef[]) {
    this.byName = new Map(nodes.map((n) => [n.name, n]));
  }

  /** The tensor an input ultimately comes from, looking through Identity nodes. */
  source(input: string): { node: NodeDef; index: number } | undefined {
    let ref = parseTensorName(input);
    for (let guard = 0; guard < 1000; guard++) {
      const node = this.byName.get(ref.node);
      if (!node) return undefined;
      if ((node.op !== 'Identity' && node.op !== 'Snapshot') || ref.index !== 0) return { node, index: ref.index };
      const next = dataInputs(node)[0];
      if (next === undefined) return { node, index: ref.index };
      ref = parseTensorName(next);
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
  closure(roots: readonly string[]): Set<string> {
    const seen = new Set<string>();
    const stack = roots.map((r) => parseTensorName(r).node);
    while (stack.length) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      const node = this.byName.get(name);
      if (!node) continue;
      seen.add(name);
      for (const i of node.input ?? []) stack.push(parseTensorName(i).node);
    }
    return seen;
  }
}
