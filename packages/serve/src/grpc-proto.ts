// TF Serving's gRPC API (../proto/tensorflow_serving/apis, importing saved-model's tensorflow.proto) as
// protobufjs types and @grpc/grpc-js service definitions, shared by the server and by clients (tests).
import { fileURLToPath } from 'node:url';
import type { MethodDefinition } from '@grpc/grpc-js';
import { EXAMPLE_PROTO_DIR, TENSORFLOW_PROTO_DIR, type Int64, type SignatureDef, type TensorProto } from '@tensorsky/saved-model';
import protobuf from 'protobufjs';

/**
 * The folder of TF Serving's .proto files (tensorflow_serving/apis/*.proto); they import "tensorflow.proto"
 * from TENSORFLOW_PROTO_DIR and "tensorflow/core/example/*.proto" from EXAMPLE_PROTO_DIR.
 */
export const SERVING_PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));

const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  if (target.startsWith('/') || target.startsWith('google/protobuf/')) return target;
  if (target.startsWith('tensorflow/core/example/')) return EXAMPLE_PROTO_DIR + target;
  return (target === 'tensorflow.proto' ? TENSORFLOW_PROTO_DIR : SERVING_PROTO_DIR) + target;
};
root.loadSync(
  ['model_service.proto', 'prediction_service.proto', 'internal/serialized_input.proto'].map((f) => `${SERVING_PROTO_DIR}tensorflow_serving/apis/${f}`),
  { keepCase: true },
);
root.resolveAll();

export interface ModelSpec {
  name?: string;
  version?: { value?: Int64 } | null;
  version_label?: string;
  signature_name?: string;
}

export interface PredictRequest {
  model_spec?: ModelSpec | null;
  inputs?: Record<string, TensorProto>;
  output_filter?: string[];
}

export interface PredictResponse {
  model_spec: ModelSpec;
  outputs: Record<string, TensorProto>;
}

export interface GetModelMetadataRequest {
  model_spec?: ModelSpec | null;
  metadata_field?: string[];
}

export interface GetModelMetadataResponse {
  model_spec: ModelSpec;
  metadata: Record<string, { type_url: string; value: Uint8Array }>;
}

export interface GetModelStatusRequest {
  model_spec?: ModelSpec | null;
}

export interface GetModelStatusResponse {
  model_version_status: { version: Int64; state: number; status: { error_code: number; error_message: string } }[];
}

/** tensorflow.serving.internal.SerializedInput as decoded: each Example still the bytes the client sent. */
export interface SerializedInput {
  example_list?: { examples?: Uint8Array[] } | null;
  example_list_with_context?: { examples?: Uint8Array[]; context?: Uint8Array } | null;
}

/** ClassificationRequest and RegressionRequest as the server decodes them (SerializedExampleRequest). */
export interface SerializedExampleRequest {
  model_spec?: ModelSpec | null;
  input?: SerializedInput | null;
}

/** MultiInferenceRequest as the server decodes it. */
export interface SerializedMultiInferenceRequest {
  tasks?: { model_spec?: ModelSpec | null; method_name?: string }[];
  input?: SerializedInput | null;
}

export interface ClassificationResponse {
  model_spec: ModelSpec;
  result: { classifications: { classes: { label: string; score: number }[] }[] };
}

export interface RegressionResponse {
  model_spec: ModelSpec;
  result: { regressions: { value: number }[] };
}

export interface MultiInferenceResponse {
  results: ({ model_spec: ModelSpec } & (
    | { classification_result: ClassificationResponse['result'] }
    | { regression_result: RegressionResponse['result'] }
  ))[];
}

/**
 * Requests whose tf.Examples the server keeps serialized, decoded with wire-compatible messages
 * (TF Serving's SerializedInput): the Examples go to the signature as bytes, as TF Serving feeds them.
 */
const SERVER_REQUEST_TYPES: Record<string, string> = {
  Classify: 'tensorflow.serving.internal.SerializedExampleRequest',
  Regress: 'tensorflow.serving.internal.SerializedExampleRequest',
  MultiInference: 'tensorflow.serving.internal.SerializedMultiInferenceRequest',
};

export interface ReloadConfigRequest {
  /** A tensorflow.serving.ModelServerConfig message, as decoded. */
  config?: object | null;
  metric_names?: string[];
}

export interface ReloadConfigResponse {
  status: { error_code: number; error_message: string };
  metric: { name: string; int64_value_increase: number }[];
}

export const PREDICTION_SERVICE = 'tensorflow.serving.PredictionService';
export const MODEL_SERVICE = 'tensorflow.serving.ModelService';

export function servingType(name: string): protobuf.Type {
  return root.lookupType(name);
}

export function servingEnum(name: string): protobuf.Enum {
  return root.lookupEnum(name);
}

/** The wire form of the "signature_def" metadata: a SignatureDefMap, packed as an Any. */
export function packSignatureDefMap(signatureDef: Record<string, SignatureDef>): { type_url: string; value: Uint8Array } {
  const type = servingType('tensorflow.serving.SignatureDefMap');
  return { type_url: `type.googleapis.com/${type.fullName.slice(1)}`, value: type.encode({ signature_def: signatureDef }).finish() };
}

/**
 * A service of the schema as grpc-js wants it: each method's path and (de)serializers. Messages are
 * encoded from plain objects with numeric enums and decoded to protobufjs messages (int64 as Long).
 * Requests with tf.Examples decode (server side) with their Examples left serialized.
 */
export function serviceDefinition(service: string): Record<string, MethodDefinition<object, object>> {
  const definition: Record<string, MethodDefinition<object, object>> = {};
  for (const method of Object.values(root.lookupService(service).methods)) {
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    definition[method.name] = {
      path: `/${service}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m) => Buffer.from(request.encode(m).finish()),
      requestDeserialize: (b) => (SERVER_REQUEST_TYPES[method.name] ? root.lookupType(SERVER_REQUEST_TYPES[method.name]) : request).decode(b),
      responseSerialize: (m) => Buffer.from(response.encode(m).finish()),
      responseDeserialize: (b) => response.decode(b),
      originalName: method.name,
    };
  }
  return definition;
}
