// The Vertex AI deployment flow against the REST double (checked against the aiplatform v1 reference)
// and the GCS emulator, with TF Serving's half_plus_two (y = 0.5x + 2) and half_plus_three (y = 0.5x + 3)
// SavedModels: their documented outputs are the truth predictions are compared with.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudError } from '@tensorsky/cloud-errors';
import {
  DRY_RUN_PLACEHOLDER,
  VertexClient,
  deployToVertex,
  vertexAuth,
  type RestCall,
  type VertexDeployOptions,
} from '../src/index.js';
import { startFakeCloud, TEST_PROJECT, TEST_REGION, TEST_TOKEN, type FakeCloud } from './helpers/fake-cloud.js';
import { startVertexDouble } from './helpers/vertex-double.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TF_SERVING = path.join(SAVED_MODELS_DIR, 'tf-serving');
const HALF_PLUS_TWO = path.join(TF_SERVING, 'saved_model_half_plus_two_cpu', '00000123');
const HALF_PLUS_THREE = path.join(TF_SERVING, 'saved_model_half_plus_three', '00000123');
const BUCKET = 'tensorsky-models';
const FAST_POLL = { initialDelayMs: 5, maxDelayMs: 20, timeoutMs: 60_000 };

let cloud: FakeCloud;
beforeAll(async () => {
  cloud = await startFakeCloud({ pollsBeforeDone: 2 });
});
afterAll(() => cloud?.stop());

function options(extra: Partial<VertexDeployOptions> = {}): VertexDeployOptions {
  return {
    modelDir: HALF_PLUS_TWO,
    modelName: 'half_plus_two',
    modelVersion: 'v1',
    projectId: TEST_PROJECT,
    bucket: BUCKET,
    region: TEST_REGION,
    apiRoot: cloud.vertex.url,
    accessToken: TEST_TOKEN,
    storage: cloud.storage,
    poll: FAST_POLL,
    ...extra,
  };
}

function client(): VertexClient {
  return new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: cloud.vertex.url, accessToken: TEST_TOKEN, poll: FAST_POLL });
}

const parent = `projects/${TEST_PROJECT}/locations/${TEST_REGION}`;

describe('deployToVertex', () => {
  let endpoint = '';
  let firstDeployedModel = '';

  it('uploads, registers the model, creates the endpoint and deploys with all traffic', async () => {
    const result = await deployToVertex(options());
    expect(result.artifactUri).toBe(`gs://${BUCKET}/models/half_plus_two/v1/`);
    expect(result.upload.verified).toBe(true);
    expect(result.created).toEqual({ model: true, version: true, endpoint: true, deployment: true });
    expect(result.servingInput).toEqual({ inputName: 'x', dtype: 'DT_FLOAT', format: 'tensor', outputs: ['y'] });

    const writes = cloud.vertex.writes();
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      `POST /v1/${parent}/models:upload`,
      `POST /v1/${parent}/endpoints`,
      `POST /v1/${cloud.vertex.parent}/endpoints/${result.endpoint.split('/').pop()}:deployModel`,
    ]);
    expect(writes.every((w) => w.status === 200)).toBe(true);
    expect(writes[0].body).toEqual({
      model: {
        displayName: 'half_plus_two',
        artifactUri: `gs://${BUCKET}/models/half_plus_two/v1/`,
        containerSpec: { imageUri: 'europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest' },
        versionAliases: ['v1', 'default'],
        versionDescription: `half_plus_two v1, uploaded by tensorsky deploy from gs://${BUCKET}/models/half_plus_two/v1/`,
        labels: { 'tensorsky-input-format': 'tensor', 'tensorsky-input-name': 'x' },
      },
    });
    expect(writes[1].body).toEqual({ displayName: 'half_plus_two' });
    expect(writes[2].body).toEqual({
      deployedModel: {
        model: `${result.model}@1`,
        displayName: 'half_plus_two-v1',
        dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1, maxReplicaCount: 1 },
      },
      trafficSplit: { '0': 100 },
    });
    // Operations were polled until done (the double answers "not done" twice first).
    expect(cloud.vertex.requests.filter((r) => r.path.includes('/operations/')).length).toBeGreaterThanOrEqual(9);

    const answer = await client().predict(result.endpoint, [1.0, 2.0, 5.0]);
    expect(answer.predictions).toEqual([2.5, 3.0, 4.5]);
    expect(answer.modelVersionId).toBe('1');
    expect(answer.deployedModelId).toBe(result.deployedModelId);
    endpoint = result.endpoint;
    firstDeployedModel = result.deployedModelId;
  });

  it('reuses everything when run again: no writes at all', async () => {
    const before = cloud.vertex.writes().length;
    const result = await deployToVertex(options());
    expect(result.created).toEqual({ model: false, version: false, endpoint: false, deployment: false });
    expect(result.upload.skipped).toHaveLength(4);
    expect(result.deployedModelId).toBe(firstDeployedModel);
    expect(cloud.vertex.writes().length).toBe(before);
  });

  it('deploys a new version as a version of the same model, without interrupting predictions', async () => {
    const vertex = client();
    const answers: unknown[] = [];
    let deploying = true;
    const traffic = (async () => {
      while (deploying) answers.push((await vertex.predict(endpoint, [4.0])).predictions![0]);
    })();
    const result = await deployToVertex(options({ modelDir: HALF_PLUS_THREE, modelVersion: 'v2' }));
    deploying = false;
    await traffic;

    expect(result.created).toEqual({ model: false, version: true, endpoint: false, deployment: true });
    expect(result.modelVersionId).toBe('2');
    expect(result.undeployed).toEqual([firstDeployedModel]);
    const upload = cloud.vertex.writes().find((w) => w.path.endsWith('models:upload') && (w.body as any).model.displayName === 'half_plus_two' && (w.body as any).parentModel);
    expect((upload!.body as any).parentModel).toBe(result.model);
    const undeploy = cloud.vertex.writes().at(-1)!;
    expect(undeploy.path).toMatch(/:undeployModel$/);
    expect(undeploy.body).toEqual({ deployedModelId: firstDeployedModel });

    // Every prediction during the switch succeeded, first from v1 (0.5 * 4 + 2), then from v2 (0.5 * 4 + 3).
    expect(answers).toContain(4.0);
    expect(answers.every((a) => a === 4.0 || a === 5.0)).toBe(true);
    const switched = answers.indexOf(5.0);
    if (switched >= 0) expect(answers.slice(switched).every((a) => a === 5.0)).toBe(true);
    const after = await vertex.predict(endpoint, [4.0]);
    expect(after).toMatchObject({ predictions: [5.0], modelVersionId: '2' });

    const model = [...cloud.vertex.models.values()][0];
    expect(model.versions.map((v) => [v.versionId, v.versionAliases])).toEqual([
      ['1', ['v1']],
      ['2', ['v2', 'default']],
    ]);
    const state = [...cloud.vertex.endpoints.values()][0];
    expect(state.deployed.map((d) => d.id)).toEqual([result.deployedModelId]);
    expect(state.trafficSplit).toEqual({ [result.deployedModelId]: 100 });
  });

  it('--dry-run makes only GETs and prints exactly the writes a real run then makes', async () => {
    const printed: RestCall[] = [];
    const before = cloud.vertex.writes().length;
    const dry = await deployToVertex(options({ modelVersion: 'v3', dryRun: true, onCall: (c) => printed.push(c) }));
    expect(cloud.vertex.writes().length).toBe(before);
    expect(dry.dryRun).toBe(true);
    const [gcsFiles] = await cloud.storage.bucket(BUCKET).getFiles({ prefix: 'models/half_plus_two/v3/' });
    expect(gcsFiles).toHaveLength(0);

    const real = await deployToVertex(options({ modelVersion: 'v3' }));
    const vertexWrites = (calls: RestCall[]) =>
      calls.filter((c) => c.method !== 'GET' && c.url.startsWith(cloud.vertex.url)).map((c) => ({
        method: c.method,
        path: decodeURIComponent(new URL(c.url).pathname),
        body: JSON.parse(JSON.stringify(c.body).replaceAll(DRY_RUN_PLACEHOLDER.version, real.modelVersionId)),
      }));
    const sent = cloud.vertex.writes().slice(before).map((w) => ({ method: w.method, path: w.path, body: w.body }));
    expect(vertexWrites(printed)).toEqual(sent);
    expect(printed.filter((c) => c.method === 'POST' && c.url.includes('/upload/storage/v1/')).length).toBe(4);
  });

  it('gives all traffic back to a version that is deployed without traffic, then removes the others', async () => {
    // Deploy v1 again by hand next to v3, without traffic.
    const vertex = client();
    const [state] = cloud.vertex.endpoints.values();
    const current = state.deployed[0].id;
    const model = `${parent}/models/${state.deployed[0].modelId}`;
    const v1 = await vertex.deployModel(endpoint, { model: `${model}@v1`, dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 } }, { [current]: 100, '0': 0 });
    const before = cloud.vertex.writes().length;
    const result = await deployToVertex(options());
    expect(result.created).toEqual({ model: false, version: false, endpoint: false, deployment: false });
    expect(result.deployedModelId).toBe(v1.id);
    expect(result.undeployed).toEqual([current]);
    expect(cloud.vertex.writes().slice(before).map((w) => [w.method, w.path.split('/').pop(), w.query, w.body])).toEqual([
      ['PATCH', endpoint.split('/').pop(), { updateMask: 'trafficSplit' }, { trafficSplit: { [v1.id!]: 100 } }],
      ['POST', `${endpoint.split('/').pop()}:undeployModel`, {}, { deployedModelId: current }],
    ]);
    expect(await vertex.predict(endpoint, [1.0])).toMatchObject({ predictions: [2.5], modelVersionId: '1' });
  });

  it('refuses to replace a version with other files without --force', async () => {
    const before = cloud.vertex.writes().length;
    await expect(deployToVertex(options({ modelDir: HALF_PLUS_THREE, modelVersion: 'v1' }))).rejects.toThrow(
      `gs://${BUCKET}/models/half_plus_two/v1/ already holds a different model (saved_model.pb differs, variables/variables.data-00000-of-00001 differs, variables/variables.index differs); deploy under a new --model_version, or pass --force to replace it`,
    );
    // Same files in another bucket: the alias v1 already names a version made from the first bucket.
    await expect(deployToVertex(options({ bucket: 'other-bucket' }))).rejects.toThrow(
      `model half_plus_two already has a version v1 made from gs://${BUCKET}/models/half_plus_two/v1/; deploy under a new --model_version, or pass --force to move the alias to gs://other-bucket/models/half_plus_two/v1/`,
    );
    expect(cloud.vertex.writes().length).toBe(before);
  });
});

describe('errors from Vertex AI', () => {
  it('permission denied: one line saying which role to grant', async () => {
    cloud.vertex.failNext({
      method: 'GET',
      path: /\/models$/,
      httpStatus: 403,
      status: 'PERMISSION_DENIED',
      message: `Permission 'aiplatform.models.list' denied on resource '//aiplatform.googleapis.com/${parent}' (or it may not exist).`,
    });
    const error = await deployToVertex(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudError);
    expect((error as Error).message).toBe(
      `Vertex AI models.list failed (403 PERMISSION_DENIED: Permission 'aiplatform.models.list' denied on resource '//aiplatform.googleapis.com/${parent}' (or it may not exist).); ` +
        'grant your account roles/aiplatform.user (and roles/storage.objectViewer on the bucket for the Vertex AI service agent), and check --project_id',
    );
  });

  it('API not enabled: says how to enable it', async () => {
    cloud.vertex.failNext({
      path: /\/models$/,
      httpStatus: 403,
      status: 'PERMISSION_DENIED',
      message: `Vertex AI API has not been used in project ${TEST_PROJECT} before or it is disabled. Enable it by visiting the console then retry.`,
    });
    await expect(deployToVertex(options())).rejects.toThrow(
      /; enable the APIs: gcloud services enable aiplatform\.googleapis\.com storage\.googleapis\.com --project tensorsky-test$/,
    );
  });

  it('quota exhausted while deploying: the failed operation becomes one line about quota', async () => {
    cloud.vertex.failNextOperation('deployModel', 'RESOURCE_EXHAUSTED', 'The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_serving_cpus');
    const error = (await deployToVertex(options({ modelDir: HALF_PLUS_TWO, modelVersion: 'v9', endpointName: 'other-endpoint' })).catch((e: unknown) => e)) as CloudError;
    expect(error.reason).toBe('RESOURCE_EXHAUSTED');
    expect(error.message).toBe(
      'Vertex AI endpoints.deployModel failed (RESOURCE_EXHAUSTED: The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_serving_cpus); ' +
        'quota or rate limit reached in europe-west1: retry later, use fewer replicas or a smaller --machine_type, or request more quota (console: IAM & Admin > Quotas)',
    );
    expect(error.message).not.toContain('\n');
  });

  it('a wrong token: tells how to sign in', async () => {
    await expect(deployToVertex(options({ accessToken: 'expired-token' }))).rejects.toThrow(
      /^Vertex AI models\.list failed \(401 UNAUTHENTICATED: Request is missing required authentication credential\..*\); sign in with `gcloud auth application-default login`/,
    );
  });

  it('a long-running operation that does not finish in time is reported, not waited on forever', async () => {
    const slow = await startVertexDouble({
      projectId: TEST_PROJECT,
      region: TEST_REGION,
      accessToken: TEST_TOKEN,
      pollsBeforeDone: 1_000_000,
      fetchArtifacts: async () => {},
    });
    try {
      const started = Date.now();
      const error = (await deployToVertex(options({ apiRoot: slow.url, poll: { initialDelayMs: 5, maxDelayMs: 10, timeoutMs: 200 } })).catch((e: unknown) => e)) as CloudError;
      expect(Date.now() - started).toBeLessThan(5000);
      expect(error.reason).toBe('DEADLINE_EXCEEDED');
      expect(error.message).toMatch(/^Vertex AI models\.upload is still running after 0 s \(operation projects\/123456789012\/locations\/europe-west1\/models\/\d+\/operations\/\d+\); it may still finish: rerun deploy later/);
    } finally {
      await slow.close();
    }
  });

  it('names are validated before anything is sent', async () => {
    const requests = cloud.vertex.requests.length;
    await expect(deployToVertex(options({ modelName: '../etc' }))).rejects.toThrow(/invalid model name '\.\.\/etc'/);
    await expect(deployToVertex(options({ modelVersion: 'V 1' }))).rejects.toThrow(/invalid model version 'V 1'/);
    await expect(deployToVertex(options({ region: 'europe west' }))).rejects.toThrow(/invalid region/);
    await expect(deployToVertex(options({ projectId: 'My Project' }))).rejects.toThrow(/invalid project ID/);
    expect(cloud.vertex.requests.length).toBe(requests);
  });
});

describe('the Vertex AI double follows the REST reference', () => {
  it('rejects unknown fields and missing required fields as the API does', async () => {
    const post = async (resource: string, body: unknown) => {
      const res = await fetch(`${cloud.vertex.url}v1/${resource}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const typo = await post(`${parent}/models:upload`, {
      model: { displayName: 'x', artifactUri: 'gs://b/x/', containerSpec: { imageUri: 'i' }, versionAlias: ['v1'] },
    });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toContain(`Unknown name "versionAlias" at 'model': Cannot find field.`);
    const missing = await post(`${parent}/models:upload`, { model: { artifactUri: 'gs://b/x/', containerSpec: {} } });
    expect(missing.body.error.message).toContain('model.containerSpec.imageUri is required');
    expect(missing.body.error.message).toContain('model.displayName is required');
  });

  it('authenticates with an OAuth2 client as well as a token', async () => {
    const auth = vertexAuth(TEST_TOKEN);
    const vertex = new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: cloud.vertex.url, auth });
    expect((await vertex.findModel('half_plus_two'))?.displayName).toBe('half_plus_two');
    expect(await vertex.getModel(`${parent}/models/1234`)).toBeUndefined();
  });
});
