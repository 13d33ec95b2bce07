// Writing a directory into place (an export's target, a version of a serving repository): it is
// assembled in a hidden staging folder beside the target and renamed into place, under a lock file that
// keeps a second writer out. A writer killed meanwhile leaves its staging folders and its lock behind;
// the next writer of that target removes them once the process that made them is gone.
// Only names this module makes are ever removed: .tensorsky-incoming-<target>-<pid>-<8 hex>,
// .tensorsky-retired-<target>-<pid>-<8 hex> and the lock .tensorsky-lock-<target>.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** incoming: the new directory being assembled; retired: the one it replaces, on its way out. */
export type StagingKind = 'incoming' | 'retired';

const STAGING_NAME = /^\.tensorsky-(incoming|retired)-(.+)-(\d+)-[0-9a-f]{8}$/;
const LOCK_PREFIX = '.tensorsky-lock-';
/** When this process started: anything older was left by an earlier process. */
const PROCESS_START_MS = performance.timeOrigin;

/** A lock on a target directory that someone else holds (or cannot be taken); one line saying what to do. */
export class TargetLockError extends Error {
  override name = 'TargetLockError';
}

export interface TargetLock {
  /** Absolute path of the locked target. */
  target: string;
  /** The lock file, in the target's parent. */
  file: string;
  /** Stale staging folders of this target removed when the lock was taken. */
  swept: string[];
  /** Removes the lock file; later calls do nothing. */
  release(): Promise<void>;
}

/** A fresh staging path beside `target`, named so that a later writer of the target can recognise it. */
export function stagingPath(target: string, kind: StagingKind): string {
  const absolute = path.resolve(target);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return path.join(path.dirname(absolute), `.tensorsky-${kind}-${path.basename(absolute)}-${suffix}`);
}

/**
 * Takes the lock of `target` (creating its parent), then sweeps the target's stale staging folders.
 * A lock whose process is gone is taken over; one held by a live process is refused with
 * TargetLockError. Two writers that find the same stale lock at the same instant are not told apart.
 */
export async function lockTarget(target: string): Promise<TargetLock> {
  const absolute = path.resolve(target);
  const parent = path.dirname(absolute);
  const name = path.basename(absolute);
  const file = path.join(parent, `${LOCK_PREFIX}${name}`);
  await fs.mkdir(parent, { recursive: true });
  const owner = JSON.stringify({ pid: process.pid, host: os.hostname() });
  for (let takenOver = false; ; takenOver = true) {
    try {
      await fs.writeFile(file, owner, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new TargetLockError(`cannot lock ${absolute}: ${errorMessage(err)}`);
    }
    const holder = await lockHolder(file);
    if (holder.alive || takenOver) {
      const who = holder.pid === undefined ? 'another process' : `process ${holder.pid}${holder.host && holder.host !== os.hostname() ? ` on ${holder.host}` : ''}`;
      throw new TargetLockError(`${absolute} is being written by ${who} (lock ${file}); wait for it to finish, or remove the lock if that process is gone`);
    }
    await fs.rm(file, { force: true });
  }
  const swept = await sweepStaleStaging(parent, name).catch(async (err: unknown) => {
    await fs.rm(file, { force: true });
    throw new TargetLockError(`cannot clean up beside ${absolute}: ${errorMessage(err)}`);
  });
  let released = false;
  return {
    target: absolute,
    file,
    swept,
    release: async () => {
      if (released) return;
      released = true;
      await fs.rm(file, { force: true });
    },
  };
}

/** Runs `use` holding the lock of `target`. */
export async function withTargetLock<T>(target: string, use: (lock: TargetLock) => Promise<T>): Promise<T> {
  const lock = await lockTarget(target);
  try {
    return await use(lock);
  } finally {
    await lock.release();
  }
}

/**
 * Removes the staging folders of `name` in `parent` that an earlier, dead process left; returns their
 * paths. A retired folder is kept while the target is missing: its writer died between moving the old
 * directory aside and the new one in, and it is then the only copy.
 */
async function sweepStaleStaging(parent: string, name: string): Promise<string[]> {
  const targetExists = await fs.stat(path.join(parent, name)).then(() => true, () => false);
  const swept: string[] = [];
  for (const entry of await fs.readdir(parent)) {
    const match = STAGING_NAME.exec(entry);
    if (!match || match[2] !== name || (match[1] === 'retired' && !targetExists)) continue;
    const full = path.join(parent, entry);
    const stat = await fs.lstat(full).catch(() => undefined);
    if (!stat?.isDirectory() || !leftByDeadProcess(Number(match[3]), stat.mtimeMs)) continue;
    await fs.rm(full, { recursive: true, force: true });
    swept.push(full);
  }
  return swept;
}

/**
 * Whether something made by process `pid` at `mtimeMs` on this host can no longer be in use: it is older
 * than this process, and its process is gone (or is this one, under a reused pid, as after a container restart).
 */
function leftByDeadProcess(pid: number, mtimeMs: number): boolean {
  if (mtimeMs >= PROCESS_START_MS) return false;
  return pid === process.pid || !processAlive(pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds a lock and whether they may still be writing; a lock of another host is assumed held. */
async function lockHolder(file: string): Promise<{ pid?: number; host?: string; alive: boolean }> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
  } catch (err) {
    // Released between our attempt and this read: try again.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { alive: false };
    throw new TargetLockError(`cannot read lock ${file}: ${errorMessage(err)}`);
  }
  let owner: { pid?: unknown; host?: unknown } = {};
  try {
    owner = JSON.parse(text) as typeof owner;
  } catch {
    // A writer killed between creating the lock and writing its owner: stale once older than us.
  }
  const pid = Number.isSafeInteger(owner.pid) ? (owner.pid as number) : undefined;
  const host = typeof owner.host === 'string' ? owner.host : undefined;
  if (host !== undefined && host !== os.hostname()) return { pid, host, alive: true };
  if (pid === undefined) return { alive: mtimeMs >= PROCESS_START_MS };
  return { pid, host, alive: pid === process.pid ? mtimeMs >= PROCESS_START_MS : processAlive(pid) };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
