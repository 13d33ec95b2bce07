// Turns one signature of a SavedModel's MetaGraphDef into a self-contained, frozen inference graph by
// running graph passes in order, as TensorFlow's loader and grappler would: function calls inlined,
// assets and variables frozen to constants, signature inputs fed by placeholders, the rest pruned.
import { signatureKeys, INIT_OP_SIGNATURE } from '../signature.js';
import type { MetaGraphDef } from '../proto.js';
import { feeds } from './feeds.js';
import { freezeAssets, freezeVariables } from './freeze.js';
import { GraphPreparationError, initOpRoots, opDefLookup, type FreezeOptions, type FrozenGraph, type Pass, type PassState } from './graph.js';
import { inline } from './inline.js';
import { prune } from './prune.js';

export { GraphPreparationError, type ConstValue, type FreezeOptions, type FrozenGraph, type TensorSpec } from './graph.js';

/** The passes freezeSignatureGraph runs, in order; each reads what the earlier ones left. */
export const FREEZE_PASSES: readonly Pass[] = [inline, freezeAssets, freezeVariables, feeds, prune];

export function freezeSignatureGraph(metaGraph: MetaGraphDef, options: FreezeOptions): FrozenGraph {
  const signature = metaGraph.signature_def?.[options.signature];
  if (!signature || options.signature === INIT_OP_SIGNATURE) {
    const available = signatureKeys(metaGraph);
    throw new GraphPreparationError(`no signature "${options.signature}" in this MetaGraphDef; available: ${available.join(', ') || 'none'}`);
  }
  const graphDef = metaGraph.graph_def ?? {};
  const state: PassState = {
    metaGraph,
    options,
    signature,
    library: new Map((graphDef.library?.function ?? []).map((f) => [f.signature?.name ?? '', f])),
    opDef: opDefLookup(metaGraph),
    initRoots: initOpRoots(metaGraph),
    nodes: graphDef.node ?? [],
    resolve: (tensor) => tensor,
    constants: new Map(),
    unfrozen: new Map(),
    inputs: [],
    outputs: [],
    functions: [],
  };
  for (const pass of FREEZE_PASSES) pass(state);
  const { nodes, constants, functions, inputs, outputs } = state;
  return { nodes, constants, functions, inputs, outputs, producer: graphDef.versions?.producer ?? 0 };
}
