// Stops paying for a model on Vertex AI: undeploys its version(s) from the endpoint (traffic moved to
// what stays first, so the endpoint never sends traffic to nothing while something is still deployed),
// then, when asked, deletes the endpoint (only once nothing is deployed on it) and the model or version.
// Everything that would be refused is checked before the first write.
import { accessTokenFromEnv, type VertexAuth } from './auth.js';
import { modelId } from './deploy-vertex.js';
import { DryRunReads } from './dry-run.js';
import { checkModelName, checkProjectId, checkRegion, parseModelVersion } from '@tensorsky/cloud-errors';
import type { RestCall } from './rest-call.js';
import { VertexClient, type DeployedModel, type OperationProgress, type PollOptions, type VertexEndpoint } from './vertex.js';

export class UndeployError extends Error {
  override name = 'UndeployError';
}

export interface VertexUndeployOptions {
  modelName: string;
  /** Only this version (v1, 3, ...); default every version deployed on the endpoint. */
  modelVersion?: string;
  projectId: string;
  region: string;
  /** Endpoint display name; default the model name (as deploy names it). */
  endpointName?: string;
  /** Delete the endpoint afterwards; refused when other models stay deployed on it. */
  deleteEndpoint?: boolean;
  /** Delete the model version (with modelVersion) or the whole model afterwards. */
  deleteModel?: boolean;
  dryRun?: boolean;
  apiRoot?: string;
  auth?: VertexAuth;
  accessToken?: string;
  poll?: PollOptions;
  onCall?: (call: RestCall) => void;
  log?: (line: string) => void;
  /** Progress of each long-running operation as events, instead of log lines. */
  onOperation?: (progress: OperationProgress) => void;
}

export interface VertexUndeployResult {
  /** projects/p/locations/l/models/<id>; undefined when a dry run found nothing. */
  model?: string;
  /** projects/p/locations/l/endpoints/<id>, when the endpoint exists. */
  endpoint?: string;
  undeployed: { deployedModelId: string; modelVersionId: string }[];
  /** The traffic split set before undeploying, when it had to change. */
  trafficSplit?: Record<string, number>;
  deletedEndpoint: boolean;
  /** What was deleted from the model registry: the version `model@id`, or the whole model. */
  deleted?: string;
  dryRun: boolean;
  /** A dry run that could not read the current state (and found nothing to do): why. */
  stateUnreadable?: string;
}

export async function undeployFromVertex(options: VertexUndeployOptions): Promise<VertexUndeployResult> {
  const log = options.log ?? (() => {});
  const modelName = checkModelName(options.modelName);
  const alias = options.modelVersion === undefined ? undefined : parseModelVersion(options.modelVersion).alias;
  const projectId = checkProjectId(options.projectId);
  const region = checkRegion(options.region);
  const dryRun = options.dryRun ?? false;
  const dryRunReads = new DryRunReads(log);
  const vertex = new VertexClient({
    projectId,
    region,
    apiRoot: options.apiRoot,
    auth: options.auth,
    accessToken: options.accessToken ?? accessTokenFromEnv(),
    dryRun,
    dryRunReads,
    onCall: options.onCall,
    poll: options.poll,
    log,
    onOperation: options.onOperation,
  });
  const result: VertexUndeployResult = { undeployed: [], deletedEndpoint: false, dryRun };
  const where = `project ${projectId}, region ${region}`;

  // Read everything first: what to undeploy, where traffic goes, and whether the deletions are allowed.
  const found = await vertex.findModel(modelName);
  if (!found?.name) {
    if (dryRunReads.unreadable !== undefined) return { ...result, stateUnreadable: dryRunReads.unreadable };
    throw new UndeployError(`no Vertex AI model named ${modelName} in ${where}; check --model_name and --region (tensorsky status lists what is deployed)`);
  }
  const model = found.name.replace(/@[^/]*$/, '');
  result.model = model;
  const version = alias === undefined ? undefined : await vertex.getModel(`${model}@${alias}`);
  if (alias !== undefined && !version?.versionId) throw new UndeployError(`model ${modelName} has no version ${alias} in ${where}; check --model_version (tensorsky status lists what is deployed)`);
  const ofModel = (d: DeployedModel) => modelId(d.model) === modelId(model) && (version === undefined || d.modelVersionId === version.versionId);

  const endpointName = options.endpointName ?? modelName;
  const endpoints = await vertex.listEndpoints();
  const endpoint = endpoints.filter((e) => e.displayName === endpointName).sort((a, b) => (b.createTime ?? '').localeCompare(a.createTime ?? ''))[0];
  const deployed = endpoint?.deployedModels ?? [];
  const targets = deployed.filter(ofModel);
  const staying = deployed.filter((d) => !ofModel(d));
  const what = `${modelName}${alias === undefined ? '' : ` ${alias}`}`;
  if (targets.length === 0 && !options.deleteModel && !(options.deleteEndpoint && endpoint)) {
    throw new UndeployError(`${what} is not deployed on endpoint ${endpointName} in ${where}; check --model_version and --endpoint (tensorsky status lists what is deployed)`);
  }
  if (options.deleteEndpoint && endpoint && staying.length > 0) {
    throw new UndeployError(
      `endpoint ${endpointName} still has ${staying.length} other deployed model(s) (${staying.map((d) => `${d.id}: ${d.model}@${d.modelVersionId}`).join(', ')}); undeploy them first, or leave out --delete_endpoint`,
    );
  }
  if (options.deleteModel) {
    // The registry refuses to delete what an endpoint still serves: other endpoints are not touched here.
    const elsewhere = endpoints.filter((e) => e !== endpoint && (e.deployedModels ?? []).some(ofModel)).map((e) => e.displayName ?? e.name);
    if (elsewhere.length > 0) {
      throw new UndeployError(`${what} is also deployed on endpoint(s) ${elsewhere.join(', ')}; undeploy it there first (--endpoint NAME), or leave out --delete_model`);
    }
  }

  if (endpoint?.name) {
    result.endpoint = endpoint.name;
    // The deployment with the most traffic goes last, so it can take the traffic when nothing else stays.
    const current = endpoint.trafficSplit ?? {};
    targets.sort((a, b) => (current[a.id!] ?? 0) - (current[b.id!] ?? 0));
    const split = staying.length > 0 ? trafficWithout(endpoint, targets, staying) : trafficWithout(endpoint, targets.slice(0, -1), targets.slice(-1));
    if (split) {
      await vertex.setTrafficSplit(endpoint.name, split);
      result.trafficSplit = split;
      log(`${dryRun ? 'would move' : 'moved'} the traffic of endpoint ${endpointName} to ${Object.entries(split).map(([id, p]) => `${id} ${p}%`).join(', ')}`);
    }
    for (const target of targets) {
      await vertex.undeployModel(endpoint.name, target.id!);
      result.undeployed.push({ deployedModelId: target.id!, modelVersionId: target.modelVersionId ?? '' });
      log(`${dryRun ? 'would undeploy' : 'undeployed'} deployed model ${target.id} (${modelName} version ID ${target.modelVersionId}) from endpoint ${endpointName}`);
    }
    if (options.deleteEndpoint) {
      await vertex.deleteEndpoint(endpoint.name);
      result.deletedEndpoint = true;
      log(`${dryRun ? 'would delete' : 'deleted'} endpoint ${endpointName} (${endpoint.name})`);
    }
  }
  if (options.deleteModel) {
    // deleteVersion refuses a model's only version: then the model itself goes.
    const versions = version ? await vertex.listModelVersions(model) : [];
    if (version?.versionId && versions.length > 1) {
      await vertex.deleteModelVersion(model, version.versionId);
      result.deleted = `${model}@${version.versionId}`;
    } else {
      await vertex.deleteModel(model);
      result.deleted = model;
    }
    log(`${dryRun ? 'would delete' : 'deleted'} ${result.deleted === model ? `model ${modelName}` : `version ${alias} of ${modelName}`} (${result.deleted})`);
  }
  return { ...result, ...(dryRunReads.unreadable === undefined ? {} : { stateUnreadable: dryRunReads.unreadable }) };
}

/**
 * The split that takes no traffic to `leaving` and keeps the endpoint's share for `keep`: each keeps
 * its share, scaled to 100 (largest remainders, so the integers add up); when none of them had any,
 * the newest takes it all. Undefined when nothing has to change.
 */
export function trafficWithout(endpoint: VertexEndpoint, leaving: DeployedModel[], keep: DeployedModel[]): Record<string, number> | undefined {
  const current = endpoint.trafficSplit ?? {};
  const keepIds = keep.map((d) => d.id!);
  const moving = leaving.reduce((sum, d) => sum + (current[d.id!] ?? 0), 0);
  if (moving === 0 || keepIds.length === 0) return undefined;
  const shares = keepIds.map((id) => current[id] ?? 0);
  const total = shares.reduce((a, b) => a + b, 0);
  if (total === 0) {
    const newest = [...keep].sort((a, b) => (b.createTime ?? '').localeCompare(a.createTime ?? ''))[0].id!;
    return { [newest]: 100 };
  }
  const exact = shares.map((share) => (share * 100) / total);
  const split = exact.map(Math.floor);
  const order = exact.map((value, i) => ({ i, rest: value - split[i] })).sort((a, b) => b.rest - a.rest);
  for (let k = 0; k < 100 - split.reduce((a, b) => a + b, 0); k++) split[order[k].i]++;
  return Object.fromEntries(keepIds.map((id, i) => [id, split[i]]));
}
