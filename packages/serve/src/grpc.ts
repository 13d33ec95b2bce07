// The gRPC front: TF Serving's tensorflow.serving.PredictionService (Predict, Classify, Regress,
// MultiInference, GetModelMetadata) and ModelService (GetModelStatus, HandleReloadConfigRequest) over
// @grpc/grpc-js, on the same service layer as the REST front. It only translates: ModelSpec to a version
// spec, TensorProtos to tensors and back, errors to TF Serving's status codes.
import * as grpc from '@grpc/grpc-js';
import { int64ToNumber, parseDataType, type SignatureDef, type TensorInfo } from '@tensorsky/saved-model';
import { classify, multiInference, regress, type ExampleAnswer, type ExampleInput } from './classify-regress.js';
import type { SignatureMetadata, TensorInfoMetadata } from './engine.js';
import { ServeError, cancelled, errorMessage, invalidArgument } from './errors.js';
import {
  MODEL_SERVICE,
  PREDICTION_SERVICE,
  packSignatureDefMap,
  serviceDefinition,
  servingEnum,
  type ClassificationResponse,
  servingType,
  type GetModelMetadataRequest,
  type GetModelMetadataResponse,
  type GetModelStatusRequest,
  type GetModelStatusResponse,
  type ModelSpec,
  type PredictRequest,
  type PredictResponse,
  type RegressionResponse,
  type MultiInferenceResponse,
  type SerializedExampleRequest,
  type SerializedInput,
  type SerializedMultiInferenceRequest,
  type ReloadConfigRequest,
  type ReloadConfigResponse,
} from './grpc-proto.js';
import type { VersionSpec } from './manager.js';
import type { ServeMetrics } from './metrics.js';
import { ModelConfigError, modelConfigsFromObject, type ModelConfig } from './model-config.js';
import type { PredictionService } from './service.js';
import { signatureInputTensors, tensorToProto } from './tensor-proto.js';

export interface GrpcFrontOptions {
  /** Largest accepted request message; larger ones get RESOURCE_EXHAUSTED. */
  maxRequestBytes: number;
  log?: (line: string) => void;
  /** TF Serving's request_count and request_latency metrics of each call (entrypoint GRPC). */
  metrics?: ServeMetrics;
  /** Applies the config of a HandleReloadConfigRequest; without it that call is UNIMPLEMENTED. */
  reloadConfig?: (configs: ModelConfig[]) => Promise<void>;
  /** gRPC server channel arguments (TF Serving's --grpc_channel_arguments). */
  channelOptions?: Record<string, string | number>;
}

/** Calls of TF Serving's services that this server does not implement, and why. */
type Handler<Req, Res> = (request: Req, signal: AbortSignal) => Promise<Res> | Res;

export class GrpcFront {
  private readonly server: grpc.Server;
  private readonly log: (line: string) => void;
  private readonly metrics: ServeMetrics | undefined;

  constructor(
    private readonly service: PredictionService,
    options: GrpcFrontOptions,
  ) {
    this.log = options.log ?? (() => {});
    this.server = new grpc.Server({ ...options.channelOptions, 'grpc.max_receive_message_length': options.maxRequestBytes });
    this.addService(PREDICTION_SERVICE, {
      Predict: this.unary((req: PredictRequest, signal) => this.predict(req, signal)),
      Classify: this.unary((req: SerializedExampleRequest, signal) => this.classify(req, signal)),
      Regress: this.unary((req: SerializedExampleRequest, signal) => this.regress(req, signal)),
      MultiInference: this.unary((req: SerializedMultiInferenceRequest, signal) => this.multiInference(req, signal)),
      GetModelMetadata: this.unary((req: GetModelMetadataRequest) => this.metadata(req)),
    });
    this.addService(MODEL_SERVICE, {
      GetModelStatus: this.unary((req: GetModelStatusRequest) => this.status(req)),
      HandleReloadConfigRequest: this.unary((req: ReloadConfigRequest) => reloadConfig(req, options.reloadConfig)),
    });
    this.metrics = options.metrics;
  }

  /** Listens on host:port (0: a free port); resolves with the port bound. */
  listen(port: number, host: string): Promise<number> {
    return this.bind(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  }

  /** Listens on a gRPC address (host:port, unix:/path); resolves with the port bound. */
  bind(address: string): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  }

  /** Refuses new calls and resolves once the calls in flight are answered. */
  drain(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** Registers a service with its calls (every call TF Serving has). */
  private addService(name: string, implemented: grpc.UntypedServiceImplementation): void {
    this.server.addService(serviceDefinition(name), implemented);
  }

  /** A unary handler: runs `handle` with a signal that aborts when the client cancels or its deadline passes. */
  private unary<Req, Res>(handle: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const started = process.hrtime.bigint();
      const cancel = new AbortController();
      call.on('cancelled', () => cancel.abort(cancelled('the client cancelled the call or its deadline passed')));
      // As TF Serving's PredictionServiceImpl: each call counted by model and status, latency when OK.
      const record = (status: string) => {
        const [service, method] = call.getPath().slice(1).split('/');
        if (service !== PREDICTION_SERVICE) return;
        const model = (call.request as { model_spec?: ModelSpec | null }).model_spec?.name ?? '';
        this.metrics?.recordTfRequest(model, method, 'GRPC', status, Number(process.hrtime.bigint() - started) / 1e9);
      };
      void (async () => handle(call.request, cancel.signal))().then(
        (response) => {
          record('OK');
          callback(null, response);
        },
        (err) => {
          if (!(err instanceof ServeError) || err.code === 'INTERNAL') this.log(`internal error on gRPC ${call.getPath()}: ${errorMessage(err)}`);
          const code = err instanceof ServeError ? grpc.status[err.code] : grpc.status.INTERNAL;
          record(err instanceof ServeError ? err.code : 'INTERNAL');
          callback({ code, details: errorMessage(err) });
        },
      );
    };
  }

  private async predict(request: PredictRequest, signal: AbortSignal): Promise<PredictResponse> {
    const spec = modelSpec(request.model_spec);
    const sent = request.inputs ?? {};
    const result = await this.service.runSignature({
      model: spec.name,
      spec: spec.version,
      signatureName: request.model_spec?.signature_name ?? '',
      outputFilter: request.output_filter ?? [],
      inputs: (signature) => signatureInputTensors(sent, signature),
      signal,
    });
    return {
      model_spec: { name: spec.name, version: { value: result.version }, signature_name: result.signatureName },
      outputs: Object.fromEntries(Object.entries(result.outputs).map(([alias, t]) => [alias, tensorToProto(t)])),
    };
  }

  /** TF Serving's Classify: tf.Examples through a classification signature (classifier.cc). */
  private async classify(request: SerializedExampleRequest, signal: AbortSignal): Promise<ClassificationResponse> {
    const spec = modelSpec(request.model_spec);
    const signatureName = request.model_spec?.signature_name ?? '';
    const answer = await classify(this.service, { model: spec.name, spec: spec.version, signatureName, input: exampleInput(request.input), signal });
    return { model_spec: answeredSpec(spec.name, answer), result: { classifications: answer.result.map((classes) => ({ classes })) } };
  }

  /** TF Serving's Regress: tf.Examples through a regression signature (regressor.cc). */
  private async regress(request: SerializedExampleRequest, signal: AbortSignal): Promise<RegressionResponse> {
    const spec = modelSpec(request.model_spec);
    const signatureName = request.model_spec?.signature_name ?? '';
    const answer = await regress(this.service, { model: spec.name, spec: spec.version, signatureName, input: exampleInput(request.input), signal });
    return { model_spec: answeredSpec(spec.name, answer), result: { regressions: answer.result.map((value) => ({ value })) } };
  }

  /** TF Serving's MultiInference: the version is the first task's (a task without a ModelSpec has an empty one). */
  private async multiInference(request: SerializedMultiInferenceRequest, signal: AbortSignal): Promise<MultiInferenceResponse> {
    const tasks = request.tasks ?? [];
    const first = tasks[0]?.model_spec ? modelSpec(tasks[0].model_spec) : { name: '', version: { kind: 'latest' as const } };
    const { version, results } = await multiInference(this.service, {
      tasks: tasks.map((t) => ({ model: t.model_spec?.name ?? '', signatureName: t.model_spec?.signature_name ?? '', methodName: t.method_name ?? '' })),
      spec: first.version,
      input: exampleInput(request.input),
      signal,
    });
    return {
      results: results.map((r) => ({
        model_spec: answeredSpec(r.model, { version, signatureName: r.signatureName }),
        ...('classification' in r
          ? { classification_result: { classifications: r.classification.map((classes) => ({ classes })) } }
          : { regression_result: { regressions: r.regression.map((value) => ({ value })) } }),
      })),
    };
  }

  /** TF Serving's GetModelMetadata: only the "signature_def" field, as a packed SignatureDefMap. */
  private metadata(request: GetModelMetadataRequest): GetModelMetadataResponse {
    const spec = modelSpec(request.model_spec);
    const fields = request.metadata_field ?? [];
    if (fields.length === 0) throw invalidArgument('GetModelMetadataRequest must specify at least one metadata_field');
    for (const field of fields) {
      if (field !== 'signature_def') throw invalidArgument(`Metadata field ${field} is not supported`);
    }
    const { version, signatures } = this.service.versionSignatures(spec.name, spec.version);
    const signatureDef = Object.fromEntries(Object.entries(signatures).map(([key, s]) => [key, signatureDefOf(s)]));
    return {
      model_spec: { name: spec.name, version: { value: version }, signature_name: request.model_spec?.signature_name ?? '' },
      metadata: { signature_def: packSignatureDefMap(signatureDef) },
    };
  }

  private status(request: GetModelStatusRequest): GetModelStatusResponse {
    const spec = modelSpec(request.model_spec);
    const states = servingEnum('tensorflow.serving.ModelVersionStatus.State').values;
    const codes = servingEnum('tensorflow.error.Code').values;
    return {
      model_version_status: this.service.versionStatuses(spec.name, spec.version).map((s) => ({
        version: Number(s.version),
        state: states[s.state],
        status: { error_code: codes[s.status.error_code] ?? codes.UNKNOWN, error_message: s.status.error_message },
      })),
    };
  }
}

/**
 * TF Serving's ModelServiceImpl::HandleReloadConfigRequest: only a model_config_list is accepted. The
 * answer carries OK, or the call fails with the reload's status (the config is refused, or a new model
 * did not become available). metric_names asks for TensorFlow metrics' increases during the reload;
 * none of those counters exist here, and TF answers 0 for a metric it does not have.
 */
async function reloadConfig(request: ReloadConfigRequest, apply: ((configs: ModelConfig[]) => Promise<void>) | undefined): Promise<ReloadConfigResponse> {
  if (!apply) throw new ServeError(501, 'HandleReloadConfigRequest is not enabled on this server', 'UNIMPLEMENTED');
  const config = request.config ? servingType('tensorflow.serving.ModelServerConfig').toObject(request.config as never, { longs: String, enums: String }) : {};
  if (!config.model_config_list) {
    throw invalidArgument('ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently supported');
  }
  let configs: ModelConfig[];
  try {
    configs = modelConfigsFromObject({ model_config_list: config.model_config_list }, 'ReloadConfigRequest.config');
  } catch (err) {
    throw err instanceof ModelConfigError ? invalidArgument(err.message) : err;
  }
  await apply(configs);
  return {
    status: { error_code: 0, error_message: '' },
    metric: (request.metric_names ?? []).map((name) => ({ name, int64_value_increase: 0 })),
  };
}

/** ModelSpec as the service layer names versions: a number, a label, or (neither) the latest. */
function modelSpec(spec: ModelSpec | null | undefined): { name: string; version: VersionSpec } {
  if (!spec) throw invalidArgument('Missing ModelSpec');
  const name = spec.name ?? '';
  if (spec.version) return { name, version: { kind: 'version', version: int64ToNumber(spec.version.value) } };
  if (spec.version_label) return { name, version: { kind: 'label', label: spec.version_label } };
  return { name, version: { kind: 'latest' } };
}

/** The Examples of a request's Input, still serialized; none when it has no kind ("Input is empty."). */
function exampleInput(input: SerializedInput | null | undefined): ExampleInput {
  if (input?.example_list) return { examples: input.example_list.examples ?? [] };
  const withContext = input?.example_list_with_context;
  if (withContext) return { examples: withContext.examples ?? [], context: withContext.context };
  return { examples: [] };
}

/** The ModelSpec of an answer (util.cc's MakeModelSpec): the signature run and the version it ran on. */
function answeredSpec(name: string, answer: Pick<ExampleAnswer<unknown>, 'version' | 'signatureName'>): ModelSpec {
  return { name, version: { value: answer.version }, signature_name: answer.signatureName };
}

function signatureDefOf(s: SignatureMetadata): SignatureDef {
  const infos = (m: Record<string, TensorInfoMetadata>) => Object.fromEntries(Object.entries(m).map(([alias, info]) => [alias, tensorInfoOf(info)]));
  return { inputs: infos(s.inputs), outputs: infos(s.outputs), method_name: s.method_name };
}

function tensorInfoOf(info: TensorInfoMetadata): TensorInfo {
  const { dim, unknown_rank } = info.tensor_shape;
  return {
    name: info.name,
    dtype: parseDataType(info.dtype) ?? 0,
    tensor_shape: unknown_rank ? { unknown_rank } : { dim: dim.map((d) => ({ size: Number(d.size), name: d.name })) },
  };
}
