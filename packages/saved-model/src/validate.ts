// Checks a GraphDef against TensorFlow's OpDefs the way TensorFlow does when it imports a graph
// (ValidateNodeDef, input dtypes, graph structure), so problems surface here instead of at serving time.
import { dataTypeName, DataType, REF_OFFSET } from './proto.js';
import type { GraphDef, NodeDef, OpDef, SignatureDef, TensorInfo } from './proto.js';
import { attrValueCase, attrValueProblem, attrsWithDefaults, dtypeFits, inputDtypes, outputDtypes, tfOpDefs } from './opdefs.js';
import type { OpDefs } from './opdefs.js';

export interface GraphIssue {
  /** The node the issue is about, when there is one. */
  node?: string;
  message: string;
}

export interface GraphValidation {
  valid: boolean;
  issues: GraphIssue[];
}

export interface ValidateGraphOptions {
  /** Signatures whose tensor names and dtypes must match the graph. */
  signatures?: Readonly<Record<string, SignatureDef>>;
}

export class GraphValidationError extends Error {
  override name = 'GraphValidationError';
  constructor(readonly issues: readonly GraphIssue[]) {
    const count = `${issues.length} issue${issues.length === 1 ? '' : 's'}`;
    super(`graph is not valid for TensorFlow (${count}): ${issues.map((i) => i.message).join('; ')}`);
  }
}

// TensorFlow's NodeDef name rule.
const nodeNamePattern = /^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$/;

/** What is known about a node: its OpDef (op or library function) and the dtypes of its outputs. */
interface ResolvedNode {
  def: NodeDef;
  opDef?: OpDef;
  isFunction: boolean;
  /** Output dtypes, undefined when the op is unknown or its attrs are incomplete. */
  outputs?: DataType[];
}

/**
 * Validates a GraphDef against OpDefs (TensorFlow's by default). Library functions count as ops.
 * Returns every issue found; valid when there are none.
 */
export function validateGraph(graph: GraphDef, opDefs: OpDefs = tfOpDefs(), options: ValidateGraphOptions = {}): GraphValidation {
  const issues: GraphIssue[] = [];
  const functions = new Map<string, OpDef>();
  for (const fn of graph.library?.function ?? []) if (fn.signature?.name) functions.set(fn.signature.name, fn.signature);

  const nodes = new Map<string, ResolvedNode>();
  for (const def of graph.node ?? []) {
    const label = nodeLabel(def);
    if (!def.name) {
      issues.push({ message: `a node of op "${def.op}" has no name` });
      continue;
    }
    if (!nodeNamePattern.test(def.name)) {
      issues.push({ node: def.name, message: `${label}: invalid node name (must match [A-Za-z0-9.][A-Za-z0-9_.\\-/>]*)` });
    }
    if (nodes.has(def.name)) {
      issues.push({ node: def.name, message: `${label}: duplicate node name` });
      continue;
    }
    const opDef = opDefs.get(def.op);
    const fnSig = opDef ? undefined : functions.get(def.op);
    const resolved: ResolvedNode = { def, opDef: opDef ?? fnSig, isFunction: Boolean(fnSig) };
    if (resolved.opDef) resolved.outputs = outputDtypes(resolved.opDef, attrsWithDefaults(resolved.opDef, def));
    nodes.set(def.name, resolved);
  }

  for (const node of nodes.values()) checkNode(node, nodes, issues);
  checkCycles(nodes, issues);
  for (const [name, sig] of Object.entries(options.signatures ?? {})) checkSignature(name, sig, nodes, issues);
  return { valid: issues.length === 0, issues };
}

/** Throws a GraphValidationError listing every issue when the graph is not valid. */
export function assertValidGraph(graph: GraphDef, opDefs: OpDefs = tfOpDefs(), options: ValidateGraphOptions = {}): void {
  const { issues } = validateGraph(graph, opDefs, options);
  if (issues.length > 0) throw new GraphValidationError(issues);
}

function nodeLabel(def: NodeDef): string {
  return `node "${def.name}" (${def.op})`;
}

/** 'node "x" (Placeholder), which has 1 output' */
function outputsOf(node: ResolvedNode): string {
  const n = node.outputs?.length ?? 0;
  return `${nodeLabel(node.def)}, which has ${n} output${n === 1 ? '' : 's'}`;
}

interface ParsedInput {
  control: boolean;
  node: string;
  index: number;
  /** Whether ":index" was written ("node" alone may also name an operation, e.g. a signature's init op). */
  explicitIndex: boolean;
}

/** "^node" (control), "node" (output 0) or "node:3". */
function parseInput(input: string): ParsedInput | undefined {
  if (input.startsWith('^')) return input.length > 1 ? { control: true, node: input.slice(1), index: -1, explicitIndex: false } : undefined;
  const m = /^(.+?)(?::(\d+))?$/.exec(input);
  if (!m || !m[1]) return undefined;
  return { control: false, node: m[1], index: m[2] === undefined ? 0 : Number(m[2]), explicitIndex: m[2] !== undefined };
}

function checkNode(node: ResolvedNode, nodes: ReadonlyMap<string, ResolvedNode>, issues: GraphIssue[]): void {
  const { def, opDef } = node;
  const label = nodeLabel(def);
  const report = (message: string) => issues.push({ node: def.name, message: `${label}: ${message}` });

  let expectedInputs: DataType[] | undefined;
  if (!opDef) {
    report(`unknown op "${def.op}" (not in the OpDefs and not a function in the graph's library)`);
  } else if (node.isFunction) {
    expectedInputs = inputDtypes(opDef, def.attr ?? {});
    if (!expectedInputs) report(`cannot determine the inputs of function "${def.op}" from the node's attrs`);
  } else {
    const attrs = def.attr ?? {};
    const declared = new Set<string>();
    for (const attrDef of opDef.attr ?? []) {
      declared.add(attrDef.name);
      const value = attrs[attrDef.name];
      if (value === undefined || value === null) {
        if (!attrDef.default_value) report(`missing required attr "${attrDef.name}" (${attrDef.type})`);
        continue;
      }
      const problem = attrValueProblem(attrDef, value);
      if (problem) report(problem);
    }
    for (const key of Object.keys(attrs)) {
      if (!key.startsWith('_') && !declared.has(key)) report(`attr "${key}" is not defined by op ${opDef.name}`);
    }
    expectedInputs = inputDtypes(opDef, attrsWithDefaults(opDef, def));
    // TensorFlow's Const kernel refuses a value whose dtype differs from the dtype attr.
    if (def.op === 'Const' && attrs.value && attrs.dtype && attrValueCase(attrs.value) === 'tensor' && attrValueCase(attrs.dtype) === 'type') {
      const valueDtype = attrs.value.tensor!.dtype ?? DataType.DT_INVALID;
      const dtype = attrs.dtype.type!;
      if (valueDtype !== dtype) report(`value is a ${dataTypeName(valueDtype)} tensor but attr "dtype" is ${dataTypeName(dtype)}`);
    }
  }

  const data: { input: string; parsed: ParsedInput }[] = [];
  let sawControl = false;
  for (const input of def.input ?? []) {
    const parsed = parseInput(input);
    if (!parsed) {
      report(`malformed input "${input}"`);
      continue;
    }
    if (parsed.control) {
      sawControl = true;
      if (!nodes.has(parsed.node)) report(`control input "${input}" names no node in the graph`);
      continue;
    }
    if (sawControl) report(`data input "${input}" comes after a control input (control inputs "^x" must come last)`);
    data.push({ input, parsed });
  }

  if (opDef && expectedInputs && data.length !== expectedInputs.length) {
    const args = (opDef.input_arg ?? []).map((a) => a.name).join(', ') || 'none';
    report(`has ${data.length} data inputs but ${opDef.name} expects ${expectedInputs.length} (args: ${args})`);
  }

  data.forEach(({ input, parsed }, position) => {
    const producer = nodes.get(parsed.node);
    if (!producer) {
      report(`input "${input}" names no node in the graph`);
      return;
    }
    if (!producer.outputs) return; // unknown op or incomplete attrs: reported on the producer itself
    const actual = producer.outputs[parsed.index];
    if (actual === undefined) {
      report(`input "${input}" refers to output ${parsed.index} of ${outputsOf(producer)}`);
      return;
    }
    const expected = expectedInputs?.[position];
    if (expected !== undefined && !dtypeFits(expected, actual)) {
      report(`input ${position} ("${input}") is ${dataTypeName(actual)} but ${def.op} expects ${dataTypeName(expected)} there`);
    }
  });
}

/** Loops are allowed only through back-edges from NextIteration into Merge (TF1 while loops). */
function isBackEdge(consumer: NodeDef, producer: NodeDef | undefined): boolean {
  const isMerge = consumer.op === 'Merge' || consumer.op === 'RefMerge';
  return isMerge && (producer?.op === 'NextIteration' || producer?.op === 'RefNextIteration');
}

const backEdgeRule = '(only NextIteration -> Merge back-edges may close loops)';

function checkCycles(nodes: ReadonlyMap<string, ResolvedNode>, issues: GraphIssue[]): void {
  const deps = new Map<string, string[]>();
  for (const { def } of nodes.values()) {
    const producers: string[] = [];
    for (const input of def.input ?? []) {
      const parsed = parseInput(input);
      const producer = parsed && nodes.get(parsed.node);
      if (producer && !isBackEdge(def, producer.def)) producers.push(parsed.node);
    }
    deps.set(def.name, producers);
  }
  // Iterative DFS; a dependency found on the current path closes a cycle.
  const state = new Map<string, 'active' | 'done'>();
  const reported = new Set<string>(); // one issue per node that closes a cycle
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const next: number[] = [0];
    state.set(start, 'active');
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const topDeps = deps.get(top)!;
      const i = next[next.length - 1]!;
      if (i >= topDeps.length) {
        state.set(top, 'done');
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const dep = topDeps[i]!;
      const s = state.get(dep);
      if (s === 'active') {
        // path runs consumer -> producer and top consumes dep; in data-flow order the cycle is dep -> top -> ... -> dep.
        if (reported.has(dep)) continue;
        reported.add(dep);
        const cycle = [dep, ...path.slice(path.indexOf(dep) + 1).reverse(), dep];
        issues.push({
          node: dep,
          message: `${nodeLabel(nodes.get(dep)!.def)}: is on a cycle ${cycle.join(' -> ')} ${backEdgeRule}`,
        });
      } else if (s === undefined) {
        state.set(dep, 'active');
        path.push(dep);
        next.push(0);
      }
    }
  }
}

function checkSignature(sigName: string, sig: SignatureDef, nodes: ReadonlyMap<string, ResolvedNode>, issues: GraphIssue[]): void {
  const check = (kind: 'input' | 'output', key: string, info: TensorInfo) => {
    const where = `signature "${sigName}" ${kind} "${key}"`;
    const sparse = info.coo_sparse;
    const names = info.name
      ? [info.name]
      : [sparse?.values_tensor_name, sparse?.indices_tensor_name, sparse?.dense_shape_tensor_name].filter((n): n is string => Boolean(n));
    if (names.length === 0 && !info.composite_tensor) {
      issues.push({ message: `${where}: has no tensor name` });
      return;
    }
    for (const tensorName of names) {
      const parsed = parseInput(tensorName);
      if (!parsed || parsed.control) {
        issues.push({ message: `${where}: malformed tensor name "${tensorName}"` });
        continue;
      }
      const producer = nodes.get(parsed.node);
      if (!producer) {
        issues.push({ node: parsed.node, message: `${where}: tensor "${tensorName}" names no node "${parsed.node}" in the graph` });
        continue;
      }
      // A bare node name with no outputs is an operation to run (how __saved_model_init_op names its NoOp).
      if (!producer.outputs || (!parsed.explicitIndex && producer.outputs.length === 0)) continue;
      const actual = producer.outputs[parsed.index];
      if (actual === undefined) {
        issues.push({
          node: parsed.node,
          message: `${where}: tensor "${tensorName}" refers to output ${parsed.index} of ${outputsOf(producer)}`,
        });
        continue;
      }
      const declared = info.dtype ?? DataType.DT_INVALID;
      const base = actual > REF_OFFSET ? actual - REF_OFFSET : actual;
      if (info.name && declared !== DataType.DT_INVALID && declared !== base) {
        issues.push({
          node: parsed.node,
          message: `${where}: declares ${dataTypeName(declared)} but tensor "${tensorName}" of ${nodeLabel(producer.def)} is ${dataTypeName(actual)}`,
        });
      }
    }
  };
  for (const [key, info] of Object.entries(sig.inputs ?? {})) check('input', key, info);
  for (const [key, info] of Object.entries(sig.outputs ?? {})) check('output', key, info);
}
