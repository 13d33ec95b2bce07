// Writes a TF2 SavedModel laid out as tf.saved_model.save writes one (TensorFlow 2.x,
// tensorflow/python/saved_model/save.py), for an image classifier module:
//
//   class Classifier(tf.Module):
//     conv_kernel, conv_bias, dense_kernel, dense_bias = tf.Variable(...)
//     @tf.function(input_signature=[tf.TensorSpec([None, H, W, C], tf.float32, name='image')])
//     def serve(self, image):  # conv 3x3 SAME + bias → relu → global mean → dense + bias → softmax
//   tf.saved_model.save(m, dir, signatures={'serving_default': m.serve})
//
// saved_model.pb (tensorflow/core/protobuf/saved_model.proto, meta_graph.proto):
//   graph_def.node: one VarHandleOp per variable; Placeholder "serving_default_image"; the signature's
//     StatefulPartitionedCall (f = __inference_signature_wrapper_*, inputs: image, then the captured
//     variable handles); Placeholder "saver_filename" and StatefulPartitionedCall_2 calling the
//     restore function (saver_def.restore_op_name). The save function (StatefulPartitionedCall_1) is
//     left out: nothing here runs it. meta_info_def.stripped_op_list: the OpDefs of the ops used.
//   graph_def.library.function: __inference_serve_* (ReadVariableOp of resource args, then the math),
//     __inference_signature_wrapper_* (a nested StatefulPartitionedCall of serve, as TF traces it), and
//     __inference__traced_restore_* (RestoreV2 → Identity → AssignVariableOp per variable).
//   signature_def: serving_default {inputs image: serving_default_image:0, outputs probs: StatefulPartitionedCall:0}.
//   object_graph_def: SavedObjectGraph (saved_object_graph.proto): root user object with the variables
//     (SavedVariable), serve (SavedFunction) and signatures/serving_default (SavedBareConcreteFunction)
//     as children; concrete_functions with bound_inputs = the variables' node ids.
// variables/variables.{index,data-00000-of-00001}: a tensor bundle (tensorflow/core/util/tensor_bundle/
//   tensor_bundle.h; the index an SSTable, tensorflow/core/lib/io/format.cc) holding each variable under
//   "<child name>/.ATTRIBUTES/VARIABLE_VALUE" and the TrackableObjectGraph (trackable_object_graph.proto)
//   under "_CHECKPOINTABLE_OBJECT_GRAPH".
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import {
  crc32c,
  DataType,
  decodeMessage,
  encodeMessage,
  encodeSavedObjectGraph,
  encodeTrackableObjectGraph,
  maskCrc32c,
  shapeProto,
  tensorProto,
  tfOpDefs,
  type AttrValue,
  type FunctionDef,
  type NodeDef,
  type OpDef,
  type SavedObjectGraph,
  type StructuredValue,
  type TrackableObjectGraph,
} from '@tensorsky/saved-model';

export interface BundleEntry {
  key: string;
  dtype: DataType;
  shape: number[];
  /** Float32 values, or the strings of a DT_STRING tensor. */
  values: Float32Array | Uint8Array[];
}

const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
};
const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** The data file layout of one tensor: raw little-endian values, or (DT_STRING) varint lengths, their masked crc32c, the bytes. */
function tensorBytes(entry: BundleEntry): { bytes: Uint8Array; crc: number } {
  if (entry.dtype !== DataType.DT_STRING) {
    const bytes = new Uint8Array((entry.values as Float32Array).slice().buffer);
    return { bytes, crc: crc32c(bytes) };
  }
  const strings = entry.values as Uint8Array[];
  let crc = 0;
  for (const s of strings) crc = crc32c(Uint8Array.from(u32le(s.length)), crc);
  const lengthCrc = Uint8Array.from(u32le(maskCrc32c(crc)));
  crc = crc32c(lengthCrc, crc);
  for (const s of strings) crc = crc32c(s, crc);
  return { bytes: Uint8Array.from([...strings.flatMap((s) => varint(s.length)), ...lengthCrc, ...strings.flatMap((s) => [...s])]), crc };
}

/** variables.index (an uncompressed SSTable: one data block, its index block, the footer) and variables.data-00000-of-00001. */
export function writeTensorBundle(prefix: string, entries: BundleEntry[]): void {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  const data: number[] = [];
  const kvs: [string, Uint8Array][] = [['', encodeMessage('BundleHeaderProto', { num_shards: 1, version: { producer: 1 } })]];
  for (const entry of sorted) {
    const { bytes, crc } = tensorBytes(entry);
    kvs.push([
      entry.key,
      encodeMessage('BundleEntryProto', { dtype: entry.dtype, shape: shapeProto(entry.shape), offset: data.length, size: bytes.length, crc32c: maskCrc32c(crc) }),
    ]);
    data.push(...bytes);
  }
  // Block entries with shared prefix 0 and a single restart point (format.cc / block_builder.cc).
  const block = (items: [string, Uint8Array][]) => {
    const out: number[] = [];
    for (const [k, v] of items) out.push(...varint(0), ...varint(Buffer.byteLength(k)), ...varint(v.length), ...Buffer.from(k), ...v);
    out.push(0, 0, 0, 0, 1, 0, 0, 0);
    return Uint8Array.from(out);
  };
  const trailer = (contents: Uint8Array) => Buffer.from([0, ...u32le(maskCrc32c(crc32c(Uint8Array.from([...contents, 0]))))]);
  const dataBlock = block(kvs);
  const lastKey = kvs.at(-1)![0];
  const indexBlock = block([[lastKey, Uint8Array.from([...varint(0), ...varint(dataBlock.length)])]]);
  const indexOffset = dataBlock.length + 5;
  const footer = Buffer.alloc(48);
  Buffer.from([...varint(0), ...varint(0), ...varint(indexOffset), ...varint(indexBlock.length)]).copy(footer);
  footer.writeUInt32LE(0x8b80fb57, 40);
  footer.writeUInt32LE(0xdb477524, 44);
  writeFileSync(`${prefix}.index`, Buffer.concat([dataBlock, trailer(dataBlock), indexBlock, trailer(indexBlock), footer]));
  writeFileSync(`${prefix}.data-00000-of-00001`, Uint8Array.from(data));
}

export interface ClassifierWeights {
  /** [3, 3, channels, filters] */
  convKernel: Float32Array;
  convBias: Float32Array;
  /** [filters, classes] */
  denseKernel: Float32Array;
  denseBias: Float32Array;
}

export interface ClassifierSpec {
  height: number;
  width: number;
  channels: number;
  filters: number;
  classes: number;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const type = (t: DataType): AttrValue => ({ type: t });
const F = DataType.DT_FLOAT;
const R = DataType.DT_RESOURCE;

const VARIABLES = ['conv_kernel', 'conv_bias', 'dense_kernel', 'dense_bias'] as const;
export const SERVE_FUNCTION = '__inference_serve_85';
export const SIGNATURE_WRAPPER = '__inference_signature_wrapper_118';
const RESTORE_FUNCTION = '__inference__traced_restore_201';

export function classifierShapes(spec: ClassifierSpec): Record<(typeof VARIABLES)[number], number[]> {
  return {
    conv_kernel: [3, 3, spec.channels, spec.filters],
    conv_bias: [spec.filters],
    dense_kernel: [spec.filters, spec.classes],
    dense_bias: [spec.classes],
  };
}

/** serve(image): the classifier's math on resource arguments, each read with ReadVariableOp. */
function serveFunction(): FunctionDef {
  const read = (name: string, resource: string): NodeDef => ({ name, op: 'ReadVariableOp', input: [resource], attr: { dtype: type(F) } });
  const node_def: NodeDef[] = [
    read('conv2d/ReadVariableOp', 'conv2d_readvariableop_resource'),
    {
      name: 'conv2d',
      op: 'Conv2D',
      input: ['image', 'conv2d/ReadVariableOp:value:0'],
      attr: { T: type(F), strides: { list: { i: [1, 1, 1, 1] } }, padding: { s: utf8('SAME') }, data_format: { s: utf8('NHWC') }, dilations: { list: { i: [1, 1, 1, 1] } }, use_cudnn_on_gpu: { b: true }, explicit_paddings: { list: {} } },
    },
    read('BiasAdd/ReadVariableOp', 'biasadd_readvariableop_resource'),
    { name: 'BiasAdd', op: 'BiasAdd', input: ['conv2d:output:0', 'BiasAdd/ReadVariableOp:value:0'], attr: { T: type(F), data_format: { s: utf8('NHWC') } } },
    { name: 'Relu', op: 'Relu', input: ['BiasAdd:output:0'], attr: { T: type(F) } },
    { name: 'Mean/reduction_indices', op: 'Const', input: [], attr: { dtype: type(DataType.DT_INT32), value: { tensor: tensorProto(DataType.DT_INT32, [2], [1, 2]) } } },
    { name: 'Mean', op: 'Mean', input: ['Relu:activations:0', 'Mean/reduction_indices:output:0'], attr: { T: type(F), Tidx: type(DataType.DT_INT32), keep_dims: { b: false } } },
    read('MatMul/ReadVariableOp', 'matmul_readvariableop_resource'),
    { name: 'MatMul', op: 'MatMul', input: ['Mean:output:0', 'MatMul/ReadVariableOp:value:0'], attr: { T: type(F), transpose_a: { b: false }, transpose_b: { b: false } } },
    read('add/ReadVariableOp', 'add_readvariableop_resource'),
    { name: 'add', op: 'AddV2', input: ['MatMul:product:0', 'add/ReadVariableOp:value:0'], attr: { T: type(F) } },
    { name: 'Softmax', op: 'Softmax', input: ['add:z:0'], attr: { T: type(F) } },
    { name: 'Identity', op: 'Identity', input: ['Softmax:softmax:0', '^BiasAdd/ReadVariableOp', '^MatMul/ReadVariableOp'], attr: { T: type(F) } },
  ];
  return {
    signature: {
      name: SERVE_FUNCTION,
      input_arg: [
        { name: 'image', type: F },
        { name: 'conv2d_readvariableop_resource', type: R },
        { name: 'biasadd_readvariableop_resource', type: R },
        { name: 'matmul_readvariableop_resource', type: R },
        { name: 'add_readvariableop_resource', type: R },
      ],
      output_arg: [{ name: 'identity', type: F }],
      is_stateful: true,
    },
    node_def,
    ret: { identity: 'Identity:output:0' },
  };
}

/** The signature wrapper TF traces around serve: a nested call, its output renamed. */
function signatureWrapper(): FunctionDef {
  return {
    signature: {
      name: SIGNATURE_WRAPPER,
      input_arg: [{ name: 'image', type: F }, ...['unknown', 'unknown_0', 'unknown_1', 'unknown_2'].map((name) => ({ name, type: R }))],
      output_arg: [{ name: 'identity', type: F }],
      is_stateful: true,
    },
    node_def: [
      {
        name: 'StatefulPartitionedCall',
        op: 'StatefulPartitionedCall',
        input: ['image', 'unknown', 'unknown_0', 'unknown_1', 'unknown_2'],
        attr: { f: { func: { name: SERVE_FUNCTION } }, Tin: { list: { type: [F, R, R, R, R] } }, Tout: { list: { type: [F] } } },
      },
      { name: 'Identity', op: 'Identity', input: ['StatefulPartitionedCall:output:0'], attr: { T: type(F) } },
    ],
    ret: { identity: 'Identity:output:0' },
  };
}

/** _traced_restore: RestoreV2 of every variable's checkpoint key, each assigned to its handle. */
function restoreFunction(): FunctionDef {
  const keys = VARIABLES.map((v) => `${v}/.ATTRIBUTES/VARIABLE_VALUE`);
  const strings = (values: string[]) => ({ tensor: { dtype: DataType.DT_STRING, tensor_shape: shapeProto([values.length]), string_val: values.map(utf8) } });
  const node_def: NodeDef[] = [
    { name: 'RestoreV2/tensor_names', op: 'Const', input: [], attr: { dtype: type(DataType.DT_STRING), value: strings(keys) } },
    { name: 'RestoreV2/shape_and_slices', op: 'Const', input: [], attr: { dtype: type(DataType.DT_STRING), value: strings(keys.map(() => '')) } },
    {
      name: 'RestoreV2',
      op: 'RestoreV2',
      input: ['file_prefix', 'RestoreV2/tensor_names:output:0', 'RestoreV2/shape_and_slices:output:0'],
      attr: { dtypes: { list: { type: keys.map(() => F) } } },
    },
  ];
  VARIABLES.forEach((_, i) => {
    node_def.push({ name: `Identity_${i + 1}`, op: 'Identity', input: [`RestoreV2:tensors:${i}`], attr: { T: type(F) } });
    node_def.push({ name: `AssignVariableOp_${i}`, op: 'AssignVariableOp', input: [`assignvariableop_${i}_resource`, `Identity_${i + 1}:output:0`], attr: { dtype: type(F) } });
  });
  node_def.push({ name: 'NoOp', op: 'NoOp', input: VARIABLES.map((_, i) => `^AssignVariableOp_${i}`), attr: {} });
  node_def.push({ name: 'Identity_5', op: 'Identity', input: ['file_prefix', '^NoOp'], attr: { T: type(DataType.DT_STRING) } });
  return {
    signature: {
      name: RESTORE_FUNCTION,
      input_arg: [{ name: 'file_prefix', type: DataType.DT_STRING }, ...VARIABLES.map((_, i) => ({ name: `assignvariableop_${i}_resource`, type: R }))],
      output_arg: [{ name: 'identity_5', type: DataType.DT_STRING }],
      is_stateful: true,
    },
    node_def,
    ret: { identity_5: 'Identity_5:output:0' },
  };
}

/**
 * meta_info_def.stripped_op_list: the OpDef of every op of the graph and its functions, as TensorFlow
 * lists them. The resource and checkpoint ops' definitions come from a SavedModel TensorFlow 2 wrote
 * (the half_plus_two fixture), the others from the vendored op definitions.
 */
function strippedOpList(functions: FunctionDef[], nodes: NodeDef[]): OpDef[] {
  const fixture = join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123', 'saved_model.pb');
  const written = decodeMessage('SavedModel', readFileSync(fixture)).meta_graphs![0]!.meta_info_def!.stripped_op_list!.op ?? [];
  const byName = new Map<string, OpDef>([...tfOpDefs(), ...written.map((op) => [op.name!, op] as const)]);
  const used = new Set([...nodes, ...functions.flatMap((f) => f.node_def ?? [])].map((n) => n.op));
  return [...used].sort().map((op) => byName.get(op) ?? fail(op));
}

function fail(op: string): never {
  throw new Error(`no OpDef for ${op}`);
}

function tensorSpec(name: string, shape: number[]): StructuredValue {
  return { tensor_spec_value: { name, shape: shapeProto(shape), dtype: F } };
}

/** Writes the classifier module's SavedModel into `dir` (see the file comment). */
export function writeTf2Classifier(dir: string, spec: ClassifierSpec, weights: ClassifierWeights): void {
  const shapes = classifierShapes(spec);
  const imageShape = [-1, spec.height, spec.width, spec.channels];
  const handle = (v: (typeof VARIABLES)[number]): NodeDef => ({
    name: v,
    op: 'VarHandleOp',
    input: [],
    attr: { dtype: type(F), shape: { shape: shapeProto(shapes[v]) }, shared_name: { s: utf8(v) }, container: { s: utf8('') }, allowed_devices: { list: {} } },
  });
  const nodes: NodeDef[] = [
    ...VARIABLES.map(handle),
    { name: 'serving_default_image', op: 'Placeholder', input: [], attr: { dtype: type(F), shape: { shape: shapeProto(imageShape) } } },
    {
      name: 'StatefulPartitionedCall',
      op: 'StatefulPartitionedCall',
      input: ['serving_default_image', ...VARIABLES],
      attr: { f: { func: { name: SIGNATURE_WRAPPER } }, Tin: { list: { type: [F, R, R, R, R] } }, Tout: { list: { type: [F] } }, _read_only_resource_inputs: { list: { i: [1, 2, 3, 4] } } },
    },
    { name: 'saver_filename', op: 'Placeholder', input: [], attr: { dtype: type(DataType.DT_STRING), shape: { shape: shapeProto([]) } } },
    {
      name: 'StatefulPartitionedCall_2',
      op: 'StatefulPartitionedCall',
      input: ['saver_filename', ...VARIABLES],
      attr: { f: { func: { name: RESTORE_FUNCTION } }, Tin: { list: { type: [DataType.DT_STRING, R, R, R, R] } }, Tout: { list: { type: [DataType.DT_STRING] } } },
    },
  ];

  // Object graph: 0 root; 1-4 variables; 5 serve; 6 signatures map; 7 signatures/serving_default.
  const objectGraph: SavedObjectGraph = {
    nodes: [
      {
        children: [...VARIABLES.map((v, i) => ({ node_id: i + 1, local_name: v })), { node_id: 5, local_name: 'serve' }, { node_id: 6, local_name: 'signatures' }],
        user_object: { identifier: '_generic_user_object' },
      },
      ...VARIABLES.map((v) => ({ variable: { dtype: F, shape: shapeProto(shapes[v]), name: v } })),
      { function: { concrete_functions: [SERVE_FUNCTION] } },
      { children: [{ node_id: 7, local_name: 'serving_default' }], user_object: { identifier: 'signature_map' } },
      { bare_concrete_function: { concrete_function_name: SIGNATURE_WRAPPER } },
    ],
    concrete_functions: {
      [SERVE_FUNCTION]: {
        bound_inputs: [1, 2, 3, 4],
        canonicalized_input_signature: { tuple_value: { values: [{ tuple_value: { values: [tensorSpec('image', imageShape)] } }, { dict_value: {} }] } },
        output_signature: tensorSpec('probs', [-1, spec.classes]),
      },
      [SIGNATURE_WRAPPER]: {
        bound_inputs: [1, 2, 3, 4],
        canonicalized_input_signature: { tuple_value: { values: [{ tuple_value: {} }, { dict_value: { fields: { image: tensorSpec('image', imageShape) } } }] } },
        output_signature: { dict_value: { fields: { probs: tensorSpec('probs', [-1, spec.classes]) } } },
      },
    },
  };

  mkdirSync(join(dir, 'variables'), { recursive: true });
  const functions = [serveFunction(), signatureWrapper(), restoreFunction()];
  const savedModel = encodeMessage('SavedModel', {
    saved_model_schema_version: 1,
    meta_graphs: [
      {
        meta_info_def: {
          stripped_op_list: { op: strippedOpList(functions, nodes) },
          tags: ['serve'],
          tensorflow_version: '2.15.0',
          tensorflow_git_version: 'v2.15.0-0-g6887368d6d4',
        },
        graph_def: { node: nodes, library: { function: functions }, versions: { producer: 1645, min_consumer: 12 } },
        saver_def: { filename_tensor_name: 'saver_filename:0', save_tensor_name: 'StatefulPartitionedCall_1:0', restore_op_name: 'StatefulPartitionedCall_2', version: 2 },
        signature_def: {
          serving_default: {
            inputs: { image: { name: 'serving_default_image:0', dtype: F, tensor_shape: shapeProto(imageShape) } },
            outputs: { probs: { name: 'StatefulPartitionedCall:0', dtype: F, tensor_shape: shapeProto([-1, spec.classes]) } },
            method_name: 'tensorflow/serving/predict',
          },
        },
        object_graph_def: encodeSavedObjectGraph(objectGraph),
      },
    ],
  });
  writeFileSync(join(dir, 'saved_model.pb'), savedModel);

  // The checkpoint's object graph lists the same objects in another order: restore matches them by name.
  const order = [0, 4, 3, 2, 1];
  const trackable: TrackableObjectGraph = {
    nodes: order.map((savedId) =>
      savedId === 0
        ? { children: VARIABLES.map((v, i) => ({ node_id: order.indexOf(i + 1), local_name: v })) }
        : { attributes: [{ name: 'VARIABLE_VALUE', full_name: VARIABLES[savedId - 1], checkpoint_key: `${VARIABLES[savedId - 1]}/.ATTRIBUTES/VARIABLE_VALUE` }] },
    ),
  };
  const values = { conv_kernel: weights.convKernel, conv_bias: weights.convBias, dense_kernel: weights.denseKernel, dense_bias: weights.denseBias };
  writeTensorBundle(join(dir, 'variables', 'variables'), [
    ...VARIABLES.map((v) => ({ key: `${v}/.ATTRIBUTES/VARIABLE_VALUE`, dtype: F, shape: shapes[v], values: values[v] })),
    { key: '_CHECKPOINTABLE_OBJECT_GRAPH', dtype: DataType.DT_STRING, shape: [], values: [encodeTrackableObjectGraph(trackable)] },
  ]);
}
