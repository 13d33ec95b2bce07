// Copies a TF Serving model repository out of Cloud Storage, gs://BUCKET/PREFIX/<version>/..., into a
// local folder DIR/<number>/..., for a server that reads local files (the container's start). Version
// folders are named as deploy names them ("3" or "v3", both version 3); other folders are skipped. Each
// file is checked against the CRC32C (and MD5) Cloud Storage keeps, and a version appears in DIR only
// whole: it is written into a hidden folder beside it, then renamed into place.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CRC32C, type Storage } from '@google-cloud/storage';
import { parseGcsFolder, toCloudError, type CloudContext } from '@tensorsky/cloud-errors';
import { checksums } from './model-files.js';

export class ModelSyncError extends Error {
  override name = 'ModelSyncError';
}

export interface ModelSyncOptions {
  storage: Storage;
  /** gs://BUCKET/PREFIX: the model's folder, holding one folder per version. */
  source: string;
  /** Local model repository the versions are copied into (created when missing). */
  dir: string;
  /** One line per version: downloaded, up to date, or skipped and why. */
  log?: (line: string) => void;
  project?: string;
}

export interface ModelSyncReport {
  /** Version numbers now in dir, ascending. */
  versions: number[];
  /** Of those, the ones copied by this run (the others were already identical). */
  downloaded: number[];
  bytesDownloaded: number;
}

interface RemoteFile {
  /** Path inside the version folder (saved_model.pb, variables/variables.index). */
  relativePath: string;
  objectName: string;
  size: number;
  crc32c?: string;
  md5Hash?: string;
}

/** Copies every numbered version of `source` into `dir`, skipping versions already there byte for byte. */
export async function syncModelRepository(options: ModelSyncOptions): Promise<ModelSyncReport> {
  const { storage, source, log = () => {} } = options;
  const { bucket, prefix } = parseGcsFolder(source, 'the model folder');
  const uri = `gs://${bucket}/${prefix}`;
  const context: CloudContext = {
    service: 'Cloud Storage',
    action: `listing of ${uri}`,
    project: options.project,
    notFoundHint: `bucket ${bucket} does not exist or is not visible to these credentials: check the gs:// path`,
  };
  let objects: RemoteFile[];
  try {
    const [files] = await storage.bucket(bucket).getFiles({ prefix, autoPaginate: true });
    objects = files.map((file) => ({
      relativePath: file.name.slice(prefix.length),
      objectName: file.name,
      size: Number(file.metadata.size ?? 0),
      crc32c: file.metadata.crc32c,
      md5Hash: file.metadata.md5Hash,
    }));
  } catch (err) {
    throw toCloudError(err, context);
  }

  const versions = groupVersions(objects, uri, log);
  if (versions.size === 0) {
    throw new ModelSyncError(
      `${uri} holds no model version: expected numbered folders such as ${uri}1/saved_model.pb (or v1/, as tensorsky deploy writes them); check the path`,
    );
  }
  await fs.mkdir(options.dir, { recursive: true });
  const report: ModelSyncReport = { versions: [...versions.keys()].sort((a, b) => a - b), downloaded: [], bytesDownloaded: 0 };
  for (const number of report.versions) {
    const files = versions.get(number)!;
    const target = path.join(options.dir, String(number));
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    if (await matchesLocal(target, files)) {
      log(`version ${number}: up to date in ${target}`);
      continue;
    }
    await downloadVersion(storage, bucket, files, target, options.project);
    report.downloaded.push(number);
    report.bytesDownloaded += bytes;
    log(`version ${number}: downloaded ${files.length} files (${formatBytes(bytes)}) from ${uri}${files[0].objectName.slice(prefix.length).split('/')[0]}/`);
  }
  return report;
}

/** Version number → its files, for folders named N or vN that hold a saved_model.pb. */
function groupVersions(objects: RemoteFile[], uri: string, log: (line: string) => void): Map<number, RemoteFile[]> {
  const folders = new Map<string, RemoteFile[]>();
  for (const object of objects) {
    const slash = object.relativePath.indexOf('/');
    // Files directly under the model folder, and zero-byte "folder" placeholders, are not model files.
    if (slash <= 0 || object.relativePath.endsWith('/')) continue;
    const folder = object.relativePath.slice(0, slash);
    const files = folders.get(folder) ?? [];
    files.push({ ...object, relativePath: object.relativePath.slice(slash + 1) });
    folders.set(folder, files);
  }
  const versions = new Map<number, RemoteFile[]>();
  const folderOf = new Map<number, string>();
  for (const [folder, files] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
    const numbered = /^v?(\d{1,15})$/.exec(folder);
    if (!numbered) {
      log(`skipped ${uri}${folder}/: not a version number (TF Serving serves numbered versions: 1/, 2/, or v1/, v2/)`);
      continue;
    }
    if (!files.some((file) => file.relativePath === 'saved_model.pb')) {
      log(`skipped ${uri}${folder}/: it has no saved_model.pb`);
      continue;
    }
    const number = Number(numbered[1]);
    const other = folderOf.get(number);
    if (other !== undefined) {
      throw new ModelSyncError(`${uri}${other}/ and ${uri}${folder}/ are both version ${number}: remove one of them`);
    }
    for (const file of files) {
      if (file.relativePath.split('/').some((part) => part === '' || part === '.' || part === '..')) {
        throw new ModelSyncError(`${uri}${folder}/${file.relativePath} has an empty, '.' or '..' path segment: it cannot be copied to a local folder`);
      }
    }
    folderOf.set(number, folder);
    versions.set(number, files);
  }
  return versions;
}

/** The local version folder holds exactly these files, with the same sizes and checksums. */
async function matchesLocal(target: string, files: RemoteFile[]): Promise<boolean> {
  const local = await listFiles(target).catch(() => undefined);
  if (!local || local.length !== files.length) return false;
  const names = new Set(local);
  for (const file of files) {
    if (!names.has(file.relativePath)) return false;
    const local = await checksums(path.join(target, ...file.relativePath.split('/')));
    if (local.size !== file.size || local.crc32c !== file.crc32c || (file.md5Hash !== undefined && local.md5 !== file.md5Hash)) return false;
  }
  return true;
}

async function downloadVersion(storage: Storage, bucket: string, files: RemoteFile[], target: string, project?: string): Promise<void> {
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    for (const file of files) {
      const destination = path.join(staging, ...file.relativePath.split('/'));
      await fs.mkdir(path.dirname(destination), { recursive: true });
      await downloadFile(storage, bucket, file, destination, project);
    }
    // Out with an older copy, in with the new one: the version folder is either the old or the new whole.
    const previous = `${staging}.previous`;
    const hadPrevious = await fs.rename(target, previous).then(
      () => true,
      () => false,
    );
    await fs.rename(staging, target);
    if (hadPrevious) await fs.rm(previous, { recursive: true, force: true });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function downloadFile(storage: Storage, bucket: string, file: RemoteFile, destination: string, project?: string): Promise<void> {
  const uri = `gs://${bucket}/${file.objectName}`;
  const crc = new CRC32C();
  const md5 = createHash('md5');
  let size = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      crc.update(chunk);
      md5.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    // Checked below against the listing, with a message that names the file.
    await pipeline(storage.bucket(bucket).file(file.objectName).createReadStream({ validation: false }), hashing, createWriteStream(destination));
  } catch (err) {
    throw toCloudError(err, { service: 'Cloud Storage', action: `download of ${uri}`, project });
  }
  const crc32c = crc.toString();
  const md5Hash = md5.digest('base64');
  if (size !== file.size || (file.crc32c !== undefined && crc32c !== file.crc32c) || (file.md5Hash !== undefined && md5Hash !== file.md5Hash)) {
    throw new ModelSyncError(
      `${uri} arrived corrupted (${size} bytes, crc32c ${crc32c}; Cloud Storage lists ${file.size} bytes, crc32c ${file.crc32c}); start again`,
    );
  }
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(path.join(root, prefix), { withFileTypes: true })) {
    const relativePath = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await listFiles(root, relativePath)));
    else found.push(relativePath);
  }
  return found;
}

function formatBytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} kB` : `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
