// Digests that say what an ONNX network was translated from and by what: the SavedModel's files and the
// translator's own code. The onnx engine's cache and `export --onnx`'s model.onnx are trusted only when
// both match the model being loaded.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSETS_DIR, SAVED_MODEL_PB, VARIABLES_DIR } from '@tensorsky/saved-model';

/** Read in pieces through one buffer: a fresh 100 MB buffer costs more than hashing it (first-touch page faults). */
const CHUNK = 1 << 20;

/**
 * sha256 (hex) over what defines a SavedModel's graphs and weights: saved_model.pb, variables/ and
 * assets/ (names and bytes). assets.extra/ is left out: it holds our own side files, model.onnx among them.
 * With `memoDir`, the digest is remembered there with the files' stats (size, inode, mtime, ctime) and
 * reused while none of them changed, as git trusts its index: hashing 100 MB is a tenth of a cold start.
 * A memo is written only for files unchanged for MEMO_SETTLE_MS, so that a change within one timestamp
 * tick of the hashing cannot go unseen.
 */
export async function savedModelDigest(dir: string, memoDir?: string): Promise<string> {
  const files = [SAVED_MODEL_PB, ...(await listFiles(dir, VARIABLES_DIR)), ...(await listFiles(dir, ASSETS_DIR))];
  const stats = await Promise.all(files.map(async (name) => fileStat(name, await fs.stat(path.join(dir, name), { bigint: true }))));
  const memo = memoDir && path.join(memoDir, `${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 32)}.json`);
  if (memo) {
    try {
      const remembered = JSON.parse(await fs.readFile(memo, 'utf8')) as { stats: string[]; digest: string };
      if (remembered.stats.join('\n') === stats.join('\n') && /^[0-9a-f]{64}$/.test(remembered.digest)) return remembered.digest;
    } catch {
      // no memo yet, or an unreadable one: hash
    }
  }
  const hash = createHash('sha256');
  for (const name of files) await hashFile(hash, path.join(dir, name), (size) => `${name}\0${size}\0`);
  const digest = hash.digest('hex');
  if (memo && (await settled(dir, files, stats))) {
    const temp = `${memo}.${process.pid}.tmp`;
    try {
      await fs.mkdir(path.dirname(memo), { recursive: true });
      await fs.writeFile(temp, JSON.stringify({ dir: path.resolve(dir), stats, digest }));
      await fs.rename(temp, memo);
    } catch {
      await fs.rm(temp, { force: true }).catch(() => {});
    }
  }
  return digest;
}

/** sha256 (hex) of a file's bytes, read in pieces (see CHUNK). */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(hash, file);
  return hash.digest('hex');
}

/** Feeds `file` to `hash`, after `header(size)` when given. */
async function hashFile(hash: Hash, file: string, header?: (size: number) => string): Promise<void> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  const handle = await fs.open(file, 'r');
  try {
    if (header) hash.update(header((await handle.stat()).size));
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** How long files must be left unchanged before their digest is remembered. */
export const MEMO_SETTLE_MS = 2000;

function fileStat(name: string, s: import('node:fs').BigIntStats): string {
  return `${name} ${s.size} ${s.ino} ${s.mtimeNs} ${s.ctimeNs}`;
}

/** Whether the files still have `stats` and none changed in the last MEMO_SETTLE_MS. */
async function settled(dir: string, files: string[], stats: string[]): Promise<boolean> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const settle = BigInt(MEMO_SETTLE_MS) * 1_000_000n;
  for (const [i, name] of files.entries()) {
    const s = await fs.stat(path.join(dir, name), { bigint: true }).catch(() => undefined);
    if (!s || fileStat(name, s) !== stats[i] || now - s.ctimeNs < settle || now - s.mtimeNs < settle) return false;
  }
  return true;
}

/** Files under `dir/sub`, recursively, as sorted paths relative to `dir` ('/'-separated). */
async function listFiles(dir: string, sub: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(path.join(dir, sub), { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

let translator: string | undefined;

/**
 * sha256 (hex, 16 digits) of the translator's own modules (onnx/ next to this package's engines/): any
 * change to the translation, even without a version bump, makes older translations stale.
 */
export async function translatorDigest(): Promise<string> {
  if (translator) return translator;
  const dir = fileURLToPath(new URL('../onnx/', import.meta.url));
  const hash = createHash('sha256');
  const names = (await fs.readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
  for (const name of names) hash.update(`${name}\0`).update(await fs.readFile(path.join(dir, name)));
  translator = hash.digest('hex').slice(0, 16);
  return translator;
}
