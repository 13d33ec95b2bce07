// The order in which to compute the part of a graph some outputs need: every node after its inputs.
import { dataInputs, parseTensorName } from './tensor-name.js';

export interface DependencyOrderOptions {
  /** Nodes already computed (fed inputs): neither listed nor followed. */
  given?: Iterable<string>;
  /** Nodes listed but whose inputs are not followed (a placeholder fed in place of what it read). */
  leaves?: ReadonlySet<string>;
  /** The error for a node that is part of a cycle (a TF1 while loop). */
  cycle: (node: string) => Error;
  /** The error for an input naming a node the graph does not have. */
  missing: (node: string) => Error;
}

/**
 * The nodes `roots` depend on through data inputs, inputs before their readers. Iterative: graphs can
 * be thousands of nodes deep. Control dependencies are left out: they order stateful ops, and the ops
 * of an inference graph are stateless.
 */
export function dataDependencyOrder(
  roots: readonly string[],
  nodeNamed: (name: string) => { input?: readonly string[] | null } | undefined,
  options: DependencyOrderOptions,
): string[] {
  const order: string[] = [];
  const state = new Map<string, 'open' | 'done'>([...(options.given ?? [])].map((name) => [name, 'done']));
  const stack = roots.map((name) => ({ name, expanded: false }));
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      state.set(top.name, 'done');
      order.push(top.name);
      continue;
    }
    if (state.get(top.name) === 'done') continue;
    if (state.get(top.name) === 'open') throw options.cycle(top.name);
    const node = nodeNamed(top.name);
    if (!node) throw options.missing(top.name);
    state.set(top.name, 'open');
    stack.push({ name: top.name, expanded: true });
    if (options.leaves?.has(top.name)) continue;
    for (const input of dataInputs(node)) {
      const from = parseTensorName(input).node;
      if (state.get(from) !== 'done') stack.push({ name: from, expanded: false });
    }
  }
  return order;
}
