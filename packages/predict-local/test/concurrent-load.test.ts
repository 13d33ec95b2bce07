// Its own file so that it runs in a fresh process, where the first switch to wasm is still pending.
import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/index.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const halfPlusTwo = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');

describe('concurrent loads', () => {
  it('loadModel calls started together all succeed while the wasm backend is still initialising', async () => {
    const models = await Promise.all([loadModel(halfPlusTwo, { backend: 'wasm' }), loadModel(halfPlusTwo, { backend: 'wasm' })]);
    for (const m of models) {
      expect(m.backend).toBe('wasm');
      expect(Array.from((await m.predict({ x: [1, 2] })).y.data as Float32Array)).toEqual([2.5, 3]);
      m.dispose();
    }
  });
});
