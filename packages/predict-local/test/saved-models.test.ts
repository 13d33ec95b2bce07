// SavedModels written by TensorFlow (TF Serving's test models, tfjs-node's TF2 models) run through the
// executor must give TensorFlow's answers: y = a*x + b with a and b as TensorFlow saved them.
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataType, readSavedModel, readTensorBundle, writeSavedModel } from '@tensorsky/saved-model';
import { loadModel, predictLocal, PredictLocalError, UnsupportedOpsError } from '../src/index.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const models = SAVED_MODELS_DIR;
const servingModel = (...parts: string[]) => path.join(models, 'tf-serving', ...parts);
const halfPlusTwo = servingModel('saved_model_half_plus_two_cpu', '00000123');

/** A scalar variable as TensorFlow checkpointed it. */
function variable(dir: string, key: string): number {
  return (readTensorBundle(path.join(dir, 'variables', 'variables')).get(key)!.read() as Float32Array)[0];
}

// Each runs on the executor (cpu) and on engine onnx, which runs these numeric graphs on ONNX Runtime
// (or, for a signature it cannot translate, falls back to the executor).
describe.each(['cpu', 'onnx'] as const)('TF1 SavedModels (TF Serving test models) on %s', (backend) => {
  it('half_plus_two serving_default: x=[1,2,5] → [2.5, 3, 4.5]', async () => {
    const model = await loadModel(halfPlusTwo, { backend });
    expect(model.signature).toEqual({
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [{ name: 'x', dtype: 'DT_FLOAT', shape: [-1, 1] }],
      outputs: [{ name: 'y', dtype: 'DT_FLOAT', shape: [-1, 1] }],
    });
    const out = await model.predict({ x: [1, 2, 5] });
    expect(out.y).toEqual({ dtype: 'DT_FLOAT', shape: [3], data: new Float32Array([2.5, 3, 4.5]) });
    const column = await model.predict({ x: [[1], [2], [5]] });
    expect(column.y.shape).toEqual([3, 1]);
    expect(Array.from(column.y.data as Float32Array)).toEqual([2.5, 3, 4.5]);
    model.dispose();
  });

  it('restores every variable from the checkpoint (regress_x2_to_y3 uses a2 and c2)', async () => {
    const a2 = variable(halfPlusTwo, 'a2');
    const c2 = variable(halfPlusTwo, 'c2');
    const out = await predictLocal(halfPlusTwo, { inputs: [1, 2, 5] }, { backend: 'wasm', signature: 'regress_x2_to_y3' });
    expect(Array.from(out.outputs.data as Float32Array)).toEqual([1, 2, 5].map((x) => a2 * x + c2));
    expect([a2, c2]).toEqual([0.5, 3]);
  });

  it('half_plus_three: y = 0.5x + 3', async () => {
    const out = await predictLocal(servingModel('saved_model_half_plus_three', '00000123'), { x: [1, 2, 5] }, { backend });
    expect(Array.from(out.y.data as Float32Array)).toEqual([3.5, 4, 5.5]);
  });

  it('matrix_half_plus_two (frozen, constants only) takes [-1, 3, 3]', async () => {
    const model = await loadModel(servingModel('matrix_half_plus_two', '1'), { backend });
    expect(model.signature.inputs).toEqual([{ name: 'x', dtype: 'DT_FLOAT', shape: [-1, 3, 3] }]);
    const x = [
      [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
    ];
    const out = await model.predict({ x });
    expect(out.y.shape).toEqual([1, 3, 3]);
    expect(Array.from(out.y.data as Float32Array)).toEqual(x.flat(2).map((v) => 0.5 * v + 2));
    // The same tensor flat with its shape (how serve and `tensorsky run` pass tensors), from any typed array.
    const flat = await model.predict({ x: { shape: [1, 3, 3], values: new Float64Array(x.flat(2)) } });
    expect(flat.y).toEqual(out.y);
    const ints = await model.predict({ x: { shape: [1, 3, 3], values: new Int32Array(x.flat(2)) } });
    expect(ints.y).toEqual(out.y);
    await expect(model.predict({ x: { shape: [2, 3, 3], values: new Float32Array(9) } })).rejects.toThrow(PredictLocalError);
    model.dispose();
  });

  it('both versions of the two-version repository', async () => {
    for (const version of ['00000123', '00000124']) {
      const dir = servingModel('saved_model_half_plus_two_2_versions', version);
      const [a, b] = [variable(dir, 'a'), variable(dir, 'b')];
      const out = await predictLocal(dir, { x: [1, 2, 5] }, { backend });
      expect(Array.from(out.y.data as Float32Array)).toEqual([1, 2, 5].map((x) => a * x + b));
    }
  });

  it('counter: reads the restored variable; refuses signatures that update it', async () => {
    const dir = servingModel('saved_model_counter', '00000123');
    const out = await predictLocal(dir, {}, { backend, signature: 'get_counter' });
    expect(out.output).toEqual({ dtype: 'DT_FLOAT', shape: [], data: new Float32Array([variable(dir, 'counter')]) });
    const refused = loadModel(dir, { backend, signature: 'incr_counter' });
    await expect(refused).rejects.toThrow(UnsupportedOpsError);
    await expect(refused).rejects.toThrow(/AssignAdd.*@tensorflow\/tfjs-node/);
  });
});

describe.each(['cpu', 'onnx'] as const)('TF2 SavedModels (functions, object-graph checkpoints) on %s', (backend) => {
  it('saved_model_half_plus_two_tf2_cpu: inlines StatefulPartitionedCall and restores a, b, c', async () => {
    const dir = servingModel('saved_model_half_plus_two_tf2_cpu', '00000123');
    const a = variable(dir, 'a/.ATTRIBUTES/VARIABLE_VALUE');
    const b = variable(dir, 'b/.ATTRIBUTES/VARIABLE_VALUE');
    const c = variable(dir, 'c/.ATTRIBUTES/VARIABLE_VALUE');
    const model = await loadModel(dir, { backend });
    expect(model.signature.inputs).toEqual([{ name: 'x', dtype: 'DT_FLOAT', shape: [1] }]);
    expect(Array.from((await model.predict({ x: [5] })).y.data as Float32Array)).toEqual([a * 5 + b]);
    // The signature's defaults give x = [0] when x is left out.
    expect(Array.from((await model.predict({})).y.data as Float32Array)).toEqual([b]);
    model.dispose();
    const regress = await predictLocal(dir, { inputs: [4] }, { backend, signature: 'regress_x2_to_y3' });
    expect(Array.from(regress.outputs.data as Float32Array)).toEqual([a * 4 + c]);
  });

  it('tfjs-node test models: float, int32 and int64 variables', async () => {
    const tfjsNode = (name: string) => path.join(models, 'tfjs-node', name);
    const times3 = await predictLocal(tfjsNode('times_three_float'), { x: [1, 2, 3] }, { backend });
    expect(times3.output_0).toEqual({ dtype: 'DT_FLOAT', shape: [3], data: new Float32Array([3, 6, 9]) });
    const times2 = await predictLocal(tfjsNode('times_two_int'), { x: [1, 2, 3] }, { backend });
    expect(times2.output_0).toEqual({ dtype: 'DT_INT32', shape: [3], data: new Int32Array([2, 4, 6]) });
    const bundle = readTensorBundle(path.join(tfjsNode('int64_multiply'), 'variables', 'variables'));
    const factor = [...bundle.values()].filter((t) => t.name.endsWith('VARIABLE_VALUE')).reduce((p, t) => p * Number((t.read() as BigInt64Array)[0]), 1);
    const int64 = await predictLocal(tfjsNode('int64_multiply'), { x: [1, 2] }, { backend });
    expect(int64.output_0.dtype).toBe('DT_INT64');
    expect(Array.from(int64.output_0.data as Int32Array)).toEqual([factor, 2 * factor]);
    const timestwo = await predictLocal(tfjsNode('module_with_multiple_signatures'), { x: [4] }, { backend, signature: 'timestwo' });
    expect(Array.from(timestwo.output_0.data as Float32Array)).toEqual([8]);
  });
});

/** A copy of a fixture (variables and assets too) with one more signature fetching `tensor`. */
async function withExtraSignature(source: string, tensor: string, dtype: DataType): Promise<string> {
  const { savedModel } = await readSavedModel(source);
  const metaGraph = savedModel.meta_graphs![0];
  metaGraph.signature_def = { ...metaGraph.signature_def, fetch: { outputs: { value: { name: tensor, dtype } }, method_name: 'tensorflow/serving/predict' } };
  const files = (sub: string) =>
    Object.fromEntries(fs.readdirSync(path.join(source, sub)).map((f) => [f, new Uint8Array(fs.readFileSync(path.join(source, sub, f)))]));
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-')), 'model');
  await writeSavedModel(dir, { savedModel, variables: files('variables'), assets: files('assets') });
  return dir;
}

describe('variables the init op sets (run after restoring, as the TensorFlow loader does)', () => {
  it('TF1: saved_model_main_op assigns filename_tensor, which is not in the checkpoint', async () => {
    expect(readTensorBundle(path.join(halfPlusTwo, 'variables', 'variables')).has('filename_tensor')).toBe(false);
    const dir = await withExtraSignature(halfPlusTwo, 'filename_tensor:0', DataType.DT_STRING);
    const out = await predictLocal(dir, {}, { backend: 'cpu', signature: 'fetch' });
    expect(out.value.shape).toEqual([]);
    expect((out.value.data as Uint8Array[]).map((b) => Buffer.from(b).toString())).toEqual(['foo.txt']);
  });

  it('TF2: the init op assigns the asset path the loader feeds', async () => {
    const source = servingModel('saved_model_half_plus_two_tf2_cpu', '00000123');
    const dir = await withExtraSignature(source, 'Variable/Read/ReadVariableOp:0', DataType.DT_STRING);
    const out = await predictLocal(dir, {}, { backend: 'cpu', signature: 'fetch' });
    expect((out.value.data as Uint8Array[]).map((b) => Buffer.from(b).toString())).toEqual([path.join(dir, 'assets', 'foo.txt')]);
  });
});

describe('assets', () => {
  it('refuses an asset named outside the SavedModel\'s assets/ folder', async () => {
    const source = servingModel('saved_model_half_plus_two_tf2_cpu', '00000123');
    const { savedModel } = await readSavedModel(source);
    const [asset] = savedModel.meta_graphs![0].asset_file_def!;
    asset.filename = '../../../../etc/passwd';
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-')), 'model');
    await writeSavedModel(dir, { savedModel });
    await expect(loadModel(dir, { backend: 'cpu' })).rejects.toThrow(
      `asset ../../../../etc/passwd of tensor ${asset.tensor_info!.name} is outside the SavedModel's assets/ folder; a model's assets must sit in it`,
    );
  });
});

describe('loadModel options and input checks', () => {
  it("backend 'auto' picks onnx when tfjs-node is not installed (wasm when ONNX Runtime cannot load: onnx-engine.test.ts)", async () => {
    const model = await loadModel(halfPlusTwo);
    expect(model.backend).toBe('onnx');
    expect(model.fallback).toBeUndefined();
    expect(Array.from((await model.predict({ x: [1] })).y.data as Float32Array)).toEqual([2.5]);
    model.dispose();
  });

  it("backend 'tensorflow' explains that @tensorflow/tfjs-node is missing", async () => {
    await expect(loadModel(halfPlusTwo, { backend: 'tensorflow' })).rejects.toThrow(/needs @tensorflow\/tfjs-node, which is not installed or cannot load/);
  });

  it('names missing signatures, tag-sets and inputs', async () => {
    await expect(loadModel(halfPlusTwo, { signature: 'nope' })).rejects.toThrow(PredictLocalError);
    await expect(loadModel(halfPlusTwo, { signature: 'nope' })).rejects.toThrow(/available: .*serving_default/);
    await expect(loadModel(halfPlusTwo, { tags: ['train'] })).rejects.toThrow(/tag-set/);
    const model = await loadModel(halfPlusTwo, { backend: 'cpu' });
    await expect(model.predict({})).rejects.toThrow('inputs do not match the signature (missing x); expected: x');
    await expect(model.predict({ x: [1], z: [2] })).rejects.toThrow(/unknown z/);
    model.dispose();
  });
});
