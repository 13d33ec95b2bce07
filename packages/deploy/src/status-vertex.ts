// What is deployed on Vertex AI, and what it costs to keep: every endpoint of the region with its
// deployed models (model, version ID, aliases), its traffic split and the replicas each runs on.
import { accessTokenFromEnv, type VertexAuth } from './auth.js';
import { CPU_UTILIZATION_METRIC, modelId } from './deploy-vertex.js';
import { checkModelName, checkProjectId, checkRegion } from '@tensorsky/cloud-errors';
import { VertexClient, type VertexModel } from './vertex.js';

export interface VertexStatusOptions {
  projectId: string;
  region: string;
  /** Only the endpoints where this model is deployed. */
  modelName?: string;
  apiRoot?: string;
  auth?: VertexAuth;
  accessToken?: string;
}

export interface DeployedModelStatus {
  /** Deployed model ID (the key of the traffic split). */
  id: string;
  /** projects/p/locations/l/models/<id> */
  model: string;
  modelName?: string;
  modelVersionId: string;
  versionAliases: string[];
  /** Percent of the endpoint's traffic. */
  traffic: number;
  machineType?: string;
  acceleratorType?: string;
  acceleratorCount?: number;
  minReplicaCount?: number;
  maxReplicaCount?: number;
  /** Autoscaling target of CPU utilization, percent, when set. */
  cpuTarget?: number;
}

export interface EndpointStatus {
  /** projects/p/locations/l/endpoints/<id> */
  name: string;
  displayName: string;
  trafficSplit: Record<string, number>;
  deployedModels: DeployedModelStatus[];
}

export class StatusError extends Error {
  override name = 'StatusError';
}

export async function vertexStatus(options: VertexStatusOptions): Promise<EndpointStatus[]> {
  const projectId = checkProjectId(options.projectId);
  const region = checkRegion(options.region);
  const vertex = new VertexClient({ projectId, region, apiRoot: options.apiRoot, auth: options.auth, accessToken: options.accessToken ?? accessTokenFromEnv() });
  let only: string | undefined;
  if (options.modelName !== undefined) {
    const found = await vertex.findModel(checkModelName(options.modelName));
    if (!found?.name) throw new StatusError(`no Vertex AI model named ${options.modelName} in project ${projectId}, region ${region}; check --model_name and --region`);
    only = modelId(found.name);
  }
  const versions = new Map<string, Promise<VertexModel | undefined>>();
  const version = (model: string, versionId: string) => {
    const key = `${model}@${versionId}`;
    if (!versions.has(key)) versions.set(key, vertex.getModel(key));
    return versions.get(key)!;
  };
  const endpoints = (await vertex.listEndpoints())
    .filter((e) => only === undefined || (e.deployedModels ?? []).some((d) => modelId(d.model) === only))
    .sort((a, b) => (a.displayName ?? '').localeCompare(b.displayName ?? ''));
  return Promise.all(
    endpoints.map(async (endpoint): Promise<EndpointStatus> => {
      const split = endpoint.trafficSplit ?? {};
      const deployedModels = await Promise.all(
        (endpoint.deployedModels ?? []).map(async (d): Promise<DeployedModelStatus> => {
          const info = d.model && d.modelVersionId ? await version(d.model, d.modelVersionId) : undefined;
          const resources = d.dedicatedResources;
          const cpu = resources?.autoscalingMetricSpecs?.find((s) => s.metricName === CPU_UTILIZATION_METRIC);
          return {
            id: d.id ?? '',
            model: d.model ?? '',
            ...(info?.displayName ? { modelName: info.displayName } : {}),
            modelVersionId: d.modelVersionId ?? '',
            versionAliases: info?.versionAliases ?? [],
            traffic: split[d.id ?? ''] ?? 0,
            ...defined({
              machineType: resources?.machineSpec?.machineType,
              acceleratorType: resources?.machineSpec?.acceleratorType,
              acceleratorCount: resources?.machineSpec?.acceleratorCount,
              minReplicaCount: resources?.minReplicaCount,
              maxReplicaCount: resources?.maxReplicaCount,
              cpuTarget: cpu?.target,
            }),
          };
        }),
      );
      // The deployment with the most traffic first.
      deployedModels.sort((a, b) => b.traffic - a.traffic);
      return { name: endpoint.name ?? '', displayName: endpoint.displayName ?? '', trafficSplit: split, deployedModels };
    }),
  );
}

/** The fields that have a value (the API leaves out, or nulls, what is not set). */
function defined<T extends Record<string, unknown>>(fields: T): Partial<{ [K in keyof T]: NonNullable<T[K]> }> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null)) as Partial<{ [K in keyof T]: NonNullable<T[K]> }>;
}
