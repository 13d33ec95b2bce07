// The gRPC front: TF Serving's tensorflow.serving.PredictionService (Predict, Classify, Regress,
// MultiInference, GetModelMetadata) and ModelService (GetModelStatus) over @grpc/grpc-js, on the same
// service layer as the REST front. It only translates: ModelSpec to a version spec, TensorProtos to
// tensors and back, errors to TF Serving's status codes. Calls TF Serving has but this server does not
// support answer UNIMPLEMENTED.
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
} from './grpc-proto.js';
import type { VersionSpec } from './manager.js';
import type { PredictionService } from './service.js';
import { isDType, type Tensor } from './tensor.js';
import { tensorFromProto, tensorToProto } from './tensor-proto.js';

export interface GrpcFrontOptions {
  /** Largest accepted request message; larger ones get RESOURCE_EXHAUSTED. */
  maxRequestBytes: number;
  log?: (line: string) => void;
}

/** Calls of TF Serving's services that this server does not implement, and why. */
const UNIMPLEMENTED: Record<string, Record<string, string>> = {
  [MODEL_SERVICE]: {
    HandleReloadConfigRequest: 'this server reads its model config at start only; restart it with the new --model_config_file',
  },
};

type Handler<Req, Res> = (request: Req, signal: AbortSignal) => Promise<Res> | Res;

export class GrpcFront {
  private readonly server: grpc.Server;
  private readonly log: (line: string) => void;

  constructor(
    private readonly service: PredictionService,
    options: GrpcFrontOptions,
  ) {
    this.log = options.log ?? (() => {});
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxRequestBytes });
    this.addService(PREDICTION_SERVICE, {
      Predict: this.unary((req: PredictRequest, signal) => this.predict(req, signal)),
      Classify: this.unary((req: SerializedExampleRequest, signal) => this.classify(req, signal)),
      Regress: this.unary((req: SerializedExampleRequest, signal) => this.regress(req, signal)),
      MultiInference: this.unary((req: SerializedMultiInferenceRequest, signal) => this.multiInference(req, signal)),
      GetModelMetadata: this.unary((req: GetModelMetadataRequest) => this.metadata(req)),
    });
    this.addService(MODEL_SERVICE, { GetModelStatus: this.unary((req: GetModelStatusRequest) => this.status(req)) });
  }

  /** Listens on host:port (0: a free port); resolves with the port bound. */
  listen(port: number, host: string): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  }

  /** Refuses new calls and resolves once the calls in flight are answered. */
  drain(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** Registers a service: the implemented calls, and UNIMPLEMENTED answers for the others TF Serving has. */
  private addService(name: string, implemented: grpc.UntypedServiceImplementation): void {
    const definition: Record<string, grpc.MethodDefinition<object, object>> = serviceDefinition(name);
    const implementation = { ...implemented };
    for (const [method, why] of Object.entries(UNIMPLEMENTED[name] ?? {})) {
      // Raw bytes in and out: the request is never decoded.
      definition[method] = {
        path: `/${name}/${method}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b) => b as Buffer,
        requestDeserialize: (b) => b,
        responseSerialize: (b) => b as Buffer,
        responseDeserialize: (b) => b,
      };
      implementation[method] = (_call: unknown, callback: grpc.sendUnaryData<object>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${name}/${method} is not implemented by tensorsky serve: ${why}` });
    }
    this.server.addService(definition, implementation);
  }

  /** A unary handler: runs `handle` with a signal that aborts when the client cancels or its deadline passes. */
  private unary<Req, Res>(handle: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const cancel = new AbortController();
      call.on('cancelled', () => cancel.abort(cancelled('the client cancelled the call or its deadline passed')));
      void (async () => handle(call.request, cancel.signal))().then(
        (response) => callback(null, response),
        (err) => {
          if (!(err instanceof ServeError) || err.code === 'INTERNAL') this.log(`internal error on gRPC ${call.getPath()}: ${errorMessage(err)}`);
          const code = err instanceof ServeError ? grpc.status[err.code] : grpc.status.INTERNAL;
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
      inputs: (signature) => inputTensors(sent, signature),
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

/** The request's inputs as tensors, checked against the signature as TF Serving's Predict checks them. */
function inputTensors(sent: Record<string, Parameters<typeof tensorFromProto>[0]>, signature: SignatureMetadata): Record<string, Tensor> {
  const wanted = Object.keys(signature.inputs).sort();
  const given = Object.keys(sent).sort();
  if (given.length !== wanted.length || given.some((alias, i) => alias !== wanted[i])) {
    const extra = given.filter((a) => !(a in signature.inputs));
    const missing = wanted.filter((a) => !(a in sent));
    throw invalidArgument(
      `input size does not match signature: ${given.length}!=${wanted.length} len({${given.join(',')}}) != len({${wanted.join(',')}}). ` +
        `Sent extra: {${extra.join(',')}}. Missing but required: {${missing.join(',')}}.`,
    );
  }
  const tensors: Record<string, Tensor> = {};
  for (const alias of wanted) {
    const dtype = signature.inputs[alias].dtype;
    if (!isDType(dtype)) throw invalidArgument(`input '${alias}' has dtype ${dtype}, which this server cannot carry`);
    tensors[alias] = tensorFromProto(sent[alias], alias, dtype);
  }
  return tensors;
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
