// Files that a model file names (a TF.js manifest's weight shards, a SavedModel's assets): a model comes
// from someone else, so each name must stay inside the model's folder and denote a regular file of
// bounded size. Otherwise `../../etc/passwd` would become weights, and `/dev/zero` would fill memory.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';

/** Largest file a model may name (TensorFlow's own weight shards stay far below). */
export const MAX_MODEL_FILE_BYTES = 4 * 1024 ** 3;

/** A path named by a model file that escapes its folder, or is not a regular file of sane size; one line. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

export interface ModelFileOptions {
  /** The model file that names the path, for messages. */
  source: string;
  /** What the path is, for messages: 'weight file', 'asset'. */
  what: string;
  /** Largest acceptable size in bytes (default MAX_MODEL_FILE_BYTES). */
  maxBytes?: number;
}

/**
 * `named` relative to the folder `root`, as an absolute path, when it stays inside `root` (also after
 * following symbolic links); otherwise throws ModelFileError.
 */
export async function resolveInside(root: string, named: string, options: Pick<ModelFileOptions, 'source' | 'what'>): Promise<string> {
  const lists = `${options.source} lists ${options.what} ${named}`;
  const outside = () => new ModelFileError(`${lists}, which is outside the model's folder ${root}; a model's files must sit in its folder`);
  if (named === '' || named.includes('\0') || path.isAbsolute(named)) throw outside();
  const full = path.resolve(root, named);
  if (!isInside(path.resolve(root), full)) throw outside();
  let real: string;
  try {
    real = await realpath(full);
  } catch (err) {
    throw new ModelFileError(`${lists}, which cannot be read (${codeOf(err)})`);
  }
  if (!isInside(await realpath(root), real)) throw outside();
  return full;
}

/**
 * Reads a file that the model file `options.source` names, relative to the model's folder `root`:
 * it must stay inside `root`, be a regular file and hold at most `maxBytes`.
 */
export async function readModelFile(root: string, named: string, options: ModelFileOptions): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? MAX_MODEL_FILE_BYTES;
  const full = await resolveInside(root, named, options);
  const lists = `${options.source} lists ${options.what} ${named}`;
  const unreadable = (err: unknown) => new ModelFileError(`${lists}, which cannot be read (${codeOf(err)})`);
  // Non-blocking, so that a FIFO cannot hang the open; it is refused below as not a regular file.
  const handle = await open(full, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: unknown) => {
    throw unreadable(err);
  });
  try {
    // Checked on the opened file, so that what is read is what was checked.
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new ModelFileError(`${lists}, which is not a regular file; a model's files must be plain files in its folder`);
    }
    if (stat.size > maxBytes) {
      throw new ModelFileError(`${lists}, which holds ${stat.size} bytes, more than the ${maxBytes} expected; it does not belong to this model`);
    }
    const buffer = Buffer.alloc(stat.size);
    let filled = 0;
    // One read returns at most about 2 GiB.
    while (filled < stat.size) {
      const { bytesRead } = await handle.read(buffer, filled, stat.size - filled, filled).catch((err: unknown) => {
        throw unreadable(err);
      });
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

function isInside(root: string, full: string): boolean {
  const relative = path.relative(root, full);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
