// The tutorial's deployment, on Vertex AI: the SavedModel goes to gs://BUCKET/models/<model>/<version>/,
// becomes a version of the Vertex AI model <model> (alias <version>, and "default"), and is deployed to
// the endpoint <model> with all traffic; versions deployed there before keep serving until the new one
// is live, then are undeployed. Rerunning is safe: existing files, versions and deployments are reused.
import type { Storage } from '@google-cloud/storage';
import { accessTokenFromEnv, createStorage, type VertexAuth } from './auth.js';
import { DryRunReads } from './dry-run.js';
import { uploadModelFiles, type UploadProgress, type UploadReport } from './gcs.js';
import { describeServingInput, listModelFiles, type ServingInput } from './model-files.js';
import { checkBucket, checkModelName, checkProjectId, checkRegion, parseModelVersion } from '@tensorsky/cloud-errors';
import { defaultServingImage, modelPrefix } from './names.js';
import type { RestCall } from './rest-call.js';
import { VertexClient, type DeployedModel, type OperationProgress, type PollOptions, type VertexModel } from './vertex.js';

export const DEFAULT_MACHINE_TYPE = 'n1-standard-2';
/** The autoscaling metric of --autoscaling_cpu_target (DedicatedResources.autoscalingMetricSpecs). */
export const CPU_UTILIZATION_METRIC = 'aiplatform.googleapis.com/prediction/online/cpu/utilization';

/** Labels deploy puts on model versions so clients can build requests without the SavedModel at hand. */
export const INPUT_FORMAT_LABEL = 'tensorsky-input-format';
export const INPUT_NAME_LABEL = 'tensorsky-input-name';

export class DeployConflictError extends Error {
  override name = 'DeployConflictError';
}

export interface VertexDeployOptions {
  modelDir: string;
  modelName: string;
  modelVersion: string;
  projectId: string;
  bucket: string;
  /** Default europe-west1. */
  region?: string;
  /** Endpoint display name; default the model name. */
  endpointName?: string;
  /** Serving container; default Vertex AI's prebuilt TF 2.15 CPU image from the region's registry. */
  servingImage?: string;
  machineType?: string;
  /** Accelerators on each replica, e.g. NVIDIA_TESLA_T4 (MachineSpec.acceleratorType); count default 1. */
  acceleratorType?: string;
  acceleratorCount?: number;
  minReplicas?: number;
  maxReplicas?: number;
  /** Add replicas (up to maxReplicas) above this CPU utilization, percent; Vertex AI's default is 60. */
  autoscalingCpuTarget?: number;
  /** Replace different files in the bucket and re-register a version whose files changed. */
  force?: boolean;
  dryRun?: boolean;
  /** Vertex AI API root (default the regional endpoint) and Cloud Storage JSON API root (default Google's). */
  apiRoot?: string;
  storageEndpoint?: string;
  /** Credentials: an auth client for googleapis, or an access token for both APIs; default ADC (or TENSORSKY_ACCESS_TOKEN). */
  auth?: VertexAuth;
  accessToken?: string;
  storage?: Storage;
  poll?: PollOptions;
  resumableThreshold?: number;
  onCall?: (call: RestCall) => void;
  onProgress?: (progress: UploadProgress) => void;
  log?: (line: string) => void;
  /** Progress of each long-running operation as events, instead of log lines. */
  onOperation?: (progress: OperationProgress) => void;
}

export interface VertexDeployResult {
  artifactUri: string;
  upload: UploadReport;
  servingInput: ServingInput;
  /** projects/p/locations/l/models/<id> */
  model: string;
  modelVersionId: string;
  versionAlias: string;
  /** projects/p/locations/l/endpoints/<id> */
  endpoint: string;
  deployedModelId: string;
  created: { model: boolean; version: boolean; endpoint: boolean; deployment: boolean };
  /** Deployed model IDs of earlier versions taken off the endpoint. */
  undeployed: string[];
  dryRun: boolean;
  /** A dry run that could not read the current state (and planned as for a fresh project): why. */
  stateUnreadable?: string;
}

export async function deployToVertex(options: VertexDeployOptions): Promise<VertexDeployResult> {
  const log = options.log ?? (() => {});
  const modelName = checkModelName(options.modelName);
  const version = parseModelVersion(options.modelVersion);
  const projectId = checkProjectId(options.projectId);
  const bucket = checkBucket(options.bucket);
  const region = checkRegion(options.region ?? 'europe-west1');
  const dryRun = options.dryRun ?? false;
  const accessToken = options.accessToken ?? accessTokenFromEnv();

  const files = await listModelFiles(options.modelDir);
  const servingInput = await describeServingInput(options.modelDir);
  const prefix = modelPrefix(modelName, version);
  const artifactUri = `gs://${bucket}/${prefix}`;

  log(`${dryRun ? 'would upload' : 'uploading'} ${files.length} files to ${artifactUri}`);
  // One for both services: once either cannot be read, the dry run says so once and asks neither again.
  const dryRunReads = new DryRunReads(log);
  const storage =
    options.storage ??
    createStorage({ projectId, apiEndpoint: options.storageEndpoint, accessToken, ...(dryRun ? { timeoutMs: dryRunReads.timeoutMs, autoRetry: false } : {}) });
  const upload = await uploadModelFiles({
    storage,
    bucket,
    prefix,
    files,
    force: options.force,
    dryRun,
    dryRunReads,
    resumableThreshold: options.resumableThreshold,
    onProgress: options.onProgress,
    onCall: options.onCall,
    project: projectId,
  });
  const filesChanged = upload.uploaded.length + upload.replaced.length + upload.deleted.length > 0;
  if (!dryRun) log(`${artifactUri}: ${upload.uploaded.length} uploaded, ${upload.replaced.length} replaced, ${upload.skipped.length} already there, checksums verified`);

  const vertex = new VertexClient({ projectId, region, apiRoot: options.apiRoot, auth: options.auth, accessToken, dryRun, dryRunReads, onCall: options.onCall, poll: options.poll, log, onOperation: options.onOperation });
  const created = { model: false, version: false, endpoint: false, deployment: false };

  // The model version: reuse the one carrying this alias when it was made from these very files.
  const existingModel = await vertex.findModel(modelName);
  const modelResource = existingModel?.name ? unversioned(existingModel.name) : undefined;
  const aliased = modelResource ? await vertex.getModel(`${modelResource}@${version.alias}`) : undefined;
  let model: string;
  let modelVersionId: string;
  if (aliased?.versionId && modelResource && !filesChanged && !options.force && sameFolder(aliased.artifactUri, artifactUri)) {
    model = modelResource;
    modelVersionId = aliased.versionId;
    log(`model ${modelName} version ${version.alias} exists (version ID ${modelVersionId}); reusing it`);
  } else {
    if (aliased?.versionId && !options.force && !sameFolder(aliased.artifactUri, artifactUri)) {
      throw new DeployConflictError(
        `model ${modelName} already has a version ${version.alias} made from ${aliased.artifactUri}; deploy under a new --model_version, or pass --force to move the alias to ${artifactUri}`,
      );
    }
    const body: VertexModel = {
      displayName: modelName,
      artifactUri,
      containerSpec: { imageUri: options.servingImage ?? defaultServingImage(region) },
      versionAliases: [version.alias, 'default'],
      versionDescription: `${modelName} ${version.name}, uploaded by tensorsky deploy from ${artifactUri}`,
      labels: inputLabels(servingInput),
    };
    ({ model, modelVersionId } = await vertex.uploadModel(body, modelResource));
    model = unversioned(model);
    created.model = !modelResource;
    created.version = true;
    log(`${dryRun ? 'would register' : 'registered'} model ${modelName} version ${version.alias} (${model}, version ID ${modelVersionId})`);
  }

  // The endpoint, then the deployment with all traffic on the new version, then the old versions go.
  const endpointName = options.endpointName ?? modelName;
  let endpoint = await vertex.findEndpoint(endpointName);
  if (!endpoint?.name) {
    endpoint = await vertex.createEndpoint(endpointName);
    created.endpoint = true;
    log(`${dryRun ? 'would create' : 'created'} endpoint ${endpointName} (${endpoint.name})`);
  }
  const endpointResource = endpoint.name!;
  const before = endpoint.deployedModels ?? [];
  let deployedModelId: string;
  const already = before.find((d) => modelId(d.model) === modelId(model) && d.modelVersionId === modelVersionId);
  if (already?.id) {
    deployedModelId = already.id;
    if ((endpoint.trafficSplit ?? {})[already.id] !== 100) await vertex.setTrafficSplit(endpointResource, { [already.id]: 100 });
    log(`version ${version.alias} is already deployed on ${endpointName} (deployed model ${deployedModelId}); it has all traffic`);
  } else {
    const deployedModel: DeployedModel = {
      model: `${model}@${modelVersionId}`,
      displayName: `${modelName}-${version.alias}`,
      dedicatedResources: {
        machineSpec: {
          machineType: options.machineType ?? DEFAULT_MACHINE_TYPE,
          ...(options.acceleratorType === undefined ? {} : { acceleratorType: options.acceleratorType, acceleratorCount: options.acceleratorCount ?? 1 }),
        },
        minReplicaCount: options.minReplicas ?? 1,
        maxReplicaCount: options.maxReplicas ?? options.minReplicas ?? 1,
        ...(options.autoscalingCpuTarget === undefined ? {} : { autoscalingMetricSpecs: [{ metricName: CPU_UTILIZATION_METRIC, target: options.autoscalingCpuTarget }] }),
      },
    };
    log(`${dryRun ? 'would deploy' : 'deploying'} ${modelName} ${version.alias} to endpoint ${endpointName} (${deployedModel.dedicatedResources!.machineSpec!.machineType}); this takes several minutes`);
    const deployed = await vertex.deployModel(endpointResource, deployedModel, { '0': 100 });
    deployedModelId = deployed.id!;
    created.deployment = true;
  }
  const undeployed: string[] = [];
  for (const old of before) {
    if (!old.id || old.id === deployedModelId) continue;
    if (modelId(old.model) !== modelId(model)) {
      log(`endpoint ${endpointName} also holds deployed model ${old.id} of another model (${old.model}); leaving it, without traffic`);
      continue;
    }
    await vertex.undeployModel(endpointResource, old.id);
    undeployed.push(old.id);
    log(`${dryRun ? 'would undeploy' : 'undeployed'} the previous deployment ${old.id} (version ID ${old.modelVersionId})`);
  }
  return {
    artifactUri,
    upload,
    servingInput,
    model,
    modelVersionId,
    versionAlias: version.alias,
    endpoint: endpointResource,
    deployedModelId,
    created,
    undeployed,
    dryRun,
    ...(dryRunReads.unreadable === undefined ? {} : { stateUnreadable: dryRunReads.unreadable }),
  };
}

/** Labels recording how serving_default takes its input (label values: lowercase, digits, _ and -). */
function inputLabels(input: ServingInput): Record<string, string> {
  const labels: Record<string, string> = { [INPUT_FORMAT_LABEL]: input.format };
  if (input.inputName && /^[a-z0-9_-]{1,63}$/.test(input.inputName)) labels[INPUT_NAME_LABEL] = input.inputName;
  return labels;
}

/** Resource names may carry a version (m@3); list answers may use the project number instead of its ID. */
function unversioned(name: string): string {
  return name.replace(/@[^/]*$/, '');
}

export function modelId(name: string | null | undefined): string | undefined {
  return name ? /\/models\/([^/@]+)/.exec(name)?.[1] : undefined;
}

function sameFolder(a: string | null | undefined, b: string): boolean {
  return !!a && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
