// Function inlining, as TensorFlow's grappler function optimizer does it: every call of a library
// function (TF2's StatefulPartitionedCall) that the signature needs is replaced by the function's body.
import { attrValueCase, attrsWithDefaults } from '../opdefs.js';
import { int64ToNumber, type ArgDef, type AttrValue, type FunctionDef, type NodeDef } from '../proto.js';
import {
  CALL_OPS,
  canonicalTensorName,
  isControlInput,
  parseFunctionInput,
  parseTensorName,
  shortTensorName,
  tensorName,
} from '../tensor-name.js';
import { GraphIndex, GraphPreparationError, type Pass } from './graph.js';

/** How many tensors an output arg stands for (number_attr repeats, type_list_attr expands). */
function argCount(arg: ArgDef, attrs: Record<string, AttrValue>): number | undefined {
  if (arg.number_attr) return attrs[arg.number_attr] && attrValueCase(attrs[arg.number_attr]!) === 'i' ? int64ToNumber(attrs[arg.number_attr]!.i) : undefined;
  if (arg.type_list_attr) return attrs[arg.type_list_attr]?.list ? (attrs[arg.type_list_attr]!.list!.type ?? []).length : undefined;
  return 1;
}

function callTarget(node: NodeDef, library: ReadonlyMap<string, FunctionDef>): { name: string; attrs: Record<string, AttrValue> } | undefined {
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
 * Inlines every call of a library function, recursively: body nodes are renamed "<call>/<node>",
 * arguments become the call's inputs, and the call's outputs resolve to the returned tensors (state.resolve).
 * Body nodes without inputs inherit the call's control inputs. Only calls that the signature's outputs,
 * the restore op or the init op depend on are inlined (not, for one, the SavedModel's save function).
 */
export const inline: Pass = (state) => {
  const { library, opDef } = state;
  const roots = [
    ...Object.values(state.signature.outputs ?? {}).map((t) => t.name ?? ''),
    ...(state.metaGraph.saver_def?.restore_op_name ? [state.metaGraph.saver_def.restore_op_name] : []),
    ...state.initRoots,
  ];
  const needed = new GraphIndex(state.nodes).closure(roots);
  const alias = new Map<string, string>();
  const controlAlias = new Map<string, string[]>();
  const queue = [...state.nodes];
  const out: NodeDef[] = [];
  for (let q = 0; q < queue.length; q++) {
    const call = queue[q]!;
    const target = needed.has(call.name) ? callTarget(call, library) : undefined;
    if (!target) {
      out.push(call);
      continue;
    }
    const fdef = library.get(target.name)!;
    const where = `function ${target.name} (called by node ${call.name})`;
    const signature = fdef.signature ?? { name: target.name };
    const prefix = `${call.name}/`;
    const dataInputs = (call.input ?? []).filter((i) => !isControlInput(i));
    const controlInputs = (call.input ?? []).filter(isControlInput);
    const inputArgs = signature.input_arg ?? [];
    if (dataInputs.length !== inputArgs.length) {
      throw new GraphPreparationError(`${where}: takes ${inputArgs.length} inputs but is given ${dataInputs.length} (list-typed function arguments are not supported)`);
    }
    const args = new Map(inputArgs.map((arg, i) => [arg.name, dataInputs[i]!]));
    const body = new Map((fdef.node_def ?? []).map((n) => [n.name, n]));
    const bodyAttrs = new Map((fdef.node_def ?? []).map((n) => [n.name, substitutePlaceholders(n.attr, target.attrs, where)]));

    // Output args each node is referenced by, for ops without a known OpDef (see outputIndex).
    const referencedArgs = new Map<string, Set<string>>();
    for (const input of [...(fdef.node_def ?? []).flatMap((n) => n.input ?? []), ...Object.values(fdef.ret ?? {})]) {
      const ref = parseFunctionInput(input);
      if (ref?.kind === 'output') referencedArgs.set(ref.node, (referencedArgs.get(ref.node) ?? new Set()).add(ref.output));
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
      const ref = parseFunctionInput(input);
      switch (ref?.kind) {
        case 'control': {
          const arg = args.get(ref.node);
          return arg !== undefined ? `^${parseTensorName(arg).node}` : `^${prefix}${ref.node}`;
        }
        case 'arg': {
          const arg = args.get(ref.arg);
          if (arg === undefined) throw new GraphPreparationError(`${where}: input "${input}" is neither an argument nor "node:output:index"`);
          return arg;
        }
        case 'output':
          return tensorName(`${prefix}${ref.node}`, outputIndex(ref.node, ref.output, ref.index));
        default:
          throw new GraphPreparationError(`${where}: unsupported input reference "${input}"`);
      }
    };

    for (const node of fdef.node_def ?? []) {
      const inputs = (node.input ?? []).map(translate).map(shortTensorName);
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
      const tensor = canonicalTensorName(translate(ret));
      alias.set(tensorName(call.name, k), tensor);
      returned.push(`^${parseTensorName(tensor).node}`);
    });
    const controlReturns = Object.values(fdef.control_ret ?? {}).map((n) => `^${prefix}${n}`);
    controlAlias.set(call.name, [...returned, ...controlReturns]);
  }

  const resolve = (tensor: string): string => {
    let current = canonicalTensorName(tensor);
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
      node.input = (node.input ?? []).flatMap((i) => (isControlInput(i) ? resolveControl(i) : [shortTensorName(resolve(i))]));
    }
  }
  state.nodes = out;
  state.resolve = resolve;
};
