import { open, readFile, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ImageInputError, detectImageFormat, notAnImageMessage, type ImageFormat } from '@tensorsky/image';

export interface ImageFile {
  readonly path: string;
  readonly bytes: Uint8Array;
  /** Detected from the magic bytes, not the file name. */
  readonly format: ImageFormat;
}

/** Reads one image file, checking from its content that it is a JPEG, PNG, GIF or BMP image. */
export async function readImageFile(path: string): Promise<ImageFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageInputError(`${path}: no such file`);
    if (code === 'EISDIR') throw new ImageInputError(`${path} is a directory, not an image file`);
    throw new ImageInputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const format = detectImageFormat(bytes);
  if (format === undefined) throw new ImageInputError(notAnImageMessage(path, bytes));
  return { path, bytes, format };
}

/**
 * Expands image arguments (e.g. repeated --image options) into file paths, in argument order:
 * a directory gives the JPEG/PNG/GIF/BMP images directly inside it (by content, sorted, dot files
 * skipped); a glob (`*`, `?`, `[...]`, `**` for any depth) gives the files it matches (sorted, dot
 * files only when the pattern names them); anything else is kept
 * as is, so that readImageFile reports a missing or unreadable file for that image alone.
 * A path listed twice is kept once.
 */
export async function expandImagePaths(args: readonly string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => undefined);
    if (info?.isDirectory()) paths.push(...(await imagesInDirectory(arg)));
    else if (info === undefined && GLOB_MAGIC.test(arg)) paths.push(...(await globFiles(arg)));
    else paths.push(arg);
  }
  const seen = new Set<string>();
  return paths.filter((path) => {
    const key = resolve(path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const GLOB_MAGIC = /[*?[]/;

async function imagesInDirectory(dir: string): Promise<string[]> {
  const images: string[] = [];
  for (const name of (await readdir(dir)).sort(byCodePoint)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if ((await stat(path).catch(() => undefined))?.isFile() && detectImageFormat(await readHead(path))) {
      images.push(path);
    }
  }
  if (images.length === 0) throw new ImageInputError(`${dir} holds no JPEG, PNG, GIF or BMP images`);
  return images;
}

async function readHead(path: string): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const head = new Uint8Array(32);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Node 20 has no fs glob (fs.promises.glob is Node 22+), so patterns are matched one path segment at a time.
async function globFiles(pattern: string): Promise<string[]> {
  const segments = pattern.split('/').filter((segment) => segment !== '');
  const firstMagic = segments.findIndex((segment) => GLOB_MAGIC.test(segment));
  const base = join(isAbsolute(pattern) ? '/' : '.', ...segments.slice(0, firstMagic));
  const found = new Set<string>();
  await walk(base, segments.slice(firstMagic), found);
  if (found.size === 0) throw new ImageInputError(`no files match ${pattern}`);
  return [...found].sort(byCodePoint);
}

async function walk(dir: string, segments: readonly string[], found: Set<string>): Promise<void> {
  const [segment, ...rest] = segments;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  if (segment === '**') {
    // `**` matches zero or more directories; symlinked directories are not followed (no cycles).
    if (rest.length === 0) {
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path, segments, found);
        else if (await isFile(path)) found.add(path);
      }
      return;
    }
    await walk(dir, rest, found);
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) await walk(join(dir, entry.name), segments, found);
    }
    return;
  }
  const matches = segmentMatcher(segment);
  for (const entry of entries) {
    if (!matches(entry.name)) continue;
    const path = join(dir, entry.name);
    if (rest.length === 0) {
      if (await isFile(path)) found.add(path);
    } else if ((await stat(path).catch(() => undefined))?.isDirectory()) {
      await walk(path, rest, found);
    }
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** Shell-style match of one path segment: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; `*` and `?` skip dot files. */
function segmentMatcher(segment: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    const close = c === '[' ? segment.indexOf(']', i + 2) : -1;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (close > 0) {
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      source += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`, 's');
  const hiddenAllowed = segment.startsWith('.');
  return (name) => (hiddenAllowed || !name.startsWith('.')) && regex.test(name);
}
