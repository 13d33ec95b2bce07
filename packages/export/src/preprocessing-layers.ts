// Keras preprocessing layers (Resizing, CenterCrop, Rescaling, Normalization) as export options: what
// --preprocess_from reads from another model's config (preprocess-from.ts), and what a model file loaded
// for export carries right after its input, taken out of its config before it is built
// (takeInputPreprocessing): the network then starts after them and the serving graph does what they did.
import type * as tf from '@tensorflow/tfjs';
import type { Geometry, PreprocessStep, ResizeMethod } from '@tensorsky/preprocess';

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

export interface LayerConfig {
  class_name?: string;
  config?: Record<string, unknown>;
}

/** The Keras preprocessing layers an export builds into its serving graph. */
export const PREPROCESSING_LAYERS: ReadonlySet<string> = new Set(['Rescaling', 'Normalization', 'Resizing', 'CenterCrop']);

export interface FromLayersOptions {
  /** How messages name the config: default `--preprocess_from SOURCE`. */
  label?: string;
  /** The model input's fixed size, which a CenterCrop without a Resizing before it crops from. */
  inputSize?: { height: number; width: number };
}

/** Maps the preprocessing layers right after the input (up to the first other layer) to export options. */
export function preprocessingFromLayers(layers: readonly LayerConfig[], source: string, options: FromLayersOptions = {}): ModelPreprocessing {
  const label = options.label ?? `--preprocess_from ${source}`;
  const result: ModelPreprocessing = { source, layers: [], normalize: [] };
  let resized: { height: number; width: number } | undefined;
  for (const layer of layers) {
    const className = layer.class_name ?? '';
    if (className === 'InputLayer') continue;
    if (!PREPROCESSING_LAYERS.has(className)) break;
    const config = layer.config ?? {};
    const name = `${String(config.name ?? '?')} (${className})`;
    const where = `${label}: layer ${name}`;
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
        // Images resized to a fixed-size input are what Keras crops from.
        if (!resized && options.inputSize) {
          resized = options.inputSize;
          result.size = resized;
        }
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
    throw new PreprocessFromError(`${label}: the model has no Rescaling, Normalization, Resizing or CenterCrop layer after its input (the first layer is ${first})`);
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

// ---------------------------------------------------------------------------------------------
// Preprocessing layers inside the exported model

type KerasLayer = LayerConfig & { name?: string; inbound_nodes?: unknown[][] };
type Shape = (number | null)[];

/** The input preprocessing taken out of each loaded model's config, by model (see takeInputPreprocessing). */
const takenFrom = new WeakMap<tf.LayersModel, ModelPreprocessing>();

/** The preprocessing layers that were taken out of `model`'s config when it was loaded, if any. */
export function inputPreprocessingOf(model: tf.LayersModel): ModelPreprocessing | undefined {
  return takenFrom.get(model);
}

/** Records what takeInputPreprocessing took out of the config `model` was built from. */
export function setInputPreprocessing(model: tf.LayersModel, preprocessing: ModelPreprocessing | undefined): void {
  if (preprocessing) takenFrom.set(model, preprocessing);
}

/**
 * Takes the run of Resizing, CenterCrop, Rescaling and Normalization layers right after the input of a
 * Keras model config (in the Keras 2 form normalizeKerasConfig gives; changed in place) out of it, and
 * returns what they do as export options; the model's input becomes the run's output size. A Normalization
 * adapted to data (mean and variance are weights, not config) ends the run and stays a layer of the
 * network. Returns undefined when the model starts with another layer. `source` names the file.
 */
export function takeInputPreprocessing(topology: unknown, source: string): ModelPreprocessing | undefined {
  const root = ((topology as { model_config?: unknown })?.model_config ?? topology) as KerasLayer | undefined;
  if (!root || typeof root !== 'object') return undefined;
  const config = root.config as unknown;
  const layers = (Array.isArray(config) ? config : (config as { layers?: unknown } | undefined)?.layers) as KerasLayer[] | undefined;
  if (!Array.isArray(layers)) return undefined;
  if (root.class_name === 'Sequential') return takeFromSequential(layers, root, source);
  if (root.class_name === 'Functional' || root.class_name === 'Model') return takeFromFunctional(layers, config as Record<string, unknown>, source);
  return undefined;
}

/** A preprocessing layer the serving graph can do instead (an adapted Normalization needs its weights, so it stays). */
function isTakeable(layer: KerasLayer | undefined): boolean {
  if (!layer || !PREPROCESSING_LAYERS.has(layer.class_name ?? '')) return false;
  return layer.class_name !== 'Normalization' || (layer.config?.mean != null && layer.config?.variance != null);
}

function takeFromSequential(layers: KerasLayer[], root: KerasLayer, source: string): ModelPreprocessing | undefined {
  const start = layers[0]?.class_name === 'InputLayer' ? 1 : 0;
  let end = start;
  while (end < layers.length && isTakeable(layers[end])) end++;
  if (end === start) return undefined;
  if (end === layers.length) throw new PreprocessFromError(`${source}: the model is only preprocessing layers; there is no network to export`);
  // Without an InputLayer, Keras 2 Sequential configs give the input shape on the first layer.
  const shapeHolder = layers[0]!.config ?? {};
  const preprocessing = takenPreprocessing(layers.slice(start, end), source, shapeHolder.batch_input_shape as Shape | undefined);
  layers.splice(start, end - start);
  setInputShape((layers[0]!.config ??= {}), shapeHolder.batch_input_shape as Shape | undefined, preprocessing);
  const rootConfig = root.config as Record<string, unknown>;
  if (!Array.isArray(rootConfig) && Array.isArray(rootConfig.build_input_shape)) rootConfig.build_input_shape = layers[0]!.config!.batch_input_shape;
  return preprocessing;
}

function takeFromFunctional(layers: KerasLayer[], config: Record<string, unknown>, source: string): ModelPreprocessing | undefined {
  const inputs = config.input_layers as unknown[][] | undefined;
  if (!Array.isArray(inputs) || inputs.length !== 1) return undefined;
  const inputName = inputs[0]![0] as string;
  const input = layers.find((l) => layerName(l) === inputName);
  if (!input) return undefined;
  const outputs = new Set(((config.output_layers as unknown[][] | undefined) ?? []).map((o) => o[0]));
  const references = (layer: KerasLayer) => (layer.inbound_nodes ?? []).flatMap((node) => (Array.isArray(node) ? (node as unknown[][]) : []));
  const readers = (name: string) => layers.filter((l) => references(l).some((ref) => ref[0] === name));
  // Follow the input through a chain of preprocessing layers, each the only reader of the one before.
  const taken: KerasLayer[] = [];
  let last = inputName;
  for (;;) {
    const next = readers(last);
    if (next.length !== 1 || outputs.has(last) || !isTakeable(next[0]) || references(next[0]!).length !== 1) break;
    taken.push(next[0]!);
    last = layerName(next[0]!);
  }
  if (taken.length === 0) return undefined;
  if (outputs.has(last)) throw new PreprocessFromError(`${source}: the model is only preprocessing layers; there is no network to export`);
  const preprocessing = takenPreprocessing(taken, source, input.config?.batch_input_shape as Shape | undefined);
  // The first layer after the chain now reads the input itself.
  for (const ref of layers.flatMap(references)) {
    if (ref[0] === last) ref.splice(0, 3, inputName, 0, 0);
  }
  config.layers = layers.filter((l) => !taken.includes(l));
  setInputShape((input.config ??= {}), input.config.batch_input_shape as Shape | undefined, preprocessing);
  return preprocessing;
}

function layerName(layer: KerasLayer): string {
  return String(layer.name ?? layer.config?.name ?? '');
}

function takenPreprocessing(layers: KerasLayer[], source: string, inputShape: Shape | undefined): ModelPreprocessing {
  const [, height, width] = inputShape ?? [];
  const inputSize = height && width ? { height, width } : undefined;
  return preprocessingFromLayers(layers, source, { label: source, inputSize });
}

/** The network's input: the size the preprocessing makes (or the model's own), float pixels. */
function setInputShape(config: Record<string, unknown>, original: Shape | undefined, preprocessing: ModelPreprocessing): void {
  const [, height, width, channels] = original ?? [];
  config.batch_input_shape = [null, preprocessing.size?.height ?? height ?? null, preprocessing.size?.width ?? width ?? null, channels ?? null];
  // A model may take uint8 images into its Resizing; the serving graph feeds the network floats.
  config.dtype = 'float32';
}
