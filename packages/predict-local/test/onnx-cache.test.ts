// Engine onnx's on-disk cache on TF Serving's half_plus_two (y = 0.5x + 2, written by TensorFlow): the
// first load writes the entry, the next one runs from it without reading the SavedModel, with
// TensorFlow's answers, including a feed ORT refuses (shape [3] for a [-1, 1] placeholder), which runs on
// the executor from the SavedModel read then. A changed SavedModel gets its own entry; TENSORSKY_ONNX_CACHE=0
// writes nothing. (The image front, damaged entries and export --onnx: packages/export/test/onnx-file.test.ts.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, savedModelDigest, type LocalModel } from '../src/index.js';
import { MEMO_SETTLE_MS } from '../src/engines/network-digest.js';

const halfPlusTwo = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');

describe('engine onnx cache', () => {
  let temp: string;
  const models: LocalModel[] = [];
  const load = async (dir: string) => {
    const model = await loadModel(dir, { backend: 'onnx', threads: 1 });
    models.push(model);
    expect(model.backend).toBe('onnx');
    return model;
  };
  const entries = () => (fs.existsSync(path.join(temp, 'cache', 'onnx')) ? fs.readdirSync(path.join(temp, 'cache', 'onnx')) : []);

  beforeAll(() => {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-onnx-cache-'));
    process.env.TENSORSKY_ONNX_CACHE = '1';
    process.env.TENSORSKY_CACHE_DIR = path.join(temp, 'cache');
  });
  afterEach(() => models.splice(0).forEach((m) => m.dispose()));
  afterAll(() => {
    process.env.TENSORSKY_ONNX_CACHE = '0'; // as vitest.shared.ts sets it
    delete process.env.TENSORSKY_CACHE_DIR;
    fs.rmSync(temp, { recursive: true, force: true });
  });

  it('writes the entry on the first load and runs from it on the next, with TensorFlow’s answers', async () => {
    const first = await load(halfPlusTwo);
    expect(first.onnx).toMatchObject({ source: 'translation', cache: 'written' });
    expect(entries()).toHaveLength(1);

    const hit = await load(halfPlusTwo);
    expect(hit.onnx).toMatchObject({ source: 'cache', cache: 'hit', translateMs: 0 });
    expect(hit.signature).toEqual(first.signature);
    expect((await hit.predict({ x: [[1], [2], [5]] })).y).toEqual({ dtype: 'DT_FLOAT', shape: [3, 1], data: new Float32Array([2.5, 3, 4.5]) });
    // [3] does not fit the [-1, 1] placeholder: ORT refuses it, TensorFlow does not; the executor runs it.
    expect((await hit.predict({ x: [1, 2, 5] })).y).toEqual({ dtype: 'DT_FLOAT', shape: [3], data: new Float32Array([2.5, 3, 4.5]) });
  });

  it('gives a changed SavedModel its own entry', async () => {
    const copy = path.join(temp, 'copy');
    fs.cpSync(halfPlusTwo, copy, { recursive: true });
    // Same graph, one more byte in an asset: another SavedModel as far as the cache knows.
    fs.appendFileSync(path.join(copy, 'assets', 'foo.txt'), '\n');
    expect((await load(copy)).onnx!.cache).toBe('written');
    expect(entries()).toHaveLength(2);
    expect((await load(copy)).onnx!.cache).toBe('hit');
  });

  it('writes nothing with TENSORSKY_ONNX_CACHE=0', async () => {
    process.env.TENSORSKY_ONNX_CACHE = '0';
    try {
      const before = entries();
      const model = await load(path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_three', '00000123'));
      expect(model.onnx).toMatchObject({ source: 'translation', cache: 'off' });
      expect(entries()).toEqual(before);
    } finally {
      process.env.TENSORSKY_ONNX_CACHE = '1';
    }
  });

  it('remembers a SavedModel’s digest only for settled files, and sees a change that keeps size and mtime', async () => {
    const dir = path.join(temp, 'digested');
    fs.cpSync(halfPlusTwo, dir, { recursive: true });
    const memo = path.join(temp, 'memo');
    const truth = await savedModelDigest(dir);
    expect(await savedModelDigest(dir, memo)).toBe(truth);
    // Just copied: not settled, so nothing is remembered yet.
    expect(fs.existsSync(memo) ? fs.readdirSync(memo) : []).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, MEMO_SETTLE_MS + 200));
    expect(await savedModelDigest(dir, memo)).toBe(truth);
    expect(fs.readdirSync(memo)).toHaveLength(1);
    expect(await savedModelDigest(dir, memo)).toBe(truth);

    // One byte of the weights changed, size and mtime put back: the ctime still says so.
    const data = path.join(dir, 'variables', 'variables.data-00000-of-00001');
    const { atime, mtime } = fs.statSync(data);
    const bytes = fs.readFileSync(data);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(data, bytes);
    fs.utimesSync(data, atime, mtime);
    const changed = await savedModelDigest(dir);
    expect(changed).not.toBe(truth);
    expect(await savedModelDigest(dir, memo)).toBe(changed);
  });
});
