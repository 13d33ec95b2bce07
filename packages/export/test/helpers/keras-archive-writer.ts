// Writes Keras 3 `.keras` archives laid out exactly as keras/src/saving/saving_lib.py (save_model,
// H5IOStore, _walk_saveable) writes them, with model configs in Keras 3's serialize_keras_object form.
//   zip (ZIP_STORED, zipfile's default): metadata.json, config.json, model.weights.h5
//   model.weights.h5: vars (the model's own, empty), layers/<snake_case(class)[_n]>/vars/<i> per layer of
//   the model's `layers` list (Sequential without its InputLayer, Functional with it), nested models
//   below their entry; every layer gets a vars group, weightless ones an empty one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import h5wasm from 'h5wasm/node';
import type { Group } from 'h5wasm/node';

type Json = Record<string, unknown>;

/** A Keras 3 layer config: {module, class_name, config, registered_name, build_config, name, inbound_nodes}. */
export interface Keras3Layer extends Json {
  class_name: string;
  config: Json & { name: string };
}

const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
const initializer = (className: string, config: Json = { seed: null }) => ({ module: 'keras.initializers', class_name: className, config, registered_name: null });

/** `keras_history` reference to a layer's output, as Keras 3 writes inbound_nodes args. */
function tensorRef(from: string, shape: (number | null)[]): Json {
  return { class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [from, 0, 0] } };
}

function layer(className: string, name: string, config: Json, inbound?: { from: string; shape: (number | null)[] }): Keras3Layer {
  return {
    module: 'keras.layers',
    class_name: className,
    config: { name, trainable: true, dtype: policy, ...config },
    registered_name: null,
    ...(inbound ? { build_config: { input_shape: inbound.shape }, name, inbound_nodes: [{ args: [tensorRef(inbound.from, inbound.shape)], kwargs: {} }] } : {}),
  };
}

/** Keras 3 layers; `from` (Functional only) names the input layer and its output shape. */
export const keras3 = {
  input: (name: string, shape: number[]): Keras3Layer => ({
    module: 'keras.layers',
    class_name: 'InputLayer',
    config: { batch_shape: [null, ...shape], dtype: 'float32', sparse: false, ragged: false, name, optional: false },
    registered_name: null,
    name,
    inbound_nodes: [],
  }),
  conv2d: (name: string, filters: number, kernel: number, from?: Ref) =>
    layer('Conv2D', name, {
      filters, kernel_size: [kernel, kernel], strides: [1, 1], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1],
      groups: 1, activation: 'linear', use_bias: true, kernel_initializer: initializer('GlorotUniform'), bias_initializer: initializer('Zeros', {}),
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    }, from),
  batchNorm: (name: string, from?: Ref) =>
    layer('BatchNormalization', name, {
      axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true,
      beta_initializer: initializer('Zeros', {}), gamma_initializer: initializer('Ones', {}),
      moving_mean_initializer: initializer('Zeros', {}), moving_variance_initializer: initializer('Ones', {}),
      beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null, synchronized: false,
    }, from),
  relu: (name: string, from?: Ref) => layer('ReLU', name, { max_value: null, negative_slope: 0, threshold: 0 }, from),
  activation: (name: string, activation: string, from?: Ref) => layer('Activation', name, { activation }, from),
  maxPool: (name: string, from?: Ref) =>
    layer('MaxPooling2D', name, { pool_size: [2, 2], padding: 'valid', strides: [2, 2], data_format: 'channels_last' }, from),
  globalAveragePool: (name: string, from?: Ref) => layer('GlobalAveragePooling2D', name, { data_format: 'channels_last', keepdims: false }, from),
  dense: (name: string, units: number, activation: string, from?: Ref) =>
    layer('Dense', name, {
      units, activation, use_bias: true, kernel_initializer: initializer('GlorotUniform'), bias_initializer: initializer('Zeros', {}),
      kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null, bias_constraint: null,
    }, from),
  resizing: (name: string, height: number, width: number, interpolation: string, from?: Ref) =>
    layer('Resizing', name, {
      height, width, interpolation, crop_to_aspect_ratio: false, pad_to_aspect_ratio: false, fill_mode: 'constant', fill_value: 0.0,
      antialias: false, data_format: 'channels_last',
    }, from),
  centerCrop: (name: string, height: number, width: number, from?: Ref) => layer('CenterCrop', name, { height, width, data_format: 'channels_last' }, from),
  rescaling: (name: string, scale: number, offset: number, from?: Ref) => layer('Rescaling', name, { scale, offset }, from),
  lambda: (name: string, from?: Ref) =>
    layer('Lambda', name, { function: { class_name: '__lambda__', config: { code: '4wEAAAAAAAAA', defaults: null, closure: null } }, arguments: {} }, from),
};

type Ref = { from: string; shape: (number | null)[] };

export function functional(name: string, layers: Keras3Layer[], input: string, output: string): Keras3Layer {
  return {
    module: 'keras.src.models.functional',
    class_name: 'Functional',
    config: { name, trainable: true, layers, input_layers: [input, 0, 0], output_layers: [output, 0, 0] },
    registered_name: 'Functional',
    build_config: { input_shape: null },
  };
}

export function sequential(name: string, layers: Keras3Layer[]): Keras3Layer {
  const input = layers[0].config as unknown as { batch_shape: (number | null)[] };
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: { name, trainable: true, dtype: policy, layers, build_input_shape: input.batch_shape },
    registered_name: null,
    build_config: { input_shape: input.batch_shape },
  };
}

/** model.weights.h5 paths of every layer of `model`, in _walk_saveable order, with its config. */
export function archiveLayerPaths(model: Keras3Layer, inner = ''): { path: string; layer: Keras3Layer }[] {
  const layers = (model.config.layers as Keras3Layer[]).slice();
  if (model.class_name === 'Sequential' && layers[0]?.class_name === 'InputLayer') layers.shift();
  const used = new Map<string, number>();
  return layers.flatMap((layer) => {
    const base = layer.class_name.replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
    const count = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, count);
    const path = `${inner}layers/${count === 0 ? base : `${base}_${count}`}`;
    const own = { path, layer };
    return layer.class_name === 'Functional' || layer.class_name === 'Sequential' ? [own, ...archiveLayerPaths(layer, `${path}/`)] : [own];
  });
}

export interface ArchiveOptions {
  /** Leave model.weights.h5 out (a broken archive). */
  withoutWeights?: boolean;
}

/**
 * Writes `model` as model.save('x.keras') does; `weights` maps a layer name to its variables in
 * Keras's order (trainable, then non-trainable).
 */
export async function writeKerasArchive(
  path: string,
  model: Keras3Layer,
  weights: Record<string, { shape: number[]; data: Float32Array }[]>,
  options: ArchiveOptions = {},
): Promise<void> {
  const files: Record<string, Uint8Array> = {
    'metadata.json': strToU8(JSON.stringify({ keras_version: '3.6.0', date_saved: '2026-12-06@22:00:00' })),
    'config.json': strToU8(JSON.stringify({ ...model, compile_config: null })),
  };
  if (!options.withoutWeights) files['model.weights.h5'] = await weightsFile(model, weights);
  await writeFile(path, zipSync(files, { level: 0 }));
}

async function weightsFile(model: Keras3Layer, weights: Record<string, { shape: number[]; data: Float32Array }[]>): Promise<Uint8Array> {
  const module = await h5wasm.ready;
  module.activate_throwing_error_handler();
  const dir = await mkdtemp(join(tmpdir(), 'tensorsky-keras-writer-'));
  try {
    const file = join(dir, 'model.weights.h5');
    const h5 = new h5wasm.File(file, 'w');
    try {
      h5.create_group('vars');
      for (const { path, layer } of archiveLayerPaths(model)) {
        let group: Group = h5;
        for (const part of path.split('/')) group = (group.get(part) as Group | null) ?? group.create_group(part);
        const vars = group.create_group('vars');
        (weights[layer.config.name] ?? []).forEach((w, i) => vars.create_dataset({ name: String(i), data: w.data, shape: w.shape, dtype: '<f' }));
      }
    } finally {
      h5.close();
    }
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
