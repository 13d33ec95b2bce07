// The decode pool (src/kernels/decode-pool.ts) against decodeImage in this thread: the same pixels, the
// same errors (class and message), and a worker that dies fails only the decodes it had.
// Also int32Tensor (src/wasm-backend.ts), which turns the decoded samples into the kernel's tensor.
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { IMAGES_DIR, jpegFiles } from '@tensorsky/fixtures';
import { DEFAULT_IMAGE_LIMITS, type DecodedImage } from '@tensorsky/image';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, type DecodeAttrs, type DecodeOp } from '../src/kernels/decode-image.js';
import { DecodePool } from '../src/kernels/decode-pool.js';
import { OpError } from '../src/kernels/kernel.js';
import { startExecutorBackend } from '../src/engines/executor.js';
import { int32Tensor } from '../src/wasm-backend.js';

const sameImage = (a: DecodedImage, b: DecodedImage) => {
  expect(a.dtype).toBe(b.dtype);
  expect(a.shape).toEqual(b.shape);
  expect(a.data.constructor).toBe(b.data.constructor);
  expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))).toBe(true);
};

let pool: DecodePool;
let jpegs: Uint8Array[];
let cmyk: Uint8Array;
let png: Uint8Array;
beforeAll(async () => {
  pool = new DecodePool(2);
  const cat = fs.readFileSync(`${IMAGES_DIR}/cat.jpg`);
  const extra = [
    await sharp(cat).resize(97, 61).grayscale().jpeg().toBuffer(),
    await sharp(cat).resize(64, 48).jpeg({ progressive: true }).toBuffer(),
    await sharp(cat).resize(33, 21).jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(),
  ];
  jpegs = [...jpegFiles(IMAGES_DIR).map((f) => fs.readFileSync(f)), ...extra].map((b) => new Uint8Array(b));
  cmyk = new Uint8Array(await sharp(cat).resize(50, 70).toColourspace('cmyk').jpeg().toBuffer());
  png = new Uint8Array(await sharp(cat).resize(20, 10).png().toBuffer());
}, 60_000);
afterAll(() => pool.close());

const SETTINGS: Array<[DecodeOp, DecodeAttrs]> = [
  ['DecodeJpeg', {}],
  ['DecodeJpeg', { dct_method: 'integer_accurate', channels: 3 }],
  ['DecodeJpeg', { ratio: 2, fancy_upscaling: false }],
  ['DecodeJpeg', { channels: 1 }],
  ['DecodeImage', { dtype: 'float32' }],
];

describe('decode pool', () => {
  it.each(SETTINGS)('%s %j: the pixels decodeImage gives, for every JPEG, decoded side by side', async (op, attrs) => {
    const inThread = await Promise.all(jpegs.map((b) => decodeImage(op, b, attrs)));
    const inPool = await Promise.all(jpegs.map((b) => pool.decode(op, b, attrs)));
    inPool.forEach((image, i) => sameImage(image, inThread[i]!));
  });

  it('takes a view of a larger buffer without sending or changing the rest of it', async () => {
    const jpeg = jpegs[0]!;
    const padded = new Uint8Array(jpeg.length + 20).fill(9);
    padded.set(jpeg, 10);
    const view = padded.subarray(10, 10 + jpeg.length);
    sameImage(await pool.decode('DecodeJpeg', view, {}), await decodeImage('DecodeJpeg', jpeg, {}));
    expect(padded.byteLength).toBe(jpeg.length + 20);
    expect(Buffer.from(view).equals(Buffer.from(jpeg))).toBe(true);
  });

  it('decodes other formats too (in this thread), with the same result', async () => {
    sameImage(await pool.decode('DecodeImage', png, {}), await decodeImage('DecodeImage', png, {}));
    sameImage(await pool.decode('DecodeJpeg', cmyk, {}), await decodeImage('DecodeJpeg', cmyk, {}));
  });

  it.each<[string, () => Uint8Array, DecodeAttrs]>([
    ['a truncated JPEG', () => jpegs[0]!.subarray(0, 2000), {}],
    ['a CMYK JPEG to one channel', () => cmyk, { channels: 1 }],
    ['a JPEG over the pixel limit', () => jpegs[0]!, { limits: { ...DEFAULT_IMAGE_LIMITS, maxImagePixels: 100 } }],
    ['an unknown ratio', () => jpegs[0]!, { ratio: 3 }],
  ])('%s: the OpError decodeImage throws', async (_name, bytes, attrs) => {
    const expected = await decodeImage('DecodeJpeg', bytes(), attrs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(expected).toBeInstanceOf(OpError);
    const got = await pool.decode('DecodeJpeg', bytes(), attrs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(got).toBeInstanceOf(OpError);
    expect(got!.message).toBe(expected!.message);
  });

  it('a worker that dies fails the decodes it had; the next decodes work', async () => {
    const own = new DecodePool(1);
    try {
      const pending = Promise.all(jpegs.slice(0, 3).map((b) => own.decode('DecodeJpeg', b, {})));
      await (own as unknown as { workers: Array<{ thread: { terminate(): Promise<number> } }> }).workers[0]!.thread.terminate();
      await expect(pending).rejects.toThrow(/the image decoding thread stopped \(exit code \d+\); send the request again/);
      sameImage(await own.decode('DecodeJpeg', jpegs[1]!, {}), await decodeImage('DecodeJpeg', jpegs[1]!, {}));
    } finally {
      await own.close();
    }
  });

  it('after close, decodes run in this thread', async () => {
    const own = new DecodePool(1);
    await own.close();
    sameImage(await own.decode('DecodeJpeg', jpegs[2]!, {}), await decodeImage('DecodeJpeg', jpegs[2]!, {}));
  });
});

describe('int32Tensor', () => {
  const samples8 = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const samples16 = Uint16Array.from({ length: 2 * 3 * 3 }, (_, i) => (i * 9973) % 65536);
  it.each(['wasm', 'cpu'] as const)('on the %s backend: the samples widened to int32, a tensor of its own', async (backend) => {
    expect(await startExecutorBackend(backend, 1)).toBe(backend);
    for (const samples of [samples8, samples16]) {
      const before = tf.memory().numTensors;
      const a = int32Tensor(samples, [2, 3, 3]);
      const b = int32Tensor(samples, [2, 3, 3]);
      expect(a.dtype).toBe('int32');
      expect(a.shape).toEqual([2, 3, 3]);
      expect(Array.from(await a.data())).toEqual(Array.from(samples));
      // Two tensors, two buffers: the second fill did not write into the first.
      const sum = tf.add(a, b);
      expect(Array.from(await sum.data())).toEqual(Array.from(samples, (v) => 2 * v));
      tf.dispose([a, b, sum]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('decode pool threads', () => {
  it('an idle pool does not keep the process alive, nor one that has decoded', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { compiledModuleUrl } = await import('../src/worker-threads.js');
    const pool = compiledModuleUrl('./kernels/decode-pool.js', new URL('../src/index.ts', import.meta.url).href).href;
    const script = `const { DecodePool } = await import(${JSON.stringify(pool)});
      const idle = new DecodePool(1);
      const used = new DecodePool(2);
      const image = await used.decode('DecodeJpeg', new Uint8Array((await import('node:fs')).readFileSync(${JSON.stringify(`${IMAGES_DIR}/cat.jpg`)})), {});
      console.log(image.shape.join('x'));`;
    // A child kept alive by a worker would run into the timeout and fail the test.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
    expect(stdout.trim()).toMatch(/^\d+x\d+x3$/);
  });
});
