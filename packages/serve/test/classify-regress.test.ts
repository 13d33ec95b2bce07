// Classify, Regress and MultiInference with tf.Example inputs, REST and gRPC, through the real engine
// (@tensorsky/predict-local, whose ParseExample kernels read the Examples), on TF Serving's
// half_plus_two (TF1) and half_plus_two_tf2: y = 0.5x + 2, regress_x_to_y2: y2 = 0.5x + 3. Each case
// names the case of TF Serving's tests it mirrors (tensorflow_model_server_test.py, and
// servables/tensorflow/multi_inference_test.cc, classifier.cc / regressor.cc for the signature checks);
// expected values and messages are theirs. Clients: @grpc/grpc-js and Python's grpcio with stubs
// generated from our .proto files (skipped when python3 lacks grpcio and grpc_tools).
import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ModelServer } from '../src/index.js';
import { PREDICTION_SERVICE } from '../src/grpc-proto.js';
import { writeExampleClassifierModel } from './support/example-model.js';
import { HALF_PLUS_TWO, TF_SERVING_FIXTURES, model, post, tempDir } from './support/harness.js';
import { grpcClient, unary, type GrpcClient } from './support/grpc-client.js';
import { findGrpcPython, runPythonClient } from './support/python-grpc.js';

const HALF_PLUS_TWO_TF2 = path.join(TF_SERVING_FIXTURES, 'saved_model_half_plus_two_tf2_cpu');
const CLASSIFY = 'tensorflow/serving/classify';
const REGRESS = 'tensorflow/serving/regress';

/** A tf.Example (as protobufjs takes it) with float features. */
const example = (features: Record<string, number[]>) => ({
  features: { feature: Object.fromEntries(Object.entries(features).map(([name, value]) => [name, { float_list: { value } }])) },
});
const exampleList = (...examples: Record<string, number[]>[]) => ({ example_list: { examples: examples.map(example) } });
const spec = (signature_name: string, name = 'default') => ({ name, signature_name });

/** POSTs JSON text as written: JSON.stringify would write 2.0 as 2, which TF Serving reads as an int64 feature. */
async function postText(server: ModelServer, route: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(server.url + route, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, text: await res.text() };
}

// TF Serving's test runs testClassify, testRegress and testMultiInference on both models (the TF2 ones
// are named testClassifyTf2, ...); its REST cases use the TF1 model.
describe.each([
  ['', HALF_PLUS_TWO],
  ['Tf2', HALF_PLUS_TWO_TF2],
])('Classify, Regress, MultiInference on half_plus_two%s', (tf2, basePath) => {
  let server: ModelServer;
  let prediction: GrpcClient;
  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, grpcPort: 0, workers: 1, models: [model('default', basePath)] });
    prediction = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
  }, 120_000);
  afterAll(async () => {
    prediction?.close();
    await server?.close();
  });

  it(`testClassify${tf2}: score 3.0 for x=2, no label (no "classes" output); model_spec names the signature and version 123`, async () => {
    const res = await unary(prediction, 'Classify', { model_spec: spec('classify_x_to_y'), input: exampleList({ x: [2] }) });
    expect(res.result.classifications).toHaveLength(1);
    expect(res.result.classifications[0].classes).toHaveLength(1);
    expect(res.result.classifications[0].classes[0].score).toBe(3.0);
    expect(res.result.classifications[0].classes[0].label).toBe('');
    expect(res.model_spec.name).toBe('default');
    expect(res.model_spec.signature_name).toBe('classify_x_to_y');
    expect(res.model_spec.version.value.toNumber()).toBe(123);
  });

  it(`testRegress${tf2}: 3.0 for x=2`, async () => {
    const res = await unary(prediction, 'Regress', { model_spec: spec('regress_x_to_y'), input: exampleList({ x: [2] }) });
    expect(res.result.regressions.map((r: any) => r.value)).toEqual([3.0]);
    expect(res.model_spec.signature_name).toBe('regress_x_to_y');
    expect(res.model_spec.version.value.toNumber()).toBe(123);
  });

  it(`testMultiInference${tf2} / RegressAndClassifySignaturesTest: regress then classify, 3.0 each, results in task order`, async () => {
    const res = await unary(prediction, 'MultiInference', {
      tasks: [
        { model_spec: spec('regress_x_to_y'), method_name: REGRESS },
        { model_spec: spec('classify_x_to_y'), method_name: CLASSIFY },
      ],
      input: exampleList({ x: [2] }),
    });
    expect(res.results).toHaveLength(2);
    expect(res.results[0].regression_result.regressions[0].value).toBe(3.0);
    expect(res.results[1].classification_result.classifications[0].classes[0].score).toBe(3.0);
    for (const [i, name] of ['regress_x_to_y', 'classify_x_to_y'].entries()) {
      expect(res.results[i].model_spec.name).toBe('default');
      expect(res.results[i].model_spec.signature_name).toBe(name);
      expect(res.results[i].model_spec.version.value.toNumber()).toBe(123);
    }
  });

  it('MultipleValidRegressSignaturesTest: regress_x_to_y 3.0 and regress_x_to_y2 (0.5x + 3) 4.0', async () => {
    const res = await unary(prediction, 'MultiInference', {
      tasks: [
        { model_spec: spec('regress_x_to_y'), method_name: REGRESS },
        { model_spec: spec('regress_x_to_y2'), method_name: REGRESS },
      ],
      input: exampleList({ x: [2] }),
    });
    expect(res.results.map((r: any) => r.regression_result.regressions[0].value)).toEqual([3.0, 4.0]);
  });

  it(`testClassifyREST${tf2 && ' (on the TF2 model too)'}: {"results": [[["", 3.0]]]}, the score written as a float`, async () => {
    const reply = await postText(server, '/v1/models/default:classify', '{"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}');
    expect(reply).toEqual({ status: 200, text: '{"results":[[["",3.0]]]}' });
  });

  it(`testRegressREST${tf2 && ' (on the TF2 model too)'}: {"results": [3.0]}`, async () => {
    const reply = await postText(server, '/v1/models/default:regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}');
    expect(reply).toEqual({ status: 200, text: '{"results":[3.0]}' });
  });
});

describe('Classify and Regress: inputs, contexts and bad signatures (half_plus_two)', () => {
  let server: ModelServer;
  let prediction: GrpcClient;
  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, grpcPort: 0, workers: 1, models: [model('default', HALF_PLUS_TWO)] });
    prediction = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
  }, 120_000);
  afterAll(async () => {
    prediction?.close();
    await server?.close();
  });

  it('ExampleListWithContext: the context merged into each example, the example winning', async () => {
    const res = await unary(prediction, 'Regress', {
      model_spec: spec('regress_x_to_y'),
      input: { example_list_with_context: { context: example({ x: [5] }), examples: [example({ x: [2] }), example({})] } },
    });
    expect(res.result.regressions.map((r: any) => r.value)).toEqual([3.0, 4.5]);
    const rest = await postText(server, '/v1/models/default:regress', '{"signature_name": "regress_x_to_y", "context": {"x": 5.0}, "examples": [{"x": [2.0]}, {}]}');
    expect(rest).toEqual({ status: 200, text: '{"results":[3.0,4.5]}' });
  });

  it('a batch of examples, one result each, in order', async () => {
    const res = await unary(prediction, 'Classify', { model_spec: spec('classify_x_to_y'), input: exampleList({ x: [1] }, { x: [2] }, { x: [5] }) });
    expect(res.result.classifications.map((c: any) => c.classes.map((k: any) => k.score))).toEqual([[2.5], [3.0], [4.5]]);
  });

  it('classifier.cc / regressor.cc signature checks: INVALID_ARGUMENT (REST 400) with their messages', async () => {
    const cases: [string, string, RegExp][] = [
      ['Classify', 'no_such_signature', /^No signature was found with the name: no_such_signature$/],
      ['Classify', 'regress_x_to_y', /^Expected classification signature outputs to contain at least one of "classes" or "scores"\. Signature was: regress_x_to_y/],
      ['Classify', 'serving_default', /^No classification inputs found in SignatureDef: serving_default/],
      ['Regress', 'classify_x_to_y', /^No regression outputs found in SignatureDef: classify_x_to_y/],
      ['Regress', '', /^No regression inputs found in SignatureDef: serving_default/],
    ];
    for (const [method, signature, message] of cases) {
      await expect(unary(prediction, method, { model_spec: spec(signature), input: exampleList({ x: [2] }) })).rejects.toMatchObject({
        code: grpc.status.INVALID_ARGUMENT,
        details: expect.stringMatching(message),
      });
      const rest = await post(server, `/v1/models/default:${method.toLowerCase()}`, `{"signature_name": "${signature}", "examples": [{"x": 2.0}]}`);
      expect(rest.status).toBe(400);
      expect(rest.body.error).toMatch(message);
    }
  });

  it('unknown model or version: NOT_FOUND (REST 404); no ModelSpec: INVALID_ARGUMENT', async () => {
    await expect(unary(prediction, 'Classify', { model_spec: spec('classify_x_to_y', 'nope'), input: exampleList({ x: [2] }) })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: 'Servable not found for request: Latest(nope)',
    });
    await expect(unary(prediction, 'Regress', { input: exampleList({ x: [2] }) })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'Missing ModelSpec' });
    const rest = await post(server, '/v1/models/default/versions/7:regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}');
    expect(rest).toEqual({ status: 404, body: { error: 'Servable not found for request: Specific(default, 7)' } });
  });

  it('examples the graph refuses: ParseExample\'s messages, INVALID_ARGUMENT (REST 400); the server goes on', async () => {
    await expect(unary(prediction, 'Regress', { model_spec: spec('regress_x_to_y'), input: exampleList({ y: [2] }) })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('Feature: x (data type: float) is required but could not be found.'),
    });
    await expect(unary(prediction, 'Regress', { model_spec: spec('regress_x_to_y'), input: {} })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'Input is empty.',
    });
    // A whole number in JSON is an int64 feature (rapidjson's int), which a float feature refuses.
    const int = await post(server, '/v1/models/default:regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 2}]}');
    expect(int.status).toBe(400);
    expect(int.body.error).toMatch(/Key: x, Index: 0\.  Data types don't match\. Data type: int64 but expected type: float/);
    expect(await postText(server, '/v1/models/default:regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 4.0}]}')).toEqual({ status: 200, text: '{"results":[4.0]}' });
  });

  it.each([
    ['no "examples"', '{"signature_name": "regress_x_to_y"}', "When method is regress, key 'examples' is expected and was not found"],
    ['"examples" not a list', '{"examples": {"x": 1.0}}', "Expecting 'examples' value to be an list/array"],
    ['an empty "examples"', '{"examples": []}', "'examples' value is an empty array"],
    ['an example that is no object', '{"examples": [2.0]}', 'Example must be JSON object but got JSON Number'],
    ['a feature of mixed kinds', '{"examples": [{"x": [1.0, "a"]}]}', 'Unexpected element type in feature: x expecting type: float'],
    ['a null value', '{"examples": [{"x": null}]}', 'Feature: x has element with unexpected JSON type: Null'],
    ['a nested list', '{"examples": [{"x": [[1.0]]}]}', 'Feature: x has element with unexpected JSON type: Array'],
    ['a uint64 beyond int64', '{"examples": [{"x": 18446744073709551615}]}', 'Feature: x has uint64_t element. Only int64_t is supported.'],
  ])('REST bodies as json_tensor.cc refuses them: %s -> 400', async (_what, body, message) => {
    const reply = await post(server, '/v1/models/default:regress', body);
    expect(reply.status).toBe(400);
    expect(reply.body.error).toContain(message);
  });

  it('MultiInference checks (multi_inference_test.cc), each with its code', async () => {
    const multi = (tasks: object[], input: object = exampleList({ x: [2] })) => unary(prediction, 'MultiInference', { tasks, input });
    // MissingInputTest
    await expect(multi([{ model_spec: spec('regress_x_to_y'), method_name: REGRESS }], {})).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'Input is empty.' });
    // UndefinedSignatureTest
    await expect(multi([{ model_spec: spec('ThisSignatureDoesNotExist'), method_name: REGRESS }])).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'Requested signature not found in model graph: ThisSignatureDoesNotExist',
    });
    // InconsistentModelSpecsInRequestTest
    await expect(
      multi([
        { model_spec: spec('regress_x_to_y'), method_name: REGRESS },
        { model_spec: spec('regress_x_to_y', 'ModelDoesNotExist'), method_name: REGRESS },
      ]),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'All ModelSpecs in a MultiInferenceRequest must access the same model name.' });
    // EvaluateDuplicateSignaturesTest
    await expect(
      multi([
        { model_spec: spec('regress_x_to_y'), method_name: REGRESS },
        { model_spec: spec('regress_x_to_y'), method_name: REGRESS },
      ]),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'Duplicate evaluation of signature: regress_x_to_y' });
    // UsupportedSignatureTypeTest
    await expect(multi([{ model_spec: spec('serving_default'), method_name: 'tensorflow/serving/predict' }])).rejects.toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
      details: 'Unsupported signature method_name: tensorflow/serving/predict',
    });
    // ValidSingleSignatureTest
    const res = await multi([{ model_spec: spec('regress_x_to_y'), method_name: REGRESS }]);
    expect(res.results.map((r: any) => r.regression_result.regressions[0].value)).toEqual([3.0]);
  });
});

describe('Classify with labels: classes and scores outputs (PostProcessClassificationResult)', () => {
  let server: ModelServer;
  let prediction: GrpcClient;
  let base: string;
  beforeAll(async () => {
    base = await tempDir('tensorsky-classifier-');
    await writeExampleClassifierModel(path.join(base, '1'));
    server = await startServer({ host: '127.0.0.1', port: 0, grpcPort: 0, workers: 1, models: [model('labels', base)] });
    prediction = grpcClient(PREDICTION_SERVICE, server.grpcAddress!);
  }, 120_000);
  afterAll(async () => {
    prediction?.close();
    await server?.close();
    await fs.rm(base, { recursive: true, force: true });
  });

  const examples = '[{"x": 0.25, "labels": ["cat", "dog"]}, {"x": 1.0, "labels": [{"b64": "ZmlzaA=="}, "dog"]}]';

  it('each example gets its [label, score] pairs; bytes features from strings and {"b64": ...}', async () => {
    expect(await postText(server, '/v1/models/labels:classify', `{"signature_name": "classify", "examples": ${examples}}`)).toEqual({
      status: 200,
      text: '{"results":[[["cat",0.25],["dog",0.75]],[["fish",1.0],["dog",0.0]]]}',
    });
    const res = await unary(prediction, 'Classify', {
      model_spec: { name: 'labels', signature_name: 'classify' },
      input: { example_list: { examples: [{ features: { feature: { x: { float_list: { value: [0.5] } }, labels: { bytes_list: { value: [Buffer.from('a'), Buffer.from('b')] } } } } }] } },
    });
    expect(res.result.classifications[0].classes.map((c: any) => [c.label, c.score])).toEqual([
      ['a', 0.5],
      ['b', 0.5],
    ]);
  });

  it('classes without scores: every score 0 (written 0.0)', async () => {
    expect(await postText(server, '/v1/models/labels:classify', `{"signature_name": "classes_only", "examples": ${examples}}`)).toEqual({
      status: 200,
      text: '{"results":[[["cat",0.0],["dog",0.0]],[["fish",0.0],["dog",0.0]]]}',
    });
  });

  it('scores not shaped [batch_size, num_classes]: INVALID_ARGUMENT with TF Serving\'s message', async () => {
    const reply = await post(server, '/v1/models/labels:classify', `{"signature_name": "scores_1d", "examples": ${examples}}`);
    expect(reply).toEqual({ status: 400, body: { error: 'Expected Tensor shape: [batch_size num_classes] but got [2]' } });
  });

  it('regression on a [batch_size] output; a missing feature takes its default', async () => {
    const reply = await postText(server, '/v1/models/labels:regress', '{"signature_name": "regress_s", "examples": [{"x": 1.0, "labels": ["a", "b"], "s": 2.5}, {"x": 1.0, "labels": ["a", "b"]}]}');
    expect(reply).toEqual({ status: 200, text: '{"results":[2.5,0.5]}' });
  });
});

const python = findGrpcPython();
if (!python) console.warn('classify-regress.test.ts: no python3 with grpcio and grpc_tools (apt-get install python3-grpcio python3-grpc-tools); the Python client tests are skipped');

// The requests of TF Serving's _TestClassify, _TestRegress and _TestMultiInference, word for word.
const PYTHON_CLIENT = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import grpc
from tensorflow_serving.apis import classification_pb2, inference_pb2, prediction_service_pb2_grpc, regression_pb2

stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(sys.argv[2]))
out = {}
spec = lambda s: {'name': s.name, 'signature_name': s.signature_name, 'version': s.version.value}

request = classification_pb2.ClassificationRequest()
request.model_spec.name = 'default'
request.model_spec.signature_name = 'classify_x_to_y'
example = request.input.example_list.examples.add()
example.features.feature['x'].float_list.value.extend([2.0])
result = stub.Classify(request, 20)
out['classify'] = {'classes': [[[c.label, c.score] for c in cs.classes] for cs in result.result.classifications], 'model_spec': spec(result.model_spec)}

request = regression_pb2.RegressionRequest()
request.model_spec.name = 'default'
request.model_spec.signature_name = 'regress_x_to_y'
example = request.input.example_list.examples.add()
example.features.feature['x'].float_list.value.extend([2.0])
result = stub.Regress(request, 20)
out['regress'] = {'values': [r.value for r in result.result.regressions], 'model_spec': spec(result.model_spec)}

request = inference_pb2.MultiInferenceRequest()
request.tasks.add().model_spec.name = 'default'
request.tasks[0].model_spec.signature_name = 'regress_x_to_y'
request.tasks[0].method_name = 'tensorflow/serving/regress'
request.tasks.add().model_spec.name = 'default'
request.tasks[1].model_spec.signature_name = 'classify_x_to_y'
request.tasks[1].method_name = 'tensorflow/serving/classify'
example = request.input.example_list.examples.add()
example.features.feature['x'].float_list.value.extend([2.0])
result = stub.MultiInference(request, 20)
out['multi'] = {
    'regression': result.results[0].regression_result.regressions[0].value,
    'classification': result.results[1].classification_result.classifications[0].classes[0].score,
    'model_specs': [spec(r.model_spec) for r in result.results],
}

request = classification_pb2.ClassificationRequest()
request.model_spec.name = 'default'
request.model_spec.signature_name = 'no_such_signature'
request.input.example_list.examples.add().features.feature['x'].float_list.value.extend([2.0])
try:
    stub.Classify(request, 20)
except grpc.RpcError as e:
    out['bad_signature'] = {'code': e.code().name, 'details': e.details()}
print(json.dumps(out))
`;

describe.skipIf(!python)('Classify, Regress, MultiInference with a Python client (grpcio, stubs generated from our .proto files)', () => {
  let server: ModelServer;
  let result: Record<string, any>;
  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: null, grpcPort: 0, workers: 1, models: [model('default', HALF_PLUS_TWO)] });
    result = await runPythonClient(python!, PYTHON_CLIENT, server.grpcAddress!);
  }, 120_000);
  afterAll(() => server?.close());

  it('testClassify: one class, score 3.0, empty label; _VerifyModelSpec', () => {
    expect(result.classify).toEqual({ classes: [[['', 3.0]]], model_spec: { name: 'default', signature_name: 'classify_x_to_y', version: 123 } });
  });

  it('testRegress: 3.0; _VerifyModelSpec', () => {
    expect(result.regress).toEqual({ values: [3.0], model_spec: { name: 'default', signature_name: 'regress_x_to_y', version: 123 } });
  });

  it('testMultiInference: 3.0 and 3.0, each result with its task\'s model_spec', () => {
    expect(result.multi).toEqual({
      regression: 3.0,
      classification: 3.0,
      model_specs: [
        { name: 'default', signature_name: 'regress_x_to_y', version: 123 },
        { name: 'default', signature_name: 'classify_x_to_y', version: 123 },
      ],
    });
  });

  it('an unknown signature: INVALID_ARGUMENT', () => {
    expect(result.bad_signature).toEqual({ code: 'INVALID_ARGUMENT', details: 'No signature was found with the name: no_such_signature' });
  });
});
