// A local HTTP double of Vertex AI's REST API (aiplatform v1), for tests: the model registry, endpoints,
// deployments and long-running operations that `tensorsky deploy` uses, with the rules of the REST
// reference (paths, body fields and types read from the reference, required fields, version aliases,
// traffic splits that add up to 100, undeploying only models without traffic, deleting only what no
// deployment uses), Google's error format,
// and bearer-token auth. Deploying a model version copies its artifacts out of Cloud Storage and serves
// them with `tensorsky serve`; :predict forwards to that server, as Vertex AI's TF Serving container does.
// Batch prediction jobs read their JSONL instances from Cloud Storage, send them to a `tensorsky serve` of
// the model version and write the prediction shards back, moving QUEUED -> RUNNING -> SUCCEEDED/FAILED.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { DEFAULT_VERSION_POLICY, startServer } from '@tensorsky/serve';
import { bodyProblems } from './rest-reference.js';

export interface Serving {
  url: string;
  close(): Promise<void>;
}

export interface VertexDoubleOptions {
  projectId: string;
  /** Vertex AI answers with resource names holding the project number; default 123456789012. */
  projectNumber?: string;
  region: string;
  /** The only bearer token accepted. */
  accessToken: string;
  /** operations.get calls answered "not done" before an operation reports done; default 1. */
  pollsBeforeDone?: number;
  /** Items per list page; default 50. */
  pageSize?: number;
  /** Copies a model version's gs:// artifact folder into `dir` (what Vertex AI does when it deploys). */
  fetchArtifacts(artifactUri: string, dir: string): Promise<void>;
  /** Serves the TF Serving repository at basePath as model "model"; default an in-process `tensorsky serve`. */
  startServing?(basePath: string): Promise<Serving>;
  /** Cloud Storage as batch prediction jobs use it (gs:// URIs); without it, batchPredictionJobs.create is refused. */
  objects?: ObjectStore;
  /** batchPredictionJobs.get calls answered JOB_STATE_QUEUED before the job shows its real state; default 1. */
  batchQueuedPolls?: number;
  /** Predictions per batch prediction output shard; default 4, so that small tests get several shards. */
  batchShardSize?: number;
}

export interface ObjectStore {
  /** Object URIs under a gs:// prefix. */
  list(prefix: string): Promise<string[]>;
  read(uri: string): Promise<string>;
  write(uri: string, text: string): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  /** Path after the host, e.g. /v1/projects/p/locations/l/models:upload */
  path: string;
  query: Record<string, string>;
  body?: unknown;
  status: number;
}

interface Fault {
  method?: string;
  path: RegExp;
  httpStatus: number;
  status: string;
  message: string;
}

interface ModelVersionRecord {
  versionId: string;
  displayName: string;
  artifactUri: string;
  containerSpec: unknown;
  versionAliases: string[];
  versionDescription?: string;
  labels: Record<string, string>;
  createTime: string;
}

interface ModelRecord {
  id: string;
  versions: ModelVersionRecord[];
  createTime: string;
}

interface DeployedRecord {
  id: string;
  modelId: string;
  modelVersionId: string;
  displayName: string;
  dedicatedResources: unknown;
  createTime: string;
  serving: Serving;
}

interface EndpointRecord {
  id: string;
  displayName: string;
  labels?: Record<string, string>;
  deployed: DeployedRecord[];
  trafficSplit: Record<string, number>;
  createTime: string;
}

interface BatchJobRecord {
  id: string;
  request: Record<string, any>;
  modelId: string;
  modelVersionId: string;
  state: string;
  /** batchPredictionJobs.get calls so far: the first one still sees the job queued. */
  polls: number;
  successful: number;
  failed: number;
  cancelRequested: boolean;
  outputDirectory?: string;
  error?: { code: number; message: string };
  /** Settles when the work has ended (done, failed or cancelled). */
  finished?: Promise<void>;
  settled: boolean;
  createTime: string;
  startTime?: string;
  endTime?: string;
}

interface OperationRecord {
  name: string;
  metadataType: string;
  pollsLeft: number;
  /** operations.get calls so far: a deployment moves one stage further at each. */
  polls: number;
  /** Settles with the response (with its @type) or a google.rpc.Status error. */
  outcome: Promise<{ response?: Record<string, unknown>; error?: { code: number; message: string } }>;
  settled?: { response?: Record<string, unknown>; error?: { code: number; message: string } };
}

class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

const GRPC_CODE: Record<string, number> = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, INTERNAL: 13 };
const ALIAS = /^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$/;
const TYPE = 'type.googleapis.com/google.cloud.aiplatform.v1.';
/** AutoscalingMetricSpec.metricName values the reference lists for online prediction. */
const AUTOSCALING_METRICS = [
  'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle',
  'aiplatform.googleapis.com/prediction/online/cpu/utilization',
  'aiplatform.googleapis.com/prediction/online/request_count',
];
/** DeployModelOperationMetadata.deploymentStage while running, in the reference's order (DeploymentStage). */
const DEPLOYMENT_STAGES = ['STARTING_DEPLOYMENT', 'PREPARING_MODEL', 'CREATING_SERVING_CLUSTER', 'ADDING_NODES_TO_CLUSTER', 'GETTING_CONTAINER_IMAGE', 'STARTING_MODEL_SERVER', 'FINISHING_UP'];

export class VertexDouble {
  readonly requests: RecordedRequest[] = [];
  readonly models = new Map<string, ModelRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();
  readonly batchJobs = new Map<string, BatchJobRecord>();
  private readonly operations = new Map<string, OperationRecord>();
  private readonly faults: Fault[] = [];
  private readonly operationFaults: { action: string; status: string; message: string }[] = [];
  private nextId = 1000;
  private readonly projectNumber: string;
  private server!: http.Server;
  url = '';

  constructor(private readonly options: VertexDoubleOptions) {
    this.projectNumber = options.projectNumber ?? '123456789012';
  }

  /** Resource names as Vertex AI writes them (with the project number). */
  get parent(): string {
    return `projects/${this.projectNumber}/locations/${this.options.region}`;
  }

  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // Google's front ends keep idle connections open for minutes; Node's default 5 s would reset a
    // client's reused connection after a pause (a test loading a model between two calls).
    this.server.keepAliveTimeout = 10 * 60_000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async close(): Promise<void> {
    for (const job of this.batchJobs.values()) job.cancelRequested = true;
    await Promise.all([...this.batchJobs.values()].map((job) => job.finished));
    for (const endpoint of this.endpoints.values()) for (const d of endpoint.deployed) await d.serving.close();
    this.endpoints.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next request matching method and path fails with this Google error. */
  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  /** The next operation of this action ("deployModel", "upload", ...) ends with this error. */
  failNextOperation(action: string, status: string, message: string): void {
    this.operationFaults.push({ action, status, message });
  }

  /** Mutating requests (everything but GETs and predictions), for comparing with a dry run. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith(':predict'));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const record: RecordedRequest = { method: req.method ?? '', path: decodeURIComponent(url.pathname), query: Object.fromEntries(url.searchParams), status: 0 };
    this.requests.push(record);
    let status = 200;
    let payload: unknown;
    try {
      if (req.headers.authorization !== `Bearer ${this.options.accessToken}`) {
        throw new ApiError(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
      }
      let body: unknown;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new ApiError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
        }
      }
      record.body = body;
      const fault = this.faults.findIndex((f) => (!f.method || f.method === record.method) && f.path.test(record.path));
      if (fault >= 0) {
        const [f] = this.faults.splice(fault, 1);
        throw new ApiError(f.httpStatus, f.status, f.message);
      }
      payload = await this.route(record.method, record.path, record.query, body);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.httpStatus;
      payload = { error: { code: err.httpStatus, message: err.message, status: err.status } };
    }
    record.status = status;
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(payload));
  }

  private async route(method: string, pathname: string, query: Record<string, string>, body: unknown): Promise<unknown> {
    const match = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/(.*)$/.exec(pathname);
    if (!match) throw new ApiError(404, 'NOT_FOUND', `The requested URL ${pathname} was not found on this server.`);
    const [, project, location, rest] = match;
    if (project !== this.options.projectId && project !== this.projectNumber) {
      throw new ApiError(403, 'PERMISSION_DENIED', `Permission denied on resource project ${project}.`);
    }
    if (location !== this.options.region) {
      throw new ApiError(400, 'INVALID_ARGUMENT', `Location ${location} is not the location of this regional endpoint (${this.options.region}).`);
    }
    const route = `${method} ${rest}`;
    let m: RegExpExecArray | null;
    if (route === 'GET models') return this.listModels(query);
    if (route === 'POST models:upload') return this.upload(checked('UploadModelRequest', body));
    if ((m = /^GET models\/([^/@:]+)(?:@([^/:]+))?$/.exec(route))) return this.modelJson(this.model(m[1]), this.version(this.model(m[1]), m[2]));
    if ((m = /^GET models\/([^/@:]+):listVersions$/.exec(route))) return this.listVersions(this.model(m[1]), query);
    if ((m = /^DELETE models\/([^/@:]+)$/.exec(route))) return this.deleteModel(this.model(m[1]));
    if ((m = /^DELETE models\/([^/@:]+)@([^/:]+):deleteVersion$/.exec(route))) return this.deleteVersion(this.model(m[1]), m[2]);
    if (route === 'GET endpoints') return this.listEndpoints(query);
    if (route === 'POST endpoints') return this.createEndpoint(checked('Endpoint', body));
    if ((m = /^GET endpoints\/([^/:]+)$/.exec(route))) return this.endpointJson(this.endpoint(m[1]));
    if ((m = /^DELETE endpoints\/([^/:]+)$/.exec(route))) return this.deleteEndpoint(this.endpoint(m[1]));
    if ((m = /^PATCH endpoints\/([^/:]+)$/.exec(route))) return this.patchEndpoint(this.endpoint(m[1]), query, checked('Endpoint', body, true));
    if ((m = /^POST endpoints\/([^/:]+):deployModel$/.exec(route))) return this.deploy(this.endpoint(m[1]), checked('DeployModelRequest', body));
    if ((m = /^POST endpoints\/([^/:]+):undeployModel$/.exec(route))) return this.undeploy(this.endpoint(m[1]), checked('UndeployModelRequest', body));
    if ((m = /^POST endpoints\/([^/:]+):predict$/.exec(route))) return this.predict(this.endpoint(m[1]), checked('PredictRequest', body));
    if (route === 'POST batchPredictionJobs') return this.createBatchJob(checked('BatchPredictionJob', body));
    if ((m = /^GET batchPredictionJobs\/([^/:]+)$/.exec(route))) return this.getBatchJob(this.batchJob(m[1]));
    if ((m = /^POST batchPredictionJobs\/([^/:]+):cancel$/.exec(route))) return this.cancelBatchJob(this.batchJob(m[1]), checked('CancelBatchPredictionJobRequest', body));
    if ((m = /^GET ((?:models|endpoints)\/[^/]+\/)?operations\/([^/]+)$/.exec(route))) return this.getOperation(`${m[1] ?? ''}operations/${m[2]}`);
    throw new ApiError(404, 'NOT_FOUND', `Method not found: ${method} ${pathname}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Models

  private listModels(query: Record<string, string>): unknown {
    const displayName = displayNameFilter(query.filter);
    const models = [...this.models.values()]
      .map((m) => ({ model: m, version: defaultVersion(m) }))
      .filter(({ version }) => displayName === undefined || version.displayName === displayName);
    const { page, nextPageToken } = this.paginate(models, query);
    return { models: page.map(({ model, version }) => this.modelJson(model, version)), ...(nextPageToken ? { nextPageToken } : {}) };
  }

  private upload(body: Record<string, any>): unknown {
    const model = body.model as Record<string, any>;
    if (typeof model.artifactUri !== 'string' || !/^gs:\/\/[a-z0-9._-]+\/.+/.test(model.artifactUri)) {
      throw new ApiError(400, 'INVALID_ARGUMENT', 'model.artifact_uri must be a Cloud Storage folder (gs://bucket/path/).');
    }
    const aliases: string[] = model.versionAliases ?? [];
    for (const alias of aliases) {
      if (!ALIAS.test(alias)) throw new ApiError(400, 'INVALID_ARGUMENT', `Version alias ${alias} does not match [a-z][a-zA-Z0-9-]{0,126}[a-z0-9].`);
    }
    if (new Set(aliases).size !== aliases.length) throw new ApiError(400, 'INVALID_ARGUMENT', 'Version aliases must be unique.');
    let record: ModelRecord;
    if (body.parentModel !== undefined) {
      const parent = /^projects\/[^/]+\/locations\/[^/]+\/models\/([^/@]+)$/.exec(body.parentModel);
      if (!parent) throw new ApiError(400, 'INVALID_ARGUMENT', `parent_model ${body.parentModel} is not a model resource name (projects/*/locations/*/models/*).`);
      record = this.model(parent[1]);
    } else {
      record = { id: this.newId(19), versions: [], createTime: new Date().toISOString() };
      this.models.set(record.id, record);
    }
    const versionId = String(record.versions.length + 1);
    // An alias names one version: taking it moves it; the first version is "default".
    const wanted = record.versions.length === 0 && !aliases.includes('default') ? [...aliases, 'default'] : aliases;
    for (const version of record.versions) version.versionAliases = version.versionAliases.filter((a) => !wanted.includes(a));
    record.versions.push({
      versionId,
      displayName: model.displayName,
      artifactUri: model.artifactUri,
      containerSpec: model.containerSpec,
      versionAliases: wanted,
      versionDescription: model.versionDescription,
      labels: model.labels ?? {},
      createTime: new Date().toISOString(),
    });
    return this.startOperation(`models/${record.id}/operations/${this.newId(19)}`, 'UploadModelOperationMetadata', 'upload', async () => ({
      '@type': `${TYPE}UploadModelResponse`,
      model: `${this.parent}/models/${record.id}`,
      modelVersionId: versionId,
    }));
  }

  private listVersions(model: ModelRecord, query: Record<string, string>): unknown {
    const { page, nextPageToken } = this.paginate(model.versions, query);
    return { models: page.map((v) => this.modelJson(model, v)), ...(nextPageToken ? { nextPageToken } : {}) };
  }

  /** models.delete: refused while an endpoint holds a DeployedModel of any of its versions. */
  private deleteModel(model: ModelRecord): unknown {
    const where = this.deployedOn(model.id);
    if (where.length > 0) {
      throw new ApiError(400, 'FAILED_PRECONDITION', `The Model "${this.parent}/models/${model.id}" is deployed or being deployed at the following Endpoint(s): ${where.join(', ')}. Undeploy it first.`);
    }
    return this.startOperation(`models/${model.id}/operations/${this.newId(19)}`, 'DeleteOperationMetadata', 'delete', async () => {
      this.models.delete(model.id);
      return { '@type': 'type.googleapis.com/google.protobuf.Empty' };
    });
  }

  /** models.deleteVersion: a version ID (not an alias), not deployed, and not the model's only version. */
  private deleteVersion(model: ModelRecord, versionId: string): unknown {
    if (!/^\d+$/.test(versionId)) throw new ApiError(400, 'INVALID_ARGUMENT', `The model version must be given by its version ID, got "${versionId}".`);
    const version = this.version(model, versionId);
    const where = this.deployedOn(model.id, versionId);
    if (where.length > 0) {
      throw new ApiError(400, 'FAILED_PRECONDITION', `The Model version "${this.parent}/models/${model.id}@${versionId}" is deployed at the following Endpoint(s): ${where.join(', ')}. Undeploy it first.`);
    }
    if (model.versions.length === 1) throw new ApiError(400, 'FAILED_PRECONDITION', 'Deleting the only version of a Model is not allowed; delete the Model instead.');
    return this.startOperation(`models/${model.id}/operations/${this.newId(19)}`, 'DeleteOperationMetadata', 'deleteVersion', async () => {
      model.versions = model.versions.filter((v) => v !== version);
      // A model has exactly one default version: the newest remaining one takes the alias.
      if (version.versionAliases.includes('default')) model.versions.at(-1)!.versionAliases.push('default');
      return { '@type': 'type.googleapis.com/google.protobuf.Empty' };
    });
  }

  /** Endpoints holding a deployment of the model (of that version, when given). */
  private deployedOn(modelId: string, versionId?: string): string[] {
    return [...this.endpoints.values()]
      .filter((e) => e.deployed.some((d) => d.modelId === modelId && (versionId === undefined || d.modelVersionId === versionId)))
      .map((e) => `${this.parent}/endpoints/${e.id}`);
  }

  private model(id: string): ModelRecord {
    const model = this.models.get(id);
    if (!model) throw new ApiError(404, 'NOT_FOUND', `The Model "${this.parent}/models/${id}" does not exist.`);
    return model;
  }

  /** A version by ID or alias; the default version when none is named. */
  private version(model: ModelRecord, ref: string | undefined): ModelVersionRecord {
    if (ref === undefined) return defaultVersion(model);
    const version = model.versions.find((v) => v.versionId === ref || v.versionAliases.includes(ref));
    if (!version) throw new ApiError(404, 'NOT_FOUND', `The Model "${this.parent}/models/${model.id}@${ref}" does not exist.`);
    return version;
  }

  private modelJson(model: ModelRecord, version: ModelVersionRecord): unknown {
    return {
      name: `${this.parent}/models/${model.id}`,
      displayName: version.displayName,
      versionId: version.versionId,
      versionAliases: version.versionAliases,
      versionCreateTime: version.createTime,
      versionDescription: version.versionDescription,
      artifactUri: version.artifactUri,
      containerSpec: version.containerSpec,
      labels: version.labels,
      createTime: model.createTime,
      supportedDeploymentResourcesTypes: ['DEDICATED_RESOURCES'],
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Endpoints

  private listEndpoints(query: Record<string, string>): unknown {
    const displayName = displayNameFilter(query.filter);
    const endpoints = [...this.endpoints.values()].filter((e) => displayName === undefined || e.displayName === displayName);
    const { page, nextPageToken } = this.paginate(endpoints, query);
    return { endpoints: page.map((e) => this.endpointJson(e)), ...(nextPageToken ? { nextPageToken } : {}) };
  }

  private createEndpoint(body: Record<string, any>): unknown {
    const endpoint: EndpointRecord = {
      id: this.newId(19),
      displayName: body.displayName,
      labels: body.labels,
      deployed: [],
      trafficSplit: {},
      createTime: new Date().toISOString(),
    };
    return this.startOperation(`endpoints/${endpoint.id}/operations/${this.newId(19)}`, 'CreateEndpointOperationMetadata', 'create', async () => {
      this.endpoints.set(endpoint.id, endpoint);
      return { '@type': `${TYPE}Endpoint`, ...(this.endpointJson(endpoint) as object) };
    });
  }

  /** endpoints.delete: refused while models are deployed on it. */
  private deleteEndpoint(endpoint: EndpointRecord): unknown {
    if (endpoint.deployed.length > 0) {
      throw new ApiError(400, 'FAILED_PRECONDITION', `Endpoint "${this.parent}/endpoints/${endpoint.id}" has ${endpoint.deployed.length} DeployedModel(s); undeploy them before deleting the Endpoint.`);
    }
    return this.startOperation(`endpoints/${endpoint.id}/operations/${this.newId(19)}`, 'DeleteOperationMetadata', 'delete', async () => {
      this.endpoints.delete(endpoint.id);
      return { '@type': 'type.googleapis.com/google.protobuf.Empty' };
    });
  }

  private endpoint(id: string): EndpointRecord {
    const endpoint = this.endpoints.get(id);
    if (!endpoint) throw new ApiError(404, 'NOT_FOUND', `Endpoint "${this.parent}/endpoints/${id}" not found.`);
    return endpoint;
  }

  private endpointJson(endpoint: EndpointRecord): unknown {
    return {
      name: `${this.parent}/endpoints/${endpoint.id}`,
      displayName: endpoint.displayName,
      ...(endpoint.labels ? { labels: endpoint.labels } : {}),
      deployedModels: endpoint.deployed.map((d) => ({
        id: d.id,
        model: `${this.parent}/models/${d.modelId}`,
        modelVersionId: d.modelVersionId,
        displayName: d.displayName,
        dedicatedResources: d.dedicatedResources,
        createTime: d.createTime,
      })),
      trafficSplit: endpoint.trafficSplit,
      createTime: endpoint.createTime,
    };
  }

  private patchEndpoint(endpoint: EndpointRecord, query: Record<string, string>, body: Record<string, any>): unknown {
    const mask = (query.updateMask ?? '').split(',').filter(Boolean);
    if (mask.length === 0) throw new ApiError(400, 'INVALID_ARGUMENT', 'update_mask is required.');
    for (const field of mask) {
      if (field === 'trafficSplit' || field === 'traffic_split') endpoint.trafficSplit = this.checkSplit(endpoint, body.trafficSplit ?? {}, false);
      else if (field === 'displayName' || field === 'display_name') endpoint.displayName = body.displayName;
      else throw new ApiError(400, 'INVALID_ARGUMENT', `Field ${field} of the update mask is not supported.`);
    }
    return this.endpointJson(endpoint);
  }

  /** Traffic splits add up to 100 (or are empty) and name deployed models ("0" = the one being deployed). */
  private checkSplit(endpoint: EndpointRecord, split: Record<string, number>, allowNew: boolean): Record<string, number> {
    const ids = new Set(endpoint.deployed.map((d) => d.id));
    for (const [id, percent] of Object.entries(split)) {
      if (!(ids.has(id) || (allowNew && id === '0'))) throw new ApiError(400, 'INVALID_ARGUMENT', `Traffic split refers to DeployedModel ${id}, which is not deployed on the Endpoint.`);
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new ApiError(400, 'INVALID_ARGUMENT', `Traffic percentage ${percent} must be an integer between 0 and 100.`);
    }
    const sum = Object.values(split).reduce((a, b) => a + b, 0);
    if (Object.keys(split).length > 0 && sum !== 100) throw new ApiError(400, 'INVALID_ARGUMENT', `The traffic split percentages must add up to 100, got ${sum}.`);
    return { ...split };
  }

  private deploy(endpoint: EndpointRecord, body: Record<string, any>): unknown {
    const deployedModel = body.deployedModel as Record<string, any>;
    const ref = /^projects\/([^/]+)\/locations\/([^/]+)\/models\/([^/@]+)(?:@(.+))?$/.exec(deployedModel.model ?? '');
    if (!ref) throw new ApiError(400, 'INVALID_ARGUMENT', `deployed_model.model must name a Model (projects/*/locations/*/models/*[@version]), got "${deployedModel.model}".`);
    const model = this.model(ref[3]);
    const version = this.version(model, ref[4]);
    const resources = deployedModel.dedicatedResources as Record<string, any> | undefined;
    if (!resources) throw new ApiError(400, 'INVALID_ARGUMENT', 'Model requires dedicated_resources: custom-trained models cannot use automatic resources.');
    if (!resources.machineSpec?.machineType) throw new ApiError(400, 'INVALID_ARGUMENT', 'dedicated_resources.machine_spec.machine_type is required.');
    if (resources.minReplicaCount < 1) throw new ApiError(400, 'INVALID_ARGUMENT', 'dedicated_resources.min_replica_count must be at least 1.');
    if (resources.maxReplicaCount !== undefined && resources.maxReplicaCount < resources.minReplicaCount) {
      throw new ApiError(400, 'INVALID_ARGUMENT', 'dedicated_resources.max_replica_count must not be below min_replica_count.');
    }
    const spec = resources.machineSpec as Record<string, any>;
    if (spec.acceleratorCount !== undefined && (spec.acceleratorType === undefined || !(spec.acceleratorCount >= 1))) {
      throw new ApiError(400, 'INVALID_ARGUMENT', 'machine_spec.accelerator_count needs machine_spec.accelerator_type and must be at least 1.');
    }
    for (const metric of (resources.autoscalingMetricSpecs ?? []) as Record<string, any>[]) {
      if (!AUTOSCALING_METRICS.includes(metric.metricName)) throw new ApiError(400, 'INVALID_ARGUMENT', `Unsupported autoscaling metric ${metric.metricName}.`);
      if (metric.target !== undefined && !(Number.isInteger(metric.target) && metric.target >= 1 && metric.target <= 100)) {
        throw new ApiError(400, 'INVALID_ARGUMENT', `autoscaling_metric_specs.target must be a percentage between 1 and 100, got ${metric.target}.`);
      }
    }
    const split = body.trafficSplit === undefined ? undefined : this.checkSplit(endpoint, body.trafficSplit, true);
    const id = this.newId(10).slice(0, 10);
    return this.startOperation(`endpoints/${endpoint.id}/operations/${this.newId(19)}`, 'DeployModelOperationMetadata', 'deployModel', async () => {
      const basePath = await mkdtemp(path.join(os.tmpdir(), `vertex-double-${id}-`));
      await this.options.fetchArtifacts(version.artifactUri, path.join(basePath, '1'));
      const serving = await (this.options.startServing ?? serveInProcess)(basePath);
      const record: DeployedRecord = {
        id,
        modelId: model.id,
        modelVersionId: version.versionId,
        displayName: deployedModel.displayName ?? version.displayName,
        dedicatedResources: resources,
        createTime: new Date().toISOString(),
        serving: {
          url: serving.url,
          close: async () => {
            await serving.close();
            await rm(basePath, { recursive: true, force: true });
          },
        },
      };
      endpoint.deployed.push(record);
      if (split && Object.keys(split).length > 0) {
        endpoint.trafficSplit = Object.fromEntries(Object.entries(split).map(([k, v]) => [k === '0' ? id : k, v]));
      }
      return { '@type': `${TYPE}DeployModelResponse`, deployedModel: { id, model: `${this.parent}/models/${model.id}`, modelVersionId: version.versionId, displayName: record.displayName } };
    });
  }

  private undeploy(endpoint: EndpointRecord, body: Record<string, any>): unknown {
    const target = endpoint.deployed.find((d) => d.id === body.deployedModelId);
    if (!target) throw new ApiError(404, 'NOT_FOUND', `DeployedModel ${body.deployedModelId} does not exist on Endpoint ${endpoint.id}.`);
    const split = body.trafficSplit === undefined ? { ...endpoint.trafficSplit } : this.checkSplit(endpoint, body.trafficSplit, false);
    const last = endpoint.deployed.length === 1;
    if (!last && (split[target.id] ?? 0) > 0) {
      throw new ApiError(400, 'FAILED_PRECONDITION', `DeployedModel ${target.id} still has ${split[target.id]}% of the Endpoint's traffic; move its traffic first.`);
    }
    return this.startOperation(`endpoints/${endpoint.id}/operations/${this.newId(19)}`, 'UndeployModelOperationMetadata', 'undeployModel', async () => {
      endpoint.deployed = endpoint.deployed.filter((d) => d !== target);
      delete split[target.id];
      endpoint.trafficSplit = last ? {} : split;
      await target.serving.close();
      return { '@type': `${TYPE}UndeployModelResponse` };
    });
  }

  /** Routes to the deployed model with the largest traffic share and forwards to its TF Serving REST API. */
  private async predict(endpoint: EndpointRecord, body: Record<string, any>): Promise<unknown> {
    const [id] = Object.entries(endpoint.trafficSplit).sort((a, b) => b[1] - a[1])[0] ?? [];
    const deployed = endpoint.deployed.find((d) => d.id === id);
    if (!deployed) throw new ApiError(400, 'FAILED_PRECONDITION', `Endpoint ${this.parent}/endpoints/${endpoint.id} has no deployed model with traffic.`);
    const res = await fetch(`${deployed.serving.url}/v1/models/model:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: body.instances }),
    });
    const answer = (await res.json()) as { predictions?: unknown[]; error?: string };
    if (!res.ok) throw new ApiError(res.status === 413 ? 400 : res.status, res.status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `{"error": ${JSON.stringify(answer.error)}}`);
    const model = this.models.get(deployed.modelId)!;
    return {
      predictions: answer.predictions,
      deployedModelId: deployed.id,
      model: `${this.parent}/models/${deployed.modelId}`,
      modelDisplayName: model.versions.find((v) => v.versionId === deployed.modelVersionId)?.displayName,
      modelVersionId: deployed.modelVersionId,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Batch prediction jobs

  /**
   * batchPredictionJobs.create: checks the request as the reference describes it (a model version,
   * JSONL in and out, dedicated resources for a custom model), then runs it at once in the background.
   */
  private createBatchJob(body: Record<string, any>): unknown {
    const ref = /^projects\/([^/]+)\/locations\/([^/]+)\/models\/([^/@]+)(?:@(.+))?$/.exec(body.model ?? '');
    if (!ref) throw new ApiError(400, 'INVALID_ARGUMENT', `model must name a Model (projects/*/locations/*/models/*[@version]), got "${body.model}".`);
    const model = this.model(ref[3]);
    const version = this.version(model, ref[4]);
    const input = body.inputConfig as Record<string, any>;
    if (input.instancesFormat !== 'jsonl') throw new ApiError(400, 'INVALID_ARGUMENT', `This double reads instances_format jsonl only, got "${input.instancesFormat}".`);
    const uris = input.gcsSource?.uris as string[] | undefined;
    if (!uris?.length || !uris.every((u) => /^gs:\/\/[^/]+\/.+/.test(u))) throw new ApiError(400, 'INVALID_ARGUMENT', 'input_config.gcs_source.uris must list gs:// URIs.');
    const out = body.outputConfig as Record<string, any>;
    if (out.predictionsFormat !== 'jsonl') throw new ApiError(400, 'INVALID_ARGUMENT', `Model supports predictions_format jsonl, got "${out.predictionsFormat}".`);
    if (!/^gs:\/\/[^/]+/.test(out.gcsDestination?.outputUriPrefix ?? '')) throw new ApiError(400, 'INVALID_ARGUMENT', 'output_config.gcs_destination.output_uri_prefix must be a gs:// folder.');
    const resources = body.dedicatedResources as Record<string, any> | undefined;
    if (!resources?.machineSpec?.machineType) throw new ApiError(400, 'INVALID_ARGUMENT', 'Model requires dedicated_resources with machine_spec.machine_type: custom-trained models cannot use automatic resources.');
    const starting = resources.startingReplicaCount ?? 1;
    if (!(Number.isInteger(starting) && starting >= 1)) throw new ApiError(400, 'INVALID_ARGUMENT', 'dedicated_resources.starting_replica_count must be at least 1.');
    if (resources.maxReplicaCount !== undefined && resources.maxReplicaCount < starting) {
      throw new ApiError(400, 'INVALID_ARGUMENT', 'dedicated_resources.max_replica_count must not be below starting_replica_count.');
    }
    if (!this.options.objects) throw new ApiError(400, 'FAILED_PRECONDITION', 'This double has no Cloud Storage to read instances from.');
    const faultIndex = this.operationFaults.findIndex((f) => f.action === 'batchPredictionJob');
    const fault = faultIndex >= 0 ? this.operationFaults.splice(faultIndex, 1)[0] : undefined;
    const job: BatchJobRecord = {
      id: this.newId(19),
      request: body,
      modelId: model.id,
      modelVersionId: version.versionId,
      state: 'JOB_STATE_QUEUED',
      polls: 0,
      successful: 0,
      failed: 0,
      cancelRequested: false,
      settled: false,
      createTime: new Date().toISOString(),
    };
    this.batchJobs.set(job.id, job);
    job.finished = (fault ? Promise.reject(Object.assign(new Error(fault.message), { code: GRPC_CODE[fault.status] ?? 2 })) : this.runBatchJob(job, version))
      .then(
        () => {
          job.state = job.cancelRequested ? 'JOB_STATE_CANCELLED' : 'JOB_STATE_SUCCEEDED';
        },
        (err: Error & { code?: number }) => {
          job.state = 'JOB_STATE_FAILED';
          job.error = { code: err.code ?? 13, message: err.message };
        },
      )
      .finally(() => {
        job.settled = true;
        job.endTime = new Date().toISOString();
      });
    return this.batchJobJson(job, 'JOB_STATE_QUEUED');
  }

  /** The job's state as a client sees it: queued at the first reads, then running until the work has ended. */
  private getBatchJob(job: BatchJobRecord): unknown {
    job.polls++;
    if (job.polls <= (this.options.batchQueuedPolls ?? 1)) return this.batchJobJson(job, 'JOB_STATE_QUEUED');
    if (!job.settled) return this.batchJobJson(job, job.cancelRequested ? 'JOB_STATE_CANCELLING' : 'JOB_STATE_RUNNING');
    return this.batchJobJson(job, job.state);
  }

  private cancelBatchJob(job: BatchJobRecord, _body: Record<string, any>): unknown {
    if (job.settled) throw new ApiError(400, 'FAILED_PRECONDITION', `Cannot cancel BatchPredictionJob ${job.id} in state ${job.state}.`);
    job.cancelRequested = true;
    return {};
  }

  private batchJob(id: string): BatchJobRecord {
    const job = this.batchJobs.get(id);
    if (!job) throw new ApiError(404, 'NOT_FOUND', `The BatchPredictionJob "${this.parent}/batchPredictionJobs/${id}" does not exist.`);
    return job;
  }

  private batchJobJson(job: BatchJobRecord, state: string): unknown {
    const final = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED'].includes(state);
    return {
      ...job.request,
      name: `${this.parent}/batchPredictionJobs/${job.id}`,
      model: `${this.parent}/models/${job.modelId}`,
      modelVersionId: job.modelVersionId,
      state,
      // int64 fields are JSON strings in Google's REST APIs.
      completionStats: { successfulCount: String(job.successful), failedCount: String(job.failed), incompleteCount: final ? '0' : '-1' },
      ...(job.outputDirectory && state !== 'JOB_STATE_QUEUED' ? { outputInfo: { gcsOutputDirectory: job.outputDirectory } } : {}),
      ...(final && job.error ? { error: job.error } : {}),
      createTime: job.createTime,
      ...(job.startTime ? { startTime: job.startTime } : {}),
      ...(final && job.endTime ? { endTime: job.endTime } : {}),
      updateTime: new Date().toISOString(),
    };
  }

  /**
   * What Vertex AI does for a batch job of a TF Serving model: serve the version's artifacts, send the
   * instances (without the key field) in batches, and write {"key"|"instance", "prediction"} lines into
   * prediction.results-NNNNN-of-NNNNN shards and failures into prediction.errors_stats-NNNNN-of-NNNNN.
   */
  private async runBatchJob(job: BatchJobRecord, version: ModelVersionRecord): Promise<void> {
    const objects = this.options.objects!;
    const request = job.request;
    job.startTime = new Date().toISOString();
    const stamp = job.startTime.replace(/[:.]/g, '-');
    const prefix = (request.outputConfig.gcsDestination.outputUriPrefix as string).replace(/\/+$/, '');
    job.outputDirectory = `${prefix}/prediction-${request.displayName}-${stamp}`;
    const keyField = request.instanceConfig?.keyField as string | undefined;
    const lines: string[] = [];
    for (const pattern of request.inputConfig.gcsSource.uris as string[]) {
      const star = pattern.indexOf('*');
      const matching = star < 0 ? [pattern] : (await objects.list(pattern.slice(0, star))).filter((uri) => globRegExp(pattern).test(uri));
      if (matching.length === 0) throw Object.assign(new Error(`No files match ${pattern}.`), { code: 3 });
      for (const uri of matching.sort()) lines.push(...(await objects.read(uri)).split('\n').filter((l) => l.trim()));
    }
    const rows = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const basePath = await mkdtemp(path.join(os.tmpdir(), `vertex-double-batch-${job.id}-`));
    const results: string[] = [];
    const errors: string[] = [];
    try {
      await this.options.fetchArtifacts(version.artifactUri, path.join(basePath, '1'));
      const serving = await (this.options.startServing ?? serveInProcess)(basePath);
      try {
        for (let i = 0; i < rows.length && !job.cancelRequested; i += 8) {
          const batch = rows.slice(i, i + 8);
          const instances = batch.map((row) => (keyField ? Object.fromEntries(Object.entries(row).filter(([k]) => k !== keyField)) : row));
          const echo = (row: Record<string, unknown>) => (keyField ? { key: row[keyField] } : { instance: row });
          const answer = await predictOn(serving, instances);
          if ('predictions' in answer) {
            batch.forEach((row, j) => results.push(JSON.stringify({ ...echo(row), prediction: answer.predictions[j] })));
            job.successful += batch.length;
          } else {
            // One bad instance fails its request: Vertex AI reports the failure per instance.
            for (const [j, row] of batch.entries()) {
              const single = await predictOn(serving, [instances[j]]);
              if ('predictions' in single) {
                results.push(JSON.stringify({ ...echo(row), prediction: single.predictions[0] }));
                job.successful++;
              } else {
                errors.push(JSON.stringify({ ...echo(row), error: { code: 3, message: single.error } }));
                job.failed++;
              }
            }
          }
        }
      } finally {
        await serving.close();
      }
    } finally {
      await rm(basePath, { recursive: true, force: true });
    }
    await writeShards(objects, job.outputDirectory, 'prediction.results', results, this.options.batchShardSize ?? 4);
    if (errors.length > 0) await writeShards(objects, job.outputDirectory, 'prediction.errors_stats', errors, this.options.batchShardSize ?? 4);
  }

  // ---------------------------------------------------------------------------------------------
  // Operations

  private startOperation(relative: string, metadataType: string, action: string, work: () => Promise<Record<string, unknown>>): unknown {
    const name = `${this.parent}/${relative}`;
    const faultIndex = this.operationFaults.findIndex((f) => f.action === action);
    const fault = faultIndex >= 0 ? this.operationFaults.splice(faultIndex, 1)[0] : undefined;
    const op: OperationRecord = {
      name,
      metadataType,
      pollsLeft: this.options.pollsBeforeDone ?? 1,
      polls: 0,
      outcome: fault
        ? Promise.resolve({ error: { code: GRPC_CODE[fault.status] ?? 2, message: fault.message } })
        : work().then(
            (response) => ({ response }),
            (err: Error) => ({ error: { code: 9, message: `Model server never became ready: ${err.message}` } }),
          ),
    };
    void op.outcome.then((settled) => (op.settled = settled));
    this.operations.set(name, op);
    return this.operationJson(op, false);
  }

  private async getOperation(relative: string): Promise<unknown> {
    const op = this.operations.get(`${this.parent}/${relative}`);
    if (!op) throw new ApiError(404, 'NOT_FOUND', `Operation ${relative} not found.`);
    op.pollsLeft--;
    op.polls++;
    if (op.pollsLeft < 0) await op.outcome;
    return this.operationJson(op, op.pollsLeft < 0 && op.settled !== undefined);
  }

  private operationJson(op: OperationRecord, done: boolean): unknown {
    const now = new Date().toISOString();
    const stage =
      op.metadataType !== 'DeployModelOperationMetadata'
        ? {}
        : { deploymentStage: done ? (op.settled!.error ? 'FAILED_TO_DEPLOY' : 'SUCCESSFULLY_DEPLOYED') : DEPLOYMENT_STAGES[Math.min(op.polls, DEPLOYMENT_STAGES.length - 1)] };
    return {
      name: op.name,
      metadata: { '@type': `${TYPE}${op.metadataType}`, genericMetadata: { createTime: now, updateTime: now }, ...stage },
      ...(done ? { done: true, ...(op.settled!.error ? { error: op.settled!.error } : { response: op.settled!.response }) } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------------

  private paginate<T>(items: T[], query: Record<string, string>): { page: T[]; nextPageToken?: string } {
    const size = Math.min(Number(query.pageSize) || this.options.pageSize || 50, this.options.pageSize ?? 50);
    const start = Number(query.pageToken ?? 0);
    const page = items.slice(start, start + size);
    return { page, nextPageToken: start + size < items.length ? String(start + size) : undefined };
  }

  private newId(digits: number): string {
    return String(this.nextId++).padStart(digits, '7');
  }
}

export async function startVertexDouble(options: VertexDoubleOptions): Promise<VertexDouble> {
  const double = new VertexDouble(options);
  await double.listen();
  return double;
}

/** A `tensorsky serve` in this process serving the repository as model "model", one engine worker. */
async function serveInProcess(basePath: string): Promise<Serving> {
  const server = await startServer({
    models: [{ name: 'model', basePath, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    pollIntervalMs: 0,
  });
  return { url: server.url, close: () => server.close() };
}

/** TF Serving's :predict on the served model: the predictions, or the error it answered. */
async function predictOn(serving: Serving, instances: unknown[]): Promise<{ predictions: unknown[] } | { error: string }> {
  const res = await fetch(`${serving.url}/v1/models/model:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances }) });
  const answer = (await res.json()) as { predictions?: unknown[]; error?: string };
  return res.ok && Array.isArray(answer.predictions) ? { predictions: answer.predictions } : { error: answer.error ?? `HTTP ${res.status}` };
}

/** Lines into NAME-00000-of-0000N files of at most `size` lines each (none when there are no lines). */
async function writeShards(objects: ObjectStore, directory: string, name: string, lines: string[], size: number): Promise<void> {
  const count = Math.ceil(lines.length / size);
  for (let i = 0; i < count; i++) {
    const shard = `${name}-${String(i).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`;
    await objects.write(`${directory}/${shard}`, `${lines.slice(i * size, (i + 1) * size).join('\n')}\n`);
  }
}

/** A gs:// pattern whose "*" matches within one path segment. */
function globRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
}

/** Validates a body against the REST reference; the API answers 400 INVALID_ARGUMENT listing the problems. */
function checked(schema: string, body: unknown, partial = false): Record<string, any> {
  const problems = bodyProblems(schema, body ?? {}, '', partial);
  if (problems.length > 0) throw new ApiError(400, 'INVALID_ARGUMENT', `Invalid JSON payload received. ${problems.join(' ')}`);
  return (body ?? {}) as Record<string, any>;
}

/** The only filter deploy needs: display_name="..." (Vertex AI's list filter syntax). */
function displayNameFilter(filter: string | undefined): string | undefined {
  if (filter === undefined || filter === '') return undefined;
  const match = /^display_name="((?:[^"\\]|\\.)*)"$/.exec(filter);
  if (!match) throw new ApiError(400, 'INVALID_ARGUMENT', `Unsupported filter: ${filter}`);
  return match[1].replace(/\\(.)/g, '$1');
}

function defaultVersion(model: ModelRecord): ModelVersionRecord {
  return model.versions.find((v) => v.versionAliases.includes('default')) ?? model.versions[model.versions.length - 1];
}
