// Undeploying from Vertex AI against the REST double: traffic moves to what stays before a version is
// undeployed, deletions happen only when nothing uses what is deleted, refusals come before any write,
// and a dry run prints exactly the writes a real run makes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UndeployError, VertexClient, trafficWithout, undeployFromVertex, type RestCall, type VertexUndeployOptions } from '../src/index.js';
import { TEST_PROJECT, TEST_REGION, TEST_TOKEN } from './helpers/fake-cloud.js';
import { startVertexDouble, type VertexDouble } from './helpers/vertex-double.js';

const FAST_POLL = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 60_000 };
const RESOURCES = { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 };
let double: VertexDouble;
let vertex: VertexClient;
beforeAll(async () => {
  double = await startVertexDouble({
    projectId: TEST_PROJECT,
    region: TEST_REGION,
    accessToken: TEST_TOKEN,
    // Nothing is served: these tests watch the registry and the endpoints.
    fetchArtifacts: async () => {},
    startServing: async () => ({ url: 'http://127.0.0.1:9', close: async () => {} }),
  });
  vertex = new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: double.url, accessToken: TEST_TOKEN, poll: FAST_POLL });
});
afterAll(() => double?.close());

function options(extra: Partial<VertexUndeployOptions> = {}): VertexUndeployOptions {
  return { modelName: 'm', projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: double.url, accessToken: TEST_TOKEN, poll: FAST_POLL, ...extra };
}

/** Model `name` with versions v1 and v2 deployed on endpoint `name`: v2 with all the traffic. */
async function twoVersionsDeployed(name: string) {
  const image = { imageUri: 'i' };
  const v1 = await vertex.uploadModel({ displayName: name, artifactUri: `gs://b/${name}/v1/`, containerSpec: image, versionAliases: ['v1'] });
  const v2 = await vertex.uploadModel({ displayName: name, artifactUri: `gs://b/${name}/v2/`, containerSpec: image, versionAliases: ['v2', 'default'] }, v1.model);
  const endpoint = (await vertex.createEndpoint(name)).name!;
  const d1 = await vertex.deployModel(endpoint, { model: `${v1.model}@1`, dedicatedResources: RESOURCES }, { '0': 100 });
  const d2 = await vertex.deployModel(endpoint, { model: `${v1.model}@2`, dedicatedResources: RESOURCES }, { [d1.id!]: 0, '0': 100 });
  return { model: v1.model, endpoint, d1: d1.id!, d2: d2.id! };
}

const endpointState = (endpoint: string) => double.endpoints.get(endpoint.split('/').pop()!);
const writesSince = (n: number) => double.writes().slice(n).map((w) => `${w.method} ${w.path.split('/').slice(-1)[0]}${w.body ? ` ${JSON.stringify(w.body)}` : ''}`);

describe('undeployFromVertex', () => {
  it('moves the traffic off the version that takes it, then undeploys it; a dry run printed the same writes', async () => {
    const { endpoint, d1, d2 } = await twoVersionsDeployed('m');
    const before = double.writes().length;
    const printed: RestCall[] = [];
    const dry = await undeployFromVertex(options({ modelVersion: 'v2', dryRun: true, onCall: (c) => printed.push(c) }));
    expect(double.writes().length).toBe(before);
    expect(dry).toMatchObject({ undeployed: [{ deployedModelId: d2, modelVersionId: '2' }], trafficSplit: { [d1]: 100 }, dryRun: true });

    const log: string[] = [];
    const result = await undeployFromVertex(options({ modelVersion: 'v2', log: (l) => log.push(l) }));
    const id = endpoint.split('/').pop();
    expect(writesSince(before)).toEqual([`PATCH ${id} {"trafficSplit":{"${d1}":100}}`, `POST ${id}:undeployModel {"deployedModelId":"${d2}"}`]);
    const sent = double.writes().slice(before).map((w) => `${w.method} ${decodeURIComponent(new URL(w.path, double.url).pathname)} ${JSON.stringify(w.body)}`);
    expect(printed.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${decodeURIComponent(new URL(c.url).pathname)} ${JSON.stringify(c.body)}`)).toEqual(sent);
    expect(result).toMatchObject({ endpoint, undeployed: [{ deployedModelId: d2 }], deletedEndpoint: false, dryRun: false });
    expect(log).toEqual([`moved the traffic of endpoint m to ${d1} 100%`, `undeployed deployed model ${d2} (m version ID 2) from endpoint m`]);
    expect(endpointState(endpoint)).toMatchObject({ trafficSplit: { [d1]: 100 } });
    expect(endpointState(endpoint)!.deployed.map((d) => d.id)).toEqual([d1]);
  });

  it('refuses, before any write: an unknown model, a version not deployed, an endpoint still holding others', async () => {
    const before = double.writes().length;
    await expect(undeployFromVertex(options({ modelName: 'nope' }))).rejects.toThrow(
      'no Vertex AI model named nope in project tensorsky-test, region europe-west1; check --model_name and --region (tensorsky status lists what is deployed)',
    );
    await expect(undeployFromVertex(options({ modelVersion: 'v7' }))).rejects.toThrow('model m has no version v7 in project tensorsky-test, region europe-west1; check --model_version');
    await expect(undeployFromVertex(options({ modelVersion: 'v2' }))).rejects.toThrow(
      'm v2 is not deployed on endpoint m in project tensorsky-test, region europe-west1; check --model_version and --endpoint (tensorsky status lists what is deployed)',
    );
    // Another model on endpoint m: undeploying m v1 and deleting the endpoint would take it down too.
    const other = await vertex.uploadModel({ displayName: 'other', artifactUri: 'gs://b/other/v1/', containerSpec: { imageUri: 'i' } });
    const endpoint = endpointState((await vertex.findEndpoint('m'))!.name!)!;
    const ep = `projects/${TEST_PROJECT}/locations/${TEST_REGION}/endpoints/${endpoint.id}`;
    const d = await vertex.deployModel(ep, { model: `${other.model}@1`, dedicatedResources: RESOURCES }, { [endpoint.deployed[0].id]: 100, '0': 0 });
    const writes = double.writes().length;
    await expect(undeployFromVertex(options({ deleteEndpoint: true }))).rejects.toThrow(
      new RegExp(`^endpoint m still has 1 other deployed model\\(s\\) \\(${d.id}: .*models/\\d+@1\\); undeploy them first, or leave out --delete_endpoint$`),
    );
    expect(double.writes().length).toBe(writes);
    expect(before).toBeLessThan(writes);
    await vertex.undeployModel(ep, d.id!);
  });

  it('undeploys every version, deletes the endpoint and the model', async () => {
    const { model, endpoint } = await twoVersionsDeployed('n');
    const result = await undeployFromVertex(options({ modelName: 'n', deleteEndpoint: true, deleteModel: true }));
    expect(result.undeployed.map((u) => u.modelVersionId).sort()).toEqual(['1', '2']);
    expect(result).toMatchObject({ deletedEndpoint: true, deleted: model });
    expect(endpointState(endpoint)).toBeUndefined();
    expect(double.models.has(model.split('/').pop()!)).toBe(false);
  });

  it('deletes one version that is no longer deployed; the model keeps its other version as default', async () => {
    const { model } = await twoVersionsDeployed('p');
    await undeployFromVertex(options({ modelName: 'p', modelVersion: 'v2' }));
    const result = await undeployFromVertex(options({ modelName: 'p', modelVersion: 'v2', deleteModel: true }));
    expect(result).toMatchObject({ undeployed: [], deleted: `${model}@2` });
    expect(double.models.get(model.split('/').pop()!)!.versions.map((v) => [v.versionId, v.versionAliases])).toEqual([['1', ['v1', 'default']]]);
  });
});

describe('trafficWithout', () => {
  const endpoint = (split: Record<string, number>) => ({ trafficSplit: split });
  const d = (id: string, createTime = '2026-01-01T00:00:00Z') => ({ id, createTime });
  it('scales what stays to 100 in whole percents, or gives it all to the newest when none had traffic', () => {
    expect(trafficWithout(endpoint({ a: 40, b: 20, c: 40 }), [d('a')], [d('b'), d('c')])).toEqual({ b: 33, c: 67 });
    expect(trafficWithout(endpoint({ a: 100 }), [d('a')], [d('b'), d('c', '2026-02-01T00:00:00Z')])).toEqual({ c: 100 });
    expect(trafficWithout(endpoint({ a: 0, b: 100 }), [d('a')], [d('b')])).toBeUndefined();
  });
});
