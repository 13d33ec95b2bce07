// TF Serving's gRPC API, on TF Serving's own test models (half_plus_two: y = 0.5x + 2; half_plus_three;
// the two-version repository), mirroring cases of TF Serving's tensorflow_model_server_test.py. Two
// clients: Python's grpcio with stubs generated at test time from our .proto files (an implementation
// of gRPC and protobuf independent of ours; skipped when python3 lacks grpc and grpc_tools), and
// @grpc/grpc-js's client, so that the suite checks gRPC without Python too.
import * as grpc from '@grpc/grpc-js';
import { DataType, tensorProto, tensorProtoToArray, type TensorProto } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelServer } from '../src/index.js';
import { MODEL_SERVICE, PREDICTION_SERVICE, servingType } from '../src/grpc-proto.js';
import { HALF_PLUS_THREE, HALF_PLUS_TWO, TWO_VERSIONS, get, model, startTestServer } from './support/harness.js';
import { grpcClient, unary, type GrpcClient } from './support/grpc-client.js';
import { findGrpcPython, runPythonClient } from './support/python-grpc.js';

const X = [1.0, 2.0, 5.0];
const Y_HALF_PLUS_TWO = [2.5, 3.0, 4.5];

async function startGrpcServer(): Promise<ModelServer> {
  return startTestServer({
    models: [
      model('default', HALF_PLUS_TWO),
      model('half_plus_three', HALF_PLUS_THREE),
      model('hp', TWO_VERSIONS, { versionPolicy: { kind: 'all' }, versionLabels: { stable: 123, canary: 124 } }),
    ],
    grpcPort: 0,
    workers: 1,
  });
}

const python = findGrpcPython();
if (!python) console.warn('grpc.test.ts: no python3 with grpcio and grpc_tools (apt-get install python3-grpcio python3-grpc-tools); the Python client tests are skipped');

// The calls of TF Serving's test, made with stubs generated from packages/serve/proto and saved-model's
// tensorflow.proto; prints one JSON object, each call's result or its gRPC error.
const PYTHON_CLIENT = String.raw`
import json, struct, sys
sys.path.insert(0, sys.argv[1])
import grpc
import tensorflow_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc

channel = grpc.insecure_channel(sys.argv[2])
prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
models = model_service_pb2_grpc.ModelServiceStub(channel)
out = {}

def call(name, fn):
    try:
        out[name] = fn()
    except grpc.RpcError as e:
        out[name] = {'code': e.code().name, 'details': e.details()}

def predict(name='default', version=None, label=None, signature='serving_default', encoding='float_val', output_filter=()):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    x = request.inputs['x']
    x.dtype = tensorflow_pb2.DT_FLOAT
    x.tensor_shape.dim.add().size = 3
    x.tensor_shape.dim.add().size = 1
    if encoding == 'float_val':
        x.float_val.extend([1.0, 2.0, 5.0])
    else:
        x.tensor_content = struct.pack('<3f', 1.0, 2.0, 5.0)
    request.output_filter.extend(output_filter)
    result = prediction.Predict(request, 5)
    y = result.outputs['y']
    return {
        'model_spec': {'name': result.model_spec.name, 'version': result.model_spec.version.value, 'signature_name': result.model_spec.signature_name},
        'outputs': sorted(result.outputs.keys()),
        'dtype': tensorflow_pb2.DataType.Name(y.dtype),
        'shape': [d.size for d in y.tensor_shape.dim],
        'float_val': list(y.float_val),
    }

def metadata():
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = 'default'
    request.metadata_field.append('signature_def')
    result = prediction.GetModelMetadata(request, 5)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    result.metadata['signature_def'].Unpack(signatures)
    x = signatures.signature_def['serving_default'].inputs['x']
    return {
        'model_spec': {'name': result.model_spec.name, 'version': result.model_spec.version.value},
        'metadata_keys': list(result.metadata.keys()),
        'type_url': result.metadata['signature_def'].type_url,
        'signatures': sorted(signatures.signature_def.keys()),
        'x': {'name': x.name, 'dtype': tensorflow_pb2.DataType.Name(x.dtype), 'shape': [d.size for d in x.tensor_shape.dim]},
        'method_name': signatures.signature_def['serving_default'].method_name,
    }

def status(name, version=None):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    if version is not None:
        request.model_spec.version.value = version
    result = models.GetModelStatus(request, 5)
    return [{'version': s.version, 'state': get_model_status_pb2.ModelVersionStatus.State.Name(s.state), 'error_code': s.status.error_code} for s in result.model_version_status]

call('predict', lambda: predict())
call('predict_tensor_content', lambda: predict(encoding='tensor_content', output_filter=['y']))
call('predict_half_plus_three', lambda: predict(name='half_plus_three'))
call('predict_version', lambda: predict(name='hp', version=123))
call('predict_label', lambda: predict(name='hp', label='canary'))
call('metadata', metadata)
call('status', lambda: status('default'))
call('status_versions', lambda: status('hp'))
call('bad_model', lambda: predict(name='no_such_model'))
call('bad_version', lambda: predict(version=999))
call('bad_label', lambda: predict(name='hp', label='nightly'))
call('bad_signature', lambda: predict(signature='no_such_signature'))
call('bad_status_version', lambda: status('default', 999))
print(json.dumps(out))
`;

describe.skipIf(!python)('gRPC API with a Python client (grpcio, stubs generated from our .proto files)', () => {
  let server: ModelServer;
  let result: Record<string, any>;
  beforeAll(async () => {
    server = await startGrpcServer();
    result = await runPythonClient(python!, PYTHON_CLIENT, server.grpcAddress!);
  }, 120_000);
  afterAll(() => server?.close());

  it('testPredictSavedModel: Predict with float_val and with tensor_content, output_filter, answered with float_val', () => {
    const expected = {
      model_spec: { name: 'default', version: 123, signature_name: 'serving_default' },
      outputs: ['y'],
      dtype: 'DT_FLOAT',
      shape: [3, 1],
      float_val: Y_HALF_PLUS_TWO,
    };
    expect(result.predict).toEqual(expected);
    expect(result.predict_tensor_content).toEqual(expected);
    expect(result.predict_half_plus_three.float_val).toEqual([3.5, 4.0, 5.5]);
  });

  it('version and version_label choose the version (the two-version repository, labels stable/canary)', () => {
    expect(result.predict_version.model_spec).toEqual({ name: 'hp', version: 123, signature_name: 'serving_default' });
    expect(result.predict_label.model_spec).toEqual({ name: 'hp', version: 124, signature_name: 'serving_default' });
    expect(result.predict_label.float_val).toEqual(Y_HALF_PLUS_TWO);
  });

  it('testGetModelMetadata: a SignatureDefMap packed under "signature_def"', () => {
    expect(result.metadata).toEqual({
      model_spec: { name: 'default', version: 123 },
      metadata_keys: ['signature_def'],
      type_url: 'type.googleapis.com/tensorflow.serving.SignatureDefMap',
      signatures: ['classify_x_to_y', 'regress_x2_to_y3', 'regress_x_to_y', 'regress_x_to_y2', 'serving_default'],
      x: { name: 'x:0', dtype: 'DT_FLOAT', shape: [-1, 1] },
      method_name: 'tensorflow/serving/predict',
    });
  });

  it('testGetModelStatus: one AVAILABLE version 123 with error code OK (0); every version of the two-version model', () => {
    expect(result.status).toEqual([{ version: 123, state: 'AVAILABLE', error_code: 0 }]);
    expect(result.status_versions).toEqual([
      { version: 124, state: 'AVAILABLE', error_code: 0 },
      { version: 123, state: 'AVAILABLE', error_code: 0 },
    ]);
  });

  it("bad model name, version, label and signature get TF Serving's status codes", () => {
    expect(result.bad_model).toEqual({ code: 'NOT_FOUND', details: 'Servable not found for request: Latest(no_such_model)' });
    expect(result.bad_version).toEqual({ code: 'NOT_FOUND', details: 'Servable not found for request: Specific(default, 999)' });
    expect(result.bad_label).toEqual({ code: 'INVALID_ARGUMENT', details: 'Unrecognized servable version label: nightly (model hp)' });
    // _TestBadModel expects FAILED_PRECONDITION for a signature the model lacks (predict_util.cc).
    expect(result.bad_signature.code).toBe('FAILED_PRECONDITION');
    expect(result.bad_signature.details).toMatch(/no_such_signature.*not found/);
    expect(result.bad_status_version).toEqual({ code: 'NOT_FOUND', details: 'Could not find version 999 of model default' });
  });
});


function xTensor(values: number[] = X): TensorProto {
  return tensorProto(DataType.DT_FLOAT, [values.length, 1], new Float32Array(values));
}

describe('gRPC API with @grpc/grpc-js', () => {
  let server: ModelServer;
  let prediction: GrpcClient;
  let models: GrpcClient;
  beforeAll(async () => {
    server = await startGrpcServer();
    prediction = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
    models = grpcClient(MODEL_SERVICE, server.grpcAddress!);
  });
  afterAll(async () => {
    prediction?.close();
    models?.close();
    await server?.close();
  });

  it('testPredictSavedModel: tensor_content in, float_val out; the same answer as REST', async () => {
    const res = await unary(prediction, 'Predict', { model_spec: { name: 'default' }, inputs: { x: xTensor() } });
    expect(res.model_spec.name).toBe('default');
    expect(res.model_spec.version.value.toNumber()).toBe(123);
    expect(res.model_spec.signature_name).toBe('serving_default');
    expect(res.outputs.y.float_val).toEqual(Y_HALF_PLUS_TWO);
    expect(res.outputs.y.tensor_content.length).toBe(0);
    expect(Array.from(tensorProtoToArray(res.outputs.y) as Float32Array)).toEqual(Y_HALF_PLUS_TWO);
    const rest = await get(server, '/v1/models/default');
    expect(rest.body.model_version_status[0].version).toBe('123');
  });

  it('reads typed *_val fields with TensorFlow fill rule (one value broadcast to the shape)', async () => {
    const res = await unary(prediction, 'Predict', {
      model_spec: { name: 'default' },
      inputs: { x: { dtype: DataType.DT_FLOAT, tensor_shape: { dim: [{ size: 2 }, { size: 1 }] }, float_val: [4] } },
    });
    expect(res.outputs.y.float_val).toEqual([4, 4]);
    expect(res.outputs.y.tensor_shape.dim.map((d: any) => d.size.toNumber())).toEqual([2, 1]);
  });

  it('refuses inputs that do not match the signature with INVALID_ARGUMENT', async () => {
    const call = (inputs: Record<string, TensorProto>, extra: object = {}) => unary(prediction, 'Predict', { model_spec: { name: 'default' }, inputs, ...extra });
    await expect(call({ z: xTensor() })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'input size does not match signature: 1!=1 len({z}) != len({x}). Sent extra: {z}. Missing but required: {x}.',
    });
    await expect(call({ x: tensorProto(DataType.DT_STRING, [1], ['2']) })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "input 'x' is a DT_STRING tensor; the signature expects DT_FLOAT",
    });
    await expect(call({ x: { dtype: DataType.DT_FLOAT, tensor_shape: { dim: [{ size: 2 }] }, tensor_content: new Uint8Array(3) } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "input 'x': DT_FLOAT tensor_content has 3 bytes, expected 8 for 2 elements",
    });
    await expect(call({ x: xTensor() }, { output_filter: ['nope'] })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'output tensor alias not found in signature: nope Outputs expected to be in the set {y}.',
    });
    await expect(unary(prediction, 'Predict', { inputs: { x: xTensor() } })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'Missing ModelSpec' });
  });

  it('GetModelMetadata needs metadata_field signature_def, as TF Serving does', async () => {
    await expect(unary(prediction, 'GetModelMetadata', { model_spec: { name: 'default' } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'GetModelMetadataRequest must specify at least one metadata_field',
    });
    const res = await unary(prediction, 'GetModelMetadata', { model_spec: { name: 'hp', version_label: 'stable' }, metadata_field: ['signature_def'] });
    expect(res.model_spec.version.value.toNumber()).toBe(123);
    const map = servingType('tensorflow.serving.SignatureDefMap').decode(res.metadata.signature_def.value) as any;
    expect(map.signature_def.serving_default.outputs.y.name).toBe('y:0');
  });

  it('GetModelStatus: states as TF Serving numbers them; NOT_FOUND for an unknown model', async () => {
    const res = await unary(models, 'GetModelStatus', { model_spec: { name: 'hp', version: { value: 124 } } });
    expect(res.model_version_status.map((s: any) => [s.version.toNumber(), s.state, s.status.error_code])).toEqual([[124, 30, 0]]);
    await expect(unary(models, 'GetModelStatus', { model_spec: { name: 'nope' } })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'Could not find any versions of model nope',
    });
  });

  it('a call TF Serving does not have answers UNIMPLEMENTED', async () => {
    const raw = (service: string, method: string) =>
      new Promise<grpc.ServiceError>((resolve) => {
        const c = new grpc.Client(server.grpcAddress!, grpc.credentials.createInsecure());
        c.makeUnaryRequest(`/${service}/${method}`, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err) => {
          c.close();
          resolve(err!);
        });
      });
    expect(await raw(PREDICTION_SERVICE, 'NoSuchCall')).toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    expect(await raw(MODEL_SERVICE, 'NoSuchCall')).toMatchObject({ code: grpc.status.UNIMPLEMENTED });
  });
});

describe('gRPC lifecycle', () => {
  it('close() answers the calls in flight, then refuses new ones', async () => {
    const server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], port: null, grpcPort: 0, workers: 1 }, { delayMs: 400 });
    const c = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
    try {
      const inFlight = unary(c, 'Predict', { model_spec: { name: 'default' }, inputs: { x: xTensor([6]) } });
      await new Promise((r) => setTimeout(r, 100));
      const closed = server.close();
      expect((await inFlight).outputs.y.float_val).toEqual([5]);
      await closed;
      await expect(unary(c, 'Predict', { model_spec: { name: 'default' }, inputs: { x: xTensor([6]) } })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      c.close();
      await server.close();
    }
  });

  it("a client's deadline ends its call with DEADLINE_EXCEEDED", async () => {
    const server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], port: null, grpcPort: 0, workers: 1 }, { delayMs: 1000 });
    const c = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
    try {
      const call = new Promise((resolve, reject) =>
        c.Predict({ model_spec: { name: 'default' }, inputs: { x: xTensor() } }, { deadline: Date.now() + 200 }, (err, res) => (err ? reject(err) : resolve(res))),
      );
      await expect(call).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    } finally {
      c.close();
      await server.close();
    }
  });
});

describe('ports', () => {
  it('serves gRPC alone when the REST API is off (port: null)', async () => {
    const server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], port: null, grpcPort: 0, workers: 1 });
    try {
      expect(server.url).toBe('');
      const c = grpcClient(MODEL_SERVICE, server.grpcAddress!);
      const res = await unary(c, 'GetModelStatus', { model_spec: { name: 'default' } });
      c.close();
      expect(res.model_version_status[0].state).toBe(30);
    } finally {
      await server.close();
    }
  });

  it('refuses to start with neither API', async () => {
    await expect(startTestServer({ models: [model('default', HALF_PLUS_TWO)], port: null, workers: 1 })).rejects.toThrow(
      'nothing to listen on: both the REST and the gRPC API are off; give --port or --rest_api_port',
    );
  });
});
