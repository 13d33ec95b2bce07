import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedImagenetWeights, fetchImagenetWeights, IMAGENET_WEIGHTS, ImagenetWeightsError } from '../src/index.js';
import { makeTempDir } from './helpers/fixtures.js';

// A stand-in for the weights file: 300 kB of known bytes served from 127.0.0.1.
const body = Buffer.alloc(300_000);
for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
const bodyMd5 = createHash('md5').update(body).digest('hex');

describe('fetchImagenetWeights', () => {
  let server: Server;
  let baseUrl: string;
  let requests = 0;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    temp = await makeTempDir('imagenet');
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/weights.h5') {
        res.writeHead(200, { 'content-length': String(body.length) });
        // Several chunks, so progress is reported more than once.
        for (let offset = 0; offset < body.length; offset += 65_536) res.write(body.subarray(offset, offset + 65_536));
        res.end();
      } else if (req.url === '/cut.h5') {
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.subarray(0, 1000), () => setTimeout(() => res.destroy(), 20));
      } else {
        res.writeHead(404, 'Not Found');
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await temp.cleanup();
  });

  it('defaults to the Keras URL, md5 and file name', () => {
    expect(IMAGENET_WEIGHTS.md5).toBe('9a0d58056eeedaa3f26cb7ebd46da564');
    expect(IMAGENET_WEIGHTS.url).toBe(
      'https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5',
    );
  });

  it('downloads with progress, verifies the md5 and caches the file', async () => {
    const cacheDir = join(temp.dir, 'download');
    const progress: [number, number | undefined][] = [];
    const path = await fetchImagenetWeights({
      url: `${baseUrl}/weights.h5`,
      md5: bodyMd5,
      cacheDir,
      onProgress: (bytes, total) => progress.push([bytes, total]),
    });
    expect(path).toBe(join(cacheDir, IMAGENET_WEIGHTS.fileName));
    expect((await readFile(path)).equals(body)).toBe(true);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual([body.length, body.length]);
    expect(progress.every(([bytes], i) => i === 0 || bytes > progress[i - 1][0])).toBe(true);
    expect(await readdir(cacheDir)).toEqual([IMAGENET_WEIGHTS.fileName]); // no temp file left

    // Second call: served from the cache, no request.
    const before = requests;
    expect(await fetchImagenetWeights({ url: `${baseUrl}/weights.h5`, md5: bodyMd5, cacheDir })).toBe(path);
    expect(requests).toBe(before);
  });

  it('re-downloads when the cached file has the wrong md5', async () => {
    const cacheDir = join(temp.dir, 'stale');
    await fetchImagenetWeights({ url: `${baseUrl}/weights.h5`, md5: bodyMd5, cacheDir });
    const path = join(cacheDir, IMAGENET_WEIGHTS.fileName);
    await writeFile(path, 'half a file');
    const before = requests;
    await fetchImagenetWeights({ url: `${baseUrl}/weights.h5`, md5: bodyMd5, cacheDir });
    expect(requests).toBe(before + 1);
    expect((await readFile(path)).equals(body)).toBe(true);
  });

  it('tells whether the cache holds the file, without downloading it', async () => {
    const cacheDir = join(temp.dir, 'cached');
    const before = requests;
    expect(await cachedImagenetWeights({ md5: bodyMd5, cacheDir })).toBeUndefined();
    const path = await fetchImagenetWeights({ url: `${baseUrl}/weights.h5`, md5: bodyMd5, cacheDir });
    expect(await cachedImagenetWeights({ md5: bodyMd5, cacheDir })).toBe(path);
    await writeFile(path, 'half a file');
    expect(await cachedImagenetWeights({ md5: bodyMd5, cacheDir })).toBeUndefined();
    expect(requests).toBe(before + 1);
  });

  it('rejects a download whose md5 does not match and leaves nothing in the cache', async () => {
    const cacheDir = join(temp.dir, 'mismatch');
    const wrong = '0123456789abcdef0123456789abcdef';
    const error = await fetchImagenetWeights({ url: `${baseUrl}/weights.h5`, md5: wrong, cacheDir }).catch((e) => e);
    expect(error).toBeInstanceOf(ImagenetWeightsError);
    expect(error.message).toBe(
      `ImageNet weights downloaded from ${baseUrl}/weights.h5 have md5 ${bodyMd5}, expected ${wrong}; the download is corrupt, try again`,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('reports an unreachable server as offline, with what to do instead: where to put the file, or which flag to pass', async () => {
    // Bind and release a port so nothing listens on it: connection refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}/weights.h5`;
    const cacheDir = join(temp.dir, 'refused');
    await expect(fetchImagenetWeights({ url, md5: bodyMd5, cacheDir })).rejects.toThrow(
      `ImageNet weights are not available offline (cannot reach 127.0.0.1:${port}): put ${IMAGENET_WEIGHTS.fileName} in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('reports HTTP errors and truncated downloads on one line', async () => {
    const cacheDir = join(temp.dir, 'errors');
    const missing = await fetchImagenetWeights({ url: `${baseUrl}/missing.h5`, md5: bodyMd5, cacheDir }).catch((e) => e);
    expect(missing.message).toBe(
      `cannot download ImageNet weights from ${baseUrl}/missing.h5: HTTP 404 Not Found; put ${IMAGENET_WEIGHTS.fileName} in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`,
    );
    const cut = await fetchImagenetWeights({ url: `${baseUrl}/cut.h5`, md5: bodyMd5, cacheDir }).catch((e) => e);
    expect(cut).toBeInstanceOf(ImagenetWeightsError);
    expect(cut.message).toMatch(/^download of ImageNet weights from .*cut\.h5 failed after 1000 bytes \(.*\); put inception_v3_weights_tf_dim_ordering_tf_kernels\.h5 in .*errors, pass --weights FILE\.h5, or --weights random for a run whose labels mean nothing$/);
    expect(cut.message).not.toContain('\n');
    expect(await readdir(cacheDir)).toEqual([]);
  });
});
