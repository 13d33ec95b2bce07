import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsFromFlags } from '../src/options.js';

const cwd = path.join(os.tmpdir(), 'project');

describe('optionsFromFlags', () => {
  it('applies the defaults and resolves paths against cwd', () => {
    const options = optionsFromFlags({ images: ['photos'] }, { cwd });
    expect(options).toMatchObject({
      images: [path.join(cwd, 'photos')],
      outDir: path.join(cwd, 'dist/export-and-verify'),
      reportDir: path.join(cwd, 'dist/reports'),
      tolerance: 1e-4,
      topK: 5,
      latencyBudgetMs: 2000,
      seed: 0,
      weights: undefined,
      deploy: undefined,
    });
  });

  it('parses numbers given as text (node:util parseArgs) and keeps weight presets as words', () => {
    const options = optionsFromFlags(
      { images: 'a.jpg', tolerance: '1e-6', 'top-k': '3', 'latency-budget-ms': '500', seed: '7', weights: 'random' },
      { cwd },
    );
    expect(options).toMatchObject({ images: [path.join(cwd, 'a.jpg')], tolerance: 1e-6, topK: 3, latencyBudgetMs: 500, seed: 7, weights: 'random' });
    expect(optionsFromFlags({ images: 'a.jpg', weights: 'w.h5' }, { cwd }).weights).toBe(path.join(cwd, 'w.h5'));
  });

  it('defaults the tolerance by engines: 1e-4 like with like, 3e-4 for ONNX Runtime against TF.js; a given one wins', () => {
    expect(optionsFromFlags({ images: 'a.jpg', backend: 'wasm' }, { cwd }).tolerance).toBe(1e-4);
    expect(optionsFromFlags({ images: 'a.jpg', backend: 'onnx' }, { cwd }).tolerance).toBe(3e-4);
    expect(optionsFromFlags({ images: 'a.jpg', backend: 'onnx', tolerance: '1e-5' }, { cwd }).tolerance).toBe(1e-5);
  });

  it('uses the default images only when none are given', () => {
    expect(optionsFromFlags({}, { cwd, defaultImages: '/golden' }).images).toEqual(['/golden']);
    expect(() => optionsFromFlags({}, { cwd })).toThrow(/no golden images: pass --images DIR/);
  });

  it('says which flag is wrong', () => {
    const base = { images: 'a.jpg' };
    expect(() => optionsFromFlags({ ...base, tolerance: 'small' }, { cwd })).toThrow('--tolerance must be a number >= 0, got small');
    expect(() => optionsFromFlags({ ...base, 'top-k': '0' }, { cwd })).toThrow('--top-k must be a positive integer, got 0');
    expect(() => optionsFromFlags({ ...base, seed: '1.5' }, { cwd })).toThrow('--seed must be an integer, got 1.5');
    expect(() => optionsFromFlags({ ...base, 'latency-budget-ms': '' }, { cwd })).toThrow('--latency-budget-ms must be a positive number of milliseconds');
    expect(() => optionsFromFlags({ ...base, deploy: 'gke' }, { cwd })).toThrow('--deploy must be one of local, vertex, got gke');
    expect(() => optionsFromFlags({ ...base, preprocess: 'zscore' }, { cwd })).toThrow(/--preprocess must be one of inception, unit/);
    expect(() => optionsFromFlags({ ...base, deploy: 'vertex', 'project-id': 'p' }, { cwd })).toThrow(/--deploy vertex needs --project_id and --bucket/);
  });

  it('collects the Vertex AI settings for --deploy vertex', () => {
    const options = optionsFromFlags({ images: 'a.jpg', deploy: 'vertex', 'project-id': 'p1', bucket: 'b', 'model-version': 'v2' }, { cwd });
    expect(options.vertex).toEqual({ projectId: 'p1', bucket: 'b', region: undefined, modelName: undefined, modelVersion: 'v2' });
  });
});
