// `tensorsky undeploy` and `tensorsky status` against the Vertex AI double (checked against the
// aiplatform v1 reference), on loopback. Deployments are made with the Vertex AI client directly; the
// double serves nothing, as these commands never predict.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VertexClient } from '@tensorsky/deploy';
import { isolateCloudSettings, TEST_PROJECT, TEST_REGION, TEST_TOKEN, unreachableUrl } from '../../../packages/deploy/test/helpers/fake-cloud.js';
import { startVertexDouble, type VertexDouble } from '../../../packages/deploy/test/helpers/vertex-double.js';
import { run } from './support/run-cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-cli-undeploy-'));
const savedToken = process.env.TENSORSKY_ACCESS_TOKEN;
// The machine's gcloud set-up must not leak in.
isolateCloudSettings(path.join(scratch, 'gcloud'));
const RESOURCES = { machineSpec: { machineType: 'n1-standard-4' }, minReplicaCount: 1, maxReplicaCount: 3 };
let double: VertexDouble;
let vertex: VertexClient;

beforeAll(async () => {
  double = await startVertexDouble({
    projectId: TEST_PROJECT,
    region: TEST_REGION,
    accessToken: TEST_TOKEN,
    fetchArtifacts: async () => {},
    startServing: async () => ({ url: 'http://127.0.0.1:9', close: async () => {} }),
  });
  vertex = new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: double.url, accessToken: TEST_TOKEN, poll: { initialDelayMs: 5, maxDelayMs: 20 } });
  process.env.TENSORSKY_ACCESS_TOKEN = TEST_TOKEN;
});
afterAll(async () => {
  if (savedToken === undefined) delete process.env.TENSORSKY_ACCESS_TOKEN;
  else process.env.TENSORSKY_ACCESS_TOKEN = savedToken;
  await double?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const where = () => ['--project_id', TEST_PROJECT, '--region', TEST_REGION, '--api_root', double.url];

/** Model `name` with versions v1 and v2 deployed on endpoint `name`: v2 with all the traffic. */
async function twoVersionsDeployed(name: string) {
  const image = { imageUri: 'i' };
  const v1 = await vertex.uploadModel({ displayName: name, artifactUri: `gs://b/${name}/v1/`, containerSpec: image, versionAliases: ['v1'] });
  await vertex.uploadModel({ displayName: name, artifactUri: `gs://b/${name}/v2/`, containerSpec: image, versionAliases: ['v2', 'default'] }, v1.model);
  const endpoint = (await vertex.createEndpoint(name)).name!;
  const d1 = await vertex.deployModel(endpoint, { model: `${v1.model}@1`, dedicatedResources: RESOURCES }, { '0': 100 });
  const d2 = await vertex.deployModel(endpoint, { model: `${v1.model}@2`, dedicatedResources: RESOURCES }, { [d1.id!]: 0, '0': 100 });
  return { model: v1.model, endpoint, d1: d1.id!, d2: d2.id! };
}

describe('tensorsky undeploy', () => {
  it('undeploys the version taking traffic after moving its traffic; --dry-run first prints the same writes', async () => {
    const { endpoint, d1, d2 } = await twoVersionsDeployed('jean_inception');
    const writes = double.writes().length;
    const dry = await run('undeploy', '--model_name', 'jean_inception', '--model_version', 'v2', ...where(), '--dry-run');
    expect(dry.code).toBe(0);
    expect(double.writes().length).toBe(writes);
    expect(dry.out[0]).toBe('Dry run: the GET calls below were made; nothing was written. Calls:');
    const planned = dry.out.filter((l) => !l.startsWith('GET ') && l !== dry.out[0]);
    expect(planned).toEqual([
      `PATCH ${double.url}v1/${endpoint}?updateMask=trafficSplit {"trafficSplit":{"${d1}":100}}`,
      `POST ${double.url}v1/${endpoint}:undeployModel {"deployedModelId":"${d2}"}`,
    ]);

    const done = await run('undeploy', '--model-name', 'jean_inception', '--model-version', 'v2', ...where());
    expect(done.code).toBe(0);
    expect(done.out).toEqual([`Undeployed jean_inception version ID 2 (deployed model ${d2}) from ${endpoint}`, `Traffic: ${d1} 100%`]);
    expect(done.err).toContain(`tensorsky undeploy: project ${TEST_PROJECT} (--project_id), region ${TEST_REGION} (--region)`);
    expect(double.writes().slice(writes).map((w) => w.method)).toEqual(['PATCH', 'POST']);
  });

  it('says what to do when there is nothing to undeploy or an endpoint cannot be deleted, before any write', async () => {
    const writes = double.writes().length;
    const unknown = await run('undeploy', '--model_name', 'jean_incepton', ...where());
    expect(unknown.code).toBe(1);
    expect(unknown.err.at(-1)).toBe(
      `tensorsky: no Vertex AI model named jean_incepton in project ${TEST_PROJECT}, region ${TEST_REGION}; check --model_name and --region (tensorsky status lists what is deployed)`,
    );
    const notDeployed = await run('undeploy', '--model_name', 'jean_inception', '--model_version', 'v2', ...where());
    expect(notDeployed.code).toBe(1);
    expect(notDeployed.err.at(-1)).toMatch(/^tensorsky: jean_inception v2 is not deployed on endpoint jean_inception in .*; check --model_version and --endpoint/);

    const other = await vertex.uploadModel({ displayName: 'other', artifactUri: 'gs://b/other/v1/', containerSpec: { imageUri: 'i' } });
    const endpoint = (await vertex.findEndpoint('jean_inception'))!;
    const d = await vertex.deployModel(endpoint.name!, { model: `${other.model}@1`, dedicatedResources: RESOURCES }, { ...endpoint.trafficSplit, '0': 0 });
    const busy = await run('undeploy', '--model_name', 'jean_inception', '--delete_endpoint', ...where());
    expect(busy.code).toBe(1);
    expect(busy.err.at(-1)).toMatch(new RegExp(`^tensorsky: endpoint jean_inception still has 1 other deployed model\\(s\\) \\(${d.id}: .*\\); undeploy them first, or leave out --delete_endpoint$`));
    expect(double.writes().length).toBe(writes + 2);
    await vertex.undeployModel(endpoint.name!, d.id!);

    const usage = await run('undeploy', ...where());
    expect(usage.code).toBe(2);
    expect(usage.err).toEqual(['tensorsky: missing --model_name (see tensorsky undeploy --help)']);
  });

  it('--dry-run offline: says once that the state cannot be read, finds nothing to undeploy, exits 0 quickly', async () => {
    const started = Date.now();
    const dry = await run('undeploy', '--model_name', 'jean_inception', '--delete_endpoint', '--project_id', TEST_PROJECT, '--region', TEST_REGION, '--api_root', await unreachableUrl(), '--dry-run');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(dry.code).toBe(0);
    expect(dry.err.filter((l) => l.includes('cannot read the current state'))).toHaveLength(1);
    expect(dry.out[0]).toBe('Dry run, planned as for a fresh project (the current state could not be read); nothing was written. Calls:');
    expect(dry.out.slice(1).map((l) => l.split('?')[0])).toEqual([expect.stringMatching(/^GET http:\/\/127\.0\.0\.1:\d+\/v1\/projects\/tensorsky-test\/locations\/europe-west1\/models$/)]);
  });

  it('undeploys the rest, deletes the endpoint and the model, as JSON', async () => {
    const result = await run('undeploy', '--model_name', 'jean_inception', '--delete_endpoint', '--delete_model', ...where(), '--json');
    expect(result.code).toBe(0);
    // Progress on stderr, one JSON object per line (stdout keeps the result).
    const events = result.err.map((line) => JSON.parse(line));
    expect(events.every((e) => typeof e.elapsedMs === 'number' && ['message', 'operation'].includes(e.event))).toBe(true);
    expect(events.filter((e) => e.event === 'message').map((e) => e.message)).toContainEqual(expect.stringMatching(/^deleted endpoint jean_inception /));
    expect(result.json[0]).toMatchObject({ undeployed: [{ modelVersionId: '1' }], deletedEndpoint: true, dryRun: false });
    expect(result.json[0].deleted).toBe(result.json[0].model);
    expect([...double.models.values()].map((m) => m.versions[0].displayName)).toEqual(['other']);
    expect([...double.endpoints.values()]).toEqual([]);
  });
});

describe('tensorsky status', () => {
  it('lists endpoints with their deployed models, versions, aliases, traffic and replicas', async () => {
    const { model, endpoint, d1, d2 } = await twoVersionsDeployed('kiosk');
    const text = await run('status', ...where());
    expect(text.code).toBe(0);
    expect(text.out).toEqual([
      `Endpoint kiosk (${endpoint})`,
      `  deployed model ${d2}: kiosk version 2 (v2, default), 100% traffic, n1-standard-4, 1-3 replicas`,
      `  deployed model ${d1}: kiosk version 1 (v1), 0% traffic, n1-standard-4, 1-3 replicas`,
    ]);
    const json = await run('status', '--model-name', 'kiosk', ...where(), '--json');
    expect(json.json[0]).toEqual({
      endpoints: [
        {
          name: endpoint,
          displayName: 'kiosk',
          trafficSplit: { [d1]: 0, [d2]: 100 },
          deployedModels: [
            { id: d2, model, modelName: 'kiosk', modelVersionId: '2', versionAliases: ['v2', 'default'], traffic: 100, machineType: 'n1-standard-4', minReplicaCount: 1, maxReplicaCount: 3 },
            { id: d1, model, modelName: 'kiosk', modelVersionId: '1', versionAliases: ['v1'], traffic: 0, machineType: 'n1-standard-4', minReplicaCount: 1, maxReplicaCount: 3 },
          ],
        },
      ],
    });
  });

  it('shows accelerators and the CPU autoscaling target of a deployment', async () => {
    const gpu = await vertex.uploadModel({ displayName: 'gpu', artifactUri: 'gs://b/gpu/v1/', containerSpec: { imageUri: 'i' } });
    const endpoint = (await vertex.createEndpoint('gpu')).name!;
    const machineSpec = { machineType: 'n1-standard-4', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 1 };
    const metric = 'aiplatform.googleapis.com/prediction/online/cpu/utilization';
    // The double refuses what Vertex AI refuses: a target outside 1-100%.
    await expect(
      vertex.deployModel(endpoint, { model: `${gpu.model}@1`, dedicatedResources: { machineSpec, minReplicaCount: 1, autoscalingMetricSpecs: [{ metricName: metric, target: 0 }] } }, { '0': 100 }),
    ).rejects.toThrow(/target must be a percentage between 1 and 100/);
    const resources = { machineSpec, minReplicaCount: 2, maxReplicaCount: 4, autoscalingMetricSpecs: [{ metricName: metric, target: 70 }] };
    const d = await vertex.deployModel(endpoint, { model: `${gpu.model}@1`, dedicatedResources: resources }, { '0': 100 });
    const text = await run('status', '--model_name', 'gpu', ...where());
    expect(text.out).toEqual([`Endpoint gpu (${endpoint})`, `  deployed model ${d.id}: gpu version 1 (default), 100% traffic, n1-standard-4 + 1 NVIDIA_TESLA_T4, 2-4 replicas, autoscaling at 70% CPU`]);
  });

  it('filters by model, and says when a model is unknown or not deployed', async () => {
    expect((await run('status', '--model_name', 'other', ...where())).out).toEqual(['other is not deployed on any endpoint']);
    const unknown = await run('status', '--model_name', 'nope', ...where());
    expect(unknown.code).toBe(1);
    expect(unknown.err.at(-1)).toBe(`tensorsky: no Vertex AI model named nope in project ${TEST_PROJECT}, region ${TEST_REGION}; check --model_name and --region`);
    const noProject = await run('status', '--api_root', double.url);
    expect(noProject.code).toBe(1);
    expect(noProject.err.at(-1)).toMatch(/^tensorsky: no Google Cloud project: give --project_id/);
  });
});
