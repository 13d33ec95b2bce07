// `--preprocess_from`: the preprocessing a Keras model carries as layers right after its input
// (Resizing, CenterCrop, Rescaling, Normalization), read from its Keras config so the serving graph can
// do the same without the user restating it. The config comes from a .keras archive (config.json), a
// Keras .h5 (model_config), a TF.js model.json (modelTopology), or a JSON file holding a Keras model
// config or a list of layer configs.
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Geometry, PreprocessStep, ResizeMethod } from '@tensorsky/preprocess';
import { unzipSync } from 'fflate';
import { inspectKerasH5 } from './keras-h5.js';

export class PreprocessFromError extends Error {
  override name = 'PreprocessFromError';
}

/** What a model's preprocessing layers ask for. */
export interface ModelPreprocessing {
  /** The file the config was read from. */
  source: string;
  /** The layers used, as "name (Class)". */
  layers: string[];
  /** The network input size they produce (from Resizing/CenterCrop), when they resize. */
  size?: { height: number; width: number };
  resize?: ResizeMethod;
  /** Resizing(antialias=True). */
  antialias?: boolean;
  geometry?: Geometry;
  /** Normalization steps (Rescaling, Normalization), in the layers' order. */
  normalize: PreprocessStep[];
}

interface LayerConfig {
  class_name?: string;
  config?: Record<string, unknown>;
}

const PREPROCESSING_LAYERS = new Set(['Rescaling', 'Normalization', 'Resizing', 'CenterCrop']);

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

/** Maps the preprocessing layers right after the input (up to the first other layer) to export options. */
export function preprocessingFromLayers(layers: readonly LayerConfig[], source: string): ModelPreprocessing {
  const result: ModelPreprocessing = { source, layers: [], normalize: [] };
  let resized: { height: number; width: number } | undefined;
  for (const layer of layers) {
    const className = layer.class_name ?? '';
    if (className === 'InputLayer') continue;
    if (!PREPROCESSING_LAYERS.has(className)) break;
    const config = layer.config ?? {};
    const name = `${String(config.name ?? '?')} (${className})`;
    const where = `--preprocess_from ${source}: layer ${name}`;
    result.layers.push(name);
    switch (className) {
      case 'Resizing': {
        if (resized) throw new PreprocessFromError(`${where} resizes a second time; only one Resizing is supported`);
        if (config.crop_to_aspect_ratio === true || config.pad_to_aspect_ratio === true) {
          throw new PreprocessFromError(`${where} uses crop_to_aspect_ratio/pad_to_aspect_ratio, which tensorsky export does not build yet`);
        }
        const interpolation = String(config.interpolation ?? 'bilinear');
        if (!['bilinear', 'nearest', 'bicubic', 'area'].includes(interpolation)) {
          throw new PreprocessFromError(`${where} uses interpolation '${interpolation}'; tensorsky export builds bilinear, nearest, bicubic and area`);
        }
        // tf.image.resize ignores antialias for nearest and area.
        if (config.antialias === true && (interpolation === 'bilinear' || interpolation === 'bicubic')) result.antialias = true;
        resized = { height: positiveInt(config.height, where, 'height'), width: positiveInt(config.width, where, 'width') };
        result.resize = interpolation as ResizeMethod;
        result.size = resized;
        result.geometry = { kind: 'stretch' };
        break;
      }
      case 'CenterCrop': {
        if (!resized) {
          throw new PreprocessFromError(`${where} crops images of any size without a Resizing before it; tensorsky export needs a Resizing first`);
        }
        const crop = { height: positiveInt(config.height, where, 'height'), width: positiveInt(config.width, where, 'width') };
        if (crop.height > resized.height || crop.width > resized.width) {
          throw new PreprocessFromError(`${where} crops ${crop.height}x${crop.width} out of ${resized.height}x${resized.width}; the crop must fit`);
        }
        result.geometry = { kind: 'resize_then_crop', ...resized };
        result.size = crop;
        break;
      }
      case 'Rescaling': {
        // Keras: inputs * scale + offset.
        const scale = numbers(config.scale ?? 1, where, 'scale');
        const offset = numbers(config.offset ?? 0, where, 'offset');
        if (!isIdentity(scale, 1)) result.normalize.push({ kind: 'mul', value: scale });
        if (!isIdentity(offset, 0)) result.normalize.push({ kind: 'add', value: offset });
        break;
      }
      case 'Normalization': {
        if (config.invert === true) throw new PreprocessFromError(`${where} has invert=True (it denormalizes); that is not input preprocessing`);
        if (config.mean == null || config.variance == null) {
          throw new PreprocessFromError(
            `${where} was adapted to data: its mean and variance are weights, not config; give them with --mean and --std`,
          );
        }
        const mean = numbers(config.mean, where, 'mean');
        const variance = numbers(config.variance, where, 'variance');
        // Keras: (inputs - mean) / maximum(sqrt(variance), epsilon), epsilon = 1e-7; sqrt in float32 is
        // correctly rounded, so folding it into the constant gives TensorFlow's float32 divisor.
        const f = Math.fround;
        const divisor = (v: number) => f(Math.max(f(Math.sqrt(f(v))), f(1e-7)));
        result.normalize.push({ kind: 'sub', value: mean });
        result.normalize.push({ kind: 'div', value: typeof variance === 'number' ? divisor(variance) : variance.map(divisor) });
        break;
      }
    }
  }
  if (result.layers.length === 0) {
    const first = layers.find((l) => l.class_name !== 'InputLayer')?.class_name ?? 'nothing';
    throw new PreprocessFromError(`--preprocess_from ${source}: the model has no Rescaling, Normalization, Resizing or CenterCrop layer after its input (the first layer is ${first})`);
  }
  return result;
}

function positiveInt(value: unknown, where: string, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new PreprocessFromError(`${where}: ${what} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** A number or a per-channel list (Keras allows a list of one, or nested [[[m0, m1, m2]]] broadcast shapes). */
function numbers(value: unknown, where: string, what: string): number | number[] {
  const flat = Array.isArray(value) ? (value.flat(Infinity) as unknown[]) : [value];
  if (flat.length === 0 || !flat.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new PreprocessFromError(`${where}: ${what} must be a number or a list of numbers, got ${JSON.stringify(value)}`);
  }
  return flat.length === 1 ? (flat[0] as number) : (flat as number[]);
}

function isIdentity(value: number | number[], identity: number): boolean {
  return typeof value === 'number' ? value === identity : value.every((v) => v === identity);
}
