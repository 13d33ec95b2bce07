// Digests that say what an ONNX network was translated from and by what: the SavedModel's files and the
// translator's own code. The onnx engine's cache and `export --onnx`'s model.onnx are trusted only when
// both match the model being loaded.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ASSETS_DIR, SAVED_MODEL_PB, VARIABLES_DIR } from '@tensorsky/saved-model';

/** Read in pieces through one buffer: a fresh 100 MB buffer costs more than hashing it (first-touch page faults). */
const CHUNK = 1 << 20;

/**
 * sha256 (hex) over what defines a SavedModel's graphs and weights: saved_model.pb, variables/ and
 * assets/ (names and bytes). assets.extra/ is left out: it holds our own side files, model.onnx among them.
 */
export async function savedModelDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const files = [SAVED_MODEL_PB, ...(await listFiles(dir, VARIABLES_DIR)), ...(await listFiles(dir, ASSETS_DIR))];
  for (const name of files) {
    const file = await fs.open(path.join(dir, name), 'r');
    try {
      const { size } = await file.stat();
      hash.update(`${name}\0${size}\0`);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, CHUNK);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
      }
    } finally {
      await file.close();
    }
  }
  return hash.digest('hex');
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
