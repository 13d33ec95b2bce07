// `tensorsky deploy --json` for CI: the result document alone on stdout, and the progress on stderr as
// one JSON object per line (messages, upload steps, long-running operations with state and elapsed time),
// against the GCS emulator and the Vertex AI double.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolateCloudSettings, startFakeCloud, TEST_PROJECT, TEST_REGION, TEST_TOKEN, type FakeCloud } from '../../../packages/deploy/test/helpers/fake-cloud.js';
import { writeImageClassifier } from '../../../packages/deploy/test/helpers/image-model.js';
import { run } from './support/run-cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-cli-deploy-json-'));
const modelDir = path.join(scratch, 'export', 'jean_inception');
let cloud: FakeCloud;
const savedToken = process.env.TENSORSKY_ACCESS_TOKEN;
isolateCloudSettings(path.join(scratch, 'gcloud'));

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

describe('tensorsky deploy --json', () => {
  it('prints progress events as JSON lines on stderr and the result on stdout', async () => {
    const started = Date.now();
    const deployed = await run(
      'deploy', '--model_dir', modelDir, '--bucket', 'ci-models', '--model_name', 'jean_inception', '--model_version', 'v1',
      '--project_id', TEST_PROJECT, '--region', TEST_REGION, '--api_root', cloud.vertex.url, '--storage_endpoint', cloud.gcs.url, '--json',
    );
    const took = Date.now() - started;
    expect(deployed.code).toBe(0);
    expect(deployed.out).toEqual([]);
    expect(deployed.json).toHaveLength(1);
    expect(deployed.json[0]).toMatchObject({ versionAlias: 'v1', modelVersionId: '1', dryRun: false });

    // Every stderr line is one JSON object with an event type and the time elapsed.
    const events = deployed.err.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const event of events) {
      expect(['message', 'upload', 'operation']).toContain(event.event);
      expect(event.elapsedMs).toBeTypeOf('number');
      expect(event.elapsedMs as number).toBeGreaterThanOrEqual(0);
      expect(event.elapsedMs as number).toBeLessThanOrEqual(took);
    }
    expect(events[0]).toMatchObject({ event: 'message', message: `project ${TEST_PROJECT} (--project_id), region ${TEST_REGION} (--region)` });

    const uploads = events.filter((e) => e.event === 'upload');
    expect(uploads.at(-1)).toMatchObject({ operation: 'storage.objects.insert', state: 'uploaded', file: 'saved_model.pb' });
    expect(uploads.at(-1)!.doneBytes).toBe(uploads.at(-1)!.totalBytes);

    // The deployment's stages as they change (the double finishes at the first poll), with the operation's name.
    const deployment = events.filter((e) => e.event === 'operation' && e.operation === 'endpoints.deployModel');
    expect(deployment.map((e) => e.state)).toEqual(['starting deployment', 'done']);
    for (const event of deployment) expect(event.name).toMatch(/^projects\/[^/]+\/locations\/europe-west1\/endpoints\/\d+\/operations\/\d+$/);
    // Operations are reported as events only, not also as text.
    expect(events.filter((e) => e.event === 'message' && String(e.message).includes('endpoints.deployModel:'))).toEqual([]);
  });

  it('keeps the readable lines without --json', async () => {
    const deployed = await run(
      'deploy', '--model_dir', modelDir, '--bucket', 'ci-models', '--model_name', 'jean_inception', '--model_version', 'v1',
      '--project_id', TEST_PROJECT, '--region', TEST_REGION, '--api_root', cloud.vertex.url, '--storage_endpoint', cloud.gcs.url,
    );
    expect(deployed.code).toBe(0);
    expect(deployed.err.length).toBeGreaterThan(0);
    expect(deployed.err.every((line) => line.startsWith('tensorsky deploy: '))).toBe(true);
  });
});
