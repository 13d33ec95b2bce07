// `--weights imagenet`: a Keras application's ImageNet weights file, cached where Keras caches it.
//
// Like keras.utils.get_file: reuse ~/.keras/models/<file> when its md5 matches, otherwise download,
// verify the md5 and move the file into place. The download goes to a temp file in the cache folder and
// is renamed only after verification, so an interrupted or corrupted download never looks cached.
// Every command that needs these weights (export, predict, verify) fails here, with the same message
// saying what to do, when they are neither cached nor downloadable.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KERAS_APPLICATIONS } from './applications/registry.js';
import { fileMd5 } from './file-md5.js';

/** InceptionV3's, the default. */
export const IMAGENET_WEIGHTS = KERAS_APPLICATIONS.inception_v3.imagenet;

/** Socket errors meaning the host cannot be reached at all (no network, DNS, firewall). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface ImagenetWeightsOptions {
  url?: string;
  /** Expected md5; null accepts any file (Keras publishes no hash for some applications). */
  md5?: string | null;
  fileName?: string;
  /** Default: $KERAS_HOME/models or ~/.keras/models (Keras's cache). */
  cacheDir?: string;
  /** Called as bytes arrive; total is undefined when the server sends no Content-Length. */
  onProgress?: (bytes: number, total: number | undefined) => void;
}

/** The path of the cached ImageNet weights when the cache holds them with the right md5, else undefined. */
export async function cachedImagenetWeights(options: Omit<ImagenetWeightsOptions, 'url' | 'onProgress'> = {}): Promise<string | undefined> {
  const target = join(options.cacheDir ?? defaultKerasCacheDir(), options.fileName ?? IMAGENET_WEIGHTS.fileName);
  let md5: string | undefined;
  try {
    md5 = await fileMd5(target);
  } catch (err) {
    throw new ImagenetWeightsError(`cannot read cached weights ${target}: ${(err as Error).message}`);
  }
  const expected = options.md5 === undefined ? IMAGENET_WEIGHTS.md5 : options.md5;
  return md5 !== undefined && (expected === null || md5 === expected) ? target : undefined;
}

/** Returns the path of a verified local copy of the ImageNet weights, downloading it if needed. */
export async function fetchImagenetWeights(options: ImagenetWeightsOptions = {}): Promise<string> {
  const url = options.url ?? IMAGENET_WEIGHTS.url;
  const md5 = options.md5 === undefined ? IMAGENET_WEIGHTS.md5 : options.md5;
  const cacheDir = options.cacheDir ?? defaultKerasCacheDir();
  const fileName = options.fileName ?? IMAGENET_WEIGHTS.fileName;
  const target = join(cacheDir, fileName);

  const cached = await cachedImagenetWeights({ md5, cacheDir, fileName });
  if (cached) return cached;

  try {
    await mkdir(cacheDir, { recursive: true });
  } catch (err) {
    throw new ImagenetWeightsError(`cannot create the weights cache folder ${cacheDir}: ${(err as Error).message}`);
  }
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
  try {
    const whatToDo = `put ${fileName} in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`;
    const actual = await download(url, temp, whatToDo, options.onProgress);
    if (md5 !== null && actual !== md5) {
      throw new ImagenetWeightsError(
        `ImageNet weights downloaded from ${url} have md5 ${actual}, expected ${md5}; the download is corrupt, try again`,
      );
    }
    await rename(temp, target);
    return target;
  } finally {
    await rm(temp, { force: true });
  }
}

export function defaultKerasCacheDir(): string {
  return join(process.env.KERAS_HOME ?? join(homedir(), '.keras'), 'models');
}

/** Downloads `url` to `path` and returns its md5; `whatToDo` ends every error message. */
async function download(
  url: string,
  path: string,
  whatToDo: string,
  onProgress: ImagenetWeightsOptions['onProgress'],
): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    // fetch wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code !== undefined && UNREACHABLE_CODES.has(cause.code)) {
      throw new ImagenetWeightsError(`ImageNet weights are not available offline (cannot reach ${new URL(url).host}): ${whatToDo}`);
    }
    throw new ImagenetWeightsError(`cannot download ImageNet weights from ${url} (${cause?.message ?? (err as Error).message}); ${whatToDo}`);
  }
  if (!response.ok || !response.body) {
    throw new ImagenetWeightsError(
      `cannot download ImageNet weights from ${url}: HTTP ${response.status} ${response.statusText}; ${whatToDo}`,
    );
  }
  // Content-Length counts encoded bytes; with a Content-Encoding, fetch hands out decoded ones.
  const lengthHeader = response.headers.get('content-encoding') ? null : response.headers.get('content-length');
  const total = lengthHeader === null ? undefined : Number(lengthHeader);
  const hash = createHash('md5');
  let bytes = 0;
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          hash.update(chunk);
          bytes += chunk.length;
          onProgress?.(bytes, total);
          yield chunk;
        }
      },
      createWriteStream(path),
    );
  } catch (err) {
    throw new ImagenetWeightsError(
      `download of ImageNet weights from ${url} failed after ${bytes} bytes (${(err as Error).message}); ${whatToDo}`,
    );
  }
  return hash.digest('hex');
}

export class ImagenetWeightsError extends Error {
  override name = 'ImagenetWeightsError';
}
