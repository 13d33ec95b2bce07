// Typed access to TensorFlow's SavedModel protobuf messages (schema in ../proto/tensorflow.proto).
// Field names are TensorFlow's own (snake_case), so objects here read like TensorFlow's docs and pbtxt.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type Long from 'long';

/** The folder of tensorflow.proto, for schemas that import it (TF Serving's APIs in @tensorsky/serve). */
export const TENSORFLOW_PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));
const schemaPath = `${TENSORFLOW_PROTO_DIR}tensorflow.proto`;
const root = new protobuf.Root().loadSync(schemaPath, { keepCase: true });

/** int64 fields decode as Long (exact); numbers are accepted when encoding. */
export type Int64 = number | Long;

export function int64ToNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** tensorflow.DataType, values from types.proto. */
export enum DataType {
  DT_INVALID = 0,
  DT_FLOAT = 1,
  DT_DOUBLE = 2,
  DT_INT32 = 3,
  DT_UINT8 = 4,
  DT_INT16 = 5,
  DT_INT8 = 6,
  DT_STRING = 7,
  DT_COMPLEX64 = 8,
  DT_INT64 = 9,
  DT_BOOL = 10,
  DT_QINT8 = 11,
  DT_QUINT8 = 12,
  DT_QINT32 = 13,
  DT_BFLOAT16 = 14,
  DT_QINT16 = 15,
  DT_QUINT16 = 16,
  DT_UINT16 = 17,
  DT_COMPLEX128 = 18,
  DT_HALF = 19,
  DT_RESOURCE = 20,
  DT_VARIANT = 21,
  DT_UINT32 = 22,
  DT_UINT64 = 23,
  DT_FLOAT8_E5M2 = 24,
  DT_FLOAT8_E4M3FN = 25,
  DT_FLOAT8_E4M3FNUZ = 26,
  DT_FLOAT8_E4M3B11FNUZ = 27,
  DT_FLOAT8_E5M2FNUZ = 28,
  DT_INT4 = 29,
  DT_UINT4 = 30,
}

/** Reference types are the base type + 100 (TF1 ref variables). */
export const REF_OFFSET = 100;

/** "DT_FLOAT" for 1, "DT_FLOAT_REF" for 101, "DT_<n>" for values this schema does not know. */
export function dataTypeName(t: number): string {
  if (t > REF_OFFSET && DataType[t - REF_OFFSET]) return `${DataType[t - REF_OFFSET]}_REF`;
  return DataType[t] ?? `DT_<${t}>`;
}

/** Parses "DT_FLOAT" (or "float") to its enum value; undefined when unknown. */
export function parseDataType(name: string): DataType | undefined {
  const key = name.startsWith('DT_') ? name : `DT_${name.toUpperCase()}`;
  const v = (DataType as unknown as Record<string, number>)[key];
  return typeof v === 'number' ? (v as DataType) : undefined;
}

export interface TensorShapeProto {
  dim?: { size?: Int64; name?: string }[];
  unknown_rank?: boolean;
}

export interface ResourceHandleProto {
  device?: string;
  container?: string;
  name?: string;
  hash_code?: Int64;
  maybe_type_name?: string;
  dtypes_and_shapes?: { dtype?: DataType; shape?: TensorShapeProto }[];
}

export interface TensorProto {
  dtype?: DataType;
  tensor_shape?: TensorShapeProto;
  version_number?: number;
  tensor_content?: Uint8Array;
  half_val?: number[];
  float_val?: number[];
  double_val?: number[];
  int_val?: number[];
  string_val?: Uint8Array[];
  scomplex_val?: number[];
  int64_val?: Int64[];
  bool_val?: boolean[];
  dcomplex_val?: number[];
  resource_handle_val?: ResourceHandleProto[];
  variant_val?: { type_name?: string; metadata?: Uint8Array; tensors?: TensorProto[] }[];
  uint32_val?: number[];
  uint64_val?: Int64[];
  float8_val?: Uint8Array;
}

export interface NameAttrList {
  name?: string;
  attr?: Record<string, AttrValue>;
}

export interface AttrValueList {
  s?: Uint8Array[];
  i?: Int64[];
  f?: number[];
  b?: boolean[];
  type?: DataType[];
  shape?: TensorShapeProto[];
  tensor?: TensorProto[];
  func?: NameAttrList[];
}

/** A oneof: exactly one of these is set. */
export interface AttrValue {
  s?: Uint8Array;
  i?: Int64;
  f?: number;
  b?: boolean;
  type?: DataType;
  shape?: TensorShapeProto;
  tensor?: TensorProto;
  list?: AttrValueList;
  func?: NameAttrList;
  placeholder?: string;
}

export interface FullTypeDef {
  type_id?: number;
  args?: FullTypeDef[];
  s?: string;
  i?: Int64;
}

export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrValue>;
  experimental_debug_info?: { original_node_names?: string[]; original_func_names?: string[] };
  experimental_type?: FullTypeDef;
}

export interface ArgDef {
  name: string;
  description?: string;
  type?: DataType;
  type_attr?: string;
  number_attr?: string;
  type_list_attr?: string;
  handle_data?: { dtype?: DataType; shape?: TensorShapeProto }[];
  is_ref?: boolean;
  experimental_full_type?: FullTypeDef;
}

export interface AttrDef {
  name: string;
  type: string;
  default_value?: AttrValue;
  description?: string;
  has_minimum?: boolean;
  minimum?: Int64;
  allowed_values?: AttrValue;
}

export interface OpDef {
  name: string;
  input_arg?: ArgDef[];
  output_arg?: ArgDef[];
  control_output?: string[];
  attr?: AttrDef[];
  deprecation?: { version?: number; explanation?: string };
  summary?: string;
  description?: string;
  is_commutative?: boolean;
  is_aggregate?: boolean;
  is_stateful?: boolean;
  allows_uninitialized_input?: boolean;
  is_distributed_communication?: boolean;
}

export interface FunctionDef {
  signature?: OpDef;
  attr?: Record<string, AttrValue>;
  arg_attr?: { key?: number; value?: { attr?: Record<string, AttrValue> } }[];
  resource_arg_unique_id?: { key?: number; value?: number }[];
  node_def?: NodeDef[];
  ret?: Record<string, string>;
  control_ret?: Record<string, string>;
}

export interface FunctionDefLibrary {
  function?: FunctionDef[];
  gradient?: { function_name?: string; gradient_func?: string }[];
  registered_gradients?: { gradient_func?: string; registered_op_type?: string }[];
}

export interface VersionDef {
  producer?: number;
  min_consumer?: number;
  bad_consumers?: number[];
}

export interface GraphDef {
  node?: NodeDef[];
  versions?: VersionDef;
  version?: number;
  library?: FunctionDefLibrary;
  /** GraphDebugInfo, kept as raw bytes. */
  debug_info?: Uint8Array;
}

export interface SaverDef {
  filename_tensor_name?: string;
  save_tensor_name?: string;
  restore_op_name?: string;
  max_to_keep?: number;
  sharded?: boolean;
  keep_checkpoint_every_n_hours?: number;
  /** 0 LEGACY, 1 V1, 2 V2 */
  version?: number;
}

export interface TensorInfo {
  name?: string;
  coo_sparse?: { values_tensor_name?: string; indices_tensor_name?: string; dense_shape_tensor_name?: string };
  composite_tensor?: { type_spec?: Uint8Array; components?: TensorInfo[] };
  dtype?: DataType;
  tensor_shape?: TensorShapeProto;
}

export interface SignatureDef {
  inputs?: Record<string, TensorInfo>;
  outputs?: Record<string, TensorInfo>;
  method_name?: string;
  defaults?: Record<string, TensorProto>;
}

export interface AnyProto {
  type_url?: string;
  value?: Uint8Array;
}

export interface CollectionDef {
  node_list?: { value?: string[] };
  bytes_list?: { value?: Uint8Array[] };
  int64_list?: { value?: Int64[] };
  float_list?: { value?: number[] };
  any_list?: { value?: AnyProto[] };
}

export interface MetaInfoDef {
  meta_graph_version?: string;
  stripped_op_list?: { op?: OpDef[] };
  any_info?: AnyProto;
  tags?: string[];
  tensorflow_version?: string;
  tensorflow_git_version?: string;
  stripped_default_attrs?: boolean;
  function_aliases?: Record<string, string>;
}

export interface AssetFileDef {
  tensor_info?: TensorInfo;
  filename?: string;
}

export interface MetaGraphDef {
  meta_info_def?: MetaInfoDef;
  graph_def?: GraphDef;
  saver_def?: SaverDef;
  collection_def?: Record<string, CollectionDef>;
  signature_def?: Record<string, SignatureDef>;
  asset_file_def?: AssetFileDef[];
  /** SavedObjectGraph (TF2 object graph), kept as raw bytes. */
  object_graph_def?: Uint8Array;
}

export interface SavedModel {
  saved_model_schema_version?: Int64;
  meta_graphs?: MetaGraphDef[];
}

export interface BundleHeaderProto {
  num_shards?: number;
  /** 0 LITTLE, 1 BIG */
  endianness?: number;
  version?: VersionDef;
}

export interface BundleEntryProto {
  dtype?: DataType;
  shape?: TensorShapeProto;
  shard_id?: number;
  offset?: Int64;
  size?: Int64;
  crc32c?: number;
  slices?: { extent?: { start?: Int64; length?: Int64 }[] }[];
}

/** Message names this package encodes and decodes, mapped to their TypeScript shapes. */
export interface MessageTypes {
  SavedModel: SavedModel;
  MetaGraphDef: MetaGraphDef;
  GraphDef: GraphDef;
  NodeDef: NodeDef;
  AttrValue: AttrValue;
  TensorProto: TensorProto;
  TensorShapeProto: TensorShapeProto;
  SignatureDef: SignatureDef;
  OpDef: OpDef;
  OpList: { op?: OpDef[] };
  FunctionDef: FunctionDef;
  BundleHeaderProto: BundleHeaderProto;
  BundleEntryProto: BundleEntryProto;
}

export type MessageName = keyof MessageTypes;

export function messageType(name: MessageName): protobuf.Type {
  return root.lookupType(`tensorflow.${name}`);
}

/** Decodes protobuf bytes; throws protobufjs's error on malformed input (callers add context). */
export function decodeMessage<N extends MessageName>(name: N, bytes: Uint8Array): MessageTypes[N] {
  return messageType(name).decode(bytes) as unknown as MessageTypes[N];
}

export function encodeMessage<N extends MessageName>(name: N, message: MessageTypes[N]): Uint8Array {
  return messageType(name).encode(message as unknown as protobuf.Message).finish();
}

/** Plain JSON view (enums as names, int64 and bytes as strings), as TensorFlow's JSON would show them. */
export function messageToJSON<N extends MessageName>(name: N, message: MessageTypes[N]): Record<string, unknown> {
  const type = messageType(name);
  return type.toObject(message as unknown as protobuf.Message, { enums: String, longs: String, bytes: String });
}
