// `tensorsky predict-cloud --batch` end to end on loopback: the GCS emulator and the Vertex AI double,
// whose batch prediction jobs run on `tensorsky serve`. Truth: `tensorsky predict` on the same SavedModel.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deployToVertex } from '@tensorsky/deploy';
import { IMAGES_DIR } from '@tensorsky/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolateCloudSettings, startFakeCloud, TEST_PROJECT, TEST_REGION, TEST_TOKEN, unreachableUrl, type FakeCloud } from '../../../packages/deploy/test/helpers/fake-cloud.js';
import { writeImageClassifier } from '../../../packages/deploy/test/helpers/image-model.js';
import { run } from './support/run-cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-cli-batch-'));
const modelDir = path.join(scratch, 'model');
const photos = path.join(scratch, 'photos');
const PHOTOS = ['cat.jpg', 'coffee.jpg', 'rocket.jpg'];
let cloud: FakeCloud;
const savedToken = process.env.TENSORSKY_ACCESS_TOKEN;
isolateCloudSettings(path.join(scratch, 'gcloud'));

beforeAll(async () => {
  // The job shows its real state at the first poll (the CLI polls every 5 s at first).
  cloud = await startFakeCloud({ batchQueuedPolls: 0 });
  await writeImageClassifier(modelDir, 'b64');
  await deployToVertex({
    modelDir,
    modelName: 'jean_inception',
    modelVersion: 'v1',
    projectId: TEST_PROJECT,
    bucket: 'jean-models',
    region: TEST_REGION,
    apiRoot: cloud.vertex.url,
    accessToken: TEST_TOKEN,
    storage: cloud.storage,
    poll: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  mkdirSync(photos);
  for (const photo of PHOTOS) cpSync(path.join(IMAGES_DIR, photo), path.join(photos, photo));
  process.env.TENSORSKY_ACCESS_TOKEN = TEST_TOKEN;
}, 120_000);
afterAll(async () => {
  if (savedToken === undefined) delete process.env.TENSORSKY_ACCESS_TOKEN;
  else process.env.TENSORSKY_ACCESS_TOKEN = savedToken;
  await cloud?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const batchArgs = (name: string, ...extra: string[]) => [
  'predict-cloud', '--batch', '--images', photos, '--output', name.includes('/') ? name : `gs://jean-batch/${name}`, '--results_dir', path.join(scratch, path.basename(name)),
  '--project_id', TEST_PROJECT, '--region', TEST_REGION, '--model_name', 'jean_inception', '--model_version', 'v1', ...extra,
];

describe('tensorsky predict-cloud --batch', () => {
  it('classifies a folder like tensorsky predict, and writes predictions.jsonl and .csv', async () => {
    const result = await run(...batchArgs('run', '--api_root', cloud.vertex.url, '--storage_endpoint', cloud.gcs.url, '--top', '3'));
    expect(result.code).toBe(0);
    expect(result.out[0]).toMatch(/^3 of 3 images predicted by projects\/123456789012\/locations\/europe-west1\/batchPredictionJobs\/\d+$/);
    expect(result.err.some((l) => /^tensorsky predict-cloud: batch prediction job .*: JOB_STATE_SUCCEEDED, 3 predicted, 0 failed \(\d+ s elapsed\)$/.test(l))).toBe(true);
    const lines = readFileSync(path.join(scratch, 'run', 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const local = await run('predict', ...lines.flatMap((l) => ['--image', l.image]), '--model_path', modelDir, '--top', '3', '--backend', 'wasm', '--json');
    expect(local.code).toBe(0);
    const indices = (top: { index: number }[]) => top.map((p) => p.index);
    expect(lines.map((l) => l.image)).toEqual(local.json[0].predictions.map((p: { image: string }) => p.image));
    expect(lines.map((l) => indices(l.top))).toEqual(local.json[0].predictions.map((p: { top: { index: number }[] }) => indices(p.top)));
    expect(readFileSync(path.join(scratch, 'run', 'predictions.csv'), 'utf8').split('\n')[0]).toBe('image,label_1,score_1,label_2,score_2,label_3,score_3,error');
  }, 120_000);

  it('--json: progress events on stderr, the result on stdout', async () => {
    const result = await run(...batchArgs('json', '--api_root', cloud.vertex.url, '--storage_endpoint', cloud.gcs.url, '--json'));
    expect(result.code).toBe(0);
    const events = result.err.map((l: string) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['upload', 'instances', 'job', 'results']));
    const body = result.json[0];
    expect(body).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', images: 3, uploaded: 3 });
    expect(body.predictions).toHaveLength(3);
    expect(Object.keys(body.predictions[0].top[0]).sort()).toEqual(['id', 'index', 'label', 'score']);
  }, 120_000);

  it('--dry-run prints every call offline and exits 0', async () => {
    const offline = await unreachableUrl();
    const started = Date.now();
    const result = await run(...batchArgs('dry', '--api_root', offline, '--storage_endpoint', offline.replace(/\/$/, ''), '--dry-run'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe('Dry run, planned as for a fresh project (the current state could not be read); nothing was written. Calls:');
    expect(result.out.filter((l) => l.startsWith('POST') && l.includes('/upload/storage/v1/b/jean-batch/o'))).toHaveLength(PHOTOS.length + 1);
    expect(result.out.at(-1)).toMatch(/^POST .*\/v1\/projects\/tensorsky-test\/locations\/europe-west1\/batchPredictionJobs \{"displayName":"jean_inception-v1-batch",/);
  });

  it('says what a batch run needs, in one line', async () => {
    expect((await run('predict-cloud', '--batch', '--output', 'gs://b/x', '--project_id', TEST_PROJECT, '--model_name', 'm', '--model_version', 'v1')).err).toEqual([
      'tensorsky: --batch needs --images: a folder of images or gs://BUCKET/FOLDER (see tensorsky predict-cloud --help)',
    ]);
    expect((await run(...batchArgs('jean-batch/x'))).err.at(-1)).toBe(
      'tensorsky: --output jean-batch/x is not a Cloud Storage folder; give gs://BUCKET/FOLDER, e.g. gs://my-bucket/batch-1',
    );
    expect((await run(...batchArgs('bad', '--replicas', '0'))).err).toEqual(['tensorsky: --replicas must be a whole number of at least 1, got 0 (see tensorsky predict-cloud --help)']);
    expect((await run('predict-cloud', '--project_id', TEST_PROJECT)).err).toEqual(['tensorsky: missing --image (see tensorsky predict-cloud --help)']);
  });
});
