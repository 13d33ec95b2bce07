// Keras 3 `.keras` archives, as keras/src/saving/saving_lib.py writes them: a zip holding
//   metadata.json     {keras_version, date_saved}
//   config.json       serialize_keras_object(model): {module, class_name, config, registered_name, build_config, ...};
//                     layer configs in the same form, as Keras 3 also writes into .h5 (normalizeKerasConfig)
//   model.weights.h5  H5IOStore: every saveable's variables as datasets <inner path>/vars/0, 1, ...
//   assets/           (nothing an image classifier's layers use)
// The inner path follows _walk_saveable: a Functional or Sequential model yields its `layers` list first,
// and a list names each layer by its CLASS in snake case, numbered when repeated within that list
// (layers/conv2d, layers/conv2d_1, layers/batch_normalization, ...), not by the layer's own name; a nested
// model continues below its entry (layers/functional/layers/dense/vars/0). Sequential.layers leaves out
// its InputLayer, Functional.layers keeps it, and both follow the order of config.layers. A layer's
// variables are numbered trainable first, then non-trainable (BatchNormalization: gamma, beta,
// moving_mean, moving_variance), which is also the order of TF.js's layer.weights.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import h5wasm from 'h5wasm/node';
import type { Dataset, Group } from 'h5wasm/node';
import { getInFile, hdf5Reason, KerasH5Error, openH5, readFloatData } from './keras-h5.js';
import { checkSupportedLayers, MODEL_CLASSES, normalizeKerasConfig, type LayerJSON } from './layers-model.js';
import { PREPROCESSING_LAYERS, setInputPreprocessing, takeInputPreprocessing } from './preprocessing-layers.js';

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.weights.h5';

/** Rebuilds the model of a Keras 3 `.keras` archive and loads its weights from model.weights.h5. */
export async function loadKerasArchive(path: string): Promise<tf.LayersModel> {
  const files = await readArchive(path);
  if (files[CONFIG_FILE] === undefined) {
    throw new KerasArchiveError(`${path} has no ${CONFIG_FILE}; not a Keras 3 .keras archive`);
  }
  if (files[WEIGHTS_FILE] === undefined) {
    const npz = files['model.weights.npz'] !== undefined;
    throw new KerasArchiveError(
      npz
        ? `${path} holds its weights as model.weights.npz; tensorsky export reads ${WEIGHTS_FILE}, Keras's default: save with model.save('model.keras')`
        : `${path} has no ${WEIGHTS_FILE}; the archive is incomplete: save the model again with model.save('model.keras')`,
    );
  }
  let config: LayerJSON;
  try {
    config = JSON.parse(Buffer.from(files[CONFIG_FILE]).toString('utf8')) as LayerJSON;
  } catch (err) {
    throw new KerasArchiveError(`${path}: ${CONFIG_FILE} is not valid JSON (${(err as Error).message})`);
  }
  // TF.js reads a model from the config alone; the Keras 3 walk order needs the config as written.
  const walkConfig = structuredClone(config);
  normalizeKerasConfig(config);
  const preprocessing = takeInputPreprocessing(config, path);
  checkSupportedLayers(config, path);
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: config as tf.io.ModelJSON['modelTopology'] });
  } catch (err) {
    throw new KerasArchiveError(`${path}: cannot rebuild the model from ${CONFIG_FILE} (${String((err as Error)?.message ?? err).split('\n')[0]})`);
  }
  try {
    await loadArchiveWeights(model, walkConfig, files[WEIGHTS_FILE], `${path}:${WEIGHTS_FILE}`);
  } catch (err) {
    model.dispose();
    throw err;
  }
  setInputPreprocessing(model, preprocessing);
  return model;
}

/** The archive's config.json and weights files (other members, such as assets/, are not decompressed). */
async function readArchive(path: string): Promise<Record<string, Uint8Array>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KerasArchiveError(code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${(err as Error).message}`);
  }
  const wanted = new Set([CONFIG_FILE, WEIGHTS_FILE, 'model.weights.npz']);
  try {
    return unzipSync(bytes, { filter: (entry) => wanted.has(entry.name) });
  } catch (err) {
    throw new KerasArchiveError(`${path} is not a readable zip archive (${(err as Error).message}); save the model again with model.save('model.keras')`);
  }
}

/**
 * Assigns every layer's variables from the H5IOStore paths Keras 3 gives them (see the file comment).
 * Everything is read and checked before anything is assigned.
 */
async function loadArchiveWeights(model: tf.LayersModel, config: LayerJSON, weights: Uint8Array, label: string): Promise<void> {
  // h5wasm opens files by path only.
  const dir = await mkdtemp(join(tmpdir(), 'tensorsky-keras-'));
  const file = join(dir, WEIGHTS_FILE);
  await writeFile(file, weights);
  try {
    const h5 = await openH5(file);
    try {
      const assignments: { layer: tf.layers.Layer; values: tf.Tensor[] }[] = [];
      try {
        collect(h5, model, config, '', label, assignments);
      } catch (err) {
        assignments.forEach((a) => tf.dispose(a.values));
        if (err instanceof KerasArchiveError || err instanceof KerasH5Error) throw err;
        throw new KerasArchiveError(`${label}: cannot read the weights (${hdf5Reason(err)})`);
      }
      for (const { layer, values } of assignments) {
        layer.setWeights(values);
        tf.dispose(values);
      }
    } finally {
      h5.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function collect(
  h5: Group,
  model: tf.LayersModel,
  config: LayerJSON,
  inner: string,
  label: string,
  out: { layer: tf.layers.Layer; values: tf.Tensor[] }[],
): void {
  const configs = ((config.config as { layers?: LayerJSON[] }).layers ?? []).slice();
  if (config.class_name === 'Sequential' && configs[0]?.class_name === 'InputLayer') configs.shift();
  const used = new Map<string, number>();
  for (const layerConfig of configs) {
    const base = snakeCase(layerConfig.class_name ?? '');
    const count = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, count);
    const path = `${inner}layers/${count === 0 ? base : `${base}_${count}`}`;
    const name = (layerConfig.config as { name?: string }).name ?? '';
    // Input preprocessing layers taken out of the model (they have no variables) still count in the walk.
    if (!model.layers.some((l) => l.name === name) && PREPROCESSING_LAYERS.has(layerConfig.class_name ?? '')) continue;
    const layer = model.getLayer(name);
    if (MODEL_CLASSES.has(layerConfig.class_name ?? '')) {
      collect(h5, layer as tf.LayersModel, layerConfig, `${path}/`, label, out);
      continue;
    }
    const vars = getInFile(h5, `${path}/vars`, label);
    const stored = vars instanceof h5wasm.Group ? vars.keys().length : 0;
    if (stored !== layer.weights.length) {
      throw new KerasArchiveError(
        `${label}: layer '${name}' has ${layer.weights.length} weights, the file has ${stored} at ${path}/vars; the weights do not belong to this config.json`,
      );
    }
    const values = layer.weights.map((variable, i) => {
      const dataset = getInFile(vars as Group, String(i), label);
      const expected = variable.shape as number[];
      const shape = dataset instanceof h5wasm.Dataset ? (dataset.shape ?? []) : undefined;
      if (!shape || shape.length !== expected.length || shape.some((d, k) => d !== expected[k])) {
        throw new KerasArchiveError(
          `${label}: ${path}/vars/${i} has shape [${shape?.join(',') ?? 'missing'}], layer '${name}' expects [${expected.join(',')}] for ${variable.originalName}`,
        );
      }
      return tf.tensor(readFloatData(dataset as Dataset, `${label}: ${path}/vars/${i}`), expected, 'float32');
    });
    if (values.length > 0) out.push({ layer, values });
  }
}

/** keras.src.utils.naming.to_snake_case: "BatchNormalization" → "batch_normalization", "ReLU" → "re_lu". */
function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

export class KerasArchiveError extends Error {
  override name = 'KerasArchiveError';
}
