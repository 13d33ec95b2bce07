// Vertex AI's REST API (aiplatform v1) through googleapis, reduced to what deployment, undeployment and
// prediction need: models (list, listVersions, get, upload, delete, deleteVersion), endpoints (list,
// get, create, delete, deployModel, undeployModel, patch, predict), batch prediction jobs (create, get,
// cancel) and long-running operations, polled with backoff until done or a deadline. Every call is
// described as a RestCall first, so --dry-run can print the writes instead of sending them.
import { aiplatform, type aiplatform_v1 } from 'googleapis/build/src/apis/aiplatform/index.js';
import { vertexAuth, type VertexAuth } from './auth.js';
import { DryRunReads } from './dry-run.js';
import { CloudError, operationError, toCloudError, type CloudContext } from '@tensorsky/cloud-errors';
import { filterString } from './names.js';
import { restUrl, type RestCall } from './rest-call.js';

export type VertexModel = aiplatform_v1.Schema$GoogleCloudAiplatformV1Model;
export type VertexEndpoint = aiplatform_v1.Schema$GoogleCloudAiplatformV1Endpoint;
export type DeployedModel = aiplatform_v1.Schema$GoogleCloudAiplatformV1DeployedModel;
export type PredictResponse = aiplatform_v1.Schema$GoogleCloudAiplatformV1PredictResponse;
export type BatchPredictionJob = aiplatform_v1.Schema$GoogleCloudAiplatformV1BatchPredictionJob;
type Operation = aiplatform_v1.Schema$GoogleLongrunningOperation;

export interface PollOptions {
  /** First wait before asking again; default 1000 ms. */
  initialDelayMs?: number;
  /** Longest wait between polls; default 30000 ms. */
  maxDelayMs?: number;
  /** Give up after this long; default 60 minutes (deploying a model takes 5 to 30). */
  timeoutMs?: number;
  /** Report a running operation's state when it changes and at least this often; default 30000 ms. */
  progressIntervalMs?: number;
}

/** A long-running operation's progress, reported when its state changes and every progressIntervalMs. */
export interface OperationProgress {
  /** The call being waited for: "models.upload", "endpoints.deployModel". */
  operation: string;
  /** A deployment's stage ("creating serving cluster"), else "running"; then "done" or "failed". */
  state: string;
  /** Since the call returned its operation. */
  elapsedMs: number;
  /** The operation's resource name (projects/.../operations/ID). */
  name?: string;
}

export interface VertexOptions {
  projectId: string;
  region: string;
  /** API root; default https://{region}-aiplatform.googleapis.com/ (the regional endpoint). */
  apiRoot?: string;
  /** Credentials; default: Application Default Credentials (or accessToken). */
  auth?: VertexAuth;
  accessToken?: string;
  /** Make GETs, report writes through onCall instead of sending them. */
  dryRun?: boolean;
  /** How a dry run reads the current state (bounded; empty once unreadable); shared with the Cloud Storage step. */
  dryRunReads?: DryRunReads;
  /** Every call, before it is sent (or instead of being sent, for writes in a dry run). */
  onCall?: (call: RestCall) => void;
  poll?: PollOptions;
  /** Progress of long-running operations: "endpoints.deployModel: preparing model (1 min 30 s elapsed)". */
  log?: (line: string) => void;
  /** The same progress as events (e.g. JSON lines for CI); when given, it is not also logged. */
  onOperation?: (progress: OperationProgress) => void;
  /** Per-request timeout; default 120000 ms (a dry run's read timeout in a dry run). */
  requestTimeoutMs?: number;
}

/** Server-assigned names that a dry run cannot know; printed in their place. */
export const DRY_RUN_PLACEHOLDER = {
  model: '{new-model-id}',
  batchPredictionJob: '{new-batch-prediction-job-id}',
  version: '{new-version-id}',
  endpoint: '{new-endpoint-id}',
  deployedModel: '{new-deployed-model-id}',
} as const;

export class VertexClient {
  readonly parent: string;
  readonly apiRoot: string;
  readonly dryRunReads: DryRunReads;
  private readonly api: aiplatform_v1.Aiplatform;

  constructor(readonly options: VertexOptions) {
    this.parent = `projects/${options.projectId}/locations/${options.region}`;
    this.apiRoot = options.apiRoot ?? `https://${options.region}-aiplatform.googleapis.com/`;
    this.dryRunReads = options.dryRunReads ?? new DryRunReads();
    this.api = aiplatform({
      version: 'v1',
      rootUrl: this.apiRoot,
      auth: options.auth ?? vertexAuth(options.accessToken),
      timeout: options.requestTimeoutMs ?? (options.dryRun ? this.dryRunReads.timeoutMs : 120_000),
      // Retries are ours (predict) or pointless (writes are not idempotent); keep gaxios from adding its own.
      retry: false,
    });
  }

  get dryRun(): boolean {
    return this.options.dryRun ?? false;
  }

  /** The model whose display name is `displayName` (the newest, if several), or undefined. */
  async findModel(displayName: string): Promise<VertexModel | undefined> {
    const filter = `display_name=${filterString(displayName)}`;
    const models: VertexModel[] = [];
    let pageToken: string | undefined;
    do {
      const query = { filter, pageToken };
      const res = await this.readState(
        { method: 'GET', url: this.url(`${this.parent}/models`, query) },
        'models.list',
        () => this.api.projects.locations.models.list({ parent: this.parent, ...query }),
        {},
      );
      models.push(...(res.models ?? []));
      pageToken = res.nextPageToken ?? undefined;
    } while (pageToken);
    return models.sort((a, b) => (b.createTime ?? '').localeCompare(a.createTime ?? ''))[0];
  }

  /** A model or model version (`name@versionId` / `name@alias`); undefined when it does not exist. */
  async getModel(name: string): Promise<VertexModel | undefined> {
    return this.readOrUndefined({ method: 'GET', url: this.url(name) }, 'models.get', () => this.api.projects.locations.models.get({ name }));
  }

  /** Every version of a model (models.listVersions). */
  async listModelVersions(model: string): Promise<VertexModel[]> {
    const versions: VertexModel[] = [];
    let pageToken: string | undefined;
    do {
      const query = { pageToken };
      const res = await this.readState(
        { method: 'GET', url: this.url(`${model}:listVersions`, query) },
        'models.listVersions',
        () => this.api.projects.locations.models.listVersions({ name: model, ...query }),
        {},
      );
      versions.push(...(res.models ?? []));
      pageToken = res.nextPageToken ?? undefined;
    } while (pageToken);
    return versions;
  }

  /** models.upload, waiting for the operation: a new model, or a new version of `parentModel`. */
  async uploadModel(model: VertexModel, parentModel?: string): Promise<{ model: string; modelVersionId: string }> {
    const requestBody: aiplatform_v1.Schema$GoogleCloudAiplatformV1UploadModelRequest = { model, ...(parentModel ? { parentModel } : {}) };
    const call: RestCall = { method: 'POST', url: this.url(`${this.parent}/models:upload`), body: requestBody };
    const op = await this.write(call, 'models.upload', () => this.api.projects.locations.models.upload({ parent: this.parent, requestBody }));
    if (!op) return { model: parentModel ?? `${this.parent}/models/${DRY_RUN_PLACEHOLDER.model}`, modelVersionId: DRY_RUN_PLACEHOLDER.version };
    const response = (await this.waitForOperation(op, 'models.upload')) as aiplatform_v1.Schema$GoogleCloudAiplatformV1UploadModelResponse;
    if (!response.model || !response.modelVersionId) throw new CloudError('Vertex AI models.upload finished without naming the model version; retry the deployment', 'INTERNAL');
    return { model: response.model, modelVersionId: response.modelVersionId };
  }

  async findEndpoint(displayName: string): Promise<VertexEndpoint | undefined> {
    const endpoints = await this.listEndpoints(`display_name=${filterString(displayName)}`);
    return endpoints.sort((a, b) => (b.createTime ?? '').localeCompare(a.createTime ?? ''))[0];
  }

  async listEndpoints(filter?: string): Promise<VertexEndpoint[]> {
    const endpoints: VertexEndpoint[] = [];
    let pageToken: string | undefined;
    do {
      const query = { filter, pageToken };
      const res = await this.readState(
        { method: 'GET', url: this.url(`${this.parent}/endpoints`, query) },
        'endpoints.list',
        () => this.api.projects.locations.endpoints.list({ parent: this.parent, ...query }),
        {},
      );
      endpoints.push(...(res.endpoints ?? []));
      pageToken = res.nextPageToken ?? undefined;
    } while (pageToken);
    return endpoints;
  }

  async getEndpoint(name: string): Promise<VertexEndpoint | undefined> {
    return this.readOrUndefined({ method: 'GET', url: this.url(name) }, 'endpoints.get', () => this.api.projects.locations.endpoints.get({ name }));
  }

  async createEndpoint(displayName: string, labels?: Record<string, string>): Promise<VertexEndpoint> {
    const requestBody: VertexEndpoint = { displayName, ...(labels ? { labels } : {}) };
    const call: RestCall = { method: 'POST', url: this.url(`${this.parent}/endpoints`), body: requestBody };
    const op = await this.write(call, 'endpoints.create', () => this.api.projects.locations.endpoints.create({ parent: this.parent, requestBody }));
    if (!op) return { name: `${this.parent}/endpoints/${DRY_RUN_PLACEHOLDER.endpoint}`, displayName, deployedModels: [], trafficSplit: {} };
    return (await this.waitForOperation(op, 'endpoints.create')) as VertexEndpoint;
  }

  /** endpoints.deployModel, waiting for the operation; trafficSplit "0" means the model being deployed. */
  async deployModel(endpoint: string, deployedModel: DeployedModel, trafficSplit: Record<string, number>): Promise<DeployedModel> {
    const requestBody: aiplatform_v1.Schema$GoogleCloudAiplatformV1DeployModelRequest = { deployedModel, trafficSplit };
    const call: RestCall = { method: 'POST', url: this.url(`${endpoint}:deployModel`), body: requestBody };
    const op = await this.write(call, 'endpoints.deployModel', () => this.api.projects.locations.endpoints.deployModel({ endpoint, requestBody }));
    if (!op) return { ...deployedModel, id: DRY_RUN_PLACEHOLDER.deployedModel };
    const response = (await this.waitForOperation(op, 'endpoints.deployModel')) as aiplatform_v1.Schema$GoogleCloudAiplatformV1DeployModelResponse;
    if (!response.deployedModel?.id) throw new CloudError('Vertex AI endpoints.deployModel finished without a deployed model ID; check the endpoint in the console', 'INTERNAL');
    return response.deployedModel;
  }

  async undeployModel(endpoint: string, deployedModelId: string, trafficSplit?: Record<string, number>): Promise<void> {
    const requestBody: aiplatform_v1.Schema$GoogleCloudAiplatformV1UndeployModelRequest = { deployedModelId, ...(trafficSplit ? { trafficSplit } : {}) };
    const call: RestCall = { method: 'POST', url: this.url(`${endpoint}:undeployModel`), body: requestBody };
    const op = await this.write(call, 'endpoints.undeployModel', () => this.api.projects.locations.endpoints.undeployModel({ endpoint, requestBody }));
    if (op) await this.waitForOperation(op, 'endpoints.undeployModel');
  }

  /** endpoints.delete, waiting for the operation; Vertex AI refuses while models are deployed on it. */
  async deleteEndpoint(endpoint: string): Promise<void> {
    const op = await this.write({ method: 'DELETE', url: this.url(endpoint) }, 'endpoints.delete', () => this.api.projects.locations.endpoints.delete({ name: endpoint }));
    if (op) await this.waitForOperation(op, 'endpoints.delete');
  }

  /** models.delete (every version), waiting for the operation; refused while any version is deployed. */
  async deleteModel(model: string): Promise<void> {
    const op = await this.write({ method: 'DELETE', url: this.url(model) }, 'models.delete', () => this.api.projects.locations.models.delete({ name: model }));
    if (op) await this.waitForOperation(op, 'models.delete');
  }

  /** models.deleteVersion of `model@versionId`; refused while it is deployed, or when it is the only version. */
  async deleteModelVersion(model: string, versionId: string): Promise<void> {
    const name = `${model}@${versionId}`;
    const op = await this.write({ method: 'DELETE', url: this.url(`${name}:deleteVersion`) }, 'models.deleteVersion', () =>
      this.api.projects.locations.models.deleteVersion({ name }),
    );
    if (op) await this.waitForOperation(op, 'models.deleteVersion');
  }

  /** Replaces an endpoint's traffic split (endpoints.patch with updateMask=trafficSplit). */
  async setTrafficSplit(endpoint: string, trafficSplit: Record<string, number>): Promise<void> {
    const requestBody: VertexEndpoint = { trafficSplit };
    const call: RestCall = { method: 'PATCH', url: this.url(endpoint, { updateMask: 'trafficSplit' }), body: requestBody };
    await this.write(call, 'endpoints.patch', () => this.api.projects.locations.endpoints.patch({ name: endpoint, updateMask: 'trafficSplit', requestBody }));
  }

  /** endpoints.predict: {instances, parameters} → {predictions, deployedModelId, model, modelVersionId}. */
  async predict(endpoint: string, instances: unknown[], options: { parameters?: unknown; timeoutMs?: number } = {}): Promise<PredictResponse> {
    const requestBody: aiplatform_v1.Schema$GoogleCloudAiplatformV1PredictRequest = {
      instances,
      ...(options.parameters === undefined ? {} : { parameters: options.parameters }),
    };
    this.options.onCall?.({ method: 'POST', url: this.url(`${endpoint}:predict`), body: { instances: `[${instances.length} instances]` } });
    try {
      const res = await this.api.projects.locations.endpoints.predict(
        { endpoint, requestBody },
        options.timeoutMs === undefined ? undefined : { timeout: options.timeoutMs },
      );
      return res.data;
    } catch (err) {
      throw toCloudError(err, this.context('endpoints.predict', `endpoint ${endpoint} not found: check --endpoint, --project_id and --region`));
    }
  }

  /** batchPredictionJobs.create: the job starts at once (state JOB_STATE_QUEUED or PENDING); poll it with getBatchPredictionJob. */
  async createBatchPredictionJob(job: BatchPredictionJob): Promise<BatchPredictionJob> {
    const call: RestCall = { method: 'POST', url: this.url(`${this.parent}/batchPredictionJobs`), body: job };
    const created = await this.write(call, 'batchPredictionJobs.create', () =>
      this.api.projects.locations.batchPredictionJobs.create({ parent: this.parent, requestBody: job }),
    );
    return created ?? { ...job, name: `${this.parent}/batchPredictionJobs/${DRY_RUN_PLACEHOLDER.batchPredictionJob}`, state: 'JOB_STATE_QUEUED' };
  }

  /** batchPredictionJobs.get; undefined when it does not exist (deleted, or another project). */
  async getBatchPredictionJob(name: string): Promise<BatchPredictionJob | undefined> {
    return this.readOrUndefined({ method: 'GET', url: this.url(name) }, 'batchPredictionJobs.get', () => this.api.projects.locations.batchPredictionJobs.get({ name }));
  }

  /** batchPredictionJobs.cancel: best effort; the job ends in JOB_STATE_CANCELLED (or finishes anyway). */
  async cancelBatchPredictionJob(name: string): Promise<void> {
    await this.write({ method: 'POST', url: this.url(`${name}:cancel`), body: {} }, 'batchPredictionJobs.cancel', () =>
      this.api.projects.locations.batchPredictionJobs.cancel({ name, requestBody: {} }),
    );
  }

  /**
   * Polls operations.get with growing waits until the operation is done; returns its response. Says
   * what it waits for when the state changes and every progressIntervalMs, so a deployment that takes
   * half an hour is never silent.
   */
  async waitForOperation(op: Operation, action: string): Promise<unknown> {
    const { initialDelayMs = 1000, maxDelayMs = 30_000, timeoutMs = 60 * 60_000, progressIntervalMs = 30_000 } = this.options.poll ?? {};
    const started = Date.now();
    let delay = initialDelayMs;
    let current = op;
    // Quick operations stay quiet: plain "running" is first reported after progressIntervalMs.
    let reported = { state: 'running', at: started, lines: 0 };
    const report = (state: string) => {
      const now = Date.now();
      if (state === reported.state && now - reported.at < progressIntervalMs) return;
      reported = { state, at: now, lines: reported.lines + 1 };
      if (this.options.onOperation) this.options.onOperation({ operation: action, state, elapsedMs: now - started, name: current.name ?? undefined });
      else this.options.log?.(`${action}: ${state} (${formatElapsed(now - started)} elapsed)`);
    };
    while (!current.done) {
      report(operationState(current));
      if (!current.name) throw new CloudError(`Vertex AI ${action} returned an operation without a name; check the console`, 'INTERNAL');
      const elapsed = Date.now() - started;
      if (elapsed >= timeoutMs) {
        throw new CloudError(
          `Vertex AI ${action} is still running after ${Math.round(elapsed / 1000)} s (operation ${current.name}); it may still finish: rerun deploy later (it picks up where it is), or raise --timeout`,
          'DEADLINE_EXCEEDED',
        );
      }
      await sleep(Math.min(delay, timeoutMs - elapsed));
      delay = Math.min(maxDelayMs, delay * 1.5);
      const name = current.name;
      current = await this.read({ method: 'GET', url: this.url(name) }, 'operations.get', () => this.api.projects.locations.operations.get({ name }));
    }
    if (reported.lines > 0) report(current.error ? 'failed' : 'done');
    if (current.error) throw operationError(current.error, this.context(action));
    return current.response ?? {};
  }

  url(resource: string, query: Record<string, string | undefined> = {}): string {
    return restUrl(this.apiRoot, `v1/${resource}`, query);
  }

  private context(action: string, notFoundHint?: string): CloudContext {
    return { service: 'Vertex AI', action, project: this.options.projectId, region: this.options.region, notFoundHint };
  }

  private read<T>(call: RestCall, action: string, send: () => Promise<{ data: T }>): Promise<T> {
    this.options.onCall?.(call);
    return this.send(action, send);
  }

  /** A read of what exists; in a dry run bounded, and `fresh` (a new project's answer) when the state cannot be read. */
  private readState<T>(call: RestCall, action: string, send: () => Promise<{ data: T }>, fresh: T): Promise<T> {
    if (!this.dryRun) return this.read(call, action, send);
    this.options.onCall?.(call);
    return this.dryRunReads.read(() => this.send(action, send), fresh);
  }

  private async send<T>(action: string, send: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await send()).data;
    } catch (err) {
      throw toCloudError(err, this.context(action));
    }
  }

  private async readOrUndefined<T>(call: RestCall, action: string, send: () => Promise<{ data: T }>): Promise<T | undefined> {
    try {
      return await this.readState<T | undefined>(call, action, send, undefined);
    } catch (err) {
      if (err instanceof CloudError && err.reason === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** Sends a write and returns its operation; in a dry run only reports it and returns undefined. */
  private async write<T>(call: RestCall, action: string, send: () => Promise<{ data: T }>): Promise<T | undefined> {
    if (this.dryRun) {
      this.options.onCall?.(call);
      return undefined;
    }
    return this.read(call, action, send);
  }
}

/** A running operation's state: a deployment's stage ("creating serving cluster"), else "running". */
function operationState(op: Operation): string {
  const stage = (op.metadata as { deploymentStage?: unknown } | undefined)?.deploymentStage;
  return typeof stage === 'string' && stage !== 'DEPLOYMENT_STAGE_UNSPECIFIED' ? stage.toLowerCase().replaceAll('_', ' ') : 'running';
}

/** "45 s", "2 min 05 s". */
export function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
