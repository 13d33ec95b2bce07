// predict-cloud's requests through VertexBackend: the REST double (whose :predict forwards to tensorsky serve) and the
// GCS emulator, with an image classifier deployed by deployToVertex. Truth: the same SavedModel run
// locally by predict-local.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '@tensorsky/predict-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VertexClient, deployToVertex } from '@tensorsky/deploy';
import { predictCloud, PredictTargetError } from '@tensorsky/predict-cloud';
import { VertexBackend, type VertexTarget } from '../src/index.js';
import { startFakeCloud, TEST_PROJECT, TEST_REGION, TEST_TOKEN, type FakeCloud } from '../../deploy/test/helpers/fake-cloud.js';
import { writeImageClassifier } from '../../deploy/test/helpers/image-model.js';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IMAGES = IMAGES_DIR;
const PHOTOS = ['cat.jpg', 'coffee.jpg'].map((p) => path.join(IMAGES, p));
const FAST_POLL = { initialDelayMs: 5, maxDelayMs: 20 };

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-predict-vertex-'));
let cloud: FakeCloud;
let endpoint = '';

beforeAll(async () => {
  cloud = await startFakeCloud();
  await writeImageClassifier(path.join(scratch, 'v1'), 'b64', 1);
  await writeImageClassifier(path.join(scratch, 'v2'), 'bytes', 2);
  const deployed = await deployVersion('v1');
  endpoint = deployed.endpoint;
});
afterAll(async () => {
  await cloud?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** tensorsky deploy of scratch/<version> as model jean_inception, version <version>, to the fake cloud. */
function deployVersion(version: 'v1' | 'v2') {
  return deployToVertex({
    modelDir: path.join(scratch, version),
    modelName: 'jean_inception',
    modelVersion: version,
    projectId: TEST_PROJECT,
    bucket: 'tensorsky-models',
    region: TEST_REGION,
    apiRoot: cloud.vertex.url,
    accessToken: TEST_TOKEN,
    storage: cloud.storage,
    poll: FAST_POLL,
  });
}

function target(extra: Partial<VertexTarget> = {}): VertexBackend {
  return new VertexBackend({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: cloud.vertex.url, accessToken: TEST_TOKEN, modelName: 'jean_inception', modelVersion: 'v1', ...extra });
}

async function localTop(version: 'v1' | 'v2', k: number): Promise<number[][]> {
  const model = await loadModel(path.join(scratch, version), { backend: 'wasm' });
  try {
    const files = PHOTOS.map((p) => readFileSync(p));
    const { outputs } = await model.predict({ inputs: version === 'v1' ? files.map((f) => f.toString('base64url')) : files });
    const data = outputs.data as Float32Array;
    return files.map((_, i) => {
      const row = Array.from(data.subarray(i * 1000, (i + 1) * 1000));
      return [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
    });
  } finally {
    model.dispose();
  }
}

describe('VertexBackend', () => {
  it('finds the endpoint from the model name and version, and matches local predictions', async () => {
    const result = await predictCloud({ images: PHOTOS, target: target(), top: 6 });
    expect(result).toMatchObject({ inputFormat: 'b64', inputName: 'inputs', requests: 1, modelVersion: '1' });
    expect(result.images.map((i) => i.predictions.map((p) => p.index))).toEqual(await localTop('v1', 6));
    const predict = cloud.vertex.requests.filter((r) => r.path.endsWith(':predict')).at(-1)!;
    expect(predict.path).toBe(`/v1/${endpoint}:predict`);
    expect((predict.body as any).instances[0]).toEqual({ inputs: readFileSync(PHOTOS[0]).toString('base64url') });
  });

  it('takes an endpoint ID, and reads the input format from the version deploy labelled', async () => {
    await deployVersion('v2');
    const result = await predictCloud({ images: PHOTOS, target: target({ endpoint: endpoint.split('/').pop(), modelName: undefined, modelVersion: undefined }), top: 3 });
    expect(result).toMatchObject({ inputFormat: 'bytes', modelVersion: '2' });
    expect(result.images.map((i) => i.predictions.map((p) => p.index))).toEqual(await localTop('v2', 3));
    const predict = cloud.vertex.requests.filter((r) => r.path.endsWith(':predict')).at(-1)!;
    expect((predict.body as any).instances[0]).toEqual({ inputs: { b64: readFileSync(PHOTOS[0]).toString('base64') } });
  });

  it('says when a version is not deployed or does not exist', async () => {
    // v1 was undeployed when v2 took over.
    await expect(predictCloud({ images: PHOTOS, target: target() })).rejects.toThrow(
      'model jean_inception version v1 is not deployed on any endpoint in europe-west1; run tensorsky deploy for it, or give --endpoint',
    );
    await expect(predictCloud({ images: PHOTOS, target: target({ modelVersion: 'v7' }) })).rejects.toThrow(
      'model jean_inception has no version v7 in europe-west1; deploy it with tensorsky deploy --model_version v7, or check --model_version',
    );
    await expect(predictCloud({ images: PHOTOS, target: target({ modelName: 'jean' }) })).rejects.toThrow(
      'no Vertex AI model named jean in project tensorsky-test, region europe-west1; deploy it with tensorsky deploy, or check --model_name and --region',
    );
    await expect(predictCloud({ images: PHOTOS, target: target({ endpoint: '42', modelName: undefined }) })).rejects.toThrow(PredictTargetError);
  });

  it('refuses an answer from another version than the one asked for', async () => {
    // Put v1 back on the endpoint without traffic: the endpoint hosts v1, but v2 answers.
    const vertex = new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: cloud.vertex.url, accessToken: TEST_TOKEN, poll: FAST_POLL });
    const [state] = cloud.vertex.endpoints.values();
    const current = state.deployed[0].id;
    const model = `projects/${TEST_PROJECT}/locations/${TEST_REGION}/models/${state.deployed[0].modelId}`;
    await vertex.deployModel(
      endpoint,
      { model: `${model}@1`, dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 } },
      { [current]: 100, '0': 0 },
    );
    // --input_format bytes suits v2, so the request succeeds and only the version check can fail.
    await expect(predictCloud({ images: PHOTOS, target: target(), inputFormat: 'bytes' })).rejects.toThrow(
      `endpoint ${endpoint} answered with model version ID 2, not 1 (v1): another version has traffic there; deploy v1 again to move all traffic to it`,
    );
  });
});
