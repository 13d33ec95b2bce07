// `--preprocess_from`: the preprocessing a Keras model carries as layers right after its input
// (Resizing, CenterCrop, Rescaling, Normalization), read from its Keras config so the serving graph can
// do the same without the user restating it. The config comes from a .keras archive (config.json), a
// Keras .h5 (model_config), a TF.js model.json (modelTopology), or a JSON file holding a Keras model
// config or a list of layer configs.
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { inspectKerasH5 } from './keras-h5.js';
import { PreprocessFromError, preprocessingFromLayers, type LayerConfig, type ModelPreprocessing } from './preprocessing-layers.js';

/** Reads the preprocessing layers of the model at `path` (a model file, a folder holding one, or a JSON file). */
export async function readModelPreprocessing(path: string): Promise<ModelPreprocessing> {
  const file = await modelFile(path);
  return preprocessingFromLayers(await readLayers(file), file);
}

async function modelFile(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new PreprocessFromError(`--preprocess_from ${path}: no such file or directory`);
  if (!info.isDirectory()) return path;
  const names = (await readdir(path)).sort();
  const found =
    names.find((n) => n.endsWith('.keras')) ?? names.find((n) => n === 'model.json') ?? names.find((n) => n.endsWith('.h5')) ?? names.find((n) => n === 'config.json');
  if (!found) throw new PreprocessFromError(`--preprocess_from ${path}: the folder holds no .keras, .h5, model.json or config.json`);
  return join(path, found);
}

async function readLayers(file: string): Promise<LayerConfig[]> {
  const ext = extname(file).toLowerCase();
  let json: unknown;
  if (ext === '.h5' || ext === '.hdf5') {
    const { modelConfig } = await inspectKerasH5(file);
    if (!modelConfig) throw new PreprocessFromError(`--preprocess_from ${file}: the file holds weights only, no model config`);
    json = modelConfig;
  } else {
    const bytes = await readFile(file);
    let text: string;
    if (ext === '.keras') {
      let entries: Record<string, Uint8Array>;
      try {
        entries = unzipSync(bytes, { filter: (entry) => entry.name === 'config.json' });
      } catch (err) {
        throw new PreprocessFromError(`--preprocess_from ${file} is not a readable .keras archive (${(err as Error).message})`);
      }
      if (!entries['config.json']) throw new PreprocessFromError(`--preprocess_from ${file}: the archive has no config.json`);
      text = new TextDecoder().decode(entries['config.json']);
    } else {
      text = bytes.toString('utf8');
    }
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new PreprocessFromError(`--preprocess_from ${file} is not JSON (${(err as Error).message}); give a Keras model (.keras, .h5, model.json) or a JSON config`);
    }
  }
  const layers = layerList(json);
  if (!layers) throw new PreprocessFromError(`--preprocess_from ${file}: no Keras layer list found (expected a model config with config.layers, or a list of layers)`);
  return layers;
}

/** The layer list of a Keras model config, a TF.js model.json, {layers: [...]}, or a bare list. */
function layerList(json: unknown): LayerConfig[] | undefined {
  if (Array.isArray(json)) return json as LayerConfig[];
  if (typeof json !== 'object' || json === null) return undefined;
  const o = json as Record<string, unknown>;
  if (o.modelTopology) {
    const topology = o.modelTopology as Record<string, unknown>;
    return layerList(topology.model_config ?? topology);
  }
  if (Array.isArray(o.layers)) return o.layers as LayerConfig[];
  if (o.config !== undefined) return layerList(o.config);
  return undefined;
}
