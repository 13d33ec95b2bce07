// Deployment without a cloud: the SavedModel becomes version N of a TF Serving model repository
// (BASE/<N>/saved_model.pb), which `tensorsky serve --model_base_path BASE` (or TF Serving itself) picks
// up on its next scan. The copy is written under a hidden name and renamed into place, so a server never
// sees a half-copied version; a SavedModel that cannot be read or has no serving_default is refused, as
// a server could not load it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { stagingPath, withTargetLock } from '@tensorsky/saved-model';
import { describeServingInput, listModelFiles, ModelDirError, type LocalFile } from './model-files.js';
import { DeployNameError, parseModelVersion } from '@tensorsky/cloud-errors';

export class PublishConflictError extends Error {
  override name = 'PublishConflictError';
}

export interface LocalPublishOptions {
  modelDir: string;
  /** The model's repository: numbered version directories go here. */
  modelBasePath: string;
  /** A number (3) or v and a number (v3). */
  modelVersion: string;
  /** Replace a version directory holding different files. */
  force?: boolean;
  dryRun?: boolean;
  log?: (line: string) => void;
}

export interface LocalPublishResult {
  /** BASE/<N> */
  dir: string;
  version: number;
  action: 'copied' | 'unchanged' | 'replaced';
  files: number;
  dryRun: boolean;
}

export async function publishLocal(options: LocalPublishOptions): Promise<LocalPublishResult> {
  const log = options.log ?? (() => {});
  const version = parseModelVersion(options.modelVersion).number;
  if (version === undefined) {
    throw new DeployNameError(`model version '${options.modelVersion}' is not a number; TF Serving repositories number their versions: use --model_version 1 (or v1)`);
  }
  const base = path.resolve(options.modelBasePath);
  const source = path.resolve(options.modelDir);
  const dir = path.join(base, String(version));
  if (dir === source || source.startsWith(`${dir}${path.sep}`) || dir.startsWith(`${source}${path.sep}`)) {
    throw new DeployNameError(`--model_dir ${options.modelDir} and the target ${dir} overlap; publish into another --model_base_path`);
  }
  const files = await listModelFiles(source);
  await checkServable(options.modelDir);
  const dryRun = options.dryRun ?? false;
  const result = { dir, version, files: files.length, dryRun };

  /** What publishing would do to `dir` as it is now; refuses to replace a different model without force. */
  const plan = async (): Promise<LocalPublishResult['action']> => {
    const existing = await listModelFiles(dir).catch(() => undefined);
    if (existing && sameFiles(files, existing)) return 'unchanged';
    const dirExists = await fs.stat(dir).then(() => true, () => false);
    if (dirExists && !options.force) {
      throw new PublishConflictError(`${dir} already holds a different model version ${version}; publish under a new --model_version, or pass --force to replace it`);
    }
    return dirExists ? 'replaced' : 'copied';
  };

  if (dryRun) {
    const action = await plan();
    if (action === 'unchanged') log(`${dir} already holds this model; nothing to do`);
    else log(`would ${action === 'replaced' ? 'replace' : 'create'} ${dir} with ${files.length} files from ${source}`);
    return { ...result, action };
  }

  // Under the version's lock, shared with writeSavedModel, which also sweeps what a killed publish left.
  const action = await withTargetLock(dir, async (lock) => {
    for (const swept of lock.swept) log(`removed ${swept}, left by an interrupted publish`);
    const planned = await plan();
    if (planned === 'unchanged') {
      log(`${dir} already holds this model; nothing to do`);
      return planned;
    }
    const staging = stagingPath(dir, 'incoming');
    try {
      for (const file of files) {
        const target = path.join(staging, ...file.relativePath.split('/'));
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.copyFile(file.absolutePath, target);
      }
      if (planned === 'replaced') {
        const retired = stagingPath(dir, 'retired');
        await fs.rename(dir, retired);
        await fs.rename(staging, dir);
        await fs.rm(retired, { recursive: true, force: true });
      } else {
        await fs.rename(staging, dir);
      }
    } catch (err) {
      await fs.rm(staging, { recursive: true, force: true });
      throw err;
    }
    log(`${planned === 'replaced' ? 'replaced' : 'published'} version ${version} at ${dir} (${files.length} files)`);
    return planned;
  });
  return { ...result, action };
}

/** A server would fail to load what it cannot read or call: refuse it before it reaches the repository. */
async function checkServable(modelDir: string): Promise<void> {
  try {
    await describeServingInput(modelDir);
  } catch (err) {
    if (err instanceof ModelDirError) throw err;
    throw new ModelDirError(`refusing to publish ${modelDir}: ${(err as Error).message}; export the model again`);
  }
}

function sameFiles(a: LocalFile[], b: LocalFile[]): boolean {
  return a.length === b.length && a.every((f, i) => f.relativePath === b[i].relativePath && f.size === b[i].size && f.md5 === b[i].md5 && f.crc32c === b[i].crc32c);
}
