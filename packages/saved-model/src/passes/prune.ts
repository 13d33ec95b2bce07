// Pruning: only what the signature's outputs need is kept, with every attr the OpDef defaults written
// out, and the library functions the kept nodes still reference (bodies of If/While).
import { attrsWithDefaults } from '../opdefs.js';
import type { AttrValue, FunctionDef, NodeDef } from '../proto.js';
import { dataInputs, parseTensorName } from '../tensor-name.js';
import { GraphPreparationError, type Pass } from './graph.js';

function referencedFunctions(nodes: readonly NodeDef[], library: ReadonlyMap<string, FunctionDef>): FunctionDef[] {
  const found = new Map<string, FunctionDef>();
  const visit = (attrs: Record<string, AttrValue> | undefined | null) => {
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

/**
 * Keeps the nodes the outputs need. Control dependencies are dropped: tfjs-converter would treat them
 * as data inputs, and what they order (Assert, variable updates) is not executed here. Fails when a
 * kept node is a variable that could not be frozen.
 */
export const prune: Pass = (state) => {
  const byName = new Map(state.nodes.map((n) => [n.name, n]));
  const keep = new Set<string>();
  const stack = state.outputs.map((o) => parseTensorName(o.tensor).node);
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    const node = byName.get(name);
    if (!node) throw new GraphPreparationError(`the graph refers to node "${name}", which does not exist`);
    keep.add(name);
    for (const i of dataInputs(node)) stack.push(parseTensorName(i).node);
  }
  const problems = [...keep].filter((n) => state.unfrozen.has(n)).map((n) => state.unfrozen.get(n)!);
  if (problems.length > 0) {
    throw new GraphPreparationError(`cannot freeze signature "${state.options.signature}": ${[...new Set(problems)].join('; ')}`);
  }

  state.nodes = state.nodes
    .filter((n) => keep.has(n.name))
    .map((n) => {
      const def = state.library.get(n.op)?.signature ?? state.opDef(n.op);
      return { ...n, input: dataInputs(n), attr: def ? attrsWithDefaults(def, n) : n.attr };
    });
  for (const name of state.constants.keys()) if (!keep.has(name)) state.constants.delete(name);
  state.functions = referencedFunctions(state.nodes, state.library);
};
