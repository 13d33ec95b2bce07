// Long-running operations are never silent: their state is reported when it changes (a deployment's
// stages) and at least every progressIntervalMs while it does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VertexClient, type OperationProgress, type PollOptions } from '../src/index.js';
import { TEST_PROJECT, TEST_REGION, TEST_TOKEN } from './helpers/fake-cloud.js';
import { startVertexDouble, type VertexDouble } from './helpers/vertex-double.js';

let double: VertexDouble;
beforeAll(async () => {
  double = await startVertexDouble({
    projectId: TEST_PROJECT,
    region: TEST_REGION,
    accessToken: TEST_TOKEN,
    pollsBeforeDone: 8,
    // Nothing is served: these tests watch the operations, not predictions.
    fetchArtifacts: async () => {},
    startServing: async () => ({ url: 'http://127.0.0.1:9', close: async () => {} }),
  });
});
afterAll(() => double?.close());

function client(poll: PollOptions, log: (line: string) => void): VertexClient {
  return new VertexClient({ projectId: TEST_PROJECT, region: TEST_REGION, apiRoot: double.url, accessToken: TEST_TOKEN, poll, log });
}

describe('operation progress', () => {
  it('reports each deployment stage once, as it changes, then done', async () => {
    const lines: string[] = [];
    const vertex = client({ initialDelayMs: 5, maxDelayMs: 10, progressIntervalMs: 60_000 }, (line) => lines.push(line));
    const { model, modelVersionId } = await vertex.uploadModel({ displayName: 'm', artifactUri: 'gs://b/m/v1/', containerSpec: { imageUri: 'i' } });
    const endpoint = await vertex.createEndpoint('m');
    // Quick operations whose state says nothing new stay quiet.
    expect(lines).toEqual([]);

    await vertex.deployModel(endpoint.name!, { model: `${model}@${modelVersionId}`, dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 } }, { '0': 100 });
    expect(lines.every((line) => /^endpoints\.deployModel: [a-z ]+ \(\d+ s elapsed\)$/.test(line))).toBe(true);
    expect(lines.map((line) => line.replace(/^endpoints\.deployModel: | \(.*$/g, ''))).toEqual([
      'starting deployment',
      'preparing model',
      'creating serving cluster',
      'adding nodes to cluster',
      'getting container image',
      'starting model server',
      'finishing up',
      'done',
    ]);
  });

  it('gives the same progress as events to onOperation (and then logs nothing)', async () => {
    const lines: string[] = [];
    const events: OperationProgress[] = [];
    const started = Date.now();
    const vertex = new VertexClient({
      projectId: TEST_PROJECT,
      region: TEST_REGION,
      apiRoot: double.url,
      accessToken: TEST_TOKEN,
      poll: { initialDelayMs: 5, maxDelayMs: 10, progressIntervalMs: 60_000 },
      log: (line) => lines.push(line),
      onOperation: (event) => events.push(event),
    });
    const { model, modelVersionId } = await vertex.uploadModel({ displayName: 'm3', artifactUri: 'gs://b/m3/v1/', containerSpec: { imageUri: 'i' } });
    const endpoint = await vertex.createEndpoint('m3');
    await vertex.deployModel(endpoint.name!, { model: `${model}@${modelVersionId}`, dedicatedResources: { machineSpec: { machineType: 'n1-standard-2' }, minReplicaCount: 1 } }, { '0': 100 });
    const took = Date.now() - started;
    expect(lines).toEqual([]);
    expect(events.map((e) => e.state)).toEqual(['starting deployment', 'preparing model', 'creating serving cluster', 'adding nodes to cluster', 'getting container image', 'starting model server', 'finishing up', 'done']);
    for (const event of events) {
      expect(event.operation).toBe('endpoints.deployModel');
      expect(event.name).toMatch(new RegExp(`^projects/[^/]+/locations/${TEST_REGION}/endpoints/\\d+/operations/\\d+$`));
      expect(event.elapsedMs).toBeGreaterThanOrEqual(0);
      expect(event.elapsedMs).toBeLessThanOrEqual(took);
    }
    // Elapsed time only grows.
    events.slice(1).forEach((event, i) => expect(event.elapsedMs).toBeGreaterThanOrEqual(events[i].elapsedMs));
  });

  it('repeats an unchanged state every progressIntervalMs, with the time elapsed', async () => {
    const lines: { line: string; at: number }[] = [];
    const interval = 40;
    const vertex = client({ initialDelayMs: 15, maxDelayMs: 15, progressIntervalMs: interval }, (line) => lines.push({ line, at: Date.now() }));
    const started = Date.now();
    await vertex.uploadModel({ displayName: 'm2', artifactUri: 'gs://b/m2/v1/', containerSpec: { imageUri: 'i' } });
    const running = lines.filter((l) => l.line.startsWith('models.upload: running ('));
    // 8 polls 15 ms apart: about 120 ms of "running", so a line every 40 ms or so, and never closer together.
    expect(running.length).toBeGreaterThanOrEqual(1);
    expect(running[0].at - started).toBeGreaterThanOrEqual(interval);
    running.slice(1).forEach((l, i) => expect(l.at - running[i].at).toBeGreaterThanOrEqual(interval));
    expect(lines.at(-1)!.line).toMatch(/^models\.upload: done \(\d+ s elapsed\)$/);
  });
});
