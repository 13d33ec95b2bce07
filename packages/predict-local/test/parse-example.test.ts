// ParseExample (TF1's tf.parse_example) and ParseExampleV2 on the executor, against TensorFlow's rules
// (tensorflow/core/util/example_proto_fast_parsing.cc). Examples are serialized with protobufjs
// (saved-model's encodeExample), independently of the kernel's own wire reader. TF Serving's
// half_plus_two answers as TF Serving's tests expect (classify/regress x=2 -> 3.0); a hand-built
// ParseExampleV2 covers dense (fixed and variable length), sparse and ragged features.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { DataType, encodeExample, tensorProto, writeSavedModel, type NodeDef, type SignatureDef, type TensorInfo } from '@tensorsky/saved-model';
import { describe, expect, it } from 'vitest';
import { loadModel, predictLocal } from '../src/index.js';

const halfPlusTwo = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');
const utf8 = new TextEncoder();
const text = (values: ArrayLike<Uint8Array> | unknown) => Array.from(values as Uint8Array[], (v) => new TextDecoder().decode(v));
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

describe.each(['cpu', 'onnx'] as const)("TF Serving's half_plus_two tf.Example signatures on %s", (backend) => {
  it('testClassify / testRegress: x=2 -> 3.0 (classify_x_to_y scores, regress_x_to_y outputs); a batch; x2 has a default', async () => {
    const classify = await predictLocal(halfPlusTwo, { inputs: [encodeExample({ x: { floatList: [2] } })] }, { backend, signature: 'classify_x_to_y' });
    expect(classify.scores).toEqual({ dtype: 'DT_FLOAT', shape: [1, 1], data: new Float32Array([3]) });
    const examples = [1, 2, 5].map((x) => encodeExample({ x: { floatList: [x] } }));
    const regress = await predictLocal(halfPlusTwo, { inputs: examples }, { backend, signature: 'regress_x_to_y' });
    expect(regress.outputs).toEqual({ dtype: 'DT_FLOAT', shape: [3, 1], data: new Float32Array([2.5, 3, 4.5]) });
  });

  it("concatenated Examples are one (TF Serving's context): the later value of a feature wins", async () => {
    const context = encodeExample({ x: { floatList: [5] } });
    const model = await loadModel(halfPlusTwo, { backend, signature: 'regress_x_to_y' });
    const out = await model.predict({ inputs: [concat(context, encodeExample({ x: { floatList: [2] } })), concat(context, encodeExample({}))] });
    expect(Array.from(out.outputs.data as Float32Array)).toEqual([3, 4.5]);
    model.dispose();
  });

  it("refuses bad examples with TensorFlow's messages", async () => {
    const model = await loadModel(halfPlusTwo, { backend, signature: 'regress_x_to_y' });
    const run = (example: Uint8Array) => model.predict({ inputs: [encodeExample({ x: { floatList: [1] } }), example] });
    await expect(run(encodeExample({ y: { floatList: [2] } }))).rejects.toThrow('Name: <unknown>, Feature: x (data type: float) is required but could not be found.');
    await expect(run(encodeExample({ x: {} }))).rejects.toThrow('Feature: x (data type: float) is required but could not be found.');
    await expect(run(encodeExample({ x: { int64List: [2] } }))).rejects.toThrow(
      "Name: <unknown>, Key: x, Index: 1.  Data types don't match. Data type: int64 but expected type: float",
    );
    await expect(run(encodeExample({ x: { floatList: [1, 2] } }))).rejects.toThrow(
      'Name: <unknown>, Key: x, Index: 1.  Number of float values != expected.  Values size: 2 but output shape: [1]',
    );
    await expect(run(utf8.encode('not a tf.Example'))).rejects.toThrow("Could not parse example input, value: 'not a tf.Example'");
    model.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

const T = (type: DataType) => ({ type });
const types = (...t: DataType[]) => ({ list: { type: t } });
const constNode = (name: string, dtype: DataType, shape: number[], values: unknown): NodeDef => ({
  name,
  op: 'Const',
  attr: { dtype: T(dtype), value: { tensor: tensorProto(dtype, shape, values as never) } },
});
const info = (name: string, dtype: DataType): TensorInfo => ({ name, dtype, tensor_shape: { unknown_rank: true } });

/**
 * ParseExampleV2 with a fixed dense int64 "d" of shape [2] (default [7, 8]), a variable-length dense
 * float "v" (shape [-1], padded with 0.5), a sparse string "s" and a ragged int64 "r".
 */
async function parseExampleV2Model(): Promise<string> {
  const nodes: NodeDef[] = [
    { name: 'serialized', op: 'Placeholder', attr: { dtype: T(DataType.DT_STRING), shape: { shape: { unknown_rank: true } } } },
    constNode('names', DataType.DT_STRING, [0], []),
    constNode('sparse_keys', DataType.DT_STRING, [1], ['s']),
    constNode('dense_keys', DataType.DT_STRING, [2], ['d', 'v']),
    constNode('ragged_keys', DataType.DT_STRING, [1], ['r']),
    constNode('d_default', DataType.DT_INT64, [2], [7, 8]),
    constNode('v_default', DataType.DT_FLOAT, [], [0.5]),
    {
      name: 'parse',
      op: 'ParseExampleV2',
      input: ['serialized', 'names', 'sparse_keys', 'dense_keys', 'ragged_keys', 'd_default', 'v_default'],
      attr: {
        Tdense: types(DataType.DT_INT64, DataType.DT_FLOAT),
        num_sparse: { i: 1 },
        sparse_types: types(DataType.DT_STRING),
        ragged_value_types: types(DataType.DT_INT64),
        ragged_split_types: types(DataType.DT_INT64),
        dense_shapes: { list: { shape: [{ dim: [{ size: 2 }] }, { dim: [{ size: -1 }] }] } },
      },
    },
  ];
  const signature: SignatureDef = {
    method_name: 'tensorflow/serving/predict',
    inputs: { serialized: info('serialized:0', DataType.DT_STRING) },
    outputs: {
      s_indices: info('parse:0', DataType.DT_INT64),
      s_values: info('parse:1', DataType.DT_STRING),
      s_shape: info('parse:2', DataType.DT_INT64),
      d: info('parse:3', DataType.DT_INT64),
      v: info('parse:4', DataType.DT_FLOAT),
      r_values: info('parse:5', DataType.DT_INT64),
      r_splits: info('parse:6', DataType.DT_INT64),
    },
  };
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-parse-')), 'model');
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: { node: nodes }, signature_def: { serving_default: signature } }],
    },
  });
  return dir;
}

const ex0 = encodeExample({
  d: { int64List: [1, 2] },
  v: { floatList: [1, 2, 3] },
  s: { bytesList: [utf8.encode('a'), utf8.encode('b')] },
  r: { int64List: [10] },
});
const ex1 = encodeExample({ other: { floatList: [9] } });
const ex2 = encodeExample({ r: { int64List: [20, 30] }, d: { int64List: [3, 4] }, v: { floatList: [4] }, s: { bytesList: [utf8.encode('c')] } });

describe('ParseExampleV2: dense, variable-length dense, sparse and ragged features', () => {
  it('a vector of examples: defaults for missing features, padding, sparse indices [example, position], row splits', async () => {
    const model = await loadModel(await parseExampleV2Model(), { backend: 'cpu' });
    const out = await model.predict({ serialized: [ex0, ex1, ex2] });
    expect(out.s_indices).toEqual({ dtype: 'DT_INT64', shape: [3, 2], data: new Int32Array([0, 0, 0, 1, 2, 0]) });
    expect(text(out.s_values.data)).toEqual(['a', 'b', 'c']);
    expect(out.s_shape).toEqual({ dtype: 'DT_INT64', shape: [2], data: new Int32Array([3, 2]) });
    expect(out.d).toEqual({ dtype: 'DT_INT64', shape: [3, 2], data: new Int32Array([1, 2, 7, 8, 3, 4]) });
    expect(out.v).toEqual({ dtype: 'DT_FLOAT', shape: [3, 3], data: new Float32Array([1, 2, 3, 0.5, 0.5, 0.5, 4, 0.5, 0.5]) });
    expect(out.r_values).toEqual({ dtype: 'DT_INT64', shape: [3], data: new Int32Array([10, 20, 30]) });
    expect(out.r_splits).toEqual({ dtype: 'DT_INT64', shape: [4], data: new Int32Array([0, 1, 1, 3]) });
    model.dispose();
  });

  it('a scalar example (FastParseSingleExample): no batch dimension, sparse indices [position]', async () => {
    const model = await loadModel(await parseExampleV2Model(), { backend: 'cpu' });
    const out = await model.predict({ serialized: ex0 });
    expect(out.s_indices).toEqual({ dtype: 'DT_INT64', shape: [2, 1], data: new Int32Array([0, 1]) });
    expect(out.s_shape).toEqual({ dtype: 'DT_INT64', shape: [1], data: new Int32Array([2]) });
    expect(out.d).toEqual({ dtype: 'DT_INT64', shape: [2], data: new Int32Array([1, 2]) });
    expect(out.v).toEqual({ dtype: 'DT_FLOAT', shape: [3], data: new Float32Array([1, 2, 3]) });
    expect(out.r_values.shape).toEqual([1]);
    expect(out.r_splits.shape).toEqual([0]);
    const missing = await model.predict({ serialized: ex1 });
    expect(missing.d.data).toEqual(new Int32Array([7, 8]));
    expect(missing.v.shape).toEqual([0]);
    expect(missing.s_indices.shape).toEqual([0, 1]);
    model.dispose();
  });

  it("refuses what TensorFlow refuses, with its messages", async () => {
    const model = await loadModel(await parseExampleV2Model(), { backend: 'cpu' });
    await expect(model.predict({ serialized: [ex0, encodeExample({ s: { floatList: [1] } })] })).rejects.toThrow(
      "Name: <unknown>, Key: s, Index: 1.  Data types don't match. Expected type: string, Actual type: float",
    );
    await expect(model.predict({ serialized: encodeExample({ d: { int64List: [1] } }) })).rejects.toThrow(
      "Key: d.  Can't parse serialized Example: Some int64_list slice was not parsed.",
    );
    await expect(model.predict({ serialized: [encodeExample({ d: { int64List: [2n ** 40n, 1] } })] })).rejects.toThrow(
      'Name: <unknown>, Key: d, Index: 0.  int64 value 1099511627776 is outside the int32 range this engine computes in',
    );
    await expect(model.predict({ serialized: [[ex0]] as never })).rejects.toThrow('Expected serialized to be a scalar or vector, got shape: [1,1]');
    // Feature "s": a bytes_list whose one value claims 9 bytes and has 1 (protobuf wire bytes by hand).
    const truncated = Uint8Array.from([0x0a, 0x0c, 0x0a, 0x0a, 0x0a, 0x01, 0x73, 0x12, 0x05, 0x0a, 0x03, 0x0a, 0x09, 0x61]);
    await expect(model.predict({ serialized: truncated })).rejects.toThrow("Key: s.  Can't parse serialized Example: Could not get num elements in bytes_list.");
    await expect(model.predict({ serialized: [truncated] })).rejects.toThrow("Name: <unknown>, Key: s, Index: 0.  Can't parse serialized Example.");
    model.dispose();
  });
});
