// The tensors that travel between the HTTP front, the batching queue and the engine workers.
// Plain data (typed arrays, byte arrays) so they cross worker_threads by structured clone or transfer.
import { DataType, dtypeInfo, parseDataType, type NumberArrayConstructor } from '@tensorsky/saved-model';

/** TensorFlow dtype names the REST API can carry. */
export type DType =
  | 'DT_FLOAT'
  | 'DT_DOUBLE'
  | 'DT_HALF'
  | 'DT_BFLOAT16'
  | 'DT_INT8'
  | 'DT_INT16'
  | 'DT_INT32'
  | 'DT_INT64'
  | 'DT_UINT8'
  | 'DT_UINT16'
  | 'DT_UINT32'
  | 'DT_UINT64'
  | 'DT_BOOL'
  | 'DT_STRING';

export type NumericValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A dense tensor in row-major order. Numeric values use the typed array of `numericArrayFor(dtype)`:
 * DT_HALF/DT_BFLOAT16 widen to Float32Array, DT_INT64/DT_UINT64 use BigInt64Array/BigUint64Array (all
 * 64 bits, as TF Serving reads and writes them), DT_BOOL is a Uint8Array of 0/1. DT_STRING holds one
 * byte array per element.
 */
export interface Tensor {
  dtype: DType;
  shape: number[];
  values: NumericValues | Uint8Array[];
}

/** The REST API's numeric dtypes' facts, from saved-model's DataType table (see numericArrayFor). */
function numeric(dtype: string): { array: TypedArrayConstructor; range?: readonly [bigint, bigint] } | undefined {
  const t = dtype.startsWith('DT_') ? parseDataType(dtype) : undefined;
  const info = t === undefined ? undefined : dtypeInfo(t);
  if (!info?.numberArray) return undefined;
  // 64-bit integers keep every bit (BigInt arrays); the narrower types are plain numbers.
  const array = info.array === BigInt64Array || info.array === BigUint64Array ? info.array : info.numberArray;
  return { array, range: info.range };
}

type TypedArrayConstructor = NumberArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

/** Integer ranges the JSON parser enforces, as numbers for the types held in plain numbers. */
export const INTEGER_RANGES: Partial<Record<DType, [number, number]>> = Object.fromEntries(
  Object.keys(DataType).flatMap((name) => {
    const facts = numeric(name);
    return facts?.range && !isBigIntArray(facts.array) ? [[name, [Number(facts.range[0]), Number(facts.range[1])]]] : [];
  }),
);

/** The ranges of DT_INT64 and DT_UINT64, whose values are bigints. */
export const BIGINT_RANGES: Partial<Record<DType, readonly [bigint, bigint]>> = Object.fromEntries(
  Object.keys(DataType).flatMap((name) => {
    const facts = numeric(name);
    return facts?.range && isBigIntArray(facts.array) ? [[name, facts.range]] : [];
  }),
);

function isBigIntArray(array: TypedArrayConstructor): boolean {
  return array === BigInt64Array || array === BigUint64Array;
}

/** True for the values of DT_INT64 and DT_UINT64 tensors, which are bigints. */
export function isBigIntValues(values: Tensor['values']): values is BigInt64Array | BigUint64Array {
  return values instanceof BigInt64Array || values instanceof BigUint64Array;
}

export function isDType(name: string): name is DType {
  return name === 'DT_STRING' || numeric(name) !== undefined;
}

export function isStringTensor(t: Tensor): t is Tensor & { values: Uint8Array[] } {
  return t.dtype === 'DT_STRING';
}

export function numericArrayFor(dtype: Exclude<DType, 'DT_STRING'>, length: number): NumericValues {
  return new (numeric(dtype)!.array)(length);
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The size of dimension 0 when the tensor can be batched along it, else undefined (scalars). */
export function batchDim(t: Tensor): number | undefined {
  return t.shape.length > 0 ? t.shape[0] : undefined;
}

/** Concatenates tensors of one dtype whose shapes agree except in dimension 0. */
export function concatTensors(parts: Tensor[]): Tensor {
  const [first] = parts;
  if (parts.length === 1) return first;
  const shape = [parts.reduce((n, t) => n + t.shape[0], 0), ...first.shape.slice(1)];
  if (isStringTensor(first)) {
    return { dtype: first.dtype, shape, values: parts.flatMap((t) => t.values as Uint8Array[]) };
  }
  const values = numericArrayFor(first.dtype as Exclude<DType, 'DT_STRING'>, shapeSize(shape));
  let offset = 0;
  for (const t of parts) {
    const v = t.values as NumericValues;
    // Parts share the dtype, hence the array type (a BigInt array only with BigInt arrays).
    (values as { set(array: NumericValues, offset: number): void }).set(v, offset);
    offset += v.length;
  }
  return { dtype: first.dtype, shape, values };
}

/** Rows [start, end) of dimension 0. */
export function sliceRows(t: Tensor, start: number, end: number): Tensor {
  const rowSize = shapeSize(t.shape.slice(1));
  const shape = [end - start, ...t.shape.slice(1)];
  const values = t.values.slice(start * rowSize, end * rowSize) as Tensor['values'];
  return { dtype: t.dtype, shape, values };
}
