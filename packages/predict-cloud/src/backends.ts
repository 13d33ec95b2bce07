// Where predictions come from: a TensorFlow Serving REST API (tensorsky serve, TF Serving, a Vertex AI
// container). Vertex AI endpoints are a backend of @tensorsky/predict-vertex (which alone loads Google's
// libraries). Each backend also says what it knows about the model's input, so requests match its signature.
import { CloudError, checkModelName, toCloudError, type CloudContext } from '@tensorsky/cloud-errors';
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
