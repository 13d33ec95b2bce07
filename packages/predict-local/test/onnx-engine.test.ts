// Engine onnx: the network on ONNX Runtime, and its fallbacks to the executor, each said in one line:
// ONNX Runtime that cannot load (forced with TENSORSKY_ONNXRUNTIME pointing at a module that fails as a
// broken install does), and a graph with an op the translator does not know.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { DataType, tensorProto, writeSavedModel, type NodeDef } from '@tensorsky/saved-model';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';

const halfPlusTwo = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');
const brokenOrt = fileURLToPath(new URL('./support/broken-onnxruntime.mjs', import.meta.url));

describe('engine onnx', () => {
  afterEach(() => {
    delete process.env.TENSORSKY_ONNXRUNTIME;
  });

  it('runs a TF Serving model on ONNX Runtime with TensorFlow’s answers', async () => {
    const model = await loadModel(halfPlusTwo, { backend: 'onnx', threads: 1 });
    try {
      expect(model.backend).toBe('onnx');
      expect(model.fallback).toBeUndefined();
      const out = await model.predict({ x: [[1], [2], [5]] });
      expect(out.y).toEqual({ dtype: 'DT_FLOAT', shape: [3, 1], data: new Float32Array([2.5, 3, 4.5]) });
    } finally {
      model.dispose();
    }
  });

  it.each(['onnx', 'auto'] as const)('backend %s: a broken ONNX Runtime install falls back to wasm, saying why', async (backend) => {
    process.env.TENSORSKY_ONNXRUNTIME = brokenOrt;
    const model = await loadModel(halfPlusTwo, { backend });
    try {
      expect(model.backend).toBe('wasm');
      expect(model.fallback).toBe(
        'engine onnx: onnxruntime-node cannot load (libonnxruntime.so.1: cannot open shared object file: No such file or directory); running on wasm',
      );
      expect(Array.from((await model.predict({ x: [1, 2, 5] })).y.data as Float32Array)).toEqual([2.5, 3, 4.5]);
    } finally {
      model.dispose();
    }
  });

  it('a graph with an op the translator lacks falls back to wasm, naming the op', async () => {
    // y = cumsum(x) along axis 0: TF.js runs Cumsum; the ONNX translation has no entry for it.
    const T = (type: DataType) => ({ type });
    const nodes: NodeDef[] = [
      { name: 'x', op: 'Placeholder', attr: { dtype: T(DataType.DT_FLOAT), shape: { shape: { dim: [{ size: -1 }] } } } },
      { name: 'axis', op: 'Const', attr: { dtype: T(DataType.DT_INT32), value: { tensor: tensorProto(DataType.DT_INT32, [], [0]) } } },
      { name: 'y', op: 'Cumsum', input: ['x', 'axis'], attr: { T: T(DataType.DT_FLOAT), Tidx: T(DataType.DT_INT32), exclusive: { b: false }, reverse: { b: false } } },
    ];
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-onnx-')), 'model');
    await writeSavedModel(dir, {
      savedModel: {
        saved_model_schema_version: 1,
        meta_graphs: [
          {
            meta_info_def: { tags: ['serve'] },
            graph_def: { node: nodes, versions: { producer: 1395 } },
            signature_def: {
              serving_default: {
                inputs: { x: { name: 'x:0', dtype: DataType.DT_FLOAT, tensor_shape: { dim: [{ size: -1 }] } } },
                outputs: { y: { name: 'y:0', dtype: DataType.DT_FLOAT, tensor_shape: { dim: [{ size: -1 }] } } },
                method_name: 'tensorflow/serving/predict',
              },
            },
          },
        ],
      },
    });
    const model = await loadModel(dir, { backend: 'onnx' });
    try {
      expect(model.backend).toBe('wasm');
      expect(model.fallback).toMatch(/^engine onnx: ONNX Runtime cannot run this signature \(.*Cumsum.*\); running on wasm$/);
      expect(Array.from((await model.predict({ x: [1, 2, 3] })).y.data as Float32Array)).toEqual([1, 3, 6]);
    } finally {
      model.dispose();
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
