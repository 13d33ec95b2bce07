// Name rules (Vertex AI version aliases, bucket and project ID formats) and the one-line errors made
// from what Google's APIs, Node's fetch and google-auth-library actually throw.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { CloudError, checkBucket, checkModelName, checkProjectId, DeployNameError, operationError, parseGcsFolder, parseModelVersion, toCloudError } from '../src/index.js';

describe('names', () => {
  it('maps tutorial versions to Vertex AI aliases and TF Serving version numbers', () => {
    expect(parseModelVersion('v1')).toEqual({ name: 'v1', alias: 'v1', number: 1 });
    expect(parseModelVersion('12')).toEqual({ name: '12', alias: 'v12', number: 12 });
    expect(parseModelVersion('canary-2')).toEqual({ name: 'canary-2', alias: 'canary-2' });
    for (const bad of ['V1', 'v1.2', '../v1', '', 'canary-', 'a b']) expect(() => parseModelVersion(bad)).toThrow(/invalid model version/);
    expect(() => parseModelVersion('default')).toThrow(/reserved for Vertex AI's default alias/);
  });

  it('keeps model names, buckets and projects to their formats', () => {
    expect(checkModelName('jean_inception')).toBe('jean_inception');
    for (const bad of ['../etc', 'a..b', '1model', 'a/b', 'x"y']) expect(() => checkModelName(bad)).toThrow(/invalid model name/);
    expect(checkBucket('gs://my-models/')).toBe('my-models');
    for (const bad of ['My_Bucket', 'ab', 'a..b', '-bucket']) expect(() => checkBucket(bad)).toThrow(/invalid bucket/);
    expect(checkProjectId('my-project-123')).toBe('my-project-123');
    for (const bad of ['123456789012', 'My Project', 'proj']) expect(() => checkProjectId(bad)).toThrow(/invalid project ID/);
  });
});

describe('parseGcsFolder', () => {
  it('splits gs://bucket/folder into the bucket and a prefix ending in /', () => {
    expect(parseGcsFolder('gs://my-models/models/m', '--output')).toEqual({ bucket: 'my-models', prefix: 'models/m/' });
    expect(parseGcsFolder('gs://my-models/models/m/', '--output')).toEqual({ bucket: 'my-models', prefix: 'models/m/' });
    expect(parseGcsFolder('gs://my-models', '--output')).toEqual({ bucket: 'my-models', prefix: '' });
  });

  it('refuses what is not a gs:// folder in one line naming the value, with what to write instead', () => {
    expect(() => parseGcsFolder('s3://b/m', '--images')).toThrow(DeployNameError);
    expect(() => parseGcsFolder('s3://b/m', '--images')).toThrow(
      '--images s3://b/m is not a Cloud Storage folder; give gs://BUCKET/FOLDER, e.g. gs://my-bucket/batch-1',
    );
    expect(() => parseGcsFolder('gs://Bad_Bucket/m', '--images')).toThrow(/invalid bucket 'Bad_Bucket'/);
    expect(() => parseGcsFolder('gs://b-b/models/../m', '--images')).toThrow("--images gs://b-b/models/../m has '.' or '..' in its path: give the folder itself");
  });
});

describe('cloud errors', () => {
  const context = { service: 'Vertex AI', action: 'models.list', project: 'my-project', region: 'europe-west1' };

  it('an unreachable host (what fetch throws)', async () => {
    // A port that was just free: nothing listens there.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const thrown = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    const error = toCloudError(thrown, context);
    expect(error.reason).toBe('ECONNREFUSED');
    expect(error.message).toBe('Vertex AI models.list failed (ECONNREFUSED: fetch failed); cannot reach the API host: check your network, proxy settings and the URL');
  });

  it('missing Application Default Credentials (google-auth-library\'s message)', () => {
    const thrown = new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.');
    const error = toCloudError(thrown, context);
    expect(error.reason).toBe('UNAUTHENTICATED');
    expect(error.message).toMatch(/; sign in with `gcloud auth application-default login` \(or point GOOGLE_APPLICATION_CREDENTIALS at a service account key\)$/);
  });

  it('a Cloud Storage API error (status in code, message from the JSON error)', () => {
    const thrown = Object.assign(new Error('The specified bucket does not exist.'), { code: 404, errors: [{ reason: 'notFound' }] });
    const error = toCloudError(thrown, { service: 'Cloud Storage', action: 'listing of gs://b/m/', notFoundHint: 'create the bucket' });
    expect(error.message).toBe('Cloud Storage listing of gs://b/m/ failed (404 NOT_FOUND: The specified bucket does not exist.); create the bucket');
  });

  it('failed operations carry gRPC codes', () => {
    expect(operationError({ code: 7, message: 'denied' }, context).reason).toBe('PERMISSION_DENIED');
    expect(operationError({ code: 8, message: 'quota' }, context).retryable).toBe(true);
    expect(operationError({ code: 9, message: 'Billing account for project is not found.' }, context).message).toMatch(/enable billing for the project/);
    expect(new CloudError('x', 'INVALID_ARGUMENT').retryable).toBe(false);
  });
});
