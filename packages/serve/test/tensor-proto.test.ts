// TensorProto <-> Tensor at the gRPC front: every encoding clients send, on saved-model's conversion.
import { DataType, encodeMessage, decodeMessage, tensorProto, tensorProtoToArray } from '@tensorsky/saved-model';
import { describe, expect, it } from 'vitest';
import { tensorFromProto, tensorToProto } from '../src/tensor-proto.js';

const roundTrip = (p: Parameters<typeof encodeMessage<'TensorProto'>>[1]) => decodeMessage('TensorProto', encodeMessage('TensorProto', p));

describe('tensorFromProto', () => {
  it('reads tensor_content, typed *_val fields and string_val into the Tensor layout', () => {
    expect(tensorFromProto(roundTrip(tensorProto(DataType.DT_FLOAT, [2], [1.5, -2])), 'x', 'DT_FLOAT')).toEqual({ dtype: 'DT_FLOAT', shape: [2], values: new Float32Array([1.5, -2]) });
    expect(tensorFromProto(roundTrip({ dtype: DataType.DT_INT32, tensor_shape: { dim: [{ size: 3 }] }, int_val: [7] }), 'x', 'DT_INT32')).toEqual({
      dtype: 'DT_INT32',
      shape: [3],
      values: new Int32Array([7, 7, 7]),
    });
    expect(tensorFromProto(roundTrip({ dtype: DataType.DT_INT64, tensor_shape: { dim: [{ size: 2 }] }, int64_val: [-5, 2 ** 40] }), 'x', 'DT_INT64').values).toEqual(
      new BigInt64Array([-5n, 2n ** 40n]),
    );
    expect(tensorFromProto(roundTrip({ dtype: DataType.DT_BOOL, tensor_shape: { dim: [{ size: 2 }] }, bool_val: [true, false] }), 'x', 'DT_BOOL').values).toEqual(new Uint8Array([1, 0]));
    const strings = tensorFromProto(roundTrip(tensorProto(DataType.DT_STRING, [2], ['ab', new Uint8Array([255, 0])])), 'images', 'DT_STRING');
    expect(strings).toEqual({ dtype: 'DT_STRING', shape: [2], values: [new Uint8Array([97, 98]), new Uint8Array([255, 0])] });
    expect(strings.values[0]).not.toBeInstanceOf(Buffer);
  });

  it('keeps all 64 bits of int64 values (2^60 + 1, INT64_MIN)', () => {
    const values = new BigInt64Array([2n ** 60n + 1n, -(2n ** 63n)]);
    expect(tensorFromProto(roundTrip(tensorProto(DataType.DT_INT64, [2], values, { fields: true })), 'x', 'DT_INT64').values).toEqual(values);
    expect(tensorFromProto(roundTrip(tensorProto(DataType.DT_INT64, [2], values)), 'x', 'DT_INT64').values).toEqual(values);
  });

  it('refuses a dtype other than the signature\'s and malformed content', () => {
    expect(() => tensorFromProto(tensorProto(DataType.DT_DOUBLE, [1], [1]), 'x', 'DT_FLOAT')).toThrow("input 'x' is a DT_DOUBLE tensor; the signature expects DT_FLOAT");
    expect(() => tensorFromProto({ dtype: DataType.DT_FLOAT, tensor_shape: { unknown_rank: true } }, 'x', 'DT_FLOAT')).toThrow("input 'x': TensorProto has a shape of unknown rank");
  });
});

describe('tensorToProto', () => {
  it('writes typed *_val fields, as TF Serving answers Predict', () => {
    const y = roundTrip(tensorToProto({ dtype: 'DT_FLOAT', shape: [3, 1], values: new Float32Array([2.5, 3, 4.5]) }));
    expect(y.float_val).toEqual([2.5, 3, 4.5]);
    expect(y.tensor_content?.length ?? 0).toBe(0);
    expect(tensorToProto({ dtype: 'DT_BOOL', shape: [2], values: new Uint8Array([0, 1]) }).bool_val).toEqual([false, true]);
    const int64 = new BigInt64Array([-3n, 2n ** 53n + 1n]);
    expect(tensorProtoToArray(roundTrip(tensorToProto({ dtype: 'DT_INT64', shape: [2], values: int64 })))).toEqual(int64);
    expect(tensorToProto({ dtype: 'DT_STRING', shape: [1], values: [new Uint8Array([1, 2])] }).string_val).toEqual([new Uint8Array([1, 2])]);
  });
});
