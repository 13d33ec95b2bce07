// The Cloud Storage side of a batch prediction: gs:// URIs, listing a folder, uploading files that are
// not there yet (an object with the same MD5 is kept, so an interrupted run resumes where it stopped),
// and reading objects back. Several transfers run at once, at most `concurrency`.
import { createHash } from 'node:crypto';
import type { Storage } from '@google-cloud/storage';
import { CloudError, toCloudError, type CloudContext } from '@tensorsky/cloud-errors';
import { DryRunReads, type RestCall } from '@tensorsky/deploy';

export interface GcsLocation {
  bucket: string;
  /** Object name prefix, without a leading slash; a folder ends in "/" (or is empty). */
  prefix: string;
}

export function gsUri(bucket: string, name: string): string {
  return `gs://${bucket}/${name}`;
}

export interface RemoteObject {
  name: string;
  size: number;
  md5Hash?: string;
}

export interface GcsAccess {
  storage: Storage;
  /** Report calls instead of making writes; reads are bounded by dryRunReads. */
  dryRun?: boolean;
  dryRunReads?: DryRunReads;
  onCall?: (call: RestCall) => void;
  project?: string;
}

export function md5Base64(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** Every object under gs://bucket/prefix (a dry run that cannot read plans with none). */
export async function listObjects(access: GcsAccess, location: GcsLocation): Promise<RemoteObject[]> {
  const { storage } = access;
  const { bucket, prefix } = location;
  access.onCall?.({ method: 'GET', url: `${storage.apiEndpoint}/storage/v1/b/${bucket}/o?prefix=${encodeURIComponent(prefix)}` });
  const context: CloudContext = {
    service: 'Cloud Storage',
    action: `listing of ${gsUri(bucket, prefix)}`,
    project: access.project,
    notFoundHint: `bucket ${bucket} does not exist or is not visible: create it with \`gcloud storage buckets create gs://${bucket} --location=REGION\`, or check the gs:// path`,
  };
  const list = async (): Promise<RemoteObject[]> => {
    try {
      const [files] = await storage.bucket(bucket).getFiles({ prefix, autoPaginate: true });
      return files.map((f) => ({ name: f.name, size: Number(f.metadata.size ?? 0), md5Hash: f.metadata.md5Hash }));
    } catch (err) {
      throw toCloudError(err, context);
    }
  };
  return access.dryRun ? (access.dryRunReads ?? new DryRunReads()).read(list, []) : list();
}

/** Writes an object unless `existing` already holds the same bytes (MD5); says whether it wrote. */
export async function putObject(access: GcsAccess, bucket: string, name: string, bytes: Uint8Array, existing: RemoteObject | undefined): Promise<boolean> {
  const md5 = md5Base64(bytes);
  if (existing && existing.size === bytes.length && existing.md5Hash === md5) return false;
  access.onCall?.({ method: 'POST', url: `${access.storage.apiEndpoint}/upload/storage/v1/b/${bucket}/o?uploadType=multipart&name=${encodeURIComponent(name)}`, body: { size: bytes.length, md5Hash: md5 } });
  if (access.dryRun) return true;
  const file = access.storage.bucket(bucket).file(name);
  try {
    await file.save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { resumable: false, validation: false, contentType: 'application/octet-stream' });
  } catch (err) {
    throw toCloudError(err, { service: 'Cloud Storage', action: `upload of ${gsUri(bucket, name)}`, project: access.project });
  }
  const stored = file.metadata.md5Hash;
  if (stored !== undefined && stored !== md5) {
    throw new CloudError(`${gsUri(bucket, name)} arrived corrupted (Cloud Storage computed md5 ${stored}, local ${md5}); run again`, 'DATA_LOSS');
  }
  return true;
}

export async function readObject(access: GcsAccess, bucket: string, name: string): Promise<Buffer> {
  access.onCall?.({ method: 'GET', url: `${access.storage.apiEndpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media` });
  try {
    const [bytes] = await access.storage.bucket(bucket).file(name).download();
    return bytes;
  } catch (err) {
    throw toCloudError(err, { service: 'Cloud Storage', action: `download of ${gsUri(bucket, name)}`, project: access.project });
  }
}

export async function deleteObject(access: GcsAccess, bucket: string, name: string): Promise<void> {
  access.onCall?.({ method: 'DELETE', url: `${access.storage.apiEndpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}` });
  if (access.dryRun) return;
  try {
    await access.storage.bucket(bucket).file(name).delete({ ignoreNotFound: true });
  } catch (err) {
    throw toCloudError(err, { service: 'Cloud Storage', action: `deletion of ${gsUri(bucket, name)}`, project: access.project });
  }
}

/** Runs `work` on every item, at most `concurrency` at a time, keeping the results in order; the first failure stops new work. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}
