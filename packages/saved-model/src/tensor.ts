// TensorProto and TensorShapeProto to and from JavaScript arrays, following TensorFlow's conventions:
// numeric values as little-endian bytes in tensor_content, strings in string_val, and when reading, the
// repeated *_val fields with TensorFlow's fill rule (fewer values than elements repeat the last one).
import Long from 'long';
import { dtypeInfo, type TensorProtoField, type TypedArray, type TypedArrayConstructor } from './dtypes.js';
import { DataType, dataTypeName, int64ToNumber, type Int64, type TensorProto, type TensorShapeProto } from './proto.js';

/** Static shape: one entry per dimension, -1 for a dimension of unknown size. */
export type Shape = readonly number[];

/** Values accepted for a tensor; which ones fit depends on the dtype (see tensorProto). */
export type TensorValues =
  | TypedArray
  | readonly number[]
  | readonly bigint[]
  | readonly boolean[]
  | readonly (string | Uint8Array)[];

/** What tensorProtoToArray returns for each dtype. */
export type TensorArray = TypedArray | boolean[] | Uint8Array[];

export class TensorConversionError extends Error {
  override name = 'TensorConversionError';
}

interface NumericLayout {
  ctor: TypedArrayConstructor;
  /** Repeated field TensorFlow uses for this dtype when tensor_content is empty. */
  field: TensorProtoField;
  integer?: { min: bigint; max: bigint };
}

/** How a numeric dtype's values are held and written (see dtypes.ts); undefined for other dtypes. */
function numericLayout(dtype: DataType): NumericLayout | undefined {
  const { array, protoField, range } = dtypeInfo(dtype);
  if (!array || !protoField) return undefined;
  return { ctor: array, field: protoField, ...(range ? { integer: { min: range[0], max: range[1] } } : {}) };
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Number of elements of a fully known shape (1 for a scalar). */
export function shapeSize(shape: Shape): number {
  return shape.reduce((n, d) => n * d, 1);
}

function checkKnownShape(shape: Shape): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new TensorConversionError(`tensor shape [${shape.join(', ')}] must have known, non-negative sizes`);
    }
  }
}

/**
 * Builds a TensorProto. Numeric dtypes go to tensor_content (little-endian, as TensorFlow writes it),
 * or with `{ fields: true }` to their repeated *_val field (Tensor::AsProtoField, what TF Serving's
 * Predict answers with); DT_BOOL to bool_val, DT_STRING to string_val (strings are UTF-8 encoded). The
 * number of values must equal the shape's element count; integers are range-checked, int64 accepts
 * bigint or safe integers.
 */
export function tensorProto(dtype: DataType, shape: Shape, values: TensorValues, options: { fields?: boolean } = {}): TensorProto {
  checkKnownShape(shape);
  const count = shapeSize(shape);
  if (values.length !== count) {
    throw new TensorConversionError(
      `${dataTypeName(dtype)} tensor of shape [${shape.join(', ')}] needs ${count} values, got ${values.length}`,
    );
  }
  const base = { dtype, tensor_shape: shapeProto(shape) };
  if (dtype === DataType.DT_STRING) {
    const strings = Array.from(values as ArrayLike<unknown>, (v) => {
      if (typeof v === 'string') return new TextEncoder().encode(v);
      if (v instanceof Uint8Array) return v;
      throw new TensorConversionError(`DT_STRING tensor values must be strings or Uint8Arrays, got ${typeof v}`);
    });
    return { ...base, string_val: strings };
  }
  if (dtype === DataType.DT_BOOL) {
    const bools = Array.from(values as ArrayLike<unknown>, (v) => {
      if (typeof v !== 'boolean') throw new TensorConversionError(`DT_BOOL tensor values must be booleans, got ${typeof v}`);
      return v;
    });
    return { ...base, bool_val: bools };
  }
  const layout = numericLayout(dtype);
  if (!layout) throw new TensorConversionError(`cannot build a tensor of ${dataTypeName(dtype)}; supported: numeric, DT_BOOL, DT_STRING`);
  const typed = toTypedArray(layout, dtype, values);
  if (!options.fields) return { ...base, tensor_content: littleEndianBytes(typed) };
  const unsigned = dtype === DataType.DT_UINT64;
  const vals = Array.from(typed as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Long.fromString(v.toString(), unsigned) : v));
  return { ...base, [layout.field]: vals };
}

function toTypedArray(layout: NumericLayout, dtype: DataType, values: TensorValues): ArrayLike<number | bigint> & ArrayBufferView {
  if (values instanceof layout.ctor) return values;
  const isBig = layout.ctor === BigInt64Array || layout.ctor === BigUint64Array;
  const out = new layout.ctor(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' && typeof v !== 'bigint') {
      throw new TensorConversionError(`${dataTypeName(dtype)} tensor values must be numbers, got ${typeof v}`);
    }
    if (layout.integer) {
      const ok =
        typeof v === 'bigint'
          ? v >= BigInt(layout.integer.min) && v <= BigInt(layout.integer.max)
          : Number.isInteger(v) && v >= Number(layout.integer.min) && v <= Number(layout.integer.max) && (!isBig || Number.isSafeInteger(v));
      if (!ok) throw new TensorConversionError(`value ${v} at index ${i} does not fit ${dataTypeName(dtype)}`);
      (out as unknown as (number | bigint)[])[i] = isBig ? BigInt(v) : Number(v);
    } else {
      if (typeof v === 'bigint') throw new TensorConversionError(`${dataTypeName(dtype)} tensor values must be numbers, got bigint`);
      (out as unknown as number[])[i] = v;
    }
  }
  return out;
}

function littleEndianBytes(typed: ArrayBufferView & { BYTES_PER_ELEMENT?: number }): Uint8Array {
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength).slice();
  const width = (typed as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (!hostIsLittleEndian && width > 1) swapBytes(bytes, width);
  return bytes;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/**
 * The values of a TensorProto as a flat array in row-major order: a typed array for numeric dtypes,
 * boolean[] for DT_BOOL, Uint8Array[] (raw bytes) for DT_STRING. Reads tensor_content when present,
 * else the *_val field, where TensorFlow repeats the last given value to fill the shape (so a single
 * value is broadcast) and an empty field means zeros.
 */
export function tensorProtoToArray(proto: TensorProto): TensorArray {
  const dtype = proto.dtype ?? DataType.DT_INVALID;
  const shape = shapeFromProto(proto.tensor_shape);
  if (shape === undefined) throw new TensorConversionError('TensorProto has a shape of unknown rank');
  checkKnownShape(shape);
  const count = shapeSize(shape);

  if (dtype === DataType.DT_STRING) return fillFromVals(proto.string_val ?? [], count, () => new Uint8Array(0));
  if (dtype === DataType.DT_BOOL) {
    const content = proto.tensor_content;
    if (content && content.length > 0) {
      checkContentLength(content, count, 1, dtype);
      return Array.from(content, (b) => b !== 0);
    }
    return fillFromVals(proto.bool_val ?? [], count, () => false);
  }
  const layout = numericLayout(dtype);
  if (!layout) throw new TensorConversionError(`cannot read a tensor of ${dataTypeName(dtype)}; supported: numeric, DT_BOOL, DT_STRING`);

  const content = proto.tensor_content;
  if (content && content.length > 0) {
    checkContentLength(content, count, layout.ctor.BYTES_PER_ELEMENT, dtype);
    const bytes = new Uint8Array(content); // copy: decoded buffers may be unaligned views
    if (!hostIsLittleEndian) swapBytes(bytes, layout.ctor.BYTES_PER_ELEMENT);
    return new layout.ctor(bytes.buffer, 0, count);
  }
  const vals = (proto[layout.field] ?? []) as readonly (number | Int64)[];
  const out = new layout.ctor(count);
  if (count === 0) return out;
  const read = (v: number | Int64): number | bigint => {
    if (layout.ctor === BigInt64Array) return BigInt.asIntN(64, int64Bits(v));
    if (layout.ctor === BigUint64Array) return BigInt.asUintN(64, int64Bits(v));
    return int64ToNumber(v);
  };
  const at = (i: number) => read(vals[Math.min(i, vals.length - 1)]!);
  if (vals.length > 0) for (let i = 0; i < count; i++) (out as unknown as (number | bigint)[])[i] = at(i);
  return out;
}

/** Exact 64-bit value of an int64 field (Long.toNumber would round above 2^53), as two's complement bits. */
function int64Bits(v: number | Int64): bigint {
  if (typeof v === 'number') return BigInt(v);
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

function checkContentLength(content: Uint8Array, count: number, width: number, dtype: DataType): void {
  if (content.length !== count * width) {
    throw new TensorConversionError(
      `${dataTypeName(dtype)} tensor_content has ${content.length} bytes, expected ${count * width} for ${count} elements`,
    );
  }
}

function fillFromVals<T>(vals: readonly T[], count: number, zero: () => T): T[] {
  if (vals.length === 0) return Array.from({ length: count }, zero);
  return Array.from({ length: count }, (_, i) => vals[Math.min(i, vals.length - 1)]!);
}

/** TensorShapeProto for a shape; -1 marks unknown dimensions, undefined an unknown rank. */
export function shapeProto(dims: Shape | undefined): TensorShapeProto {
  if (dims === undefined) return { unknown_rank: true };
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < -1) throw new TensorConversionError(`invalid dimension ${d} in shape [${dims.join(', ')}]`);
  }
  return { dim: dims.map((size) => ({ size })) };
}

/**
 * Shape of a TensorShapeProto: sizes with -1 for unknown dimensions, undefined for unknown rank.
 * A missing proto is a scalar (proto3 default), as in TensorFlow.
 */
export function shapeFromProto(proto: TensorShapeProto | null | undefined): number[] | undefined {
  if (!proto) return [];
  if (proto.unknown_rank) return undefined;
  return (proto.dim ?? []).map((d) => int64ToNumber(d.size));
}
