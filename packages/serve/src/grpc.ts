// The gRPC front: TF Serving's tensorflow.serving.PredictionService (Predict, GetModelMetadata) and
// ModelService (GetModelStatus) over @grpc/grpc-js, on the same service layer as the REST front. It
// only translates: ModelSpec to a version spec, TensorProtos to tensors and back, errors to TF Serving's
// status codes. Calls TF Serving has but this server does not support answer UNIMPLEMENTED.
import * as grpc from '@grpc/grpc-js';
import { int64ToNumber, parseDataType, type SignatureDef, type TensorInfo } from '@tensorsky/saved-model';
import type { SignatureMetadata, TensorInfoMetadata } from './engine.js';
import { ServeError, cancelled, errorMessage, invalidArgument } from './errors.js';
import {
  MODEL_SERVICE,
  PREDICTION_SERVICE,
  packSignatureDefMap,
  serviceDefinition,
  servingEnum,
  type GetModelMetadataRequest,
  type GetModelMetadataResponse,
  type GetModelStatusRequest,
  type GetModelStatusResponse,
  type ModelSpec,
  type PredictRequest,
  type PredictResponse,
} from './grpc-proto.js';
import type { VersionSpec } from './manager.js';
import type { PredictionService } from './service.js';
import { signatureInputTensors, tensorToProto } from './tensor-proto.js';

export interface GrpcFrontOptions {
  /** Largest accepted request message; larger ones get RESOURCE_EXHAUSTED. */
  maxRequestBytes: number;
  log?: (line: string) => void;
}

/** Calls of TF Serving's services that this server does not implement, and why. */
const UNIMPLEMENTED: Record<string, Record<string, string>> = {
  [PREDICTION_SERVICE]: {
    Classify: 'Classify needs tf.Example inputs, which this server does not parse; call Predict',
    Regress: 'Regress needs tf.Example inputs, which this server does not parse; call Predict',
    MultiInference: 'MultiInference needs tf.Example inputs, which this server does not parse; call Predict',
  },
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
    for (const [method, why] of Object.entries(UNIMPLEMENTED[name])) {
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
      inputs: (signature) => signatureInputTensors(sent, signature),
      signal,
    });
    return {
      model_spec: { name: spec.name, version: { value: result.version }, signature_name: result.signatureName },
      outputs: Object.fromEntries(Object.entries(result.outputs).map(([alias, t]) => [alias, tensorToProto(t)])),
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
