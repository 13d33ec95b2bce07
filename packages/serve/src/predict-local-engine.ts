// The default engine: @tensorsky/predict-local, loaded inside each worker thread. predict-local loads one
// signature at a time, so a version loads every signature up front (its files may disappear later);
// a signature predict-local cannot run is reported when a request asks for it.
import type { ImageLimits } from '@tensorsky/image';
import { loadModel, type Backend, type FlatTensor, type LocalModel, type OutputTensor } from '@tensorsky/predict-local';
import { readSignatureMetadata, type CreateEngine, type ImageInputMap, type LoadedModel } from './engine.js';
import { ServeError, errorMessage, notFound } from './errors.js';
import { isBigIntValues, isDType, isStringTensor, numericArrayFor, shapeSize, type NumericValues, type Tensor } from './tensor.js';

const DEFAULT_SIGNATURE = 'serving_default';

export const createEngine: CreateEngine = (options) => {
  const backend = (options.backend ?? 'auto') as Backend;
  // One thread per worker unless asked: the workers (one per core) already share the cores, and with
  // ONNX Runtime 2 workers x 1 thread served 1.3x the images/s of 2 x 2 at concurrency 16 (npm run bench).
  const threads = typeof options.threads === 'number' ? options.threads : 1;
  // Workers share the cores: ONNX Runtime's idle threads must not spin while a neighbour computes.
  const spinning = false;
  const imageLimits = options.imageLimits as Partial<ImageLimits> | undefined;
  return {
    async load(dir: string): Promise<LoadedModel> {
      const signatures = await readSignatureMetadata(dir);
      const models = new Map<string, LocalModel>();
      const failures = new Map<string, string>();
      for (const key of Object.keys(signatures)) {
        try {
          models.set(key, await loadModel(dir, { backend, signature: key, threads, spinning, imageLimits }));
        } catch (err) {
          failures.set(key, errorMessage(err));
        }
      }
      const fatal = failures.get(DEFAULT_SIGNATURE) ?? (models.size === 0 ? [...failures.values()][0] : undefined);
      if (fatal !== undefined) {
        for (const model of models.values()) model.dispose();
        throw new Error(models.size === 0 && !failures.has(DEFAULT_SIGNATURE) ? fatal : `signature ${DEFAULT_SIGNATURE}: ${fatal}`);
      }
      const imageInputs: ImageInputMap = {};
      for (const [key, model] of models) {
        const images = model.signature.inputs.filter((input) => input.encoding).map((input) => [input.name, input.encoding!] as const);
        if (images.length > 0) imageInputs[key] = Object.fromEntries(images);
      }
      const notes = [...models].map(([key, m]) => `signature ${key} runs on engine ${m.backend}${m.fallback ? ` (${m.fallback})` : ''}${m.onnx?.note ? ` (${m.onnx.note})` : ''}`);
      return {
        signatures,
        imageInputs,
        notes,
        async predict(signatureName, inputs) {
          const model = models.get(signatureName);
          if (!model) {
            const failure = failures.get(signatureName);
            if (failure !== undefined) throw new ServeError(501, `signature '${signatureName}' cannot run on this server: ${failure}`);
            throw notFound(`Serving signature name: "${signatureName}" not found in signature def`);
          }
          const feeds = Object.fromEntries(Object.entries(inputs).map(([alias, t]) => [alias, flatTensor(t)]));
          const outputs = await model.predict(feeds);
          return Object.fromEntries(Object.entries(outputs).map(([alias, t]) => [alias, toTensor(t, alias)]));
        },
        dispose() {
          for (const model of models.values()) model.dispose();
        },
      };
    },
  };
};

/** A served tensor as predict-local takes it, without copying (int64 values become the nearest double: predict-local's kernels compute int64 narrower still). */
function flatTensor(t: Tensor): FlatTensor {
  if (isStringTensor(t)) return { shape: t.shape, values: t.values as Uint8Array[] };
  const values = t.values as NumericValues;
  return { shape: t.shape, values: isBigIntValues(values) ? Float64Array.from(values, Number) : values };
}

/** predict-local's output (int32 for every integer type) in serve's typed-array convention. */
function toTensor(output: OutputTensor, alias: string): Tensor {
  const dtype = output.dtype;
  if (!isDType(dtype)) throw new Error(`output '${alias}' has dtype ${dtype}, which the REST API cannot carry`);
  if (dtype === 'DT_STRING') return { dtype, shape: output.shape, values: output.data as Uint8Array[] };
  const values = numericArrayFor(dtype, shapeSize(output.shape));
  const data = output.data as NumericValues;
  if (isBigIntValues(values)) {
    for (let i = 0; i < values.length; i++) values[i] = BigInt(data[i]);
  } else values.set(data as Exclude<NumericValues, BigInt64Array | BigUint64Array>);
  return { dtype, shape: output.shape, values };
}
