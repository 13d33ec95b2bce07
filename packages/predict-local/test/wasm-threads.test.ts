// The wasm backend with XNNPACK's thread pool (src/wasm-backend.ts), in child processes since a thread
// count is fixed when a process first starts the backend: two threads give the same outputs as one
// and as the TF.js cpu backend's ops, and the process still exits by itself when done.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { defaultWasmThreads } from '../src/wasm-backend.js';
import { DataType, GraphBuilder, writeSavedModel } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { size, values } from './support/values.js';

const CHILD = fileURLToPath(new URL('./support/wasm-threads-child.mjs', import.meta.url));
// Large enough that XNNPACK splits each convolution into many tiles across the threads.
const INPUT_SHAPE: [number, number, number, number] = [2, 48, 48, 16];
const K1: [number, number, number, number] = [3, 3, 16, 32];
const K2: [number, number, number, number] = [1, 1, 32, 24];

interface ChildResult {
  backend: string;
  threads: number;
  shape: number[];
  y: number[];
}

let tmp: string;
let modelDir: string;
let inputFile: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-threads-'));
  const b = new GraphBuilder();
  const x = b.placeholder('x', DataType.DT_FLOAT, [-1, ...INPUT_SHAPE.slice(1)]);
  const conv1 = b.conv2d(x, b.constant('k1', values(size(K1), 1), K1), { strides: [1, 1, 1, 1], padding: 'SAME', name: 'conv1' });
  const relu = b.relu(b.biasAdd(conv1, b.constant('b1', values(K1[3], 2), [K1[3]]), { name: 'bias1' }), { name: 'relu1' });
  const y = b.conv2d(relu, b.constant('k2', values(size(K2), 3), K2), { strides: [1, 2, 2, 1], padding: 'VALID', name: 'conv2' });
  modelDir = path.join(tmp, 'model');
  await writeSavedModel(modelDir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: b.toGraphDef(), signature_def: { serving_default: b.signature({ x }, { y }) } }],
    },
  });
  inputFile = path.join(tmp, 'input.json');
  fs.writeFileSync(inputFile, JSON.stringify({ shape: INPUT_SHAPE, values: Array.from(values(size(INPUT_SHAPE), 4)) }));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function predictInChild(threads: number): Promise<ChildResult> {
  // A child whose pool kept it alive would run into the timeout and fail the test.
  const { stdout } = await promisify(execFile)(process.execPath, [CHILD, modelDir, inputFile, String(threads)], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult;
}

describe('wasm backend threads', () => {
  it('predicts with two threads exactly what one thread predicts, and the same as TF.js cpu ops', async () => {
    const [two, one] = await Promise.all([predictInChild(2), predictInChild(1)]);
    expect(two).toMatchObject({ backend: 'wasm', threads: 2, shape: [2, 24, 24, 24] });
    expect(one).toMatchObject({ backend: 'wasm', threads: 1 });
    expect(two.y).toEqual(one.y);

    await tf.setBackend('cpu');
    const expected = tf.tidy(() => {
      const input = tf.tensor4d(values(size(INPUT_SHAPE), 4), INPUT_SHAPE);
      const h = tf.relu(tf.add(tf.conv2d(input, tf.tensor4d(values(size(K1), 1), K1), 1, 'same'), tf.tensor1d(values(K1[3], 2))));
      return tf.conv2d(h as tf.Tensor4D, tf.tensor4d(values(size(K2), 3), K2), 2, 'valid').dataSync();
    });
    expect(expected.length).toBe(two.y.length);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - two.y[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});

describe('defaultWasmThreads', () => {
  const saved = process.env.TENSORSKY_WASM_THREADS;
  afterAll(() => {
    if (saved === undefined) delete process.env.TENSORSKY_WASM_THREADS;
    else process.env.TENSORSKY_WASM_THREADS = saved;
  });

  it('takes TENSORSKY_WASM_THREADS (at most 8), one per core without it, and refuses a bad value', () => {
    delete process.env.TENSORSKY_WASM_THREADS;
    expect(defaultWasmThreads()).toBe(Math.min(8, os.availableParallelism()));
    process.env.TENSORSKY_WASM_THREADS = '3';
    expect(defaultWasmThreads()).toBe(3);
    process.env.TENSORSKY_WASM_THREADS = '64';
    expect(defaultWasmThreads()).toBe(8);
    for (const bad of ['0', 'abc', '1.5', '-2']) {
      process.env.TENSORSKY_WASM_THREADS = bad;
      expect(() => defaultWasmThreads()).toThrow(`TENSORSKY_WASM_THREADS must be a whole number >= 1 (threads of the wasm backend), got '${bad}'`);
    }
  });
});
