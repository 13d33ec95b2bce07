// Uploads a SavedModel directory to gs://BUCKET/models/<model>/<version>/ and proves the copy is exact.
// Plan first (list what is there, compare checksums), then act: identical files are skipped, files that
// differ (or remote files the local model does not have) stop the upload before anything is written,
// unless --force. Every upload is checked against the MD5 and CRC32C Cloud Storage computed, and a final
// listing verifies the whole folder.
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import type { Storage } from '@google-cloud/storage';
import { DryRunReads } from './dry-run.js';
import { toCloudError, type CloudContext } from '@tensorsky/cloud-errors';
import type { LocalFile } from './model-files.js';
import { restUrl, type RestCall } from './rest-call.js';

/** Files at least this large go through a resumable upload (retried from the last byte received). */
export const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;

export class UploadConflictError extends Error {
  override name = 'UploadConflictError';
}

export class UploadVerificationError extends Error {
  override name = 'UploadVerificationError';
}

export interface UploadProgress {
  /** File being uploaded (path inside the model directory). */
  file: string;
  fileBytes: number;
  fileSize: number;
  /** Over every file this run uploads. */
  doneBytes: number;
  totalBytes: number;
}

export interface UploadOptions {
  storage: Storage;
  bucket: string;
  /** Folder inside the bucket, ending in "/" (models/<model>/<version>/). */
  prefix: string;
  files: LocalFile[];
  /** Replace files that differ and delete remote files the model does not have. */
  force?: boolean;
  /** List what is there, then report the writes instead of making them. */
  dryRun?: boolean;
  /** How a dry run lists what is there (bounded; empty once unreadable); shared with the Vertex AI step. */
  dryRunReads?: DryRunReads;
  resumableThreshold?: number;
  onProgress?: (progress: UploadProgress) => void;
  /** Every REST call made (or, with dryRun, the writes that would be made). */
  onCall?: (call: RestCall) => void;
  project?: string;
}

export interface UploadReport {
  /** gs://bucket/prefix */
  uri: string;
  uploaded: string[];
  /** Identical files already there. */
  skipped: string[];
  /** Different files replaced (force). */
  replaced: string[];
  /** Remote files the model does not have, deleted (force). */
  deleted: string[];
  bytesUploaded: number;
  /** The final listing matched every local file (false only for dry runs). */
  verified: boolean;
}

interface RemoteObject {
  name: string;
  size: number;
  md5Hash?: string;
  crc32c?: string;
  generation?: string;
}

export async function uploadModelFiles(options: UploadOptions): Promise<UploadReport> {
  const { storage, bucket, prefix, files } = options;
  if (!prefix.endsWith('/')) throw new Error(`upload prefix must end with "/", got ${prefix}`);
  const uri = `gs://${bucket}/${prefix}`;
  const context: CloudContext = {
    service: 'Cloud Storage',
    action: `listing of ${uri}`,
    project: options.project,
    notFoundHint: `bucket ${bucket} does not exist or is not visible: create it with \`gcloud storage buckets create gs://${bucket} --location=REGION\`, or check --bucket`,
  };
  const remote = await listRemote(options, context);

  const byName = new Map(remote.map((o) => [o.name, o]));
  const toUpload: LocalFile[] = [];
  const differing: LocalFile[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    const existing = byName.get(prefix + file.relativePath);
    if (!existing) toUpload.push(file);
    else if (sameContent(file, existing)) skipped.push(file.relativePath);
    else differing.push(file);
  }
  const localNames = new Set(files.map((f) => prefix + f.relativePath));
  // Zero-byte "folder" placeholders some tools create are not files of the model.
  const extra = remote.filter((o) => !localNames.has(o.name) && !(o.name.endsWith('/') && o.size === 0));
  if ((differing.length > 0 || extra.length > 0) && !options.force) {
    const problems = [
      ...differing.map((f) => `${f.relativePath} differs`),
      ...extra.map((o) => `${o.name.slice(prefix.length)} is not in the model directory`),
    ];
    const shown = problems.slice(0, 3).join(', ') + (problems.length > 3 ? `, and ${problems.length - 3} more` : '');
    throw new UploadConflictError(
      `${uri} already holds a different model (${shown}); deploy under a new --model_version, or pass --force to replace it`,
    );
  }

  const writes = [...toUpload.map((file) => ({ file, existing: undefined })), ...differing.map((file) => ({ file, existing: byName.get(prefix + file.relativePath) }))];
  const totalBytes = writes.reduce((sum, w) => sum + w.file.size, 0);
  const threshold = options.resumableThreshold ?? DEFAULT_RESUMABLE_THRESHOLD;
  const report: UploadReport = { uri, uploaded: [], skipped, replaced: [], deleted: [], bytesUploaded: 0, verified: false };
  let doneBytes = 0;
  for (const { file, existing } of writes) {
    const name = prefix + file.relativePath;
    const resumable = file.size >= threshold;
    const call: RestCall = {
      method: 'POST',
      url: restUrl(storage.apiEndpoint, `upload/storage/v1/b/${bucket}/o`, {
        uploadType: resumable ? 'resumable' : 'multipart',
        name,
        ifGenerationMatch: existing?.generation ?? '0',
      }),
      body: { file: file.absolutePath, size: file.size, md5Hash: file.md5, crc32c: file.crc32c },
    };
    options.onCall?.(call);
    if (options.dryRun) continue;
    await uploadOne(options, file, name, resumable, existing?.generation, (fileBytes) => {
      options.onProgress?.({ file: file.relativePath, fileBytes, fileSize: file.size, doneBytes: doneBytes + fileBytes, totalBytes });
    });
    doneBytes += file.size;
    (existing ? report.replaced : report.uploaded).push(file.relativePath);
    report.bytesUploaded += file.size;
  }
  for (const object of extra) {
    options.onCall?.({
      method: 'DELETE',
      url: restUrl(storage.apiEndpoint, `storage/v1/b/${bucket}/o/${encodeURIComponent(object.name)}`, { ifGenerationMatch: object.generation }),
    });
    if (options.dryRun) continue;
    try {
      await storage.bucket(bucket).file(object.name).delete({ ifGenerationMatch: object.generation });
    } catch (err) {
      throw toCloudError(err, { ...context, action: `deletion of gs://${bucket}/${object.name}` });
    }
    report.deleted.push(object.name.slice(prefix.length));
  }
  if (!options.dryRun) {
    await verifyUpload(options, context);
    report.verified = true;
  }
  return report;
}

/** Lists the folder again and checks that it holds exactly the local files, byte for byte (by checksum). */
export async function verifyUpload(options: Pick<UploadOptions, 'storage' | 'bucket' | 'prefix' | 'files' | 'onCall'>, context?: CloudContext): Promise<void> {
  const { bucket, prefix, files } = options;
  const remote = await listRemote(options, context ?? { service: 'Cloud Storage', action: `listing of gs://${bucket}/${prefix}` });
  const byName = new Map(remote.map((o) => [o.name, o]));
  for (const file of files) {
    const object = byName.get(prefix + file.relativePath);
    if (!object) throw new UploadVerificationError(`gs://${bucket}/${prefix}${file.relativePath} is missing after the upload; run deploy again`);
    if (!sameContent(file, object)) {
      throw new UploadVerificationError(
        `gs://${bucket}/${prefix}${file.relativePath} does not match the local file (size ${object.size} vs ${file.size}, crc32c ${object.crc32c} vs ${file.crc32c}); run deploy again with --force`,
      );
    }
  }
}

async function listRemote(
  options: Pick<UploadOptions, 'storage' | 'bucket' | 'prefix' | 'onCall' | 'dryRun' | 'dryRunReads'>,
  context: CloudContext,
): Promise<RemoteObject[]> {
  const { storage, bucket, prefix } = options;
  options.onCall?.({ method: 'GET', url: restUrl(storage.apiEndpoint, `storage/v1/b/${bucket}/o`, { prefix }) });
  const list = async (): Promise<RemoteObject[]> => {
    try {
      const [objects] = await storage.bucket(bucket).getFiles({ prefix, autoPaginate: true });
      return objects.map((o) => ({
        name: o.name,
        size: Number(o.metadata.size ?? 0),
        md5Hash: o.metadata.md5Hash,
        crc32c: o.metadata.crc32c,
        generation: o.metadata.generation === undefined ? undefined : String(o.metadata.generation),
      }));
    } catch (err) {
      throw toCloudError(err, context);
    }
  };
  return options.dryRun ? (options.dryRunReads ?? new DryRunReads()).read(list, []) : list();
}

/** Same size and CRC32C, and same MD5 when Cloud Storage has one (composite objects have none). */
function sameContent(file: LocalFile, object: RemoteObject): boolean {
  return object.size === file.size && object.crc32c === file.crc32c && (object.md5Hash === undefined || object.md5Hash === file.md5);
}

async function uploadOne(
  options: UploadOptions,
  file: LocalFile,
  name: string,
  resumable: boolean,
  generation: string | undefined,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const object = options.storage.bucket(options.bucket).file(name);
  const context: CloudContext = { service: 'Cloud Storage', action: `upload of gs://${options.bucket}/${name}`, project: options.project };
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      onBytes(sent);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(file.absolutePath),
      counter,
      object.createWriteStream({
        resumable,
        // Checked below against our own checksums, with a message that says which file.
        validation: false,
        contentType: 'application/octet-stream',
        // Makes the write idempotent, so the client may retry it: create only if absent, or replace exactly the generation we compared.
        preconditionOpts: { ifGenerationMatch: generation ?? 0 },
      }),
    );
  } catch (err) {
    throw toCloudError(err, context);
  }
  const uploaded = object.metadata;
  if (Number(uploaded.size) !== file.size || uploaded.crc32c !== file.crc32c || (uploaded.md5Hash !== undefined && uploaded.md5Hash !== file.md5)) {
    await object.delete().catch(() => {});
    throw new UploadVerificationError(
      `gs://${options.bucket}/${name} arrived corrupted (Cloud Storage computed md5 ${uploaded.md5Hash}, crc32c ${uploaded.crc32c}; local md5 ${file.md5}, crc32c ${file.crc32c}); it was deleted, run deploy again`,
    );
  }
}
