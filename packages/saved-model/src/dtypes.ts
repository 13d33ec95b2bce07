// The facts about TensorFlow's DataTypes that every package needs, in one table: byte width, the typed
// array holding the values, the TensorProto field they are written to, integer range, and the matching
// TF.js, ONNX and ONNX Runtime types. Everything else asks the small functions below.
import { DataType, REF_OFFSET } from './proto.js';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int32ArrayConstructor
  | Int16ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** Typed arrays of plain numbers (no bigint). */
export type NumberArray = Exclude<TypedArray, BigInt64Array | BigUint64Array>;
export type NumberArrayConstructor = Exclude<TypedArrayConstructor, BigInt64ArrayConstructor | BigUint64ArrayConstructor>;

/** TF.js's dtypes (tfjs computes every integer type as int32 and every float type as float32). */
export type TfjsDtype = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
/** onnxruntime-common's Tensor type names for the types we hand to ONNX Runtime. */
export type OrtType = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'bool';
/** Repeated TensorProto fields numeric values are written to when tensor_content is not used. */
export type TensorProtoField = 'float_val' | 'double_val' | 'int_val' | 'int64_val' | 'uint32_val' | 'uint64_val';

export interface DTypeInfo {
  /** TensorFlow's Python name (tf.uint8.name): 'float32', 'uint8', 'bool', 'string', ... */
  name: string;
  /** Bytes per element in tensor_content and checkpoints (fixed-width types only). */
  size?: number;
  /** Typed array of the stored values (the element type itself; complex as interleaved parts). */
  array?: TypedArrayConstructor;
  /** Typed array of plain numbers holding the values: 64-bit integers as doubles (exact to 2^53), 16-bit floats widened, bool as 0/1. */
  numberArray?: NumberArrayConstructor;
  /** TensorProto field for *_val values; set for the numeric types our TensorProto conversion handles. */
  protoField?: TensorProtoField;
  /** Integer range [min, max]. */
  range?: readonly [bigint, bigint];
  tfjs?: TfjsDtype;
  /** ONNX TensorProto.DataType number. */
  onnx?: number;
  ort?: OrtType;
}

const int = (bits: number, signed: boolean): readonly [bigint, bigint] =>
  signed ? [-(2n ** BigInt(bits - 1)), 2n ** BigInt(bits - 1) - 1n] : [0n, 2n ** BigInt(bits) - 1n];

// ONNX TensorProto.DataType: FLOAT 1, UINT8 2, INT8 3, UINT16 4, INT16 5, INT32 6, INT64 7, STRING 8,
// BOOL 9, FLOAT16 10, DOUBLE 11, UINT32 12, UINT64 13.
const DTYPES: Partial<Record<DataType, DTypeInfo>> = {
  [DataType.DT_FLOAT]: { name: 'float32', size: 4, array: Float32Array, numberArray: Float32Array, protoField: 'float_val', tfjs: 'float32', onnx: 1, ort: 'float32' },
  [DataType.DT_DOUBLE]: { name: 'float64', size: 8, array: Float64Array, numberArray: Float64Array, protoField: 'double_val', tfjs: 'float32', onnx: 11, ort: 'float64' },
  [DataType.DT_HALF]: { name: 'float16', size: 2, numberArray: Float32Array, tfjs: 'float32', onnx: 10 },
  [DataType.DT_BFLOAT16]: { name: 'bfloat16', size: 2, numberArray: Float32Array, tfjs: 'float32' },
  [DataType.DT_INT32]: { name: 'int32', size: 4, array: Int32Array, numberArray: Int32Array, protoField: 'int_val', range: int(32, true), tfjs: 'int32', onnx: 6, ort: 'int32' },
  [DataType.DT_INT16]: { name: 'int16', size: 2, array: Int16Array, numberArray: Int16Array, protoField: 'int_val', range: int(16, true), tfjs: 'int32', onnx: 5, ort: 'int16' },
  [DataType.DT_INT8]: { name: 'int8', size: 1, array: Int8Array, numberArray: Int8Array, protoField: 'int_val', range: int(8, true), tfjs: 'int32', onnx: 3, ort: 'int8' },
  [DataType.DT_UINT8]: { name: 'uint8', size: 1, array: Uint8Array, numberArray: Uint8Array, protoField: 'int_val', range: int(8, false), tfjs: 'int32', onnx: 2, ort: 'uint8' },
  [DataType.DT_UINT16]: { name: 'uint16', size: 2, array: Uint16Array, numberArray: Uint16Array, protoField: 'int_val', range: int(16, false), tfjs: 'int32', onnx: 4, ort: 'uint16' },
  [DataType.DT_UINT32]: { name: 'uint32', size: 4, array: Uint32Array, numberArray: Uint32Array, protoField: 'uint32_val', range: int(32, false), tfjs: 'int32', onnx: 12 },
  [DataType.DT_INT64]: { name: 'int64', size: 8, array: BigInt64Array, numberArray: Float64Array, protoField: 'int64_val', range: int(64, true), tfjs: 'int32', onnx: 7, ort: 'int64' },
  [DataType.DT_UINT64]: { name: 'uint64', size: 8, array: BigUint64Array, numberArray: Float64Array, protoField: 'uint64_val', range: int(64, false), tfjs: 'int32', onnx: 13 },
  [DataType.DT_BOOL]: { name: 'bool', size: 1, array: Uint8Array, numberArray: Uint8Array, tfjs: 'bool', onnx: 9, ort: 'bool' },
  [DataType.DT_STRING]: { name: 'string', tfjs: 'string' },
  [DataType.DT_COMPLEX64]: { name: 'complex64', size: 8, array: Float32Array, tfjs: 'complex64' },
  [DataType.DT_COMPLEX128]: { name: 'complex128', size: 16, array: Float64Array },
  [DataType.DT_QINT8]: { name: 'qint8', size: 1, array: Int8Array },
  [DataType.DT_QUINT8]: { name: 'quint8', size: 1, array: Uint8Array },
  [DataType.DT_QINT16]: { name: 'qint16', size: 2, array: Int16Array },
  [DataType.DT_QUINT16]: { name: 'quint16', size: 2, array: Uint16Array },
  [DataType.DT_QINT32]: { name: 'qint32', size: 4, array: Int32Array },
};

const NONE: DTypeInfo = { name: '' };

/** What is known of a DataType (nothing, name '', for types nothing here handles). */
export function dtypeInfo(dtype: DataType): DTypeInfo {
  return DTYPES[dtype] ?? NONE;
}

/** A reference type's value type (DT_FLOAT_REF → DT_FLOAT); others stay. */
export function baseType(dtype: DataType): DataType {
  return dtype > REF_OFFSET ? dtype - REF_OFFSET : dtype;
}

/** The TF.js dtype that carries a DataType's values, if any. */
export function tfjsDtype(dtype: DataType): TfjsDtype | undefined {
  return dtypeInfo(dtype).tfjs;
}

/** A zero-filled typed array of the DataType's element type; undefined for types without one. */
export function typedArrayFor(dtype: DataType, length: number): TypedArray | undefined {
  const ctor = dtypeInfo(dtype).array;
  return ctor ? new ctor(length) : undefined;
}

/**
 * The DataType a typed array holds: Float32Array → DT_FLOAT, Uint8Array → DT_UINT8, BigInt64Array →
 * DT_INT64 and so on (the plain type where several share an array, e.g. DT_UINT8, not DT_BOOL).
 */
export function dtypeOfArray(values: ArrayBufferView): DataType | undefined {
  return ARRAY_DTYPES.find(([ctor]) => values instanceof ctor)?.[1];
}

const ARRAY_DTYPES: readonly (readonly [TypedArrayConstructor, DataType])[] = (
  [
    DataType.DT_FLOAT,
    DataType.DT_DOUBLE,
    DataType.DT_INT32,
    DataType.DT_INT16,
    DataType.DT_INT8,
    DataType.DT_UINT8,
    DataType.DT_UINT16,
    DataType.DT_UINT32,
    DataType.DT_INT64,
    DataType.DT_UINT64,
  ] as const
).map((dt) => [DTYPES[dt]!.array!, dt] as const);

/**
 * How narrowing a value to an integer type below 32 bits wraps (TensorFlow's static_cast): y =
 * ((x + offset) mod modulus) - offset. Undefined for other types.
 */
export function integerWrap(dtype: DataType): { modulus: number; offset: number } | undefined {
  const { range, size } = dtypeInfo(dtype);
  if (!range || size === undefined || size >= 4) return undefined;
  return { modulus: 2 ** (8 * size), offset: Number(-range[0]) };
}
