// ONNX's model messages (schema in ../../proto/onnx.proto, the subset of onnx.proto3 we write), loaded
// with protobufjs like @tensorsky/saved-model's TensorFlow schema. Field names are ONNX's own.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// src/onnx/ and dist/onnx/ are both two levels below the package root, where proto/ is.
const schemaPath = fileURLToPath(new URL('../../proto/onnx.proto', import.meta.url));
let root: protobuf.Root | undefined;

export function onnxMessageType(name: 'ModelProto' | 'TensorProto' | 'NodeProto' | 'GraphProto'): protobuf.Type {
  root ??= new protobuf.Root().loadSync(schemaPath, { keepCase: true });
  return root.lookupType(`onnx.${name}`);
}

/** onnx.TensorProto.DataType. */
export enum OnnxDataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
}

/** onnx.AttributeProto.AttributeType. */
export enum AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
}

export interface TensorProto {
  name?: string;
  dims?: number[];
  data_type?: OnnxDataType;
  raw_data?: Uint8Array;
  string_data?: Uint8Array[];
}

export interface AttributeProto {
  name: string;
  type: AttributeType;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
}

export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: OnnxDataType; shape?: { dim: DimensionProto[] } } };
  doc_string?: string;
}

export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: { domain?: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph: GraphProto;
}
