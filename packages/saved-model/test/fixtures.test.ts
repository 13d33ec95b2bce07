// readSavedModel, writeSavedModel and summarizeSavedModel against SavedModels written by TensorFlow.
// Expected values were read from the files with an independent wire-format dump and `ls -l`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  readSavedModel,
  summarizeSavedModel,
  writeSavedModel,
  type LoadedSavedModel,
  type SavedModelSummary,
  type SignatureSummary,
} from '../src/index.js';
import { allFixtureDirs, fixture, scratchDir } from './io-fixtures.js';

const scratch = scratchDir();

async function summary(relative: string): Promise<SavedModelSummary> {
  return summarizeSavedModel(await readSavedModel(fixture(relative)));
}

function signature(s: SavedModelSummary, key: string): SignatureSummary {
  const found = s.metaGraphs[0].signatures.find((sig) => sig.key === key);
  if (!found) throw new Error(`no signature ${key}`);
  return found;
}

const fixtureDirs = allFixtureDirs();

describe('fixtures', () => {
  it('finds all 14 TensorFlow-written SavedModels', () => {
    expect(fixtureDirs).toHaveLength(14);
    expect(fixtureDirs).toContain('tf-serving/saved_model_half_plus_two_2_versions/00000124');
  });

  it.each(fixtureDirs)('reads and summarizes %s', async (relative) => {
    const s = await summary(relative);
    expect(s.schemaVersion).toBe(1);
    expect(s.metaGraphs).toHaveLength(1);
    expect(s.metaGraphs[0].tags).toEqual(['serve']);
    expect(s.metaGraphs[0].signatures.length).toBeGreaterThan(0);
    for (const sig of s.metaGraphs[0].signatures) expect(sig.outputs.length, sig.key).toBeGreaterThan(0);
    expect(s.metaGraphs[0].nodes.graph).toBeGreaterThan(0);
  });
});

describe('signatures', () => {
  it('half_plus_two (TF 1.14): five signatures, serving_default maps x:0 to y:0', async () => {
    const s = await summary('tf-serving/saved_model_half_plus_two_cpu/00000123');
    expect(s.metaGraphs[0].signatures.map((sig) => sig.key)).toEqual([
      'classify_x_to_y',
      'regress_x2_to_y3',
      'regress_x_to_y',
      'regress_x_to_y2',
      'serving_default',
    ]);
    expect(signature(s, 'serving_default')).toEqual({
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [{ alias: 'x', name: 'x:0', dtype: 'DT_FLOAT', shape: [-1, 1] }],
      outputs: [{ alias: 'y', name: 'y:0', dtype: 'DT_FLOAT', shape: [-1, 1] }],
    });
    expect(signature(s, 'classify_x_to_y')).toEqual({
      key: 'classify_x_to_y',
      methodName: 'tensorflow/serving/classify',
      inputs: [{ alias: 'inputs', name: 'tf_example:0', dtype: 'DT_STRING', shape: null }],
      outputs: [{ alias: 'scores', name: 'y:0', dtype: 'DT_FLOAT', shape: [-1, 1] }],
    });
    expect(signature(s, 'regress_x2_to_y3').outputs).toEqual([
      { alias: 'outputs', name: 'y3:0', dtype: 'DT_FLOAT', shape: [-1, 1] },
    ]);
  });

  it('the two-version repository: both versions have six signatures', async () => {
    for (const version of ['00000123', '00000124']) {
      const s = await summary(`tf-serving/saved_model_half_plus_two_2_versions/${version}`);
      expect(s.metaGraphs[0].signatures).toHaveLength(6);
      expect(s.metaGraphs[0].tensorflowVersion).toBe('1.1.0-rc2');
      expect(signature(s, 'classify_x2_to_y3').inputs).toEqual([
        { alias: 'inputs', name: 'x2:0', dtype: 'DT_FLOAT', shape: [-1, 1] },
      ]);
    }
  });

  it('half_plus_three (TF 1.0) records no shapes: an unset TensorShapeProto reads as a scalar', async () => {
    const s = await summary('tf-serving/saved_model_half_plus_three/00000123');
    expect(signature(s, 'tensorflow/serving/regress')).toEqual({
      key: 'tensorflow/serving/regress',
      methodName: 'tensorflow/serving/regress',
      inputs: [{ alias: 'inputs', name: 'tf_example:0', dtype: 'DT_FLOAT', shape: [] }],
      outputs: [{ alias: 'outputs', name: 'Identity:0', dtype: 'DT_FLOAT', shape: [] }],
    });
  });

  it('counter: reference-typed outputs and an unknown-rank input', async () => {
    const s = await summary('tf-serving/saved_model_counter/00000123');
    expect(s.metaGraphs[0].signatures.map((sig) => sig.key)).toEqual([
      'get_counter',
      'incr_counter',
      'incr_counter_by',
      'reset_counter',
    ]);
    expect(signature(s, 'incr_counter_by').inputs).toEqual([
      { alias: 'delta', name: 'delta:0', dtype: 'DT_FLOAT', shape: null },
    ]);
    expect(signature(s, 'get_counter').outputs).toEqual([
      { alias: 'output', name: 'counter:0', dtype: 'DT_FLOAT_REF', shape: [] },
    ]);
  });

  it('matrix_half_plus_two: a [-1, 3, 3] float signature', async () => {
    const s = await summary('tf-serving/matrix_half_plus_two/1');
    expect(signature(s, 'serving_default').inputs).toEqual([
      { alias: 'x', name: 'x:0', dtype: 'DT_FLOAT', shape: [-1, 3, 3] },
    ]);
  });

  it('the TF2 half_plus_two: seven signatures including the init op', async () => {
    const s = await summary('tf-serving/saved_model_half_plus_two_tf2_cpu/00000123');
    const mg = s.metaGraphs[0];
    expect(mg.tensorflowVersion).toBe('2.14.0');
    expect(mg.signatures.map((sig) => sig.key)).toEqual([
      '__saved_model_init_op',
      'classify_x2_to_y3',
      'classify_x_to_y',
      'regress_x2_to_y3',
      'regress_x_to_y',
      'regress_x_to_y2',
      'serving_default',
    ]);
    expect(signature(s, 'serving_default')).toEqual({
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [{ alias: 'x', name: 'serving_default_x:0', dtype: 'DT_FLOAT', shape: [1] }],
      outputs: [{ alias: 'y', name: 'StatefulPartitionedCall_5:0', dtype: 'DT_FLOAT', shape: [1] }],
    });
    expect(signature(s, 'classify_x_to_y').inputs[0]).toEqual({
      alias: 'inputs',
      name: 'classify_x_to_y_inputs:0',
      dtype: 'DT_STRING',
      shape: [-1],
    });
    // The init op "signature" names an op, not a tensor, and has no dtype.
    expect(signature(s, '__saved_model_init_op')).toEqual({
      key: '__saved_model_init_op',
      methodName: '',
      inputs: [],
      outputs: [{ alias: '__saved_model_init_op', name: 'NoOp', dtype: 'DT_INVALID', shape: null }],
    });
  });

  it('tfjs-node fixtures: int64, uint8 and int32 signatures', async () => {
    const int64 = await summary('tfjs-node/int64_multiply');
    expect(signature(int64, 'serving_default')).toEqual({
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [{ alias: 'x', name: 'serving_default_x:0', dtype: 'DT_INT64', shape: [2] }],
      outputs: [{ alias: 'output_0', name: 'StatefulPartitionedCall:0', dtype: 'DT_INT64', shape: [2] }],
    });
    const uint8 = await summary('tfjs-node/uint8_multiply');
    expect(signature(uint8, 'serving_default').inputs).toEqual([
      { alias: 'x', name: 'serving_default_x:0', dtype: 'DT_UINT8', shape: [1] },
    ]);
    expect(signature(uint8, 'serving_default').outputs[0].dtype).toBe('DT_INT32');
    const multi = await summary('tfjs-node/model_multi_output');
    expect(signature(multi, 'serving_default')).toEqual({
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [
        { alias: 'x', name: 'serving_default_x:0', dtype: 'DT_INT32', shape: [] },
        { alias: 'y', name: 'serving_default_y:0', dtype: 'DT_INT32', shape: [] },
      ],
      outputs: [
        { alias: 'output_0', name: 'StatefulPartitionedCall:0', dtype: 'DT_INT32', shape: [] },
        { alias: 'output_1', name: 'StatefulPartitionedCall:1', dtype: 'DT_INT32', shape: [] },
      ],
    });
    const twoSignatures = await summary('tfjs-node/module_with_multiple_signatures');
    expect(signature(twoSignatures, 'timestwo').inputs).toEqual([
      { alias: 'x', name: 'timestwo_x:0', dtype: 'DT_FLOAT', shape: [] },
    ]);
  });
});

describe('graph statistics', () => {
  it('matrix_half_plus_two: a frozen six-node graph holding two float scalars', async () => {
    const s = await summary('tf-serving/matrix_half_plus_two/1');
    const mg = s.metaGraphs[0];
    expect(mg.nodes).toEqual({ graph: 6, functions: 0, functionNodes: 0 });
    expect(mg.ops).toEqual([
      { op: 'Const', count: 2 },
      { op: 'Add', count: 1 },
      { op: 'Mul', count: 1 },
      { op: 'NoOp', count: 1 },
      { op: 'Placeholder', count: 1 },
    ]);
    expect(mg.constants).toEqual({ count: 2, bytes: 8 }); // 0.5 and 2.0 as float_val
    expect(mg.saverDef).toBe(false);
    expect(s.variables).toEqual({ present: false, files: [] });
    expect(s.assets).toEqual([]);
    expect(s.pbBytes).toBe(856);
  });

  it('half_plus_two (TF 1.14): a 74-node graph with variables and a saver', async () => {
    const s = await summary('tf-serving/saved_model_half_plus_two_cpu/00000123');
    const mg = s.metaGraphs[0];
    expect(mg.nodes).toEqual({ graph: 74, functions: 0, functionNodes: 0 });
    expect(mg.ops.slice(0, 4)).toEqual([
      { op: 'Const', count: 22 },
      { op: 'Identity', count: 13 },
      { op: 'Assign', count: 12 },
      { op: 'VariableV2', count: 6 },
    ]);
    expect(mg.ops).toHaveLength(17);
    expect(mg.constants).toEqual({ count: 22, bytes: 150 });
    expect(mg.saverDef).toBe(true);
    expect(s.variables).toEqual({
      present: true,
      files: [
        { name: 'variables.data-00000-of-00001', bytes: 20 },
        { name: 'variables.index', bytes: 172 },
      ],
    });
    expect(s.assets).toEqual(['foo.txt']);
  });

  it('TF2 half_plus_two: nodes and constants inside library functions count', async () => {
    const mg = (await summary('tf-serving/saved_model_half_plus_two_tf2_cpu/00000123')).metaGraphs[0];
    expect(mg.nodes).toEqual({ graph: 29, functions: 14, functionNodes: 122 });
    expect(mg.ops.slice(0, 5)).toEqual([
      { op: 'Const', count: 31 },
      { op: 'Identity', count: 25 },
      { op: 'ReadVariableOp', count: 19 },
      { op: 'NoOp', count: 16 },
      { op: 'StatefulPartitionedCall', count: 14 },
    ]);
    expect(mg.constants).toEqual({ count: 31, bytes: 897 });
  });

  it('constant bytes of the other fixtures', async () => {
    const expected: Record<string, { count: number; bytes: number }> = {
      'tf-serving/saved_model_counter/00000123': { count: 11, bytes: 82 },
      'tf-serving/saved_model_half_plus_three/00000123': { count: 21, bytes: 124 },
      'tf-serving/saved_model_half_plus_two_2_versions/00000123': { count: 24, bytes: 134 },
      'tfjs-node/int64_multiply': { count: 9, bytes: 388 },
      'tfjs-node/times_two_int': { count: 13, bytes: 254 },
    };
    for (const [relative, constants] of Object.entries(expected)) {
      expect((await summary(relative)).metaGraphs[0].constants, relative).toEqual(constants);
    }
  });

  it('summarizes only the requested tag-set', async () => {
    const loaded = await readSavedModel(fixture('tfjs-node/times_two_int'));
    expect((await summarizeSavedModel(loaded, { tags: ['serve'] })).metaGraphs).toHaveLength(1);
    await expect(summarizeSavedModel(loaded, { tags: ['train'] })).rejects.toThrow(
      'available tag-sets: "serve"',
    );
  });

  it('is plain JSON', async () => {
    const s = await summary('tf-serving/saved_model_half_plus_two_tf2_cpu/00000123');
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe('round trip', () => {
  /** Writes a loaded model, its variables and assets copied, to a fresh directory. */
  async function rewrite(loaded: LoadedSavedModel, name: string): Promise<string> {
    const copy = (folder: string, names: string[]) =>
      Object.fromEntries(names.map((n) => [n, readFileSync(path.join(loaded.dir, folder, n))]));
    const target = path.join(scratch, name.replaceAll('/', '_'));
    await writeSavedModel(target, {
      savedModel: loaded.savedModel,
      variables: copy('variables', loaded.variableFiles),
      assets: copy('assets', loaded.assetFiles),
    });
    return target;
  }

  it.each(fixtureDirs)('%s: read, write, read gives the same model', async (relative) => {
    const original = await readSavedModel(fixture(relative));
    const rewritten = await readSavedModel(await rewrite(original, relative));
    expect(rewritten.savedModel).toEqual(original.savedModel);
    expect(rewritten.variableFiles).toEqual(original.variableFiles);
    expect(rewritten.assetFiles).toEqual(original.assetFiles);
    expect(rewritten.pbBytes).toBe(original.pbBytes);
    for (const name of original.variableFiles) {
      expect(readFileSync(path.join(rewritten.dir, 'variables', name))).toEqual(
        readFileSync(path.join(original.dir, 'variables', name)),
      );
    }

    const originalBytes = readFileSync(path.join(original.dir, 'saved_model.pb'));
    const rewrittenBytes = readFileSync(path.join(rewritten.dir, 'saved_model.pb'));
    if (relative === 'tf-serving/saved_model_half_plus_two_tf2_cpu/00000123') {
      // TensorFlow wrote this MetaGraphDef's field 7 (object_graph_def) before field 1; protobufjs
      // writes fields in field-number order. Same fields and values (checked above), other byte order.
      expect(rewrittenBytes.equals(originalBytes)).toBe(false);
    } else {
      expect(rewrittenBytes.equals(originalBytes)).toBe(true);
    }
  });
});
