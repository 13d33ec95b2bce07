// What TF.js layers models and graph models share: model.json, and the weightsManifest that lists binary
// shards (read only from the model's folder, only up to the bytes the manifest describes) holding the
// weights back to back, each stored as its entry says: its dtype, or quantization {dtype: 'uint8' |
// 'uint16', scale, min} (value = q * scale + min) or {dtype: 'float16'} (tfjs-converter's
// --quantize_uint8 / --quantize_uint16 / --quantize_float16).
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { readModelFile } from '@tensorsky/saved-model';

export interface ModelJSONFile {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  signature?: unknown;
  trainingConfig?: unknown;
}

/** Reads model.json at `path` (the file, or a folder holding it). */
export async function readModelJson(path: string): Promise<{ modelJsonPath: string; json: ModelJSONFile }> {
  const modelJsonPath = (await isDirectory(path)) ? join(path, 'model.json') : path;
  try {
    return { modelJsonPath, json: JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJSONFile };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TfjsModelError(
      code === 'ENOENT' ? `${modelJsonPath} does not exist` : `${modelJsonPath} is not a TF.js model.json (${(err as Error).message.split('\n')[0]})`,
    );
  }
}

/** A model.json and its weights as TF.js's own loaders take them (tf.loadLayersModel / tf.loadGraphModel). */
export function modelArtifacts(json: ModelJSONFile, weightSpecs: tf.io.WeightsManifestEntry[], weightData: ArrayBuffer): tf.io.ModelArtifacts {
  return {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    ...(json.signature ? { signature: json.signature as tf.io.ModelArtifacts['signature'] } : {}),
  };
}

/** The manifest's weight entries and their shards' bytes, checked against each other. */
export async function readWeightData(json: ModelJSONFile, modelJsonPath: string): Promise<{ weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }> {
  const weightSpecs = (json.weightsManifest ?? []).flatMap((group) => group.weights);
  const expectedBytes = weightSpecs.reduce((sum, spec) => sum + specByteLength(spec, modelJsonPath), 0);
  const shards: Buffer[] = [];
  let readBytes = 0;
  for (const shardPath of (json.weightsManifest ?? []).flatMap((group) => group.paths)) {
    const shard = await readModelFile(dirname(modelJsonPath), shardPath, { source: modelJsonPath, what: 'weight file', maxBytes: expectedBytes - readBytes });
    shards.push(shard);
    readBytes += shard.length;
  }
  const weightData = Buffer.concat(shards);
  if (expectedBytes !== weightData.length) {
    throw new TfjsModelError(
      `${modelJsonPath}: weight files hold ${weightData.length} bytes, the weightsManifest describes ${expectedBytes}; the shards are incomplete or do not belong to this model.json`,
    );
  }
  return { weightSpecs, weightData: new Uint8Array(weightData).buffer };
}

export interface DecodedWeight {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/** Every weight by name, dequantized to its original dtype. */
export function decodeWeights(specs: tf.io.WeightsManifestEntry[], weightData: ArrayBuffer, source: string): Map<string, DecodedWeight> {
  const weights = new Map<string, DecodedWeight>();
  const data = Buffer.from(weightData);
  let offset = 0;
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = specByteLength(spec, source);
    const chunk = data.subarray(offset, offset + bytes);
    offset += bytes;
    const q = spec.quantization;
    const dtype = spec.dtype as DecodedWeight['dtype'];
    let values: DecodedWeight['values'];
    if (q?.dtype === 'float16') {
      values = Float32Array.from({ length: size }, (_, i) => halfToFloat(chunk.readUInt16LE(2 * i)));
    } else if (q?.dtype === 'uint8' || q?.dtype === 'uint16') {
      const { scale, min } = q as { scale?: number; min?: number };
      if (scale === undefined || min === undefined) throw new TfjsModelError(`${source}: weight ${spec.name} is ${q.dtype}-quantized without scale and min`);
      const read = (i: number) => (q.dtype === 'uint8' ? chunk[i] : chunk.readUInt16LE(2 * i));
      values = Float32Array.from({ length: size }, (_, i) => read(i) * scale + min);
    } else {
      const copy = new Uint8Array(chunk); // aligned for the typed array
      values = dtype === 'float32' ? new Float32Array(copy.buffer) : dtype === 'int32' ? new Int32Array(copy.buffer) : copy;
    }
    // Integer weights quantized as floats come back to integers (TF.js rounds them the same way).
    if (q && dtype === 'int32') values = Int32Array.from(values, Math.round);
    weights.set(spec.name, { dtype, shape: spec.shape, values });
  }
  return weights;
}

/** IEEE 754 half precision to a number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function specByteLength(spec: tf.io.WeightsManifestEntry, source: string): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = DTYPE_BYTES[dtype];
  if (bytes === undefined || !(spec.dtype in DTYPE_BYTES)) {
    throw new TfjsModelError(`${source}: weight ${spec.name} has dtype ${dtype}, which tensorsky export does not support`);
  }
  return spec.shape.reduce((a, b) => a * b, 1) * bytes;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export class TfjsModelError extends Error {
  override name = 'TfjsModelError';
}
