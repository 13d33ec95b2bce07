// TensorProto / TensorShapeProto conversion. Expected bytes are hand-computed (IEEE 754, two's
// complement, protobuf wire format); expected values are read from TensorFlow-written SavedModels.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Long from 'long';
import { describe, expect, it } from 'vitest';
import {
  DataType,
  decodeMessage,
  encodeMessage,
  shapeFromProto,
  shapeProto,
  tensorProto,
  tensorProtoToArray,
  TensorConversionError,
  type GraphDef,
  type NodeDef,
  type SavedModel,
  type TensorProto,
} from '../src/index.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const savedModels = SAVED_MODELS_DIR;

function loadSavedModel(relative: string): SavedModel {
  return decodeMessage('SavedModel', readFileSync(path.join(savedModels, relative, 'saved_model.pb')));
}

function graphOf(relative: string): GraphDef {
  return loadSavedModel(relative).meta_graphs![0]!.graph_def!;
}

function node(graph: GraphDef, name: string): NodeDef {
  const found = graph.node!.find((n) => n.name === name);
  if (!found) throw new Error(`fixture has no node ${name}`);
  return found;
}

function constValue(graph: GraphDef, name: string): TensorProto {
  return node(graph, name).attr!.value!.tensor!;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('tensorProtoToArray on TensorFlow-written constants', () => {
  const halfPlusTwo = graphOf('tf-serving/saved_model_half_plus_two_cpu/00000123');

  it('reads scalar float_val constants (a = 0.5, b = 2 in y = 0.5x + 2)', () => {
    expect(Array.from(tensorProtoToArray(constValue(halfPlusTwo, 'a/initial_value')) as Float32Array)).toEqual([0.5]);
    expect(Array.from(tensorProtoToArray(constValue(halfPlusTwo, 'b/initial_value')) as Float32Array)).toEqual([2]);
    expect(tensorProtoToArray(constValue(halfPlusTwo, 'a/initial_value'))).toBeInstanceOf(Float32Array);
  });

  it('reads int_val and an empty float tensor of shape [0]', () => {
    expect(Array.from(tensorProtoToArray(constValue(halfPlusTwo, 'ParseExample/Reshape/shape')) as Int32Array)).toEqual([1]);
    const empty = tensorProtoToArray(constValue(halfPlusTwo, 'ParseExample/Const'));
    expect(empty).toBeInstanceOf(Float32Array);
    expect(empty.length).toBe(0);
  });

  it('reads string_val as raw bytes, including empty strings', () => {
    const names = tensorProtoToArray(constValue(halfPlusTwo, 'save/SaveV2/tensor_names')) as Uint8Array[];
    expect(names.map(text)).toEqual(['a', 'a2', 'b', 'c', 'c2']);
    const slices = tensorProtoToArray(constValue(halfPlusTwo, 'save/SaveV2/shape_and_slices')) as Uint8Array[];
    expect(slices.map(text)).toEqual(['', '', '', '', '']);
  });

  it('reads the constants of the frozen matrix_half_plus_two graph', () => {
    const matrix = graphOf('tf-serving/matrix_half_plus_two/1');
    expect(Array.from(tensorProtoToArray(constValue(matrix, 'Const')) as Float32Array)).toEqual([0.5]);
    expect(Array.from(tensorProtoToArray(constValue(matrix, 'Const_1')) as Float32Array)).toEqual([2]);
  });
});

describe('tensorProtoToArray fill rules (TensorFlow FromProtoField)', () => {
  it('broadcasts a single value to the whole shape', () => {
    const t: TensorProto = { dtype: DataType.DT_INT32, tensor_shape: shapeProto([2, 3]), int_val: [7] };
    expect(Array.from(tensorProtoToArray(t) as Int32Array)).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it('repeats the last value when fewer values than elements are given', () => {
    const t: TensorProto = { dtype: DataType.DT_FLOAT, tensor_shape: shapeProto([4]), float_val: [1, 2] };
    expect(Array.from(tensorProtoToArray(t) as Float32Array)).toEqual([1, 2, 2, 2]);
  });

  it('fills zeros when no values are given, for every kind of field', () => {
    expect(Array.from(tensorProtoToArray({ dtype: DataType.DT_INT32, tensor_shape: shapeProto([3]) }) as Int32Array)).toEqual([0, 0, 0]);
    expect(tensorProtoToArray({ dtype: DataType.DT_BOOL, tensor_shape: shapeProto([2]) })).toEqual([false, false]);
    expect((tensorProtoToArray({ dtype: DataType.DT_STRING, tensor_shape: shapeProto([1]) }) as Uint8Array[]).map(text)).toEqual(['']);
  });

  it('broadcasts strings and bools too', () => {
    const s: TensorProto = { dtype: DataType.DT_STRING, tensor_shape: shapeProto([3]), string_val: [Buffer.from('x')] };
    expect((tensorProtoToArray(s) as Uint8Array[]).map(text)).toEqual(['x', 'x', 'x']);
    expect(tensorProtoToArray({ dtype: DataType.DT_BOOL, tensor_shape: shapeProto([2]), bool_val: [true] })).toEqual([true, true]);
  });

  it('reads int64_val exactly beyond 2^53 after a protobuf round trip', () => {
    const encoded = encodeMessage('TensorProto', {
      dtype: DataType.DT_INT64,
      tensor_shape: shapeProto([2]),
      int64_val: [Long.fromString('9007199254740993'), Long.fromString('-5')],
    });
    const values = tensorProtoToArray(decodeMessage('TensorProto', encoded));
    expect(values).toBeInstanceOf(BigInt64Array);
    expect(Array.from(values as BigInt64Array)).toEqual([9007199254740993n, -5n]);
  });

  it('reads little-endian tensor_content laid out by hand', () => {
    // float32 1.0 = 0x3f800000, -2.0 = 0xc0000000, 0.5 = 0x3f000000
    const floats: TensorProto = { dtype: DataType.DT_FLOAT, tensor_shape: shapeProto([3]), tensor_content: Buffer.from('0000803f000000c00000003f', 'hex') };
    expect(Array.from(tensorProtoToArray(floats) as Float32Array)).toEqual([1, -2, 0.5]);
    // int32 258 = 0x00000102, -1 = 0xffffffff
    const ints: TensorProto = { dtype: DataType.DT_INT32, tensor_shape: shapeProto([2]), tensor_content: Buffer.from('02010000ffffffff', 'hex') };
    expect(Array.from(tensorProtoToArray(ints) as Int32Array)).toEqual([258, -1]);
    // float64 1.5 = 0x3ff8000000000000
    const doubles: TensorProto = { dtype: DataType.DT_DOUBLE, tensor_shape: shapeProto([]), tensor_content: Buffer.from('000000000000f83f', 'hex') };
    expect(Array.from(tensorProtoToArray(doubles) as Float64Array)).toEqual([1.5]);
  });

  it('reads tensor_content from an unaligned view', () => {
    const backing = Buffer.from('ff0000803f', 'hex');
    const t: TensorProto = { dtype: DataType.DT_FLOAT, tensor_shape: shapeProto([1]), tensor_content: backing.subarray(1) };
    expect(Array.from(tensorProtoToArray(t) as Float32Array)).toEqual([1]);
  });

  it('rejects tensor_content whose size does not match the shape', () => {
    const t: TensorProto = { dtype: DataType.DT_FLOAT, tensor_shape: shapeProto([2]), tensor_content: new Uint8Array(4) };
    expect(() => tensorProtoToArray(t)).toThrow(/4 bytes, expected 8/);
  });
});

describe('tensorProto', () => {
  it('writes float32 values as little-endian tensor_content, exactly as the wire format lays it out', () => {
    const t = tensorProto(DataType.DT_FLOAT, [2], new Float32Array([1, -2]));
    expect(hex(t.tensor_content!)).toBe('0000803f000000c0');
    // dtype (field 1) = 1; tensor_shape (field 2) = { dim (field 2) { size (field 1) = 2 } }; tensor_content (field 4)
    expect(hex(encodeMessage('TensorProto', t))).toBe('0801' + '1204' + '12020802' + '2208' + '0000803f000000c0');
  });

  it('writes *_val fields with { fields: true }, as TensorFlow\'s AsProtoField does, and reads them back', () => {
    const f = tensorProto(DataType.DT_FLOAT, [2], [0.5, -2], { fields: true });
    expect(f.tensor_content).toBeUndefined();
    expect(f.float_val).toEqual([0.5, -2]);
    // float_val is field 5, packed
    expect(hex(encodeMessage('TensorProto', f))).toBe('0801' + '1204' + '12020802' + '2a08' + '0000003f000000c0');
    const big = decodeMessage('TensorProto', encodeMessage('TensorProto', tensorProto(DataType.DT_INT64, [2], new BigInt64Array([-(2n ** 62n), 3n]), { fields: true })));
    expect(tensorProtoToArray(big)).toEqual(new BigInt64Array([-(2n ** 62n), 3n]));
    expect(tensorProto(DataType.DT_INT8, [1], [-3], { fields: true }).int_val).toEqual([-3]);
  });

  it('writes integer dtypes in two\'s complement with their own width', () => {
    expect(hex(tensorProto(DataType.DT_INT32, [2], [258, -1]).tensor_content!)).toBe('02010000ffffffff');
    expect(hex(tensorProto(DataType.DT_INT64, [2], new BigInt64Array([-2n, 2n ** 40n])).tensor_content!)).toBe('feffffffffffffff' + '0000000000010000');
    expect(hex(tensorProto(DataType.DT_INT64, [1], [-2]).tensor_content!)).toBe('feffffffffffffff');
    expect(hex(tensorProto(DataType.DT_UINT8, [3], new Uint8Array([0, 255, 7])).tensor_content!)).toBe('00ff07');
    expect(hex(tensorProto(DataType.DT_INT16, [1], [-2]).tensor_content!)).toBe('feff');
  });

  it('puts strings in string_val and bools in bool_val', () => {
    const s = tensorProto(DataType.DT_STRING, [2], ['héllo', new Uint8Array([0, 255])]);
    expect(s.tensor_content).toBeUndefined();
    expect(s.string_val!.map(hex)).toEqual([Buffer.from('héllo').toString('hex'), '00ff']);
    const b = tensorProto(DataType.DT_BOOL, [3], [true, false, true]);
    expect(b.bool_val).toEqual([true, false, true]);
  });

  it('round-trips through protobuf for every supported dtype', () => {
    const cases: [DataType, number[], ArrayLike<unknown>][] = [
      [DataType.DT_FLOAT, [2, 2], new Float32Array([0.25, -1, 3.5, 1e-8])],
      [DataType.DT_DOUBLE, [2], new Float64Array([Math.PI, -0])],
      [DataType.DT_INT32, [3], new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
      [DataType.DT_INT8, [2], new Int8Array([-128, 127])],
      [DataType.DT_UINT16, [2], new Uint16Array([0, 65535])],
      [DataType.DT_UINT32, [1], new Uint32Array([2 ** 32 - 1])],
      [DataType.DT_INT64, [2], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n])],
      [DataType.DT_UINT64, [1], new BigUint64Array([2n ** 64n - 1n])],
      [DataType.DT_BOOL, [2], [true, false]],
    ];
    for (const [dtype, shape, values] of cases) {
      const decoded = decodeMessage('TensorProto', encodeMessage('TensorProto', tensorProto(dtype, shape, values as never)));
      expect(decoded.dtype).toBe(dtype);
      expect(shapeFromProto(decoded.tensor_shape)).toEqual(shape);
      expect(Array.from(tensorProtoToArray(decoded) as ArrayLike<unknown>)).toEqual(Array.from(values));
    }
    const strings = decodeMessage('TensorProto', encodeMessage('TensorProto', tensorProto(DataType.DT_STRING, [2], ['a', ''])));
    expect((tensorProtoToArray(strings) as Uint8Array[]).map(text)).toEqual(['a', '']);
  });

  it('rejects values that do not fit the dtype or the shape', () => {
    expect(() => tensorProto(DataType.DT_UINT8, [1], [256])).toThrow(TensorConversionError);
    expect(() => tensorProto(DataType.DT_INT32, [1], [1.5])).toThrow(/does not fit DT_INT32/);
    expect(() => tensorProto(DataType.DT_INT64, [1], [2 ** 60])).toThrow(/does not fit DT_INT64/);
    expect(() => tensorProto(DataType.DT_FLOAT, [2, 2], [1, 2, 3])).toThrow(/needs 4 values, got 3/);
    expect(() => tensorProto(DataType.DT_FLOAT, [-1], [])).toThrow(/known, non-negative/);
    expect(() => tensorProto(DataType.DT_STRING, [1], [1] as never)).toThrow(/strings or Uint8Arrays/);
    expect(() => tensorProto(DataType.DT_RESOURCE, [], [0])).toThrow(/DT_RESOURCE/);
  });
});

describe('shapes', () => {
  const halfPlusTwo = loadSavedModel('tf-serving/saved_model_half_plus_two_cpu/00000123');
  const graph = halfPlusTwo.meta_graphs![0]!.graph_def!;

  it('encodes [-1, 1] byte-identically to the shape TensorFlow wrote in the serving signature', () => {
    const written = halfPlusTwo.meta_graphs![0]!.signature_def!.serving_default!.inputs!.x!.tensor_shape!;
    expect(hex(encodeMessage('TensorShapeProto', shapeProto([-1, 1])))).toBe(hex(encodeMessage('TensorShapeProto', written)));
    expect(shapeFromProto(written)).toEqual([-1, 1]);
  });

  it('encodes an unknown rank byte-identically to the tf_example placeholder shape', () => {
    const written = node(graph, 'tf_example').attr!.shape!.shape!;
    expect(written.unknown_rank).toBe(true);
    expect(hex(encodeMessage('TensorShapeProto', shapeProto(undefined)))).toBe(hex(encodeMessage('TensorShapeProto', written)));
    expect(shapeFromProto(written)).toBeUndefined();
  });

  it('reads the [-1, 3, 3] placeholder of matrix_half_plus_two and scalar shapes', () => {
    const matrix = graphOf('tf-serving/matrix_half_plus_two/1');
    expect(shapeFromProto(node(matrix, 'x').attr!.shape!.shape)).toEqual([-1, 3, 3]);
    expect(shapeFromProto(constValue(matrix, 'Const').tensor_shape)).toEqual([]);
    expect(shapeFromProto(undefined)).toEqual([]);
  });

  it('rejects impossible dimensions', () => {
    expect(() => shapeProto([2, -3])).toThrow(/invalid dimension -3/);
  });
});
