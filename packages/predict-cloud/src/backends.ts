// Where predictions come from: a TensorFlow Serving REST API (tensorsky serve, TF Serving, a Vertex AI
// container) or a Vertex AI endpoint, found from the model name and version that `tensorsky deploy` used.
// Each backend also says what it knows about the model's input, so requests match its signature.
import {
  CloudError,
  INPUT_FORMAT_LABEL,
  INPUT_NAME_LABEL,
  VertexClient,
  accessTokenFromEnv,
  checkModelName,
  checkProjectId,
  checkRegion,
  modelId,
  parseModelVersion,
  toCloudError,
  type CloudContext,
  type VertexAuth,
  type VertexEndpoint,
} from '@tensorsky/deploy';
import { isBinaryAlias, type ImageEncoding } from '@tensorsky/saved-model';

export class PredictTargetError extends Error {
  override name = 'PredictTargetError';
}

export interface ModelInput {
  /** Input alias of serving_default, when known. */
  inputName?: string;
  /** TensorFlow dtype of that input, when known. */
  dtype?: string;
  /** False when the signature is known not to take encoded images (numbers, several inputs). */
  takesImages?: boolean;
  /** How the input takes images, when the backend can tell. */
  inputFormat?: ImageEncoding;
  /**
   * What the server says to warn about the model (tensorsky serve's metadata: random weights). Other TF
   * Serving servers and Vertex AI cannot tell, and say nothing.
   */
  warnings?: string[];
}

export interface PredictBackend {
  /** For messages: "TF Serving model m at http://...", "Vertex AI endpoint projects/...". */
  readonly description: string;
  describeInput(): Promise<ModelInput>;
  predict(instances: unknown[], timeoutMs?: number): Promise<{ predictions: unknown[]; modelVersion?: string }>;
}

export interface TfServingTarget {
  kind: 'tf-serving';
  /** http://host:8501 */
  url: string;
  modelName: string;
  /** A version number (3, v3) or a version label (stable); default the latest version. */
  modelVersion?: string;
}

export interface VertexTarget {
  kind: 'vertex';
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

export type PredictTarget = TfServingTarget | VertexTarget;

export function createBackend(target: PredictTarget): PredictBackend {
  return target.kind === 'tf-serving' ? new TfServingBackend(target) : new VertexBackend(target);
}

export class TfServingBackend implements PredictBackend {
  readonly description: string;
  private readonly modelPath: string;
  private readonly context: CloudContext;

  constructor(private readonly target: TfServingTarget) {
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      throw new PredictTargetError(`--url ${target.url} is not a URL; give the server's REST address, e.g. http://localhost:8501`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PredictTargetError(`--url ${target.url} must start with http:// or https://`);
    const name = encodeURIComponent(checkModelName(target.modelName));
    let versionPath = '';
    if (target.modelVersion !== undefined) {
      const number = /^v?(\d+)$/.exec(target.modelVersion)?.[1];
      versionPath = number !== undefined ? `/versions/${Number(number)}` : `/labels/${encodeURIComponent(target.modelVersion)}`;
    }
    this.modelPath = `${target.url.replace(/\/+$/, '')}/v1/models/${name}${versionPath}`;
    this.description = `TF Serving model ${target.modelName}${target.modelVersion ? ` version ${target.modelVersion}` : ''} at ${target.url}`;
    this.context = {
      service: 'TF Serving',
      action: `request to ${this.modelPath}`,
      notFoundHint: `${target.url} does not serve model ${target.modelName}${target.modelVersion ? ` version ${target.modelVersion}` : ''}: check --model_name and --model_version (GET ${target.url}/v1/models/${target.modelName} lists its versions)`,
    };
  }

  async describeInput(): Promise<ModelInput> {
    const body = (await this.request('GET', `${this.modelPath}/metadata`)) as {
      metadata?: {
        signature_def?: { signature_def?: Record<string, { inputs?: Record<string, { dtype?: string }> }> };
        tensorsky?: { warnings?: unknown };
      };
    };
    const given = body.metadata?.tensorsky?.warnings;
    const warnings = Array.isArray(given) ? given.filter((w): w is string => typeof w === 'string') : [];
    const inputs = Object.entries(body.metadata?.signature_def?.signature_def?.serving_default?.inputs ?? {});
    if (inputs.length !== 1) return { takesImages: false, warnings };
    const [inputName, info] = inputs[0];
    const takesImages = info.dtype === 'DT_STRING';
    return { inputName, dtype: info.dtype, takesImages, inputFormat: takesImages && isBinaryAlias(inputName) ? 'bytes' : undefined, warnings };
  }

  async predict(instances: unknown[], timeoutMs?: number): Promise<{ predictions: unknown[] }> {
    const body = (await this.request('POST', `${this.modelPath}:predict`, { instances }, timeoutMs)) as { predictions?: unknown[] };
    if (!Array.isArray(body.predictions)) throw new CloudError(`${this.description} answered without "predictions"; is --url a TF Serving REST API?`, 'INVALID_ARGUMENT');
    return { predictions: body.predictions };
  }

  private async request(method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 60_000): Promise<unknown> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw toCloudError(err, this.context);
    }
    let data: unknown = text;
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page); toCloudError shows the text.
    }
    if (!res.ok) throw toCloudError({ response: { status: res.status, data }, message: text }, this.context);
    if (typeof data !== 'object' || data === null) throw new CloudError(`${url} did not answer with JSON; is --url a TF Serving REST API?`, 'INVALID_ARGUMENT');
    return data;
  }
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

function labelsInput(labels: Record<string, string> | null | undefined): ModelInput {
  const format = labels?.[INPUT_FORMAT_LABEL];
  return {
    inputName: labels?.[INPUT_NAME_LABEL],
    inputFormat: format === 'b64' || format === 'bytes' ? format : undefined,
    takesImages: format === 'tensor' ? false : undefined,
  };
}
