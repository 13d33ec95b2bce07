// `--deploy`: after the golden checks, deploy the SavedModel and send one golden image through the
// deployed endpoint; its scores must match what the same SavedModel gave locally.
// local: publish as version 1 of a TF Serving repository in a temp folder, serve it on 127.0.0.1 (an
// ephemeral port), POST /v1/models/<name>:predict, stop. vertex: @tensorsky/deploy's deployToVertex
// (GCS upload, model version, endpoint), then endpoints.predict.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { imageValue, type ImageEncoding } from '@tensorsky/saved-model';
import type { VertexSmokeOptions } from './options.js';
import type { DeployReport } from './report/types.js';

export interface SmokeInput {
  modelDir: string;
  /** Model name in URLs; characters TF Serving does not allow in names become _. */
  modelName: string;
  image: { path: string; bytes: Uint8Array };
  /** How the graph reads its string input (saved-model's imageInputEncoding). */
  encoding: ImageEncoding;
  backend?: string;
  log: (line: string) => void;
}

export interface SmokeResult {
  report: DeployReport;
  /** Class scores the endpoint returned for the image. */
  scores: number[];
}

export class DeploySmokeError extends Error {
  override name = 'DeploySmokeError';
}

export async function smokeLocal(input: SmokeInput): Promise<SmokeResult> {
  const [{ publishLocal }, { startServer, DEFAULT_VERSION_POLICY }] = await Promise.all([import('@tensorsky/deploy'), import('@tensorsky/serve')]);
  const name = servingName(input.modelName);
  const repository = await fs.mkdtemp(path.join(os.tmpdir(), 'tensorsky-verify-serving-'));
  try {
    const basePath = path.join(repository, name);
    const published = await publishLocal({ modelDir: input.modelDir, modelBasePath: basePath, modelVersion: '1', log: input.log });
    const server = await startServer({
      models: [{ name, basePath, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
      host: '127.0.0.1',
      port: 0,
      workers: 1,
      pollIntervalMs: 0,
      engine: { options: { backend: input.backend ?? 'auto' } },
      log: (line) => input.log(`serve: ${line}`),
    });
    try {
      const url = `${server.url}/v1/models/${encodeURIComponent(name)}:predict`;
      input.log(`POST ${url} with ${path.basename(input.image.path)}`);
      const started = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [imageValue(input.image.bytes, input.encoding)] }),
      });
      const body = (await response.json().catch(() => ({}))) as { predictions?: unknown; error?: string };
      const latencyMs = performance.now() - started;
      if (!response.ok) throw new DeploySmokeError(`${url} answered HTTP ${response.status}: ${body.error ?? 'no error message'}`);
      return {
        report: { target: 'local', url, version: String(published.version), image: input.image.path, latencyMs },
        scores: firstRow(body.predictions, url),
      };
    } finally {
      await server.close();
    }
  } finally {
    await fs.rm(repository, { recursive: true, force: true });
  }
}

export async function smokeVertex(input: SmokeInput, vertex: VertexSmokeOptions): Promise<SmokeResult> {
  const { deployToVertex, VertexClient } = await import('@tensorsky/deploy');
  const region = vertex.region ?? 'europe-west1';
  const deployed = await deployToVertex({
    modelDir: input.modelDir,
    modelName: vertex.modelName ?? input.modelName,
    modelVersion: vertex.modelVersion ?? 'v1',
    projectId: vertex.projectId,
    bucket: vertex.bucket,
    region,
    log: input.log,
  });
  const client = new VertexClient({ projectId: vertex.projectId, region });
  input.log(`predicting ${path.basename(input.image.path)} through ${deployed.endpoint}`);
  const started = performance.now();
  const response = await client.predict(deployed.endpoint, [imageValue(input.image.bytes, input.encoding)]);
  const latencyMs = performance.now() - started;
  return {
    report: { target: 'vertex', url: deployed.endpoint, version: response.modelVersionId ?? deployed.modelVersionId, image: input.image.path, latencyMs },
    scores: firstRow(response.predictions, deployed.endpoint),
  };
}

/** The scores of the one instance sent: predictions[0], a list of numbers. */
function firstRow(predictions: unknown, where: string): number[] {
  const row = Array.isArray(predictions) ? predictions[0] : undefined;
  if (!Array.isArray(row) || !row.every((v) => typeof v === 'number')) {
    throw new DeploySmokeError(`${where} did not return class scores (expected "predictions": [[numbers]])`);
  }
  return row as number[];
}

function servingName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/\.\.+/g, '_') || 'model';
}
