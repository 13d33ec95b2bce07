// `tensorsky deploy` end to end, on loopback only: Cloud Storage is the GCS emulator (a real JSON API
// server), Vertex AI is the REST double checked against the aiplatform v1 reference, whose :predict
// forwards to `tensorsky serve`. The model is an image classifier written at test time; the truth for
// the remote predictions is `tensorsky predict` on the same SavedModel.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolateCloudSettings, startFakeCloud, TEST_PROJECT, TEST_REGION, TEST_TOKEN, unreachableUrl, type FakeCloud } from '../../../packages/deploy/test/helpers/fake-cloud.js';
import { writeImageClassifier } from '../../../packages/deploy/test/helpers/image-model.js';
import { run } from './support/run-cli.js';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGES = IMAGES_DIR;
const BUCKET = 'jean-models';
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-cli-deploy-'));
const modelDir = path.join(scratch, 'export', 'jean_inception');
let cloud: FakeCloud;
const savedToken = process.env.TENSORSKY_ACCESS_TOKEN;
// gcloud's configuration, as `gcloud config set project/compute/region` writes it, in a folder of the test's own:
// the machine's gcloud set-up and cloud variables must not leak in.
const gcloudConfig = path.join(scratch, 'gcloud');
isolateCloudSettings(gcloudConfig);

beforeAll(async () => {
  cloud = await startFakeCloud({ pollsBeforeDone: 0 });
  await writeImageClassifier(modelDir, 'b64');
  process.env.TENSORSKY_ACCESS_TOKEN = TEST_TOKEN;
});
afterAll(async () => {
  if (savedToken === undefined) delete process.env.TENSORSKY_ACCESS_TOKEN;
  else process.env.TENSORSKY_ACCESS_TOKEN = savedToken;
  await cloud?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const cloudFlags = () => ['--project_id', TEST_PROJECT, '--region', TEST_REGION, '--api_root', cloud.vertex.url];
const deployArgs = (version: string, ...extra: string[]) => [
  'deploy', '--model_dir', modelDir, '--bucket', BUCKET, '--model_name', 'jean_inception', '--model_version', version,
  ...cloudFlags(), '--storage_endpoint', cloud.gcs.url, ...extra,
];

describe('tensorsky deploy --target vertex', () => {
  it('deploys as in the tutorial, and predict-cloud then answers like tensorsky predict', async () => {
    const deployed = await run(...deployArgs('v1'));
    expect(deployed.err.filter((l) => !l.startsWith('tensorsky deploy: '))).toEqual([]);
    expect(deployed.code).toBe(0);
    expect(deployed.out[0]).toMatch(/^Deployed jean_inception v1 \(model projects\/123456789012\/locations\/europe-west1\/models\/\d+, version ID 1\)$/);
    expect(deployed.out[1]).toMatch(/^Endpoint: projects\/123456789012\/locations\/europe-west1\/endpoints\/\d+ \(deployed model \d+\)$/);
    expect(deployed.err.filter((l) => /^tensorsky deploy: \[##########\] (\d+)\/\1 kB uploaded saved_model\.pb$/.test(l))).toHaveLength(1);
    // The deployment's progress: its stage as it changes, then done (the double is done at the first poll).
    expect(deployed.err.filter((l) => l.includes('endpoints.deployModel: ')).map((l) => l.replace(/ \(\d+ s elapsed\)$/, ''))).toEqual([
      'tensorsky deploy: endpoints.deployModel: starting deployment',
      'tensorsky deploy: endpoints.deployModel: done',
    ]);
    const [objects] = await cloud.storage.bucket(BUCKET).getFiles({ prefix: 'models/jean_inception/v1/' });
    expect(objects.map((o) => o.name)).toEqual(['models/jean_inception/v1/saved_model.pb']);

    const images = ['cat.jpg', 'astronaut.jpg', 'rocket.jpg'].flatMap((name) => ['--image', path.join(IMAGES, name)]);
    const remote = await run('predict-cloud', ...images, ...cloudFlags(), '--model_name', 'jean_inception', '--model_version', 'v1', '--decode_preds_fn', 'inception', '--top', '6', '--json');
    expect(remote.err).toEqual([]);
    expect(remote.code).toBe(0);
    const local = await run('predict', ...images, '--model_path', modelDir, '--decode_preds_fn', 'inception', '--top', '6', '--backend', 'wasm', '--json');
    expect(local.code).toBe(0);
    expect(remote.json[0]).toMatchObject({ modelVersion: '1', requests: 1 });
    const remotePredictions = remote.json[0].predictions;
    const localPredictions = local.json[0].predictions;
    expect(remotePredictions.map((p: any) => p.image)).toEqual(localPredictions.map((p: any) => p.image));
    remotePredictions.forEach((p: any, i: number) => {
      expect(p.top.map((t: any) => [t.index, t.id, t.label])).toEqual(localPredictions[i].top.map((t: any) => [t.index, t.id, t.label]));
      p.top.forEach((t: any, k: number) => expect(t.score).toBeCloseTo(localPredictions[i].top[k].score, 6));
    });

    // Project and region from gcloud's configuration file when no flag gives them.
    mkdirSync(path.join(gcloudConfig, 'configurations'), { recursive: true });
    writeFileSync(path.join(gcloudConfig, 'configurations', 'config_default'), `[core]\nproject = ${TEST_PROJECT}\n\n[compute]\nregion = ${TEST_REGION}\n`);
    const fromGcloud = await run('predict-cloud', ...images, '--api_root', cloud.vertex.url, '--model_name', 'jean_inception', '--model_version', 'v1', '--decode_preds_fn', 'inception', '--top', '6', '--json');
    rmSync(gcloudConfig, { recursive: true });
    expect(fromGcloud.err).toEqual([]);
    expect(fromGcloud.json[0].predictions).toEqual(remotePredictions);

    const text = await run('predict-cloud', '--image', path.join(IMAGES, 'cat.jpg'), ...cloudFlags(), '--model_name', 'jean_inception', '--model_version', 'v1', '--top', '2');
    expect(text.out).toEqual([
      path.join(IMAGES, 'cat.jpg'),
      'Predicted:',
      ...remotePredictions[0].top.slice(0, 2).map((t: any) => `Score ${t.score.toFixed(4)}, Label ${t.label}`),
    ]);
  });

  it('--dry-run prints every REST call and writes nothing', async () => {
    const writesBefore = cloud.vertex.writes().length;
    const dry = await run(...deployArgs('v2', '--dry-run'));
    expect(dry.code).toBe(0);
    expect(cloud.vertex.writes().length).toBe(writesBefore);
    const [objects] = await cloud.storage.bucket(BUCKET).getFiles({ prefix: 'models/jean_inception/v2/' });
    expect(objects).toHaveLength(0);
    expect(dry.out[0]).toBe('Dry run: the GET calls below were made; nothing was written. Calls:');
    const calls = dry.out.slice(1).map((line) => line.split(' ').slice(0, 2).join(' '));
    const vertex = cloud.vertex.url.replace(/\/$/, '');
    const parent = `projects/${TEST_PROJECT}/locations/${TEST_REGION}`;
    expect(calls[0]).toBe(`GET ${cloud.gcs.url}/storage/v1/b/${BUCKET}/o?prefix=models%2Fjean_inception%2Fv2%2F`);
    expect(calls[1]).toBe(`POST ${cloud.gcs.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart&name=models%2Fjean_inception%2Fv2%2Fsaved_model.pb&ifGenerationMatch=0`);
    expect(calls[2]).toBe(`GET ${vertex}/v1/${parent}/models?filter=display_name%3D%22jean_inception%22`);
    expect(calls).toContain(`POST ${vertex}/v1/${parent}/models:upload`);
    expect(calls.at(-2)).toMatch(new RegExp(`^POST ${vertex}/v1/projects/123456789012/locations/europe-west1/endpoints/\\d+:deployModel$`));
    expect(calls.at(-1)).toMatch(/:undeployModel$/);
    const upload = dry.out.find((l) => l.startsWith(`POST ${vertex}/v1/${parent}/models:upload `))!;
    const body = JSON.parse(upload.slice(upload.indexOf(' {') + 1));
    expect(body).toMatchObject({
      model: { displayName: 'jean_inception', artifactUri: `gs://${BUCKET}/models/jean_inception/v2/`, versionAliases: ['v2', 'default'], labels: { 'tensorsky-input-format': 'b64', 'tensorsky-input-name': 'inputs' } },
      parentModel: expect.stringMatching(/^projects\/123456789012\/locations\/europe-west1\/models\/\d+$/),
    });
    expect(dry.out.join('\n')).not.toContain(TEST_TOKEN);
  });

  it('--dry-run with scaling flags: replicas, CPU autoscaling target and accelerators go into the deployment', async () => {
    const dry = await run(
      ...deployArgs('v2', '--dry-run', '--min_replicas', '2', '--max-replicas', '5', '--autoscaling_cpu_target', '70', '--accelerator-type', 'NVIDIA_TESLA_T4', '--accelerator_count', '2'),
    );
    expect(dry.code).toBe(0);
    const deployCall = dry.out.find((l) => /:deployModel \{/.test(l))!;
    expect(JSON.parse(deployCall.slice(deployCall.indexOf(' {') + 1)).deployedModel.dedicatedResources).toEqual({
      machineSpec: { machineType: 'n1-standard-2', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 2 },
      minReplicaCount: 2,
      maxReplicaCount: 5,
      autoscalingMetricSpecs: [{ metricName: 'aiplatform.googleapis.com/prediction/online/cpu/utilization', target: 70 }],
    });
  });

  it('--dry-run offline: plans as for a fresh project, says so once, and does not wait', async () => {
    const started = Date.now();
    const dry = await run(
      'deploy', '--model_dir', modelDir, '--bucket', BUCKET, '--model_name', 'jean_inception', '--model_version', 'v2',
      '--project_id', TEST_PROJECT, '--region', TEST_REGION, '--api_root', await unreachableUrl(), '--storage_endpoint', await unreachableUrl(), '--dry-run',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(dry.code).toBe(0);
    const notes = dry.err.filter((l) => l.includes('cannot read the current state'));
    expect(notes).toEqual([expect.stringMatching(/^tensorsky deploy: cannot read the current state \(Cloud Storage listing of .* failed \(ECONNREFUSED: .*\)\): planning as for a fresh project$/)]);
    expect(dry.out[0]).toBe('Dry run, planned as for a fresh project (the current state could not be read); nothing was written. Calls:');
    const calls = dry.out.slice(1).map((line) => `${line.split(' ')[0]} ${decodeURIComponent(new URL(line.split(' ')[1]).pathname).split('/').pop()}`);
    expect(calls).toEqual(['GET o', 'POST o', 'GET models', 'POST models:upload', 'GET endpoints', 'POST endpoints', `POST {new-endpoint-id}:deployModel`]);
  });

  it('--dry-run without credentials: reads the bucket, plans Vertex AI as for a fresh project', async () => {
    // No token and no Application Default Credentials: no key file, an empty home, and no metadata
    // server asked (on a Google Cloud machine it would hand out credentials).
    const names = ['TENSORSKY_ACCESS_TOKEN', 'GOOGLE_APPLICATION_CREDENTIALS', 'HOME', 'METADATA_SERVER_DETECTION'];
    const saved = names.map((name) => process.env[name]);
    delete process.env.TENSORSKY_ACCESS_TOKEN;
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.HOME = mkdtempSync(path.join(scratch, 'home-'));
    process.env.METADATA_SERVER_DETECTION = 'none';
    try {
      const started = Date.now();
      const dry = await run(...deployArgs('v1', '--dry-run', '--json'));
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(dry.code).toBe(0);
      const [result] = dry.json;
      expect(result.stateUnreadable).toMatch(/^Vertex AI models\.list failed \(UNAUTHENTICATED: Could not load the default credentials/);
      // The bucket (the emulator asks for no credentials) was read: v1's file is there already.
      expect(result.upload.skipped).toEqual(['saved_model.pb']);
      expect(result.calls.filter((c: string) => c.startsWith('POST ')).map((c: string) => decodeURIComponent(new URL(c.split(' ')[1]).pathname).split('/').pop())).toEqual(['models:upload', 'endpoints', '{new-endpoint-id}:deployModel']);
    } finally {
      names.forEach((name, i) => (saved[i] === undefined ? delete process.env[name] : (process.env[name] = saved[i])));
    }
  });

  it('shows errors from the cloud as one line with what to do', async () => {
    cloud.vertex.failNext({
      method: 'GET',
      path: /\/models$/,
      httpStatus: 403,
      status: 'PERMISSION_DENIED',
      message: "Permission 'aiplatform.models.list' denied on resource (or it may not exist).",
    });
    const denied = await run(...deployArgs('v1'));
    expect(denied.code).toBe(1);
    expect(denied.err.filter((l) => l.startsWith('tensorsky: '))).toEqual([
      "tensorsky: Vertex AI models.list failed (403 PERMISSION_DENIED: Permission 'aiplatform.models.list' denied on resource (or it may not exist).); grant your account roles/aiplatform.user (and roles/storage.objectViewer on the bucket for the Vertex AI service agent), and check --project_id",
    ]);

    const missing = await run('predict-cloud', '--image', path.join(IMAGES, 'cat.jpg'), ...cloudFlags(), '--model_name', 'jean_incepton', '--model_version', 'v1');
    expect(missing.code).toBe(1);
    expect(missing.err).toEqual([
      'tensorsky: no Vertex AI model named jean_incepton in project tensorsky-test, region europe-west1; deploy it with tensorsky deploy, or check --model_name and --region',
    ]);
  });

  it('checks its flags', async () => {
    expect((await run('deploy', '--model_dir', modelDir, '--bucket', BUCKET, '--model_name', 'm', '--model_version', 'v1')).err).toEqual([
      `tensorsky: no Google Cloud project: give --project_id, set GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT, or run \`gcloud config set project PROJECT_ID\` (tensorsky reads ${path.join(gcloudConfig, 'configurations', 'config_default')})`,
    ]);
    expect((await run('deploy', '--model_dir', modelDir, '--model_name', 'm', '--model_version', 'v1')).err).toEqual([
      'tensorsky: nowhere to deploy: give --model_base_path DIR (a TF Serving repository) for a local deployment, or --bucket and --project_id for Vertex AI',
    ]);
    const replicas = await run(...deployArgs('v1', '--max_replicas', '0'));
    expect(replicas.code).toBe(2);
    expect(replicas.err).toEqual(['tensorsky: --max_replicas must be a whole number of at least 1, got 0 (see tensorsky deploy --help)']);
    const usage = async (...extra: string[]) => {
      const result = await run(...deployArgs('v1', '--dry-run', ...extra));
      expect(result.code).toBe(2);
      return result.err;
    };
    expect(await usage('--autoscaling_cpu_target', '0')).toEqual(['tensorsky: --autoscaling_cpu_target must be a whole percentage from 1 to 100, got 0 (see tensorsky deploy --help)']);
    expect(await usage('--accelerator_count', '1')).toEqual(['tensorsky: --accelerator_count needs --accelerator_type (e.g. NVIDIA_TESLA_T4) (see tensorsky deploy --help)']);
    expect(await usage('--accelerator-type', 'nvidia-t4')).toEqual([
      'tensorsky: --accelerator-type must be a Vertex AI accelerator name such as NVIDIA_TESLA_T4 or NVIDIA_L4, got "nvidia-t4" (see tensorsky deploy --help)',
    ]);
  });
});

describe('tensorsky deploy --target local', () => {
  it('publishes a numbered version into the repository tensorsky serve reads', async () => {
    const base = path.join(scratch, 'repository', 'jean_inception');
    const published = await run('deploy', '--model_dir', modelDir, '--model_name', 'jean_inception', '--model_version', 'v1', '--model_base_path', base);
    expect(published.code).toBe(0);
    expect(published.out).toEqual([
      `jean_inception version 1 published at ${path.join(base, '1')}`,
      `Serve it: tensorsky serve --model_base_path ${base} --model_name jean_inception`,
    ]);
    expect(readdirSync(path.join(base, '1'))).toEqual(['saved_model.pb']);
    const again = await run('deploy', '--model_dir', modelDir, '--model_name', 'jean_inception', '--model_version', '1', '--model_base_path', base, '--json');
    expect(again.json[0]).toMatchObject({ action: 'unchanged', version: 1 });
  });

  it('refuses a SavedModel whose saved_model.pb is truncated: exit 1, one line, nothing published', async () => {
    const corrupt = path.join(scratch, 'corrupt');
    cpSync(modelDir, corrupt, { recursive: true });
    const pb = path.join(corrupt, 'saved_model.pb');
    truncateSync(pb, statSync(pb).size >> 1);
    const base = path.join(scratch, 'repository', 'refused');
    const refused = await run('deploy', '--model_dir', corrupt, '--model_name', 'jean_inception', '--model_version', '4', '--model_base_path', base);
    expect(refused.code).toBe(1);
    expect(refused.err).toHaveLength(1);
    expect(refused.err[0]).toMatch(/^tensorsky: refusing to publish .*corrupt: .*saved_model\.pb is not a SavedModel \(.*\); export the model again$/);
    expect(existsSync(base)).toBe(false);
  });
});
