// `--saved_model DIR` for TensorFlow SavedModels (tf.saved_model.save, Keras model.export(), TF1 builders):
// one signature (or one concrete function of the TF2 object graph, see saved-model's object-graph.ts) is frozen
// the way TensorFlow's loader and grappler would run it (saved-model's freeze passes: function calls
// inlined, variables restored from variables/ and turned into constants), then its nodes are copied
// into the exporter's graph behind the image-decoding front. With keepSignatures the SavedModel's own
// signatures are frozen too and written next to the new serving_default, their inputs unchanged.
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  attrValueCase,
  concreteFunctionMetaGraph,
  dataDependencyOrder,
  DataType,
  dataTypeName,
  freezeSignatureGraph,
  GraphPreparationError,
  getMetaGraph,
  int64ToNumber,
  parseTensorName,
  readSavedModel,
  readSavedModelVariables,
  SAVED_MODEL_PB,
  SavedModelError,
  signatureKeys,
  tfOpDefs,
  TensorBundleError,
  type AttrInput,
  type AttrValue,
  type BundleTensor,
  type FrozenGraph,
  type GraphBuilder,
  type GraphTensor,
  type MetaGraphDef,
  type ModelProvenance,
  type TensorSpec,
  type TensorValues,
} from '@tensorsky/saved-model';
import { fileMd5 } from './file-md5.js';

export const DEFAULT_SIGNATURE = 'serving_default';

export interface SavedModelSourceOptions {
  /** The SavedModel directory (holding saved_model.pb and variables/). */
  dir: string;
  /** Signature to export; default serving_default (or the only one). Exclusive with `function`. */
  signature?: string;
  /** A concrete function of the TF2 object graph (e.g. __inference_serve_123) instead of a signature. */
  function?: string;
  /** Also freeze the SavedModel's signatures, written next to the new serving_default. */
  keepSignatures?: boolean;
  /** MetaGraphDef tag-set; default ["serve"]. */
  tags?: string[];
}

/** One signature of the source, frozen: its graph and its method name. */
export interface FrozenSignature {
  key: string;
  method: string;
  graph: FrozenGraph;
}

export interface SavedModelSource {
  kind: 'saved-model';
  /** The folder name of the SavedModel. */
  name: string;
  /** What was exported: `signature "serving_default"` or `function "__inference_serve_12"`. */
  picked: string;
  main: FrozenSignature;
  /** The source's signatures to write unchanged (frozen) next to the new serving_default. */
  kept: FrozenSignature[];
  /** [height, width, channels] when the input is a float image batch [batch, height, width, channels]. */
  imageShape: [number, number, number] | undefined;
  /** Output classes when the output is [batch, classes]. */
  classes: number | undefined;
  weights: string;
  provenance: { model: ModelProvenance; weights: { kind: 'model-file' } };
}

export class SavedModelSourceError extends Error {
  override name = 'SavedModelSourceError';
}

/** Reads the SavedModel in `dir` and freezes the chosen signature or function (and, when asked, every signature). */
export async function loadSavedModelSource(options: SavedModelSourceOptions): Promise<SavedModelSource> {
  const { dir } = options;
  if (options.signature !== undefined && options.function !== undefined) {
    throw new SavedModelSourceError('--signature and --function both pick what to export; give one of them');
  }
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new SavedModelSourceError(`${dir} does not exist`);
  if (!info.isDirectory()) throw new SavedModelSourceError(`${dir} is not a SavedModel directory (--saved_model takes the folder holding saved_model.pb)`);
  const loaded = await readSavedModel(dir).catch((err: unknown) => {
    throw err instanceof SavedModelError ? new SavedModelSourceError(err.message) : err;
  });
  let metaGraph: MetaGraphDef;
  try {
    metaGraph = getMetaGraph(loaded.savedModel, options.tags ?? ['serve']);
  } catch (err) {
    throw err instanceof SavedModelError ? new SavedModelSourceError(`${dir}: ${err.message}`) : err;
  }
  const variables = readVariables(loaded.dir);
  const freeze = (graph: MetaGraphDef, key: string): FrozenSignature => {
    try {
      return { key, method: graph.signature_def?.[key]?.method_name ?? '', graph: freezeSignatureGraph(graph, { signature: key, variables, dir: loaded.dir }) };
    } catch (err) {
      if (err instanceof GraphPreparationError) throw new SavedModelSourceError(`${dir}: ${err.message}`);
      throw err;
    }
  };

  const keys = signatureKeys(metaGraph);
  let main: FrozenSignature;
  let picked: string;
  if (options.function !== undefined) {
    let synthesized;
    try {
      synthesized = concreteFunctionMetaGraph(metaGraph, options.function, variables);
    } catch (err) {
      throw err instanceof GraphPreparationError ? new SavedModelSourceError(`${dir}: ${err.message}`) : err;
    }
    main = freeze(synthesized.metaGraph, synthesized.signature);
    picked = `function "${options.function}"`;
  } else {
    const key = options.signature ?? (keys.includes(DEFAULT_SIGNATURE) || keys.length !== 1 ? DEFAULT_SIGNATURE : keys[0]!);
    if (!keys.includes(key)) {
      throw new SavedModelSourceError(
        `${dir} has no signature "${key}"; its signatures: ${keys.join(', ') || 'none'}${options.signature === undefined ? ' (pick one with --signature, or a concrete function with --function)' : ''}`,
      );
    }
    main = freeze(metaGraph, key);
    picked = `signature "${key}"`;
  }
  checkWritable(main.graph, `the ${picked} of ${basename(loaded.dir)}`);
  const kept = options.keepSignatures ? keys.map((key) => freeze(metaGraph, key)) : [];
  for (const signature of kept) {
    checkWritable(signature.graph, `--keep_signatures: signature "${signature.key}" of ${basename(loaded.dir)}`, 'export without --keep_signatures');
  }

  const name = basename(loaded.dir);
  const pb = join(loaded.dir, SAVED_MODEL_PB);
  const md5 = await fileMd5(pb);
  if (md5 === undefined) throw new SavedModelSourceError(`${pb} disappeared while it was being loaded`);
  return {
    kind: 'saved-model',
    name,
    picked,
    main,
    kept,
    imageShape: imageShape(main.graph),
    classes: classCount(main.graph),
    weights: variables ? 'variables/' : 'constants in saved_model.pb',
    provenance: { model: { kind: 'file', name, file: SAVED_MODEL_PB, md5 }, weights: { kind: 'model-file' } },
  };
}

/**
 * The checkpoint, each tensor read once: every signature frozen from it then holds the very same value
 * arrays, which frozenGraphToGraph writes once (see its `constants`).
 */
function readVariables(dir: string): Map<string, BundleTensor> | undefined {
  try {
    const bundle = readSavedModelVariables(dir);
    if (!bundle) return undefined;
    return new Map(
      [...bundle].map(([key, tensor]) => {
        let values: ReturnType<BundleTensor['read']> | undefined;
        return [key, { ...tensor, read: () => (values ??= tensor.read()) }];
      }),
    );
  } catch (err) {
    if (err instanceof TensorBundleError) throw new SavedModelSourceError(`${dir}: ${err.message}`);
    throw err;
  }
}

/**
 * Refuses, before anything is written, a frozen graph whose ops TensorFlow Serving may lack: ops outside
 * the vendored op definitions, and control flow through functions (If/While bodies).
 */
function checkWritable(graph: FrozenGraph, where: string, advice?: string): void {
  const then = advice ? `; ${advice}` : '';
  if (graph.functions.length > 0) {
    const names = graph.functions.map((f) => f.signature?.name).join(', ');
    throw new SavedModelSourceError(`${where} uses control flow through functions (${names}); tensorsky export writes graphs without function libraries${then}`);
  }
  const unknown = graph.nodes.find((n) => !tfOpDefs().has(n.op));
  if (unknown) {
    throw new SavedModelSourceError(`${where}: node "${unknown.name}" has op ${unknown.op}, which is not among the TensorFlow ops tensorsky export writes${then}`);
  }
}

/** [height, width, channels] of a signature whose one input is float [batch, height, width, 1 or 3]. */
function imageShape(graph: FrozenGraph): [number, number, number] | undefined {
  const [input] = graph.inputs;
  const shape = input?.shape;
  if (graph.inputs.length !== 1 || input!.dtype !== DataType.DT_FLOAT || shape?.length !== 4) return undefined;
  const [, height, width, channels] = shape;
  if (!(height! > 0 && width! > 0 && (channels === 1 || channels === 3))) return undefined;
  return [height!, width!, channels];
}

function classCount(graph: FrozenGraph): number | undefined {
  const shape = graph.outputs.length === 1 ? graph.outputs[0]!.shape : undefined;
  return shape?.length === 2 && shape[1]! > 0 ? shape[1] : undefined;
}

/** Why the frozen signature cannot sit behind the image front, or undefined when it can. */
export function imageInputProblem(source: SavedModelSource): string | undefined {
  const { inputs, outputs } = source.main.graph;
  const describe = (t: TensorSpec) => `"${t.alias}" ${dataTypeName(t.dtype)} ${t.shape ? `[${t.shape.join(', ')}]` : '(unknown rank)'}`;
  if (!source.imageShape) {
    return `the ${source.picked} of ${source.name} takes ${inputs.map(describe).join(', ') || 'no inputs'}, not one float image batch [batch, height, width, 1 or 3] with a fixed size`;
  }
  if (outputs.length !== 1 || outputs[0]!.dtype !== DataType.DT_FLOAT) {
    return `the ${source.picked} of ${source.name} returns ${outputs.map(describe).join(', ') || 'nothing'}; an image classifier returns one float tensor`;
  }
  return undefined;
}

/**
 * Copies a frozen graph into `g` under the builder's current scope: nodes in dependency order, each
 * checked against its OpDef by the builder; frozen variables become Consts holding their checkpoint
 * values. `feeds` replaces inputs (by signature alias) with tensors of `g`; the other inputs stay
 * Placeholders. `constants` (values array → Const) lets graphs frozen from the same checkpoint share
 * their weights. Returns the outputs by alias and the inputs by alias.
 */
export function frozenGraphToGraph(
  frozen: FrozenGraph,
  g: GraphBuilder,
  feeds: ReadonlyMap<string, GraphTensor>,
  where: string,
  constants: Map<object, GraphTensor> = new Map(),
): { inputs: Map<string, GraphTensor>; outputs: Map<string, GraphTensor> } {
  checkWritable(frozen, where);
  const byName = new Map(frozen.nodes.map((n) => [n.name, n]));
  const fed = new Map<string, GraphTensor>();
  for (const input of frozen.inputs) {
    const tensor = feeds.get(input.alias);
    if (tensor) fed.set(parseTensorName(input.tensor).node, tensor);
  }
  const placeholders = new Map(frozen.inputs.map((input) => [parseTensorName(input.tensor).node, input]));
  const converted = new Map<string, readonly GraphTensor[]>();
  const order = dataDependencyOrder(
    frozen.outputs.map((o) => parseTensorName(o.tensor).node),
    (name) => byName.get(name),
    {
      leaves: new Set(fed.keys()),
      cycle: (name) => new SavedModelSourceError(`${where}: node "${name}" is part of a cycle (TF1 while loop); tensorsky export copies graphs without loops`),
      missing: (name) => new SavedModelSourceError(`${where}: the graph reads node "${name}", which it does not have`),
    },
  );

  for (const name of order) {
    const node = byName.get(name)!;
    const fail = (problem: string): never => {
      throw new SavedModelSourceError(`${where}: node "${name}" (${node.op}) ${problem}`);
    };
    const feed = fed.get(name);
    if (feed) {
      converted.set(name, [feed]);
      continue;
    }
    const input = placeholders.get(name);
    if (input) {
      converted.set(name, [g.placeholder(name, input.dtype, input.shape)]);
      continue;
    }
    const lazy = frozen.constants.get(name);
    if (lazy) {
      const value = lazy();
      const written = constants.get(value.values) ?? g.constant(name, value.values as TensorValues, value.shape, value.dtype);
      constants.set(value.values, written);
      converted.set(name, [written]);
      continue;
    }
    const inputs = (node.input ?? []).map((ref) => {
      const { node: from, index } = parseTensorName(ref);
      return converted.get(from)?.[index] ?? fail(`reads ${ref}, which the graph does not produce`);
    });
    let outputs: readonly GraphTensor[];
    try {
      outputs = g.op(node.op, groupInputs(node.op, node.attr ?? {}, inputs, fail), attrInputs(node.attr ?? {}), { name }).outputs;
    } catch (err) {
      if (err instanceof SavedModelSourceError) throw err;
      return fail((err as Error).message);
    }
    converted.set(name, outputs);
  }
  const pick = (specs: readonly TensorSpec[]) =>
    new Map(
      specs.map((spec) => {
        const { node, index } = parseTensorName(spec.tensor);
        const tensor = fed.get(node) ?? converted.get(node)?.[index];
        if (!tensor) throw new SavedModelSourceError(`${where}: signature tensor "${spec.alias}" (${spec.tensor}) is not computed by the graph`);
        return [spec.alias, tensor] as const;
      }),
    );
  // Inputs stay Placeholders with the signature's dtype and shape; one no output reads is still
  // written, so that the signature is complete.
  for (const input of frozen.inputs) {
    const node = parseTensorName(input.tensor).node;
    if (!fed.has(node) && !converted.has(node)) converted.set(node, [g.placeholder(node, input.dtype, input.shape)]);
  }
  return { inputs: pick(frozen.inputs), outputs: pick(frozen.outputs) };
}

/** One entry per OpDef input arg: list args (number_attr / type_list_attr) take as many tensors as their attr says. */
function groupInputs(
  op: string,
  attrs: Record<string, AttrValue>,
  inputs: GraphTensor[],
  fail: (problem: string) => never,
): (GraphTensor | GraphTensor[])[] {
  const opDef = tfOpDefs().get(op) ?? fail('has an op tensorsky export has no TensorFlow definition of; it cannot write it');
  let next = 0;
  const grouped = (opDef.input_arg ?? []).map((arg) => {
    if (!arg.number_attr && !arg.type_list_attr) return inputs[next++]!;
    const length = arg.number_attr ? int64ToNumber(attrs[arg.number_attr]?.i) : (attrs[arg.type_list_attr!]?.list?.type?.length ?? 0);
    next += length;
    return inputs.slice(next - length, next);
  });
  if (next !== inputs.length || grouped.some((x) => x === undefined)) fail(`has ${inputs.length} inputs, its op definition takes ${next}`);
  return grouped;
}

/** A NodeDef's attrs in the builder's JavaScript form; internal ("_") attrs are TensorFlow's bookkeeping and dropped. */
function attrInputs(attrs: Record<string, AttrValue>): Record<string, AttrInput> {
  const out: Record<string, AttrInput> = {};
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('_')) continue;
    const converted = attrInput(value);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

function attrInput(value: AttrValue): AttrInput | undefined {
  switch (attrValueCase(value)) {
    case 's':
      return value.s!;
    case 'i':
      return int64ToNumber(value.i);
    case 'f':
      return value.f!;
    case 'b':
      return value.b!;
    case 'type':
      return value.type!;
    case 'shape':
      return value.shape!;
    case 'tensor':
      return value.tensor!;
    case 'func':
      return value.func!;
    case 'list': {
      const list = value.list!;
      if (list.s?.length) return list.s;
      if (list.i?.length) return list.i.map(int64ToNumber);
      if (list.f?.length) return list.f;
      if (list.b?.length) return list.b;
      if (list.type?.length) return list.type;
      if (list.shape?.length) return list.shape as unknown as AttrInput;
      return [];
    }
    default:
      return undefined;
  }
}
