// Config reloads, as TF Serving does them (ServerCore::ReloadConfig): through ModelService's
// HandleReloadConfigRequest and through a --model_config_file polled every
// --model_config_file_poll_wait_seconds, mirroring tensorflow_model_server_test.py's
// testModelConfigReload and testModelConfigReloadWithZeroPollPeriod, and the label rules of
// ServerCore::UpdateModelVersionLabelMap (serving_config.md: "labels can only be assigned to model
// versions that are already loaded and available"). Each reload adds a model and retires another under
// load (bounded traffic loops on loopback) with zero failed requests.
import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { ServeStartError, type ModelConfig, type ModelServer } from '../src/index.js';
import { MODEL_SERVICE } from '../src/grpc-proto.js';
import { grpcClient, unary } from './support/grpc-client.js';
import { HALF_PLUS_THREE, HALF_PLUS_TWO, TWO_VERSIONS, get, model, post, startTestServer, tempDir, trafficOn, waitFor } from './support/harness.js';
import { findGrpcPython, generatePythonStubs, runPython } from './support/python-grpc.js';

/** Input value the test engine answers slowly: requests in flight while a model is retired. */
const SLOW_X = 7;

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function reloadRequest(configs: { name: string; base_path: string; labels?: Record<string, number>; versions?: number[] }[]) {
  return {
    config: {
      model_config_list: {
        config: configs.map((c) => ({
          name: c.name,
          base_path: c.base_path,
          model_platform: 'tensorflow',
          ...(c.versions ? { model_version_policy: { specific: { versions: c.versions } } } : {}),
          version_labels: c.labels ?? {},
        })),
      },
    },
  };
}

/** Predictions of requests to `route` with x = SLOW_X, started now and answered after the model is retired. */
function slowRequests(srv: ModelServer, route: string, n: number) {
  return Promise.all(Array.from({ length: n }, () => post(srv, route, { instances: [SLOW_X] })));
}

describe('HandleReloadConfigRequest (gRPC ModelService)', () => {
  it('adds a model and retires another under load with zero failed requests (testModelConfigReload, over gRPC)', async () => {
    server = await startTestServer(
      { models: [model('kept', HALF_PLUS_TWO), model('old', HALF_PLUS_THREE)], grpcPort: 0 },
      { slowOn: SLOW_X, slowMs: 600 },
    );
    const client = grpcClient(MODEL_SERVICE, server.grpcAddress!);
    onTestFinished(() => client.close());
    const traffic = trafficOn(server, '/v1/models/kept:predict', 2000);
    try {
      await waitFor('traffic on the kept model', () => traffic.answers[0].length >= 10);
      const inFlight = slowRequests(server, '/v1/models/old:predict', 2);
      await new Promise((r) => setTimeout(r, 100)); // the slow requests hold version 123 of "old"
      const reply = await unary(
        client,
        'HandleReloadConfigRequest',
        { ...reloadRequest([{ name: 'kept', base_path: HALF_PLUS_TWO }, { name: 'new', base_path: TWO_VERSIONS }]), metric_names: ['/tensorflow/serving/model_load_count'] },
      );
      expect(reply.status.error_code).toBe(0);
      expect(reply.status.error_message).toBe('');
      expect(reply.metric.map((m: { name: string }) => m.name)).toEqual(['/tensorflow/serving/model_load_count']);
      // The reload returns once the new model serves (the latest of its two versions, 124).
      expect(await post(server, '/v1/models/new:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
      expect((await get(server, '/v1/models/new')).body.model_version_status.map((s: { version: string; state: string }) => `${s.version}:${s.state}`)).toEqual(['124:AVAILABLE']);
      // The requests in flight on the retired model finish; new ones find no model.
      expect(await inFlight).toEqual([
        { status: 200, body: { predictions: [0.5 * SLOW_X + 3] } },
        { status: 200, body: { predictions: [0.5 * SLOW_X + 3] } },
      ]);
      const gone = await post(server, '/v1/models/old:predict', { instances: [2.0] });
      expect(gone.status).toBe(404);
      expect(gone.body.error).toMatch(/Servable not found for request: Latest\(old\)/);
      await waitFor('version 123 of the retired model to be unloaded', async () => (await get(server!, '/v1/models/old')).body.model_version_status?.[0].state === 'END');
      const served = traffic.answers.map((a) => a.length);
      await waitFor('more traffic after the reload', () => traffic.answers.every((a, i) => a.length >= served[i] + 5));
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
    expect(traffic.answers.flat().every((y) => y === 3.0)).toBe(true);
    expect((await get(server, '/healthz')).status).toBe(200);
  });

  it('refuses a label on a version that is not AVAILABLE, as ServerCore::UpdateModelVersionLabelMap, and keeps the config', async () => {
    server = await startTestServer({ models: [model('hp', TWO_VERSIONS, { versionPolicy: { kind: 'specific', versions: [123] } })], grpcPort: 0 });
    const client = grpcClient(MODEL_SERVICE, server.grpcAddress!);
    onTestFinished(() => client.close());
    const refused = unary(client, 'HandleReloadConfigRequest', reloadRequest([{ name: 'hp', base_path: TWO_VERSIONS, versions: [123, 124], labels: { canary: 124 } }]));
    await expect(refused).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringMatching(/^Request to assign label to version 124 of model hp, which is not currently available for inference/),
    });
    // Nothing changed: version 124 was not loaded, and the label is unknown.
    expect((await get(server, '/v1/models/hp')).body.model_version_status.map((s: { version: string }) => s.version)).toEqual(['123']);
    expect((await post(server, '/v1/models/hp/labels/canary:predict', { instances: [2.0] })).status).toBe(400);

    // serving_config.md's procedure: load 124 first, then label it.
    await unary(client, 'HandleReloadConfigRequest', reloadRequest([{ name: 'hp', base_path: TWO_VERSIONS, versions: [123, 124], labels: { stable: 123 } }]));
    await waitFor('version 124', async () => (await get(server!, '/v1/models/hp/versions/124')).body.model_version_status?.[0].state === 'AVAILABLE');
    await unary(client, 'HandleReloadConfigRequest', reloadRequest([{ name: 'hp', base_path: TWO_VERSIONS, versions: [123, 124], labels: { stable: 123, canary: 124 } }]));
    expect(await post(server, '/v1/models/hp/labels/canary:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    expect(await post(server, '/v1/models/hp/labels/stable:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
  });

  it('answers INVALID_ARGUMENT for a config without model_config_list or with a relative base path', async () => {
    server = await startTestServer({ models: [model('m', HALF_PLUS_TWO)], grpcPort: 0 });
    const client = grpcClient(MODEL_SERVICE, server.grpcAddress!);
    onTestFinished(() => client.close());
    await expect(unary(client, 'HandleReloadConfigRequest', {})).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'ServerModelConfig type not supported by HandleReloadConfigRequest. Only ModelConfigList is currently supported',
    });
    await expect(unary(client, 'HandleReloadConfigRequest', reloadRequest([{ name: 'm', base_path: 'relative/m' }]))).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'Expected model m to have an absolute path or URI; got base_path()=relative/m',
    });
    const missing = path.join(await tempDir('serve-reload-missing-'), 'none');
    await expect(unary(client, 'HandleReloadConfigRequest', reloadRequest([{ name: 'm', base_path: missing }]))).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('is not a directory'),
    });
    expect(await post(server, '/v1/models/m:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
  });
});

const python = findGrpcPython();

// HandleReloadConfigRequest from Python's grpcio, with a ModelServerConfig built by Python's protobuf
// (as tensorflow-serving-api users write it); prints each call's status or gRPC error.
const PYTHON_RELOAD = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import grpc
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(sys.argv[2]))

def reload(models):
    request = model_management_pb2.ReloadConfigRequest()
    for name, base_path, versions, labels in models:
        config = request.config.model_config_list.config.add()
        config.name = name
        config.base_path = base_path
        config.model_platform = 'tensorflow'
        if versions:
            config.model_version_policy.specific.versions.extend(versions)
        for label, version in labels.items():
            config.version_labels[label] = version
    try:
        response = stub.HandleReloadConfigRequest(request, 30)
        return {'error_code': response.status.error_code, 'error_message': response.status.error_message}
    except grpc.RpcError as e:
        return {'code': e.code().name, 'details': e.details()}

kept, new, two = sys.argv[3], sys.argv[4], sys.argv[5]
print(json.dumps({
    'add_and_retire': reload([('kept', kept, [], {}), ('new', new, [], {})]),
    'bad_label': reload([('kept', kept, [], {}), ('new', new, [], {}), ('hp', two, [123], {'canary': 124})]),
}))
`;

describe.skipIf(!python)('HandleReloadConfigRequest from a Python client (grpcio, stubs generated from our .proto files)', () => {
  it('adds a model and retires another; a label on an unloaded version is FAILED_PRECONDITION', async () => {
    server = await startTestServer({ models: [model('kept', HALF_PLUS_TWO), model('old', HALF_PLUS_TWO)], grpcPort: 0 });
    const dir = await tempDir('tensorsky-reload-python-');
    onTestFinished(() => fs.rm(dir, { recursive: true, force: true }));
    expect(await generatePythonStubs(python!, dir)).toEqual({ status: 0, stderr: '' });
    await fs.writeFile(path.join(dir, 'reload.py'), PYTHON_RELOAD);
    const traffic = trafficOn(server, '/v1/models/kept:predict', 2000);
    let run;
    try {
      await waitFor('traffic on the kept model', () => traffic.answers[0].length >= 10);
      run = await runPython(python!, path.join(dir, 'reload.py'), [dir, server.grpcAddress!, HALF_PLUS_TWO, HALF_PLUS_THREE, TWO_VERSIONS]);
    } finally {
      await traffic.stop();
    }
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      add_and_retire: { error_code: 0, error_message: '' },
      bad_label: { code: 'FAILED_PRECONDITION', details: 'Request to assign label to version 124 of model hp, which is not currently available for inference (--allow_version_labels_for_unavailable_models allows new labels to point at versions not loaded yet)' },
    });
    expect(traffic.failures).toEqual([]);
    expect(await post(server, '/v1/models/new:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [4.0] } });
    expect((await post(server, '/v1/models/old:predict', { instances: [2.0] })).status).toBe(404);
    expect((await post(server, '/v1/models/hp:predict', { instances: [2.0] })).status).toBe(404);
  });
});

describe('labels at start', () => {
  it('refuses a label on a version that did not load, unless --allow_version_labels_for_unavailable_models', async () => {
    const hp = model('hp', TWO_VERSIONS, { versionPolicy: { kind: 'specific', versions: [123] }, versionLabels: { stable: 123, canary: 124 } });
    await expect(startTestServer({ models: [hp], workers: 1 })).rejects.toThrow(ServeStartError);
    await expect(startTestServer({ models: [hp], workers: 1 })).rejects.toThrow(
      /^Request to assign label to version 124 of model hp, which is not currently available for inference \(--allow_version_labels_for_unavailable_models/,
    );
    server = await startTestServer({ models: [hp], workers: 1, allowVersionLabelsForUnavailableModels: true });
    expect(await post(server, '/v1/models/hp/labels/stable:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    expect((await post(server, '/v1/models/hp/labels/canary:predict', { instances: [2.0] })).status).toBe(404);
    // The flag lets a new label point anywhere, but moving a label still needs an AVAILABLE version.
    await expect(server.reloadConfig([{ ...hp, versionLabels: { stable: 124, canary: 124 } }])).rejects.toThrow(
      'Request to assign label to version 124 of model hp, which is not currently available for inference',
    );
  });
});

describe('--model_config_file_poll_wait_seconds', () => {
  async function writeConfig(file: string, models: { name: string; basePath: string }[]): Promise<void> {
    const text = `model_config_list: {\n${models.map((m) => `  config: { name: "${m.name}", base_path: "${m.basePath}", model_platform: "tensorflow" }`).join(',\n')}\n}\n`;
    // Written aside and renamed: a poll never reads half a file.
    await fs.writeFile(`${file}.tmp`, text);
    await fs.rename(`${file}.tmp`, file);
  }

  it('adds a model and retires another under load with zero failed requests when the file changes (testModelConfigReload)', async () => {
    const dir = await tempDir('serve-config-poll-');
    onTestFinished(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'models.config');
    const first = [model('kept', HALF_PLUS_TWO), model('old', HALF_PLUS_THREE)];
    await writeConfig(file, first);
    server = await startTestServer({ models: first, modelConfigFile: { path: file, pollIntervalMs: 100 } }, { slowOn: SLOW_X, slowMs: 600 });
    const traffic = trafficOn(server, '/v1/models/kept:predict', 2000);
    try {
      await waitFor('traffic on the kept model', () => traffic.answers[0].length >= 10);
      const inFlight = slowRequests(server, '/v1/models/old:predict', 2);
      await new Promise((r) => setTimeout(r, 50));
      await writeConfig(file, [model('kept', HALF_PLUS_TWO), model('new', HALF_PLUS_THREE)]);
      await waitFor('the new model', async () => (await post(server!, '/v1/models/new:predict', { instances: [2.0] })).status === 200);
      expect(await post(server, '/v1/models/new:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [4.0] } });
      expect((await inFlight).map((r) => r.status)).toEqual([200, 200]);
      await waitFor('the retired model to be gone', async () => (await post(server!, '/v1/models/old:predict', { instances: [2.0] })).status === 404);
      const served = traffic.answers.map((a) => a.length);
      await waitFor('more traffic after the reload', () => traffic.answers.every((a, i) => a.length >= served[i] + 5));
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
  });

  it('keeps serving the previous config when the file becomes invalid, and logs why once', async () => {
    const dir = await tempDir('serve-config-bad-');
    onTestFinished(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'models.config');
    const models: ModelConfig[] = [model('m', HALF_PLUS_TWO)];
    await writeConfig(file, models);
    const lines: string[] = [];
    server = await startTestServer({ models, modelConfigFile: { path: file, pollIntervalMs: 50 }, log: (line) => lines.push(line) });
    await fs.writeFile(file, 'improperly formatted file');
    await waitFor('the error to be logged', () => lines.some((l) => l.includes('cannot reload --model_config_file')));
    await new Promise((r) => setTimeout(r, 300)); // several more polls of the same bad file
    expect(lines.filter((l) => l.includes('cannot reload')).length).toBe(1);
    expect(lines.find((l) => l.includes('cannot reload'))).toMatch(/Error parsing text-format tensorflow.serving.ModelServerConfig: .*; still serving the previous config$/);
    expect(await post(server, '/v1/models/m:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
  });

  it('reads the file at start only when no poll period is given (testModelConfigReloadWithZeroPollPeriod)', async () => {
    const dir = await tempDir('serve-config-zero-');
    onTestFinished(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'models.config');
    await writeConfig(file, [model('half_plus_two', HALF_PLUS_TWO)]);
    server = await startTestServer({ models: [model('half_plus_two', HALF_PLUS_TWO)], modelConfigFile: { path: file, pollIntervalMs: 0 } });
    await writeConfig(file, [model('half_plus_three', HALF_PLUS_THREE)]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await post(server, '/v1/models/half_plus_two:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    expect((await post(server, '/v1/models/half_plus_three:predict', { instances: [2.0] })).status).toBe(404);
  });
});
