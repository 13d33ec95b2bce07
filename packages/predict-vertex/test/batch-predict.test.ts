// Batch prediction end to end against the Vertex AI double, whose jobs read their instances from the GCS
// emulator, run them on a real `tensorsky serve` of the deployed version and write prediction shards
// back. Truth: the same SavedModel run locally by predict-local, image by image.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deployToVertex, VertexClient } from '@tensorsky/deploy';
import { IMAGES_DIR, PHOTOS } from '@tensorsky/fixtures';
import { loadModel } from '@tensorsky/predict-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchPredict, type BatchEvent, type BatchPredictOptions } from '../src/index.js';
import { startFakeCloud, TEST_PROJECT, TEST_REGION, TEST_TOKEN, unreachableUrl, type FakeCloud } from '../../deploy/test/helpers/fake-cloud.js';
import { writeImageClassifier } from '../../deploy/test/helpers/image-model.js';

const BUCKET = 'tensorsky-batch';
const FAST_POLL = { initialDelayMs: 5, maxDelayMs: 20, progressIntervalMs: 60_000 };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-batch-'));
const photosDir = path.join(scratch, 'photos');
let cloud: FakeCloud;
/** Top-5 class indices per photo from predict-local, the reference. */
const localTop = new Map<string, number[]>();

beforeAll(async () => {
  cloud = await startFakeCloud({ batchShardSize: 2 });
  await writeImageClassifier(path.join(scratch, 'model'), 'b64', 1);
  await deployToVertex({
    modelDir: path.join(scratch, 'model'),
    modelName: 'jean_inception',
    modelVersion: 'v1',
    projectId: TEST_PROJECT,
    bucket: 'tensorsky-models',
    region: TEST_REGION,
    apiRoot: cloud.vertex.url,
    accessToken: TEST_TOKEN,
    storage: cloud.storage,
    poll: { initialDelayMs: 5, maxDelayMs: 20 },
  });
  mkdirSync(path.join(photosDir, 'more'), { recursive: true });
  for (const [i, photo] of PHOTOS.entries()) copyFileSync(path.join(IMAGES_DIR, photo), path.join(photosDir, i < 4 ? photo : path.join('more', photo)));
  const model = await loadModel(path.join(scratch, 'model'), { backend: 'wasm' });
  try {
    for (const photo of PHOTOS) {
      const { outputs } = await model.predict({ inputs: [readFileSync(path.join(IMAGES_DIR, photo)).toString('base64url')] });
      const row = Array.from(outputs.data as Float32Array);
      localTop.set(photo, [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, 5));
    }
  } finally {
    model.dispose();
  }
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function options(name: string, extra: Partial<BatchPredictOptions> = {}): BatchPredictOptions {
  return {
    projectId: TEST_PROJECT,
    region: TEST_REGION,
    modelName: 'jean_inception',
    modelVersion: 'v1',
    // Subfolders too: a glob (a folder alone gives the images directly inside it, as for tensorsky predict).
    images: path.join(photosDir, '**', '*.jpg'),
    output: `gs://${BUCKET}/${name}`,
    resultsDir: path.join(scratch, 'results', name),
    apiRoot: cloud.vertex.url,
    accessToken: TEST_TOKEN,
    storage: cloud.storage,
    imagesPerFile: 4,
    poll: FAST_POLL,
    ...extra,
  };
}

const jobCreations = () => cloud.vertex.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/batchPredictionJobs')).length;

describe('batch prediction', () => {
  it('classifies a folder of photos like local predict, through JSONL instances, a job and its shards', async () => {
    const events: BatchEvent[] = [];
    const result = await batchPredict(options('full', { onEvent: (e) => events.push(e), replicas: 2, machineType: 'n1-standard-4' }));
    expect(result).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', attached: false, images: PHOTOS.length, uploaded: PHOTOS.length, skipped: 0 });
    for (const r of result.results) {
      expect(r.error).toBeUndefined();
      expect(r.predictions!.map((p) => p.index), r.image).toEqual(localTop.get(path.basename(r.image)));
    }
    expect(result.results.map((r) => path.relative(photosDir, r.image)).sort()).toEqual(PHOTOS.map((p, i) => (i < 4 ? p : `more/${p}`)).sort());

    // The request, as the REST reference shapes it.
    const create = cloud.vertex.requests.find((r) => r.method === 'POST' && r.path.endsWith('/batchPredictionJobs'))!;
    expect(create.status).toBe(200);
    expect(create.body).toMatchObject({
      displayName: 'jean_inception-v1-batch',
      model: expect.stringMatching(/^projects\/.+\/models\/\d+@1$/),
      inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: [`gs://${BUCKET}/full/instances/part-*.jsonl`] } },
      instanceConfig: { keyField: 'key' },
      outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: `gs://${BUCKET}/full/predictions/` } },
      dedicatedResources: { machineSpec: { machineType: 'n1-standard-4' }, startingReplicaCount: 2, maxReplicaCount: 2 },
    });
    // Images and instances in the bucket: two JSONL files of at most 4 images, web-safe base64 as deploy labelled the model.
    const [objects] = await cloud.storage.bucket(BUCKET).getFiles({ prefix: 'full/' });
    const names = objects.map((o) => o.name);
    expect(names).toEqual(expect.arrayContaining(['full/images/cat.jpg', 'full/images/more/camera.jpg', 'full/instances/part-00000.jsonl', 'full/instances/part-00001.jsonl']));
    const [part] = await cloud.storage.bucket(BUCKET).file('full/instances/part-00000.jsonl').download();
    const first = JSON.parse(part.toString().split('\n')[0]);
    expect(Object.keys(first).sort()).toEqual(['inputs', 'key']);
    expect(first.inputs).toBe(readFileSync(first.key).toString('base64url'));
    // Several result shards were read (the double writes 2 predictions per shard).
    expect(names.filter((n) => /prediction\.results-\d{5}-of-00003$/.test(n))).toHaveLength(3);

    // Progress: upload, instances, the job's states, results.
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['upload', 'instances', 'job', 'results']));
    expect(events.filter((e) => e.event === 'job').map((e) => (e as { state: string }).state)).toEqual(
      expect.arrayContaining(['JOB_STATE_QUEUED', 'JOB_STATE_SUCCEEDED']),
    );

    // One result per image as JSONL and CSV.
    const lines = readFileSync(result.files!.jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.image)).toEqual(result.results.map((r) => r.image));
    expect(lines[0].top.map((p: { index: number }) => p.index)).toEqual(result.results[0].predictions!.map((p) => p.index));
    const csv = readFileSync(result.files!.csv, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('image,label_1,score_1,label_2,score_2,label_3,score_3,label_4,score_4,label_5,score_5,error');
    expect(csv).toHaveLength(PHOTOS.length + 1);
    expect(csv[1].split(',')[0]).toBe(result.results[0].image);
  }, 120_000);

  it('reads the images from a gs:// folder, uploading nothing, and names results by their URIs', async () => {
    // The images the first test uploaded.
    const result = await batchPredict(options('from-gcs', { images: `gs://${BUCKET}/full/images` }));
    expect(result).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', uploaded: 0, skipped: 0, images: PHOTOS.length });
    expect(result.results.map((r) => r.image).sort()).toEqual(PHOTOS.map((p, i) => `gs://${BUCKET}/full/images/${i < 4 ? p : `more/${p}`}`).sort());
    for (const r of result.results) expect(r.predictions!.map((p) => p.index), r.image).toEqual(localTop.get(path.basename(r.image)));
    const [objects] = await cloud.storage.bucket(BUCKET).getFiles({ prefix: 'from-gcs/' });
    expect(objects.map((o) => o.name).filter((n) => n.startsWith('from-gcs/images/'))).toEqual([]);
  }, 60_000);

  it('reports an image the model cannot decode as a failed instance, predicts the others, and repeats the state at each heartbeat', async () => {
    const dir = path.join(scratch, 'with-broken');
    mkdirSync(dir);
    copyFileSync(path.join(IMAGES_DIR, 'cat.jpg'), path.join(dir, 'cat.jpg'));
    // A JPEG cut short: its header says JPEG, its data ends early.
    writeFileSync(path.join(dir, 'broken.jpg'), readFileSync(path.join(IMAGES_DIR, 'coffee.jpg')).subarray(0, 300));
    // A heartbeat every 50 ms here (30 s by default): the running job is reported again while its state holds.
    const lines: string[] = [];
    const result = await batchPredict(options('broken', { images: dir, log: (line) => lines.push(line), poll: { ...FAST_POLL, progressIntervalMs: 50 } }));
    const running = lines.filter((l) => /^batch prediction job projects\/.+: JOB_STATE_RUNNING, \d+ predicted, \d+ failed \(\d+ s elapsed\)$/.test(l));
    expect(running.length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => /: JOB_STATE_SUCCEEDED, 1 predicted, 1 failed \(\d+ s elapsed\)$/.test(l))).toBe(true);
    const byName = new Map(result.results.map((r) => [path.basename(r.image), r]));
    expect(byName.get('cat.jpg')!.predictions!.map((p) => p.index)).toEqual(localTop.get('cat.jpg'));
    expect(byName.get('broken.jpg')!.error).toBeTruthy();
    expect(readFileSync(result.files!.csv, 'utf8')).toMatch(/broken\.jpg,(,){10}.+/);
  }, 60_000);

  it('resumes after an interruption following the upload: nothing is uploaded twice', async () => {
    const stop = new AbortController();
    const first = batchPredict(options('resume-upload', { signal: stop.signal, onEvent: (e) => e.event === 'instances' && stop.abort() }));
    await expect(first).rejects.toThrow(/^interrupted; rerun the same command to resume/);
    const before = jobCreations();
    const result = await batchPredict(options('resume-upload'));
    expect(result).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', attached: false, uploaded: 0, skipped: PHOTOS.length });
    expect(jobCreations()).toBe(before + 1);
    expect(result.results.every((r) => r.predictions?.map((p) => p.index).join() === localTop.get(path.basename(r.image))!.join())).toBe(true);
  }, 60_000);

  it('re-attaches to the job after an interruption following its creation', async () => {
    const stop = new AbortController();
    const before = jobCreations();
    const first = batchPredict(options('resume-job', { signal: stop.signal, log: (line) => line.startsWith('created batch prediction job') && stop.abort() }));
    await expect(first).rejects.toThrow(/interrupted/);
    expect(jobCreations()).toBe(before + 1);
    const lines: string[] = [];
    const result = await batchPredict(options('resume-job', { log: (line) => lines.push(line) }));
    expect(result).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', attached: true, uploaded: 0, skipped: 0 });
    expect(jobCreations()).toBe(before + 1);
    expect(lines[0]).toMatch(/^re-attached to batch prediction job projects\/.+\/batchPredictionJobs\/\d+ \(JOB_STATE_/);
    expect(result.results.map((r) => r.predictions!.map((p) => p.index))).toEqual(result.results.map((r) => localTop.get(path.basename(r.image))));
  }, 60_000);

  it('says why a job failed, and the rerun creates a new one', async () => {
    cloud.vertex.failNextOperation('batchPredictionJob', 'INTERNAL', 'Replica workerpool0-0 exited with a non-zero status of 1.');
    await expect(batchPredict(options('failed'))).rejects.toThrow(
      /^Vertex AI batch prediction job projects\/.+ ended JOB_STATE_FAILED: Replica workerpool0-0 exited with a non-zero status of 1\.; fix the cause and rerun \(a new job is created\)$/,
    );
    const before = jobCreations();
    const result = await batchPredict(options('failed'));
    expect(result).toMatchObject({ state: 'JOB_STATE_SUCCEEDED', attached: false, uploaded: 0 });
    expect(jobCreations()).toBe(before + 1);
  }, 60_000);

  it('cancels a job (batchPredictionJobs.cancel): CANCELLING, then CANCELLED', async () => {
    const vertex = new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: cloud.vertex.url, accessToken: TEST_TOKEN });
    const stop = new AbortController();
    let name = '';
    await expect(
      batchPredict(options('cancel', { signal: stop.signal, log: (line) => { const m = /^created batch prediction job (\S+)/.exec(line); if (m) { name = m[1]; stop.abort(); } } })),
    ).rejects.toThrow(/interrupted/);
    await vertex.cancelBatchPredictionJob(name);
    let state = '';
    for (let i = 0; i < 200 && state !== 'JOB_STATE_CANCELLED'; i++) {
      state = (await vertex.getBatchPredictionJob(name))!.state!;
      expect(['JOB_STATE_QUEUED', 'JOB_STATE_CANCELLING', 'JOB_STATE_CANCELLED']).toContain(state);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(state).toBe('JOB_STATE_CANCELLED');
    expect(await vertex.getBatchPredictionJob(`${name.replace(/\d+$/, '')}424242`)).toBeUndefined();
  }, 60_000);
});

describe('batch prediction --dry-run', () => {
  it('prints every call with no network and no credentials, in under 2 s', async () => {
    const offline = await unreachableUrl();
    const logged: string[] = [];
    const started = Date.now();
    const result = await batchPredict({
      projectId: TEST_PROJECT,
      region: TEST_REGION,
      modelName: 'jean_inception',
      modelVersion: 'v1',
      images: path.join(photosDir, '**', '*.jpg'),
      output: `gs://${BUCKET}/dry`,
      resultsDir: path.join(scratch, 'results', 'dry'),
      apiRoot: offline,
      storageEndpoint: offline.replace(/\/$/, ''),
      accessToken: TEST_TOKEN,
      dryRun: true,
      log: (line) => logged.push(line),
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.stateUnreadable).toMatch(/ECONNREFUSED/);
    expect(logged.filter((l) => l.startsWith('cannot read the current state'))).toHaveLength(1);
    const calls = result.calls;
    expect(calls[0]).toBe(`GET ${offline}v1/projects/${TEST_PROJECT}/locations/${TEST_REGION}/models?filter=display_name%3D%22jean_inception%22`);
    expect(calls.filter((c) => c.startsWith('POST') && c.includes('/upload/storage/v1/b/tensorsky-batch/o?uploadType=multipart&name=dry%2Fimages%2F'))).toHaveLength(PHOTOS.length);
    expect(calls.filter((c) => c.includes('name=dry%2Finstances%2Fpart-'))).toHaveLength(1);
    const create = calls.at(-1)!;
    expect(create.startsWith(`POST ${offline}v1/projects/${TEST_PROJECT}/locations/${TEST_REGION}/batchPredictionJobs {`)).toBe(true);
    expect(JSON.parse(create.slice(create.indexOf('{')))).toMatchObject({
      model: `projects/${TEST_PROJECT}/locations/${TEST_REGION}/models/{model-id}@v1`,
      inputConfig: { instancesFormat: 'jsonl' },
      outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: `gs://${BUCKET}/dry/predictions/` } },
      dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, startingReplicaCount: 1, maxReplicaCount: 1 },
    });
    expect(result.job).toBe(`projects/${TEST_PROJECT}/locations/${TEST_REGION}/batchPredictionJobs/{new-batch-prediction-job-id}`);
  });
});
