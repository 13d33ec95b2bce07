// Predictions from a Vertex AI endpoint, found from the model name and version that `tensorsky deploy`
// used (or named), as a PredictBackend of @tensorsky/predict-cloud: requests are built and split there.
import { CloudError, checkModelName, checkProjectId, checkRegion, parseModelVersion } from '@tensorsky/cloud-errors';
import { INPUT_FORMAT_LABEL, INPUT_NAME_LABEL, VertexClient, accessTokenFromEnv, modelId, type VertexAuth, type VertexEndpoint } from '@tensorsky/deploy';
import { PredictTargetError, type ModelInput, type PredictBackend } from '@tensorsky/predict-cloud';

export interface VertexTarget {
  projectId: string;
  region: string;
  /** Endpoint ID or resource name; default: the endpoint where modelName's version modelVersion is deployed. */
  endpoint?: string;
  modelName?: string;
  modelVersion?: string;
  apiRoot?: string;
  accessToken?: string;
  auth?: VertexAuth;
}

export class VertexBackend implements PredictBackend {
  private readonly vertex: VertexClient;
  private resolved?: Promise<{ endpoint: string; versionId?: string; input: ModelInput }>;

  constructor(private readonly target: VertexTarget) {
    this.vertex = new VertexClient({
      projectId: checkProjectId(target.projectId),
      region: checkRegion(target.region),
      apiRoot: target.apiRoot,
      auth: target.auth,
      accessToken: target.accessToken ?? accessTokenFromEnv(),
    });
    if (!target.endpoint && !(target.modelName && target.modelVersion)) {
      throw new PredictTargetError('name the Vertex AI endpoint: --endpoint ID, or --model_name and --model_version as given to tensorsky deploy');
    }
  }

  get description(): string {
    return this.target.endpoint
      ? `Vertex AI endpoint ${this.target.endpoint} in ${this.target.region}`
      : `Vertex AI model ${this.target.modelName} version ${this.target.modelVersion} in ${this.target.region}`;
  }

  async describeInput(): Promise<ModelInput> {
    return (await this.resolve()).input;
  }

  async predict(instances: unknown[], timeoutMs?: number): Promise<{ predictions: unknown[]; modelVersion?: string }> {
    const { endpoint, versionId } = await this.resolve();
    const answer = await this.vertex.predict(endpoint, instances, { timeoutMs });
    if (versionId && answer.modelVersionId && answer.modelVersionId !== versionId) {
      throw new PredictTargetError(
        `endpoint ${endpoint} answered with model version ID ${answer.modelVersionId}, not ${versionId} (${this.target.modelVersion}): another version has traffic there; deploy ${this.target.modelVersion} again to move all traffic to it`,
      );
    }
    if (!Array.isArray(answer.predictions)) throw new CloudError(`Vertex AI endpoint ${endpoint} answered without predictions`, 'INTERNAL');
    return { predictions: answer.predictions, modelVersion: answer.modelVersionId ?? undefined };
  }

  private resolve(): Promise<{ endpoint: string; versionId?: string; input: ModelInput }> {
    this.resolved ??= this.findEndpoint();
    return this.resolved;
  }

  private async findEndpoint(): Promise<{ endpoint: string; versionId?: string; input: ModelInput }> {
    const { region, projectId } = this.target;
    if (this.target.endpoint) {
      const endpoint = this.target.endpoint.includes('/') ? this.target.endpoint : `${this.vertex.parent}/endpoints/${this.target.endpoint}`;
      const found = await this.vertex.getEndpoint(endpoint);
      if (!found) throw new PredictTargetError(`no Vertex AI endpoint ${this.target.endpoint} in project ${projectId}, region ${region}; check --endpoint and --region (gcloud ai endpoints list --region ${region})`);
      return { endpoint, input: await this.inputOf(found) };
    }
    const modelName = checkModelName(this.target.modelName!);
    const version = parseModelVersion(this.target.modelVersion!);
    const model = await this.vertex.findModel(modelName);
    if (!model?.name) {
      throw new PredictTargetError(`no Vertex AI model named ${modelName} in project ${projectId}, region ${region}; deploy it with tensorsky deploy, or check --model_name and --region`);
    }
    const modelResource = model.name.replace(/@[^/]*$/, '');
    const modelVersion = await this.vertex.getModel(`${modelResource}@${version.alias}`);
    if (!modelVersion?.versionId) {
      throw new PredictTargetError(`model ${modelName} has no version ${version.alias} in ${region}; deploy it with tensorsky deploy --model_version ${version.name}, or check --model_version`);
    }
    const endpoints = await this.vertex.listEndpoints();
    const hosting = endpoints.find((e) => e.deployedModels?.some((d) => modelId(d.model) === modelId(modelResource) && d.modelVersionId === modelVersion.versionId));
    if (!hosting?.name) {
      throw new PredictTargetError(`model ${modelName} version ${version.alias} is not deployed on any endpoint in ${region}; run tensorsky deploy for it, or give --endpoint`);
    }
    return { endpoint: hosting.name, versionId: modelVersion.versionId, input: labelsInput(modelVersion.labels) };
  }

  /** The input recorded on the model version that has the endpoint's traffic. */
  private async inputOf(endpoint: VertexEndpoint): Promise<ModelInput> {
    const [id] = Object.entries(endpoint.trafficSplit ?? {}).sort((a, b) => b[1] - a[1])[0] ?? [];
    const deployed = endpoint.deployedModels?.find((d) => d.id === id);
    if (!deployed?.model || !deployed.modelVersionId) return {};
    const version = await this.vertex.getModel(`${deployed.model.replace(/@[^/]*$/, '')}@${deployed.modelVersionId}`);
    return labelsInput(version?.labels);
  }
}

/** The input deploy recorded in a model version's labels. */
export function labelsInput(labels: Record<string, string> | null | undefined): ModelInput {
  const format = labels?.[INPUT_FORMAT_LABEL];
  return {
    inputName: labels?.[INPUT_NAME_LABEL],
    inputFormat: format === 'b64' || format === 'bytes' ? format : undefined,
    takesImages: format === 'tensor' ? false : undefined,
  };
}
