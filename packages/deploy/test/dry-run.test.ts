// --dry-run offline: when the current state cannot be read (no network, nothing listening, no
// credentials), the plan is made as for a fresh project, said once, and without waiting long.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { CloudError } from '@tensorsky/cloud-errors';
import { DRY_RUN_PLACEHOLDER, DryRunReads, deployToVertex, formatRestCall, type RestCall } from '../src/index.js';
import { TEST_PROJECT, TEST_REGION, TEST_TOKEN, unreachableUrl } from './helpers/fake-cloud.js';

const HALF_PLUS_TWO = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');

describe('deployToVertex --dry-run without access to the cloud', () => {
  it('plans as for a fresh project, says so once, and prints every call, quickly', async () => {
    const vertexRoot = await unreachableUrl();
    const storageRoot = (await unreachableUrl()).replace(/\/$/, '');
    const calls: RestCall[] = [];
    const log: string[] = [];
    const started = Date.now();
    const result = await deployToVertex({
      modelDir: HALF_PLUS_TWO,
      modelName: 'half_plus_two',
      modelVersion: 'v1',
      projectId: TEST_PROJECT,
      bucket: 'tensorsky-models',
      region: TEST_REGION,
      apiRoot: vertexRoot,
      storageEndpoint: storageRoot,
      accessToken: TEST_TOKEN,
      dryRun: true,
      onCall: (call) => calls.push(call),
      log: (line) => log.push(line),
    });
    expect(Date.now() - started).toBeLessThan(10_000);

    const notes = log.filter((line) => line.startsWith('cannot read the current state'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^cannot read the current state \(Cloud Storage listing of gs:\/\/tensorsky-models\/models\/half_plus_two\/v1\/ failed \(ECONNREFUSED: .*\)\): planning as for a fresh project$/);
    expect(result.stateUnreadable).toMatch(/^Cloud Storage listing of .* failed \(ECONNREFUSED/);
    expect(result.created).toEqual({ model: true, version: true, endpoint: true, deployment: true });
    expect(result.upload.uploaded).toEqual([]);

    const parent = `projects/${TEST_PROJECT}/locations/${TEST_REGION}`;
    const endpoint = `${parent}/endpoints/${DRY_RUN_PLACEHOLDER.endpoint}`;
    expect(calls.map((c) => `${c.method} ${decodeURIComponent(new URL(c.url).pathname)}`)).toEqual([
      'GET /storage/v1/b/tensorsky-models/o',
      ...Array(4).fill('POST /upload/storage/v1/b/tensorsky-models/o'),
      `GET /v1/${parent}/models`,
      `POST /v1/${parent}/models:upload`,
      `GET /v1/${parent}/endpoints`,
      `POST /v1/${parent}/endpoints`,
      `POST /v1/${endpoint}:deployModel`,
    ]);
    // A fresh project: the first version of a new model (no parentModel), deployed with all traffic.
    expect(calls[6].body).not.toHaveProperty('parentModel');
    expect(calls.at(-1)!.body).toMatchObject({ deployedModel: { model: `${parent}/models/${DRY_RUN_PLACEHOLDER.model}@${DRY_RUN_PLACEHOLDER.version}` }, trafficSplit: { '0': 100 } });
    expect(calls.map(formatRestCall).join('\n')).not.toContain(TEST_TOKEN);
  });
});

describe('DryRunReads', () => {
  it('bounds a read that never answers, then answers fresh without asking again', async () => {
    const log: string[] = [];
    const reads = new DryRunReads((line) => log.push(line), 100);
    let sent = 0;
    const never = () => {
      sent++;
      return new Promise<string[]>(() => {});
    };
    const started = Date.now();
    expect(await reads.read(never, [])).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await reads.read(never, [])).toEqual([]);
    expect(sent).toBe(1);
    expect(log).toEqual(['cannot read the current state (no answer within 0.1 s): planning as for a fresh project']);
  });

  it('passes on a refusal: with access but without permission, the dry run fails as a real run would', async () => {
    const reads = new DryRunReads();
    const denied = new CloudError('Vertex AI models.list failed (403 PERMISSION_DENIED: no); grant ...', 'PERMISSION_DENIED', 403);
    await expect(reads.read(() => Promise.reject(denied), [])).rejects.toBe(denied);
    expect(reads.unreadable).toBeUndefined();
  });
});
