// TF Serving's REST encoding of tensors (its json_tensor.cc rules): request bodies in row ("instances")
// or columnar ("inputs") form become typed tensors for a signature, and outputs become "predictions" or
// "outputs" shaped the way TF Serving shapes them.
import { Base64Error, fromStandardBase64, isBinaryAlias, toBase64 } from '@tensorsky/saved-model';
import type { SignatureMetadata } from './engine.js';
import { invalidArgument, shown } from './errors.js';
import { JsonFloat, JsonNumber } from './json.js';
import {
  BIGINT_RANGES,
  INTEGER_RANGES,
  isDType,
  numericArrayFor,
  shapeSize,
  type DType,
  type NumericValues,
  type Tensor,
} from './tensor.js';

export type RequestFormat = 'row' | 'columnar';

export interface PredictRequest {
  /** "" when the request names no signature (serving_default is used). */
  signatureName: string;
  format: RequestFormat;
  /** The value of "instances" (row) or "inputs" (columnar). */
  payload: unknown;
}

/** TensorFlow's own limit on tensor rank is far above any real model; this stops pathological nesting. */
const MAX_RANK = 32;

/** Validates the top level of a :predict body (TF Serving's keys and messages). */
export function readPredictRequest(body: unknown): PredictRequest {
  if (!isPlainObject(body)) {
    throw invalidArgument('the request body must be a JSON object with "instances" (row format) or "inputs" (columnar format)');
  }
  const signatureName = body.signature_name ?? '';
  if (typeof signatureName !== 'string') throw invalidArgument('"signature_name" must be a string');
  const hasInstances = 'instances' in body;
  const hasInputs = 'inputs' in body;
  if (hasInstances && hasInputs) {
    throw invalidArgument('Not formatted correctly: expecting only one of "inputs" or "instances" keys, found both');
  }
  if (!hasInstances && !hasInputs) throw invalidArgument('Missing "inputs" or "instances" key');
  if (hasInstances) {
    if (!Array.isArray(body.instances)) throw invalidArgument('"instances" must be a list, one entry per example');
    if (body.instances.length === 0) throw invalidArgument('"instances" is empty; send at least one example');
    return { signatureName, format: 'row', payload: body.instances };
  }
  return { signatureName, format: 'columnar', payload: body.inputs };
}

/** Converts the request payload into one tensor per signature input, checking names, types and shapes. */
export function requestTensors(request: PredictRequest, signature: SignatureMetadata, signatureName: string): Record<string, Tensor> {
  const inputNames = Object.keys(signature.inputs);
  const dtypeOf = (name: string): DType => {
    const dtype = signature.inputs[name].dtype;
    if (!isDType(dtype)) throw invalidArgument(`input '${name}' has dtype ${dtype}, which the REST API cannot carry`);
    return dtype;
  };
  const single = (): string => {
    if (inputNames.length !== 1) {
      throw invalidArgument(
        `signature '${signatureName}' takes ${inputNames.length} inputs (${inputNames.join(', ')}); ` +
          `send ${request.format === 'row' ? 'each instance' : '"inputs"'} as an object keyed by input name`,
      );
    }
    return inputNames[0];
  };
  const checkNames = (names: string[]): void => {
    for (const name of names) {
      if (!(name in signature.inputs)) {
        throw invalidArgument(`signature '${signatureName}' has no input '${shown(name)}'; its inputs are: ${inputNames.join(', ')}`);
      }
    }
    const missing = inputNames.filter((name) => !names.includes(name));
    if (missing.length > 0) throw invalidArgument(`missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')} of signature '${signatureName}'`);
  };

  const tensors: Record<string, Tensor> = {};
  if (request.format === 'row') {
    const instances = request.payload as unknown[];
    const first = instances[0];
    if (!isPlainObject(first) || isB64Object(first)) {
      const name = single();
      tensors[name] = checkStringRank(jsonToTensor(instances, dtypeOf(name), '"instances"'), signature.inputs[name], '"instances"');
      return tensors;
    }
    const names = Object.keys(first);
    checkNames(names);
    instances.forEach((instance, i) => {
      if (!isPlainObject(instance) || isB64Object(instance) || !sameKeys(instance, names)) {
        throw invalidArgument(`instance ${i} does not have the same input names as instance 0 (${names.join(', ')})`);
      }
    });
    for (const name of names) {
      const where = `input '${name}'`;
      tensors[name] = checkStringRank(jsonToTensor(instances.map((instance) => (instance as Record<string, unknown>)[name]), dtypeOf(name), where), signature.inputs[name], where);
    }
    return tensors;
  }
  const inputs = request.payload;
  // An empty batch would reach the graph and fail there with an index error the client cannot place.
  const empty = (value: unknown) => Array.isArray(value) && value.length === 0;
  if (empty(inputs)) throw invalidArgument('"inputs" is an empty list; send at least one example');
  if (!isPlainObject(inputs) || isB64Object(inputs)) {
    const name = single();
    tensors[name] = checkStringRank(jsonToTensor(inputs, dtypeOf(name), '"inputs"'), signature.inputs[name], '"inputs"');
    return tensors;
  }
  // TF Serving's FillTensorMapFromInputsMap looks up each input of the signature and ignores other keys.
  const missing = inputNames.filter((name) => !(name in inputs));
  if (missing.length > 0) throw invalidArgument(`Missing named input${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} in 'inputs' object (signature '${signatureName}')`);
  for (const name of inputNames) {
    const value = inputs[name];
    const where = `input '${name}'`;
    if (empty(value)) throw invalidArgument(`${where} is an empty list; send at least one example`);
    tensors[name] = checkStringRank(jsonToTensor(value, dtypeOf(name), where), signature.inputs[name], where);
  }
  return tensors;
}

/**
 * A DT_STRING input must have the rank its signature declares: TensorFlow holds numeric inputs to no
 * shape (TF Serving's half_plus_two takes [3] for [-1, 1]), but strings of the wrong rank reach
 * decoders and slices whose errors ("slice index 0 of dimension 0 out of bounds") say nothing to a client.
 */
function checkStringRank(tensor: Tensor, info: SignatureMetadata['inputs'][string], where: string): Tensor {
  const declared = info.tensor_shape.dim.map((d) => Number(d.size));
  if (tensor.dtype !== 'DT_STRING' || info.tensor_shape.unknown_rank || declared.length === tensor.shape.length) return tensor;
  const shape = `[${declared.join(', ')}]`;
  const got = tensor.shape.length === 0 ? 'a single value' : `shape [${tensor.shape.join(', ')}]`;
  const hint = declared.length === 1 && tensor.shape.length === 0 ? ': send a list, one element per example' : '';
  throw invalidArgument(`${where} takes shape ${shape}, got ${got}${hint}`);
}

/** A (possibly nested) JSON list of scalars, strings or {"b64": ...} objects as a dense tensor. */
export function jsonToTensor(value: unknown, dtype: DType, where: string): Tensor {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) {
    shape.push(v.length);
    if (shape.length > MAX_RANK) throw invalidArgument(`${where} is nested more than ${MAX_RANK} levels deep`);
    if (v.length === 0) break;
  }
  const leaves: unknown[] = [];
  collectLeaves(value, shape, 0, leaves, where);
  if (dtype === 'DT_STRING') return { dtype, shape, values: leaves.map((leaf, i) => stringBytes(leaf, where, i)) };
  const values = numericArrayFor(dtype, shapeSize(shape));
  const range = INTEGER_RANGES[dtype];
  const wideRange = BIGINT_RANGES[dtype];
  if (wideRange) return { dtype, shape, values: bigIntValues(leaves, values as BigInt64Array | BigUint64Array, wideRange, dtype, where) };
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i];
    if (dtype === 'DT_BOOL') {
      if (typeof leaf !== 'boolean') throw typeError(where, dtype, leaf, 'true or false');
      values[i] = leaf ? 1 : 0;
    } else if (!(leaf instanceof JsonNumber)) {
      throw typeError(where, dtype, leaf, 'a number');
    } else if (FLOAT_TYPES.has(dtype)) {
      // json_tensor.cc's AddValueToTensor takes any number for a float (GetFloat(): a cast, so 1e39 is
      // Infinity and 16777217 is 16777216); the typed array does the same rounding.
      values[i] = leaf.value;
    } else if (!leaf.isInteger) {
      // rapidjson reads 3.0 and 3e0 as doubles, which no integer input takes (TF Serving's TypeError).
      throw typeError(where, dtype, leaf, 'an integer');
    } else if (range && !(leaf.value >= range[0] && leaf.value <= range[1])) {
      throw invalidArgument(`${where} must hold integers in [${range[0]}, ${range[1]}] for ${dtype}; got ${leaf.text}`);
    } else {
      values[i] = leaf.value;
    }
  }
  return { dtype, shape, values };
}

/**
 * DT_INT64 / DT_UINT64 leaves read from their digits, as rapidjson's GetInt64/GetUint64 do, so that
 * 2^53 + 1 stays 2^53 + 1 (a double would make it 2^53).
 */
function bigIntValues(
  leaves: unknown[],
  values: BigInt64Array | BigUint64Array,
  [min, max]: readonly [bigint, bigint],
  dtype: DType,
  where: string,
): BigInt64Array | BigUint64Array {
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i];
    if (!(leaf instanceof JsonNumber)) throw typeError(where, dtype, leaf, 'a number');
    if (!leaf.isInteger) throw typeError(where, dtype, leaf, 'an integer');
    const value = BigInt(leaf.text);
    if (value < min || value > max) throw invalidArgument(`${where} must hold integers in [${min}, ${max}] for ${dtype}; got ${leaf.text}`);
    values[i] = value;
  }
  return values;
}

/**
 * Dtypes that take any JSON number. TF Serving refused integers and decimals a float cannot hold "without
 * loss of precision" until 2021 (tensorflow/serving 57dac6cd, in 2.5 and later): now it converts them,
 * and its tests (json_tensor_test.cc FloatTensorWithPrecisionLoss, FloatTensorThatExceedsMaxReturnsInf)
 * require 1435774380 to be taken and DBL_MAX to become inf.
 */
const FLOAT_TYPES: ReadonlySet<DType> = new Set(['DT_FLOAT', 'DT_HALF', 'DT_BFLOAT16', 'DT_DOUBLE']);

function collectLeaves(value: unknown, shape: number[], depth: number, out: unknown[], where: string): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) throw ragged(where);
    out.push(value);
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) throw ragged(where);
  for (const v of value) collectLeaves(v, shape, depth + 1, out, where);
}

const ragged = (where: string) =>
  invalidArgument(`${where} is not a dense tensor: lists at the same depth must have the same length`);

function typeError(where: string, dtype: DType, leaf: unknown, wanted: string) {
  const got =
    leaf === null ? 'null'
    : leaf instanceof JsonNumber ? `the number ${leaf.text}`
    : isB64Object(leaf) ? 'a {"b64": ...} object'
    : Array.isArray(leaf) ? 'a list'
    : `a ${typeof leaf}`;
  const hint = isB64Object(leaf) ? ' ({"b64": ...} is only for DT_STRING inputs)' : '';
  return invalidArgument(`${where} has dtype ${dtype} and needs ${wanted}, got ${got}${hint}`);
}

function stringBytes(leaf: unknown, where: string, index: number): Uint8Array {
  if (typeof leaf === 'string') return new TextEncoder().encode(leaf);
  if (!isB64Object(leaf)) {
    throw invalidArgument(`${where} has dtype DT_STRING and needs strings or {"b64": "..."} objects, got ${leaf === null ? 'null' : leaf instanceof JsonNumber ? 'number' : typeof leaf}`);
  }
  try {
    if (typeof leaf.b64 !== 'string') throw new Base64Error('not a string');
    return fromStandardBase64(leaf.b64);
  } catch (err) {
    if (!(err instanceof Base64Error)) throw err;
    throw invalidArgument(`${where}: element ${index} is not valid base64 ("b64" takes the standard alphabet A-Z a-z 0-9 + / with optional = padding)`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

function isB64Object(v: unknown): v is { b64: unknown } {
  return isPlainObject(v) && 'b64' in v && Object.keys(v).length === 1;
}

function sameKeys(obj: Record<string, unknown>, names: string[]): boolean {
  const keys = Object.keys(obj);
  return keys.length === names.length && names.every((n) => n in obj);
}

/**
 * The response body for outputs keyed by alias. Row format: {"predictions": [...]}, one entry per
 * example, each the output's row (one output) or an object of rows (several). Columnar: {"outputs": v}
 * with the whole tensor (one output) or an object of tensors (several).
 */
export function predictResponse(format: RequestFormat, outputs: Record<string, Tensor>): Record<string, unknown> {
  const names = Object.keys(outputs);
  if (format === 'columnar') {
    if (names.length === 1) return { outputs: tensorToJson(outputs[names[0]], names[0]) };
    return { outputs: Object.fromEntries(names.map((n) => [n, tensorToJson(outputs[n], n)])) };
  }
  let batch: number | undefined;
  for (const name of names) {
    const shape = outputs[name].shape;
    if (shape.length === 0) throw invalidArgument(`output '${name}' is a scalar; row format needs a batch dimension (use "inputs" for columnar format)`);
    if (batch !== undefined && shape[0] !== batch) {
      throw invalidArgument(`output '${name}' has batch size ${shape[0]}, expecting ${batch} like the other outputs; use "inputs" (columnar format)`);
    }
    batch = shape[0];
  }
  if (names.length === 1) return { predictions: tensorToJson(outputs[names[0]], names[0]) };
  const rows = names.map((n) => tensorToJson(outputs[n], n) as unknown[]);
  const predictions = Array.from({ length: batch ?? 0 }, (_, i) => Object.fromEntries(names.map((n, k) => [n, rows[k][i]])));
  return { predictions };
}

/**
 * A tensor as nested JSON lists. DT_STRING outputs whose alias ends in "_bytes" become {"b64": ...}
 * (TF Serving's convention), other strings are UTF-8 text. Floats are JsonFloat, written as TF Serving writes them.
 */
export function tensorToJson(t: Tensor, alias: string): unknown {
  const leaf = leafWriter(t, alias);
  const build = (depth: number, offset: number): unknown => {
    if (depth === t.shape.length) return leaf(offset);
    const stride = shapeSize(t.shape.slice(depth + 1));
    return Array.from({ length: t.shape[depth] }, (_, i) => build(depth + 1, offset + i * stride));
  };
  return build(0, 0);
}

function leafWriter(t: Tensor, alias: string): (i: number) => unknown {
  if (t.dtype === 'DT_STRING') {
    const values = t.values as Uint8Array[];
    if (isBinaryAlias(alias)) return (i) => ({ b64: toBase64(values[i], 'standard') });
    const decoder = new TextDecoder();
    return (i) => decoder.decode(values[i]);
  }
  const values = t.values as NumericValues;
  if (t.dtype === 'DT_BOOL') return (i) => values[i] !== 0;
  if (t.dtype === 'DT_FLOAT' || t.dtype === 'DT_HALF' || t.dtype === 'DT_BFLOAT16') return (i) => new JsonFloat(values[i] as number, 'float');
  if (t.dtype === 'DT_DOUBLE') return (i) => new JsonFloat(values[i] as number, 'double');
  // int64 and uint64 are bigints, written with all their digits (rapidjson's Writer::Int64 / Uint64).
  return (i) => values[i];
}
