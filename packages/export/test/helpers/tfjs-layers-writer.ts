// Writes a TF.js layers model folder the way tensorflowjs_converter does (format 'layers-model'):
// model.json with modelTopology (the Keras config) and a weightsManifest, plus binary shards cut at a
// fixed byte size (tensors may span shards). With quantization 'uint8' each weight is stored as
// q = round((v - min) / scale), scale = (max - min) / 255, and its manifest entry carries
// quantization {dtype: 'uint8', min, scale, original_dtype: 'float32'}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NamedWeight } from './keras-models.js';

export interface WrittenWeight {
  name: string;
  shape: number[];
  /** The values TF.js must produce after dequantization (exact spec arithmetic, rounded to float32). */
  expected: Float32Array;
  /** Half a quantization step (0 for float32 weights). */
  tolerance: number;
}

export async function writeTfjsLayersModel(
  dir: string,
  modelTopology: unknown,
  weights: NamedWeight[],
  options: { quantization?: 'uint8'; shardBytes?: number } = {},
): Promise<WrittenWeight[]> {
  await mkdir(dir, { recursive: true });
  const specs: Record<string, unknown>[] = [];
  const chunks: Buffer[] = [];
  const written: WrittenWeight[] = [];
  for (const w of weights) {
    const name = `${w.layer}/${w.role}`;
    if (options.quantization === 'uint8') {
      let min = Infinity;
      let max = -Infinity;
      for (const v of w.data) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      const scale = max > min ? (max - min) / 255 : 1;
      const q = Uint8Array.from(w.data, (v) => Math.round((v - min) / scale));
      specs.push({ name, shape: w.shape, dtype: 'float32', quantization: { dtype: 'uint8', min, scale, original_dtype: 'float32' } });
      chunks.push(Buffer.from(q.buffer, q.byteOffset, q.byteLength));
      written.push({ name, shape: w.shape, expected: Float32Array.from(q, (v) => v * scale + min), tolerance: scale / 2 });
    } else {
      specs.push({ name, shape: w.shape, dtype: 'float32' });
      chunks.push(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength));
      written.push({ name, shape: w.shape, expected: w.data, tolerance: 0 });
    }
  }
  const all = Buffer.concat(chunks);
  const shardBytes = options.shardBytes ?? 4 * 1024 * 1024;
  const count = Math.max(1, Math.ceil(all.length / shardBytes));
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = `group1-shard${i + 1}of${count}.bin`;
    paths.push(path);
    await writeFile(join(dir, path), all.subarray(i * shardBytes, (i + 1) * shardBytes));
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'keras v2.13.1',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { keras_version: '2.13.1', backend: 'tensorflow', model_config: modelTopology },
    weightsManifest: [{ paths, weights: specs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
  return written;
}
