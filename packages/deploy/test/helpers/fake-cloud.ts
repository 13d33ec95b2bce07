// Google Cloud on loopback for tests: the GCS emulator (a real JSON API server) and the Vertex AI double,
// wired like the real services: deploying a model version copies its gs:// artifacts out of the bucket.
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Storage } from '@google-cloud/storage';
import { createStorage } from '../../src/index.js';
import { startGcsEmulator, type GcsEmulator } from './gcs-emulator.js';
import { startVertexDouble, type ObjectStore, type VertexDouble, type VertexDoubleOptions } from './vertex-double.js';

export const TEST_PROJECT = 'tensorsky-test';
export const TEST_REGION = 'europe-west1';
export const TEST_TOKEN = 'test-access-token';

export interface FakeCloud {
  gcs: GcsEmulator;
  storage: Storage;
  vertex: VertexDouble;
  stop(): Promise<void>;
}

export async function startFakeCloud(options: Partial<Omit<VertexDoubleOptions, 'fetchArtifacts' | 'objects'>> = {}): Promise<FakeCloud> {
  const gcs = await startGcsEmulator();
  const storage = createStorage({ projectId: TEST_PROJECT, apiEndpoint: gcs.url });
  const vertex = await startVertexDouble({
    projectId: TEST_PROJECT,
    region: TEST_REGION,
    accessToken: TEST_TOKEN,
    ...options,
    fetchArtifacts: (artifactUri, dir) => downloadFolder(storage, artifactUri, dir),
    objects: objectStore(storage),
  });
  return {
    gcs,
    storage,
    vertex,
    stop: async () => {
      await vertex.close();
      await gcs.stop();
    },
  };
}

/** Batch prediction jobs' view of the emulator: objects by gs:// URI. */
function objectStore(storage: Storage): ObjectStore {
  const split = (uri: string) => {
    const match = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
    if (!match) throw new Error(`not a gs:// URI: ${uri}`);
    return { bucket: match[1], name: match[2] };
  };
  return {
    list: async (prefix) => {
      const { bucket, name } = split(prefix);
      const [files] = await storage.bucket(bucket).getFiles({ prefix: name });
      return files.map((f) => `gs://${bucket}/${f.name}`);
    },
    read: async (uri) => {
      const { bucket, name } = split(uri);
      const [bytes] = await storage.bucket(bucket).file(name).download();
      return bytes.toString('utf8');
    },
    write: async (uri, text) => {
      const { bucket, name } = split(uri);
      await storage.bucket(bucket).file(name).save(text, { resumable: false, contentType: 'application/jsonl' });
    },
  };
}

/** Copies every object under gs://bucket/prefix/ into dir, keeping relative paths. */
async function downloadFolder(storage: Storage, uri: string, dir: string): Promise<void> {
  const match = /^gs:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match) throw new Error(`not a gs:// URI: ${uri}`);
  const [, bucket, rawPrefix] = match;
  const prefix = rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  const [files] = await storage.bucket(bucket).getFiles({ prefix });
  if (files.length === 0) throw new Error(`no files under ${uri}`);
  for (const file of files) {
    const target = path.join(dir, ...file.name.slice(prefix.length).split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await file.download({ destination: target });
  }
}

/** http://127.0.0.1:PORT/ with nothing listening on PORT: a host that refuses connections at once (offline). */
export async function unreachableUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}

/** Variables through which a machine's own Google Cloud set-up could reach a test (see cloud-settings.ts). */
const CLOUD_VARIABLES = ['GOOGLE_CLOUD_PROJECT', 'CLOUDSDK_CORE_PROJECT', 'GCLOUD_PROJECT', 'CLOUDSDK_AI_REGION', 'GOOGLE_CLOUD_REGION', 'CLOUDSDK_COMPUTE_REGION', 'CLOUDSDK_ACTIVE_CONFIG_NAME'];

/** Points gcloud's configuration at `configDir` (the test's own) and removes the cloud variables from this process. */
export function isolateCloudSettings(configDir: string): void {
  process.env.CLOUDSDK_CONFIG = configDir;
  for (const name of CLOUD_VARIABLES) delete process.env[name];
}
