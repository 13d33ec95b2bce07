// What is wrong with a call to a model service, in one line: the names checked before it is sent
// (model, version, bucket, project, region) and its failures (Google Cloud JSON APIs, TF Serving REST,
// credentials, networks). No Google Cloud dependency, so the TF Serving client shares it.
export { DeployNameError, checkBucket, checkModelName, checkProjectId, checkRegion, parseGcsFolder, parseModelVersion, type ModelVersion } from './names.js';
export { CloudError, operationError, toCloudError, type CloudContext } from './errors.js';
