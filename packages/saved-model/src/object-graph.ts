// TF2's object graph: MetaGraphDef.object_graph_def (SavedObjectGraph, tensorflow/core/protobuf/
// saved_object_graph.proto) names the concrete functions of the SavedModel and what each captures
// (bound_inputs: node ids of SavedVariables); the checkpoint's own object graph (TrackableObjectGraph,
// tensorflow/core/protobuf/trackable_object_graph.proto, stored in the tensor bundle under
// "_CHECKPOINTABLE_OBJECT_GRAPH") names the checkpoint key of each variable's value. Only the fields used
// here are declared (field numbers as in those files; the rest is skipped by the decoder).
//
// concreteFunctionMetaGraph turns one concrete function into what the freeze passes read: a graph that
// calls it (StatefulPartitionedCall) with Placeholders for its arguments and VarHandleOps for its
// captured variables, a restore op assigning each variable its checkpoint value (RestoreV2 →
// AssignVariableOp, as TF's loader does), and a signature naming the call's inputs and outputs.
import protobuf from 'protobufjs';
import type { BundleTensor } from './bundle.js';
import { DataType, type AttrValue, type FunctionDef, type MetaGraphDef, type NodeDef, type TensorInfo, type TensorShapeProto } from './proto.js';
import { shapeProto } from './tensor.js';
import { GraphPreparationError } from './passes/graph.js';

const shape = { fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 }, unknown_rank: { type: 'bool', id: 3 } }, nested: { Dim: { fields: { size: { type: 'int64', id: 1 }, name: { type: 'string', id: 2 } } } } };
const objectReference = { fields: { node_id: { type: 'int32', id: 1 }, local_name: { type: 'string', id: 2 } } };
const descriptor = {
  nested: {
    og: {
      nested: {
        TensorShapeProto: shape,
        ObjectReference: objectReference,
        // saved_object_graph.proto
        SavedObjectGraph: {
          fields: {
            nodes: { rule: 'repeated', type: 'SavedObject', id: 1 },
            concrete_functions: { keyType: 'string', type: 'SavedConcreteFunction', id: 2 },
          },
        },
        SavedObject: {
          fields: {
            children: { rule: 'repeated', type: 'ObjectReference', id: 1 },
            user_object: { type: 'SavedUserObject', id: 4 },
            function: { type: 'SavedFunction', id: 6 },
            variable: { type: 'SavedVariable', id: 7 },
            bare_concrete_function: { type: 'SavedBareConcreteFunction', id: 8 },
            constant: { type: 'SavedConstant', id: 9 },
          },
        },
        SavedUserObject: { fields: { identifier: { type: 'string', id: 1 } } },
        SavedFunction: { fields: { concrete_functions: { rule: 'repeated', type: 'string', id: 1 } } },
        SavedBareConcreteFunction: { fields: { concrete_function_name: { type: 'string', id: 1 } } },
        SavedConstant: { fields: { operation: { type: 'string', id: 1 } } },
        SavedVariable: {
          fields: { dtype: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 }, name: { type: 'string', id: 6 } },
        },
        SavedConcreteFunction: {
          fields: {
            bound_inputs: { rule: 'repeated', type: 'int32', id: 2 },
            canonicalized_input_signature: { type: 'StructuredValue', id: 3 },
            output_signature: { type: 'StructuredValue', id: 4 },
          },
        },
        // struct.proto (the kinds that hold tensors)
        StructuredValue: {
          fields: {
            tensor_spec_value: { type: 'TensorSpecProto', id: 33 },
            list_value: { type: 'ListValue', id: 51 },
            tuple_value: { type: 'ListValue', id: 52 },
            dict_value: { type: 'DictValue', id: 53 },
            named_tuple_value: { type: 'NamedTupleValue', id: 54 },
          },
        },
        ListValue: { fields: { values: { rule: 'repeated', type: 'StructuredValue', id: 1 } } },
        DictValue: { fields: { fields: { keyType: 'string', type: 'StructuredValue', id: 1 } } },
        NamedTupleValue: { fields: { values: { rule: 'repeated', type: 'PairValue', id: 2 } } },
        PairValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'StructuredValue', id: 2 } } },
        TensorSpecProto: { fields: { name: { type: 'string', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 }, dtype: { type: 'int32', id: 3 } } },
        // trackable_object_graph.proto
        TrackableObjectGraph: { fields: { nodes: { rule: 'repeated', type: 'TrackableObject', id: 1 } } },
        TrackableObject: {
          fields: {
            children: { rule: 'repeated', type: 'ObjectReference', id: 1 },
            attributes: { rule: 'repeated', type: 'SerializedTensor', id: 2 },
          },
        },
        SerializedTensor: { fields: { name: { type: 'string', id: 1 }, full_name: { type: 'string', id: 2 }, checkpoint_key: { type: 'string', id: 3 } } },
      },
    },
  },
};
const schema = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);

export interface ObjectReference {
  node_id?: number;
  local_name?: string;
}

export interface StructuredValue {
  tensor_spec_value?: { name?: string; shape?: TensorShapeProto; dtype?: DataType };
  list_value?: { values?: StructuredValue[] };
  tuple_value?: { values?: StructuredValue[] };
  dict_value?: { fields?: Record<string, StructuredValue> };
  named_tuple_value?: { values?: { key?: string; value?: StructuredValue }[] };
}

export interface SavedObject {
  children?: ObjectReference[];
  user_object?: { identifier?: string };
  function?: { concrete_functions?: string[] };
  variable?: { dtype?: DataType; shape?: TensorShapeProto; name?: string };
  bare_concrete_function?: { concrete_function_name?: string };
  constant?: { operation?: string };
}

export interface SavedConcreteFunction {
  bound_inputs?: number[];
  canonicalized_input_signature?: StructuredValue;
  output_signature?: StructuredValue;
}

export interface SavedObjectGraph {
  nodes?: SavedObject[];
  concrete_functions?: Record<string, SavedConcreteFunction>;
}

export interface TrackableObjectGraph {
  nodes?: { children?: ObjectReference[]; attributes?: { name?: string; full_name?: string; checkpoint_key?: string }[] }[];
}

/** The bundle key of the checkpoint's TrackableObjectGraph (tensorflow/python/checkpoint: OBJECT_GRAPH_PROTO_KEY). */
export const OBJECT_GRAPH_PROTO_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH';
/** The attribute name of a variable's value in the TrackableObjectGraph (trackable/base.py VARIABLE_VALUE_KEY). */
export const VARIABLE_VALUE_KEY = 'VARIABLE_VALUE';

export function decodeSavedObjectGraph(bytes: Uint8Array): SavedObjectGraph {
  return decode('SavedObjectGraph', bytes) as SavedObjectGraph;
}

export function decodeTrackableObjectGraph(bytes: Uint8Array): TrackableObjectGraph {
  return decode('TrackableObjectGraph', bytes) as TrackableObjectGraph;
}

export function encodeSavedObjectGraph(graph: SavedObjectGraph): Uint8Array {
  return schema.lookupType('og.SavedObjectGraph').encode(graph as protobuf.Message).finish();
}

export function encodeTrackableObjectGraph(graph: TrackableObjectGraph): Uint8Array {
  return schema.lookupType('og.TrackableObjectGraph').encode(graph as protobuf.Message).finish();
}

function decode(type: string, bytes: Uint8Array): unknown {
  try {
    const message = schema.lookupType(`og.${type}`);
    return message.toObject(message.decode(bytes), { longs: Number, defaults: false, arrays: true });
  } catch (err) {
    throw new GraphPreparationError(`the ${type} is damaged (${(err as Error).message})`);
  }
}

/** The tensor specs of a structure, in tf.nest.flatten order (dict keys sorted). */
export function flattenTensorSpecs(value: StructuredValue | undefined): NonNullable<StructuredValue['tensor_spec_value']>[] {
  if (!value) return [];
  if (value.tensor_spec_value) return [value.tensor_spec_value];
  const items = value.list_value?.values ?? value.tuple_value?.values;
  if (items) return items.flatMap(flattenTensorSpecs);
  if (value.dict_value) {
    const fields = value.dict_value.fields ?? {};
    return Object.keys(fields)
      .sort()
      .flatMap((k) => flattenTensorSpecs(fields[k]));
  }
  if (value.named_tuple_value) return (value.named_tuple_value.values ?? []).flatMap((p) => flattenTensorSpecs(p.value));
  return [];
}

/**
 * Checkpoint key of each variable of the SavedObjectGraph, by node id: both object graphs are walked
 * from their roots along the same named edges (children by local_name), as TensorFlow's object-based
 * restore matches them.
 */
export function variableCheckpointKeys(saved: SavedObjectGraph, checkpoint: TrackableObjectGraph): Map<number, string> {
  const keys = new Map<number, string>();
  const seen = new Set<number>();
  const queue: [number, number][] = [[0, 0]];
  while (queue.length > 0) {
    const [savedId, checkpointId] = queue.shift()!;
    if (seen.has(savedId)) continue;
    seen.add(savedId);
    const ckptNode = checkpoint.nodes?.[checkpointId];
    const value = ckptNode?.attributes?.find((a) => a.name === VARIABLE_VALUE_KEY)?.checkpoint_key;
    if (value && saved.nodes?.[savedId]?.variable) keys.set(savedId, value);
    const ckptChildren = new Map((ckptNode?.children ?? []).map((c) => [c.local_name ?? '', c.node_id ?? 0]));
    for (const child of saved.nodes?.[savedId]?.children ?? []) {
      const match = ckptChildren.get(child.local_name ?? '');
      if (match !== undefined) queue.push([child.node_id ?? 0, match]);
    }
  }
  return keys;
}

export interface ConcreteFunctionGraph {
  metaGraph: MetaGraphDef;
  /** The signature key of the synthesized signature. */
  signature: string;
}

const SIGNATURE = 'concrete_function';

/**
 * A MetaGraphDef whose signature runs the concrete function `name` of the object graph, its captured
 * variables restored from `variables` (see the file comment). Fails, naming what is wrong, when the
 * function is not in the object graph or captures something other than variables.
 */
export function concreteFunctionMetaGraph(metaGraph: MetaGraphDef, name: string, variables: Map<string, BundleTensor> | undefined): ConcreteFunctionGraph {
  if (!metaGraph.object_graph_def?.length) {
    throw new GraphPreparationError(`--function needs a TF2 SavedModel (tf.saved_model.save); this one has no object graph, export one of its signatures instead`);
  }
  const objects = decodeSavedObjectGraph(metaGraph.object_graph_def);
  const concrete = objects.concrete_functions?.[name];
  const library = new Map((metaGraph.graph_def?.library?.function ?? []).map((f) => [f.signature?.name ?? '', f]));
  const fdef = library.get(name);
  if (!concrete || !fdef) {
    const names = Object.keys(objects.concrete_functions ?? {})
      .filter((n) => library.has(n) && !/^__inference__traced_(save|restore)_/.test(n))
      .sort();
    throw new GraphPreparationError(`no concrete function "${name}" in the object graph; its concrete functions: ${names.join(', ') || 'none'}`);
  }
  const bound = concrete.bound_inputs ?? [];
  const args = fdef.signature?.input_arg ?? [];
  const userArgs = args.slice(0, args.length - bound.length);
  const specs = flattenTensorSpecs(concrete.canonicalized_input_signature);
  const outputSpecs = flattenTensorSpecs(concrete.output_signature);

  let keys = new Map<number, string>();
  if (bound.length > 0) {
    const ckpt = variables?.get(OBJECT_GRAPH_PROTO_KEY);
    if (!ckpt) throw new GraphPreparationError(`function "${name}" captures variables, but variables/ has no object graph (${OBJECT_GRAPH_PROTO_KEY}) naming their checkpoint keys`);
    const [bytes] = ckpt.read() as Uint8Array[];
    keys = variableCheckpointKeys(objects, decodeTrackableObjectGraph(bytes!));
  }

  const nodes: NodeDef[] = [];
  const inputs: Record<string, TensorInfo> = {};
  userArgs.forEach((arg, i) => {
    const spec = specs.length === userArgs.length ? specs[i] : undefined;
    const alias = spec?.name || arg.name!;
    const argShape = spec?.shape ?? argAttrShape(fdef, i);
    const nodeName = `${SIGNATURE}_${alias}`;
    nodes.push({ name: nodeName, op: 'Placeholder', input: [], attr: { dtype: { type: arg.type }, shape: { shape: argShape ?? { unknown_rank: true } } } });
    inputs[alias] = { name: `${nodeName}:0`, dtype: arg.type, tensor_shape: argShape ?? { unknown_rank: true } };
  });
  const handles = bound.map((id, i) => {
    const object = objects.nodes?.[id];
    const variable = object?.variable;
    if (!variable) {
      const kind = object ? Object.keys(object).find((k) => k !== 'children') ?? 'object' : 'missing object';
      throw new GraphPreparationError(`function "${name}" captures object ${id} (${kind}); only captured variables can be frozen`);
    }
    const handle = `captured/${i}`;
    const attr: Record<string, AttrValue> = { dtype: { type: variable.dtype }, shape: { shape: variable.shape ?? { unknown_rank: true } }, shared_name: { s: new TextEncoder().encode(variable.name ?? handle) } };
    nodes.push({ name: handle, op: 'VarHandleOp', input: [], attr });
    return { handle, dtype: variable.dtype ?? DataType.DT_FLOAT, key: keys.get(id), id };
  });
  const call = 'call';
  nodes.push({
    name: call,
    op: 'StatefulPartitionedCall',
    input: [...nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name), ...handles.map((h) => h.handle)],
    attr: {
      f: { func: { name } },
      Tin: { list: { type: args.map((a) => a.type ?? DataType.DT_RESOURCE) } },
      Tout: { list: { type: (fdef.signature?.output_arg ?? []).map((a) => a.type ?? DataType.DT_INVALID) } },
    },
  });
  const outputs: Record<string, TensorInfo> = {};
  (fdef.signature?.output_arg ?? []).forEach((arg, i) => {
    const spec = outputSpecs.length === fdef.signature!.output_arg!.length ? outputSpecs[i] : undefined;
    outputs[spec?.name || `output_${i}`] = { name: `${call}:${i}`, dtype: arg.type, tensor_shape: spec?.shape ?? { unknown_rank: true } };
  });

  // The restore op TF's loader runs: each captured variable assigned its checkpoint value.
  const restored = handles.filter((h) => h.key !== undefined);
  if (restored.length > 0) {
    const strings = (values: string[]) => ({ dtype: DataType.DT_STRING, tensor_shape: shapeProto([values.length]), string_val: values.map((v) => new TextEncoder().encode(v)) });
    const constant = (nodeName: string, values: string[], scalar = false): NodeDef => ({
      name: nodeName,
      op: 'Const',
      input: [],
      attr: { dtype: { type: DataType.DT_STRING }, value: { tensor: scalar ? { ...strings(values), tensor_shape: shapeProto([]) } : strings(values) } },
    });
    nodes.push(constant('restore/prefix', ['variables/variables'], true));
    nodes.push(constant('restore/tensor_names', restored.map((h) => h.key!)));
    nodes.push(constant('restore/shape_and_slices', restored.map(() => '')));
    nodes.push({
      name: 'restore/RestoreV2',
      op: 'RestoreV2',
      input: ['restore/prefix', 'restore/tensor_names', 'restore/shape_and_slices'],
      attr: { dtypes: { list: { type: restored.map((h) => h.dtype) } } },
    });
    restored.forEach((h, i) =>
      nodes.push({ name: `restore/assign_${i}`, op: 'AssignVariableOp', input: [h.handle, `restore/RestoreV2:${i}`], attr: { dtype: { type: h.dtype } } }),
    );
    nodes.push({ name: 'restore/restore_all', op: 'NoOp', input: restored.map((_, i) => `^restore/assign_${i}`), attr: {} });
  }
  const unrestored = handles.find((h) => h.key === undefined);
  if (unrestored) throw new GraphPreparationError(`function "${name}" captures variable object ${unrestored.id}, which the checkpoint's object graph gives no value`);

  return {
    signature: SIGNATURE,
    metaGraph: {
      meta_info_def: metaGraph.meta_info_def,
      graph_def: { ...metaGraph.graph_def, node: nodes },
      ...(restored.length > 0 ? { saver_def: { restore_op_name: 'restore/restore_all' } } : {}),
      signature_def: { [SIGNATURE]: { inputs, outputs, method_name: 'tensorflow/serving/predict' } },
    },
  };
}

/** The shape TF records for argument i of a function (arg_attr "_output_shapes"), if any. */
function argAttrShape(fdef: FunctionDef, i: number): TensorShapeProto | undefined {
  const entry = fdef.arg_attr?.find((e) => (e.key ?? 0) === i);
  return entry?.value?.attr?._output_shapes?.list?.shape?.[0] ?? undefined;
}
