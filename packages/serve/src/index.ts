// @tensorsky/serve: a TensorFlow Serving-compatible server (REST and gRPC) for SavedModels, with a model
// repository (versions, policies, labels), zero-downtime version switches, dynamic batching and engine workers.
export { startServer, ServeStartError, type ModelServer, type ServeOptions } from './server.js';
export {
  readModelConfigFile,
  parseModelConfig,
  modelConfigsFromObject,
  modelNameProblem,
  ModelConfigError,
  DEFAULT_VERSION_POLICY,
  type ModelConfig,
  type VersionPolicy,
} from './model-config.js';
export { listVersionDirs, aspiredVersions, type VersionDir } from './repository.js';
export {
  readSignatureMetadata,
  type CreateEngine,
  type Engine,
  type LoadedModel,
  type SignatureMap,
  type SignatureMetadata,
  type TensorInfoMetadata,
} from './engine.js';
export type { DType, Tensor } from './tensor.js';
export type { ModelVersionStatus, VersionState } from './manager.js';
export { ServeError } from './errors.js';
export { METRICS_PATH, HEALTH_PATH } from './http.js';
export { ConfigFileError } from './text-format.js';
export { readBatchingParametersFile, parseBatchingParameters, TF_BATCHING_DEFAULTS, type BatchingParameters } from './batching-parameters.js';
export { readMonitoringConfigFile, parseMonitoringConfig, type MonitoringConfig } from './monitoring-config.js';
export { SERVING_PROTO_DIR, PREDICTION_SERVICE, MODEL_SERVICE, serviceDefinition, servingType } from './grpc-proto.js';
export { WARMUP_FILE, MAX_WARMUP_RECORDS, warmupFileBytes, type WarmupPredictRequest } from './warmup.js';
