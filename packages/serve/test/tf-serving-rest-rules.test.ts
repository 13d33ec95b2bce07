// TF Serving's REST status codes and path rules, each test naming the rule it mirrors in
// tensorflow_serving/model_servers (http_rest_api_util.cc, http_rest_api_handler.cc, http_server.cc,
// get_model_status_impl.cc, server_core.cc) and util/json_tensor.cc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelServer } from '../src/index.js';
import { HALF_PLUS_TWO, TWO_VERSIONS, get, model, post, startTestServer } from './support/harness.js';

describe("TF Serving's REST rules (half_plus_two; the two-version model with labels stable/canary)", () => {
  let server: ModelServer;
  beforeAll(async () => {
    const [twoVersions] = parseModelConfig(
      `model_config_list { config { name: 'hp' base_path: '${TWO_VERSIONS}' model_version_policy { all {} }
         version_labels { key: 'stable' value: 123 } version_labels { key: 'canary' value: 124 } } }`,
      'inline.config',
    );
    server = await startTestServer({ models: [model('half_plus_two', HALF_PLUS_TWO), twoVersions], workers: 1 });
  });
  afterAll(() => server?.close());

  it('GET /v1/models: 400 "Missing model name in request." (HttpRestApiHandler::ProcessModelStatusRequest)', async () => {
    expect(await get(server, '/v1/models')).toEqual({ status: 400, body: { error: 'Missing model name in request.' } });
  });

  it('an unknown signature: 400 (GetInfoMap InvalidArgument; http_server.cc ToHTTPStatusCode maps it to BAD_REQUEST)', async () => {
    const reply = await post(server, '/v1/models/half_plus_two:predict', { signature_name: 'nope', instances: [1.0] });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(/^Serving signature name: "nope" not found in signature def/);
  });

  it('an unknown version label: 400 "Unrecognized servable version label" (ServerCore::GetModelVersionForLabel InvalidArgument)', async () => {
    for (const route of ['/v1/models/hp/labels/nightly:predict', '/v1/models/hp/labels/nightly/metadata']) {
      const reply = route.endsWith(':predict') ? await post(server, route, { instances: [1.0] }) : await get(server, route);
      expect(reply).toEqual({ status: 400, body: { error: 'Unrecognized servable version label: nightly (model hp)' } });
    }
    // An unknown model or version stays NOT_FOUND (404).
    expect((await post(server, '/v1/models/hp/versions/7:predict', { instances: [1.0] })).status).toBe(404);
    expect((await post(server, '/v1/models/nope:predict', { instances: [1.0] })).status).toBe(404);
  });

  it('status by label returns every version, whatever the label (GetModelStatusWithModelSpec reads model_spec.version only)', async () => {
    const all = await get(server, '/v1/models/hp');
    expect(all.body.model_version_status.map((s: { version: string }) => s.version)).toEqual(['124', '123']);
    expect(await get(server, '/v1/models/hp/labels/stable')).toEqual(all);
    expect(await get(server, '/v1/models/hp/labels/nightly')).toEqual(all);
    // A version number does select one version.
    expect((await get(server, '/v1/models/hp/versions/123')).body.model_version_status.map((s: { version: string }) => s.version)).toEqual(['123']);
  });

  it('paths match case-insensitively ((?i) in kPredictionApiGegex / kModelStatusApiRegex); the method is compared as written', async () => {
    expect(await post(server, '/V1/MODELS/half_plus_two:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    expect(await post(server, '/v1/Models/hp/Labels/canary:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    expect(await post(server, '/v1/models/hp/VERSIONS/123:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    expect((await get(server, '/V1/Models/half_plus_two/metadata')).body.model_spec.version).toBe('123');
    // ProcessRequest compares the captured method with "predict": PREDICT parses but is no method, a 400.
    const upper = await post(server, '/v1/models/half_plus_two:PREDICT', { instances: [2.0] });
    expect(upper.status).toBe(400);
    expect(upper.body.error).toMatch(/^Malformed request/);
    // ... and a subresource that is not exactly "metadata" is a status request.
    expect(await get(server, '/v1/models/half_plus_two/METADATA')).toEqual(await get(server, '/v1/models/half_plus_two'));
  });

  it('a path under /v1/ that no pattern parses: 400 "Malformed request" (the handler is registered for (?i)/v1/.*); elsewhere 404', async () => {
    expect(await post(server, '/v1/whatever', {})).toEqual({ status: 400, body: { error: 'Malformed request: POST /v1/whatever' } });
    expect(await get(server, '/V1/nothing/here')).toEqual({ status: 400, body: { error: 'Malformed request: GET /V1/nothing/here' } });
    expect((await post(server, '/v2/whatever', {})).status).toBe(404);
  });

  it('columnar "inputs" keys the signature does not have are ignored (FillTensorMapFromInputsMap looks up the signature inputs)', async () => {
    expect(await post(server, '/v1/models/half_plus_two:predict', { inputs: { x: [[2.0]], extra: 'ignored', more: [1, 2] } })).toEqual({
      status: 200,
      body: { outputs: [[3.0]] },
    });
    // A missing one is still an error; row format still wants exactly the signature's keys.
    expect((await post(server, '/v1/models/half_plus_two:predict', { inputs: { extra: [1] } })).body.error).toMatch(/^Missing named input: x in 'inputs' object/);
    expect((await post(server, '/v1/models/half_plus_two:predict', { instances: [{ x: [2.0], extra: 1 }] })).status).toBe(400);
  });
});
