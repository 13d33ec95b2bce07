// TF Serving's API's meaning, free of HTTP and gRPC details: model status, metadata and predict (plus
// the Vertex AI predict shape), on top of the version manager and the batching queue. The REST front
// (http.ts) and the gRPC front (grpc.ts) both call it.
import { ImageInputError, checkRequestImages, type ImageLimits } from '@tensorsky/image';
import { Base64Error, decodeBase64WebSafe, type ImageEncoding } from '@tensorsky/saved-model';
import type { BatchingQueue } from './batching.js';
import type { SignatureMap, SignatureMetadata } from './engine.js';
import { ServeError, invalidArgument, notFound, shown } from './errors.js';
import { predictResponse, readPredictRequest, requestTensors } from './json-tensor.js';
import type { ModelManager, ModelVersionStatus, VersionSpec } from './manager.js';
import type { Tensor } from './tensor.js';
import { versionKey } from './workers.js';

export const DEFAULT_SIGNATURE = 'serving_default';

/** A Vertex AI endpoint as its URL names it: projects/{project}/locations/{location}/endpoints/{id}. */
export interface VertexEndpoint {
  project: string;
  location: string;
  id: string;
}

export interface PredictResult {
  body: Record<string, unknown>;
  version: number;
}

export interface RunRequest {
  model: string;
  spec: VersionSpec;
  /** "" for serving_default. */
  signatureName: string;
  inputs: (signature: SignatureMetadata, signatureName: string) => Record<string, Tensor>;
  outputFilter?: readonly string[];
  signal?: AbortSignal;
  /** The error for a signature the version lacks, where the API's differs from Predict's (Classify: INVALID_ARGUMENT). */
  signatureNotFound?: (signatureName: string) => ServeError;
}

export interface RunResult {
  outputs: Record<string, Tensor>;
  version: number;
  signatureName: string;
}

/** The output aliases to return, checked as TF Serving's PreProcessPrediction checks output_filter. */
function selectedOutputs(signature: SignatureMetadata, outputFilter: readonly string[]): string[] {
  const all = Object.keys(signature.outputs);
  const seen = new Set<string>();
  for (const alias of outputFilter) {
    if (!(alias in signature.outputs)) {
      throw invalidArgument(`output tensor alias not found in signature: ${alias} Outputs expected to be in the set {${all.join(',')}}.`);
    }
    if (seen.has(alias)) throw invalidArgument(`duplicate output tensor alias: ${alias}`);
    seen.add(alias);
  }
  return seen.size > 0 ? [...seen] : all;
}

export class PredictionService {
  constructor(
    private readonly manager: ModelManager,
    private readonly batching: BatchingQueue,
    /** Checked on a request's images as a whole, before it is split into jobs of max_batch_size. */
    private readonly imageLimits: ImageLimits,
    /** Engine workers being started in place of ones that died or failed. */
    private readonly replacements: () => number = () => 0,
  ) {}

  /** GET /v1/models/{m}[/versions/{v}|/labels/{l}] */
  modelStatus(model: string, spec: VersionSpec): Record<string, unknown> {
    return { model_version_status: this.versionStatuses(model, spec) };
  }

  /** The statuses of a model's versions (all of them, or the one `spec` names), newest first. */
  versionStatuses(model: string, spec: VersionSpec): ModelVersionStatus[] {
    return this.manager.status(model, spec);
  }

  /** The signatures of the version `spec` resolves to (gRPC's GetModelMetadata). */
  versionSignatures(model: string, spec: VersionSpec): { version: number; signatures: SignatureMap } {
    const lease = this.manager.acquire(model, spec);
    lease.release();
    return { version: lease.version, signatures: lease.signatures };
  }

  /**
   * GET .../metadata: the signature_def map of the version the spec resolves to. A version exported by
   * tensorsky also gets metadata.tensorsky: {provenance, warnings}. TF Serving's metadata is a map of
   * named fields, so clients reading signature_def are unaffected; TensorFlow's own models get exactly
   * TF Serving's answer.
   */
  modelMetadata(model: string, spec: VersionSpec): Record<string, unknown> {
    const lease = this.manager.acquire(model, spec);
    try {
      const { provenance, warnings } = lease.provenance;
      return {
        model_spec: { name: model, signature_name: '', version: String(lease.version) },
        metadata: {
          signature_def: { signature_def: lease.signatures },
          ...(provenance || warnings.length > 0 ? { tensorsky: { ...(provenance ? { provenance } : {}), warnings } } : {}),
        },
      };
    } finally {
      lease.release();
    }
  }

  /**
   * POST ...:predict with a TF Serving body (row "instances" or columnar "inputs"). When `signal` aborts
   * (client gone, deadline passed), the request fails with its reason and its work not yet started is dropped.
   */
  async predict(model: string, spec: VersionSpec, body: unknown, signal?: AbortSignal): Promise<PredictResult> {
    const request = readPredictRequest(body);
    const result = await this.runSignature({ model, spec, signatureName: request.signatureName, inputs: (signature, name) => requestTensors(request, signature, name), signal });
    return { body: predictResponse(request.format, result.outputs), version: result.version };
  }

  /**
   * Runs a signature of the version `spec` resolves to: what REST's :predict and gRPC's Predict share.
   * `inputs` builds the tensors once the signature is known; outputs come in the signature's order,
   * only those of `outputFilter` when it is given (TF Serving's PredictRequest.output_filter).
   */
  async runSignature(request: RunRequest): Promise<RunResult> {
    const { model, spec, signal, outputFilter = [] } = request;
    const lease = this.manager.acquire(model, spec);
    try {
      const signatureName = request.signatureName || DEFAULT_SIGNATURE;
      const signature = lease.signatures[signatureName];
      if (!signature) {
        if (request.signatureNotFound) throw request.signatureNotFound(signatureName);
        // TF Serving's gRPC Predict answers FAILED_PRECONDITION (predict_util.cc), its REST API 400
        // (InvalidArgument from HttpRestApiHandler::GetInfoMap; http_server.cc maps both to BAD_REQUEST).
        const known = Object.keys(lease.signatures).join(', ');
        const message = `Serving signature name: "${shown(signatureName)}" not found in signature def of model ${model} version ${lease.version}; it has: ${known}`;
        throw new ServeError(400, message, 'FAILED_PRECONDITION');
      }
      const aliases = selectedOutputs(signature, outputFilter);
      const inputs = request.inputs(signature, signatureName);
      for (const [alias, encoding] of Object.entries(lease.imageInputs[signatureName] ?? {})) {
        if (inputs[alias]) checkImages(inputs[alias], encoding, this.imageLimits, Object.keys(inputs).length > 1 ? ` of input '${shown(alias)}'` : '');
      }
      const outputs = await this.batching.submit({ key: versionKey(model, lease.version), signature: signatureName, inputs }, signal);
      const ordered: Record<string, Tensor> = {};
      for (const alias of aliases) {
        if (!outputs[alias]) throw new Error(`the engine returned no output '${alias}' for signature '${signatureName}'`);
        ordered[alias] = outputs[alias];
      }
      return { outputs: ordered, version: lease.version, signatureName };
    } finally {
      lease.release();
    }
  }

  /**
   * POST /v1/projects/{p}/locations/{l}/endpoints/{e}:predict, answered in Vertex AI's PredictResponse
   * shape: predictions, and which model served them (deployedModelId, model as a resource name in the
   * caller's project and location, modelDisplayName, modelVersionId). The endpoint maps to the model
   * of the same name, or to the only model served.
   */
  async vertexPredict(endpoint: VertexEndpoint, body: unknown, signal?: AbortSignal): Promise<PredictResult> {
    const model = this.vertexModel(endpoint);
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { instances?: unknown }).instances)) {
      throw invalidArgument('a Vertex AI predict request needs "instances": a list, one entry per example');
    }
    const { instances } = body as { instances: unknown[] };
    const result = await this.predict(model, { kind: 'latest' }, { instances }, signal);
    const version = String(result.version);
    return {
      body: {
        predictions: result.body.predictions,
        deployedModelId: version,
        model: `projects/${endpoint.project}/locations/${endpoint.location}/models/${model}`,
        modelDisplayName: model,
        modelVersionId: version,
      },
      version: result.version,
    };
  }

  /**
   * POST .../endpoints/{e}:rawPredict: Vertex AI hands the body to the container's predict route as it
   * is and returns the container's answer as it is, so this is TF Serving's :predict on the latest version.
   */
  async vertexRawPredict(endpoint: VertexEndpoint, body: unknown, signal?: AbortSignal): Promise<PredictResult> {
    return this.predict(this.vertexModel(endpoint), { kind: 'latest' }, body, signal);
  }

  private vertexModel(endpoint: VertexEndpoint): string {
    const model = this.endpointModel(endpoint.id);
    if (!model) throw notFound(`endpoint ${shown(endpoint.id)} is not served here; serve a model named ${shown(endpoint.id)} or only one model`);
    return model;
  }

  /** The model a Vertex AI endpoint id stands for: the model of that name, else the only model served. */
  endpointModel(endpoint: string): string | undefined {
    const models = this.manager.modelNames();
    return models.includes(endpoint) ? endpoint : models.length === 1 ? models[0] : undefined;
  }

  hasModel(name: string): boolean {
    return this.manager.modelNames().includes(name);
  }

  /** Why /healthz is not ok: models without an AVAILABLE version that an engine worker can run now. */
  healthProblem(): string | undefined {
    const missing = Object.entries(this.manager.availableCounts()).filter(([, n]) => n === 0);
    if (missing.length === 0) return undefined;
    const replacing = this.replacements();
    const why = replacing > 0 ? ` (engine workers being replaced: ${replacing})` : '';
    return `no AVAILABLE version of model ${missing.map(([name]) => name).join(', ')} yet${why}; retry shortly`;
  }

  /** What /healthz adds to "ok": versions served whose labels mean nothing (random weights), workers being replaced. */
  warnings(): string[] {
    const replacing = this.replacements();
    const workers = replacing > 0 ? [`${replacing} engine worker${replacing > 1 ? 's are' : ' is'} being replaced; serving with fewer workers meanwhile`] : [];
    return [...this.manager.availableWarnings(), ...workers];
  }
}

/**
 * The images of one request input against the limits (count, pixels per image and in all), from their
 * headers: 400 naming the instance. Text that is not base64 is left to the engine, which says so.
 */
function checkImages(tensor: Tensor, encoding: ImageEncoding, limits: ImageLimits, where: string): void {
  if (tensor.dtype !== 'DT_STRING') return;
  const batched = tensor.shape.length > 0;
  const images: Uint8Array[] = [];
  for (const value of tensor.values as Uint8Array[]) {
    try {
      images.push(encoding === 'b64' ? decodeBase64WebSafe(value) : value);
    } catch (err) {
      if (err instanceof Base64Error) return;
      throw err;
    }
  }
  try {
    checkRequestImages(images, limits, (i) => `${batched ? `instance ${i}` : 'the image'}${where}`);
  } catch (err) {
    throw err instanceof ImageInputError ? invalidArgument(err.message) : err;
  }
}
