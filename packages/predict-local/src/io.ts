// Tensors in and out of a local model: what callers pass (InputValue) and get back (OutputTensor), and
// their conversions to and from TF.js tensors, shared by the engines.
import { dataTypeName, tfjsDtype, type TensorSpec } from '@tensorsky/saved-model';
import { PredictLocalError } from './errors.js';
import * as tf from './tf.js';

/**
 * A tensor as row-major values and a shape: how servers and files hold tensors, with no nested lists to
 * build and walk. Numbers in any typed array (converted to the input's dtype), bytes for DT_STRING.
 */
export interface FlatTensor {
  shape: readonly number[];
  values: ArrayLike<number> | readonly Uint8Array[];
}

/** A numeric tensor (nested arrays, typed array, tf.Tensor, FlatTensor), or for DT_STRING inputs strings/bytes. */
export type InputValue = tf.Tensor | tf.TensorLike | Uint8Array | (string | Uint8Array)[] | FlatTensor;

export function isFlatTensor(value: unknown): value is FlatTensor {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value) && 'shape' in value && 'values' in value;
}

export interface OutputTensor {
  /** TensorFlow dtype name from the signature, e.g. "DT_FLOAT". */
  dtype: string;
  shape: number[];
  /** Float32Array for floats, Int32Array for integer types (TF.js computes them as int32), Uint8Array of 0/1 for bools, bytes per element for strings. */
  data: Float32Array | Int32Array | Uint8Array | Uint8Array[];
}

export type MakeTensor = (values: tf.TensorLike, shape?: number[], dtype?: tf.DataType) => tf.Tensor;

export function toTensor(value: InputValue, spec: TensorSpec, make: MakeTensor): tf.Tensor {
  const dtype = tfjsDtype(spec.dtype);
  if (!dtype) throw new PredictLocalError(`input "${spec.alias}" has dtype ${dataTypeName(spec.dtype)}, which is not supported`);
  if (value instanceof tf.Tensor) {
    if (dtype === 'string' && value.dtype !== 'string') throw new PredictLocalError(`input "${spec.alias}" must be strings (DT_STRING)`);
    return dtype === 'string' || value.dtype === dtype ? value.clone() : tf.cast(value, dtype);
  }
  try {
    if (isFlatTensor(value)) return make(tfjsValues(value.values, dtype), [...value.shape], dtype);
    if (dtype !== 'string') return make(value, undefined, dtype);
    const scalar = typeof value === 'string' || value instanceof Uint8Array;
    return make(scalar ? [value] : value, scalar ? [] : undefined, 'string');
  } catch (err) {
    throw new PredictLocalError(`input "${spec.alias}" is not a valid ${dataTypeName(spec.dtype)} tensor: ${(err as Error).message}`);
  }
}

/** TF.js takes arrays, Float32Array, Int32Array and Uint8Array: other typed arrays (Float64Array, Int16Array...) are converted for `dtype`. */
function tfjsValues(values: FlatTensor['values'], dtype: tf.DataType): tf.TensorLike {
  if (Array.isArray(values) || values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array) return values as tf.TensorLike;
  const numbers = values as ArrayLike<number>;
  return dtype === 'int32' ? Int32Array.from(numbers) : dtype === 'bool' ? Uint8Array.from(numbers) : Float32Array.from(numbers);
}

/** A signature input's default (SignatureDef.defaults) as a tensor. */
export function defaultTensor(spec: TensorSpec): tf.Tensor {
  const { values, shape, dtype } = spec.defaultValue!;
  const tfjs = tfjsDtype(dtype);
  if (!tfjs) throw new PredictLocalError(`default of input "${spec.alias}" has dtype ${dataTypeName(dtype)}, which is not supported`);
  const flat = tfjs === 'string' ? (values as Uint8Array[]) : Array.from(values as ArrayLike<number | bigint | boolean>, Number);
  return tf.tensor(flat, shape, tfjs);
}

export function checkInputNames(inputs: Record<string, InputValue>, specs: TensorSpec[]): void {
  const expected = specs.map((s) => s.alias);
  const unknown = Object.keys(inputs).filter((k) => !expected.includes(k));
  // Own keys only: an input named "constructor" must not be found on Object.prototype.
  const missing = specs.filter((s) => !Object.hasOwn(inputs, s.alias) && !s.defaultValue).map((s) => s.alias);
  if (unknown.length || missing.length) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', unknown.length ? `unknown ${unknown.join(', ')}` : ''].filter(Boolean);
    throw new PredictLocalError(`inputs do not match the signature (${parts.join('; ')}); expected: ${expected.join(', ')}`);
  }
}

/** The graph inputs as TF.js tensors keyed by node name (given values, else the signature's defaults); the caller disposes them. */
export function feedTensors(inputs: Record<string, InputValue>, specs: TensorSpec[], nodeOf: (tensor: string) => string): Record<string, tf.Tensor> {
  const feeds: Record<string, tf.Tensor> = {};
  try {
    for (const s of specs) feeds[nodeOf(s.tensor)] = Object.hasOwn(inputs, s.alias) ? toTensor(inputs[s.alias], s, tf.tensor) : defaultTensor(s);
  } catch (err) {
    tf.dispose(Object.values(feeds));
    throw err;
  }
  return feeds;
}

export async function readOutput(t: tf.Tensor, spec: TensorSpec): Promise<OutputTensor> {
  const dtype = dataTypeName(spec.dtype);
  if (t.dtype === 'string') return { dtype, shape: t.shape, data: (await t.bytes()) as Uint8Array[] };
  const data = (await t.data()) as ArrayLike<number>;
  // TF.js may keep a cast tensor's original storage (an int32 → float32 Cast holds an Int32Array).
  if (t.dtype === 'float32') return { dtype, shape: t.shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
  if (t.dtype === 'int32') return { dtype, shape: t.shape, data: data instanceof Int32Array ? data : Int32Array.from(data) };
  return { dtype, shape: t.shape, data: Uint8Array.from(data) };
}
