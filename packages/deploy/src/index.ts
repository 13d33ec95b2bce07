export { defaultServingImage, modelPrefix } from './names.js';
export { formatRestCall, type RestCall } from './rest-call.js';
export { DRY_RUN_READ_TIMEOUT_MS, DryRunReads } from './dry-run.js';
export { ACCESS_TOKEN_ENV, accessTokenFromEnv, createStorage, vertexAuth, type StorageClientOptions, type VertexAuth } from './auth.js';
export { ModelDirError, describeServingInput, listModelFiles, type InputFormat, type LocalFile, type ServingInput } from './model-files.js';
export {
  DEFAULT_RESUMABLE_THRESHOLD,
  UploadConflictError,
  UploadVerificationError,
  uploadModelFiles,
  verifyUpload,
  type UploadOptions,
  type UploadProgress,
  type UploadReport,
} from './gcs.js';
export {
  DRY_RUN_PLACEHOLDER,
  VertexClient,
  formatElapsed,
  type BatchPredictionJob,
  type DeployedModel,
  type OperationProgress,
  type PollOptions,
  type PredictResponse,
  type VertexEndpoint,
  type VertexModel,
  type VertexOptions,
} from './vertex.js';
export {
  CPU_UTILIZATION_METRIC,
  DEFAULT_MACHINE_TYPE,
  DeployConflictError,
  INPUT_FORMAT_LABEL,
  INPUT_NAME_LABEL,
  deployToVertex,
  modelId,
  type VertexDeployOptions,
  type VertexDeployResult,
} from './deploy-vertex.js';
export { UndeployError, trafficWithout, undeployFromVertex, type VertexUndeployOptions, type VertexUndeployResult } from './undeploy-vertex.js';
export { StatusError, vertexStatus, type DeployedModelStatus, type EndpointStatus, type VertexStatusOptions } from './status-vertex.js';
export { PublishConflictError, publishLocal, type LocalPublishOptions, type LocalPublishResult } from './publish-local.js';
export { CloudSettingsError, DEFAULT_REGION, resolveCloudSettings, type CloudSetting, type CloudSettings, type CloudSettingsOptions } from './cloud-settings.js';
export { ModelSyncError, syncModelRepository, type ModelSyncOptions, type ModelSyncReport } from './gcs-sync.js';
