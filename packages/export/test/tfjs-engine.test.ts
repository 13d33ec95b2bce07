import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { initTfjs } from '../src/index.js';

describe('initTfjs', () => {
  it('picks wasm when tfjs-node is absent, once, and switches only when asked', async () => {
    const notices: string[] = [];
    const first = initTfjs(undefined, { onNotice: (m) => notices.push(m) });
    expect(initTfjs()).toBe(first);
    expect(await first).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');

    expect(await initTfjs('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initTfjs()).toBe('cpu'); // no argument keeps the current choice

    // The cpu backend's multi-line "install tfjs-node" banner stays quiet.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    tf.tidy(() => tf.add(tf.tensor([1, 2]), 1).dataSync());
    expect(warn.mock.calls.flat().join(' ')).not.toContain('tfjs-node');
    warn.mockRestore();

    expect(await initTfjs('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(notices).toEqual([]);
  });
});
