// Writes HDF5 files laid out exactly as Keras 2 writes them (keras/engine/saving.py,
// save_weights_to_hdf5_group / save_model): the fixtures for the .h5 readers, generated at test time.
//   layer_names: fixed-length ASCII strings (numpy 'S' arrays), every layer in model.layers order
//   <layer>/ weight_names: fixed-length strings, or an empty float64 array for weightless layers
//   <layer>/<weight name>: float32 datasets; '/' in weight names makes nested groups (as h5py does)
//   backend, keras_version: scalar fixed-length strings; model_config: JSON as a scalar fixed string
import h5wasm from 'h5wasm/node';
import type { Group } from 'h5wasm/node';

export interface H5Weight {
  /** Keras weight name, e.g. 'conv2d_1/kernel:0'. */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface H5Layer {
  name: string;
  weights: H5Weight[];
}

export interface KerasH5Attrs {
  kerasVersion?: string;
  backend?: string;
  /** Keras 3 also writes a 'top_level_model_weights' group (not in layer_names; empty for Functional models). */
  topLevelModelWeights?: boolean;
}

async function ready(): Promise<void> {
  const module = await h5wasm.ready;
  module.activate_throwing_error_handler();
}

/** A weights file as model.save_weights('x.h5') writes it. */
export async function writeKerasWeightsFile(path: string, layers: H5Layer[], attrs: KerasH5Attrs = {}): Promise<void> {
  await ready();
  const file = new h5wasm.File(path, 'w');
  try {
    writeWeightsGroup(file, layers, attrs);
  } finally {
    file.close();
  }
}

/** A full-model file as model.save('x.h5') writes it: model_config JSON plus a model_weights group. */
export async function writeKerasModelFile(
  path: string,
  modelConfig: unknown,
  layers: H5Layer[],
  attrs: KerasH5Attrs = {},
): Promise<void> {
  await ready();
  const file = new h5wasm.File(path, 'w');
  try {
    writeFixedString(file, 'keras_version', attrs.kerasVersion ?? '2.2.4');
    writeFixedString(file, 'backend', attrs.backend ?? 'tensorflow');
    writeFixedString(file, 'model_config', JSON.stringify(modelConfig));
    writeWeightsGroup(file.create_group('model_weights'), layers, attrs);
  } finally {
    file.close();
  }
}

function writeWeightsGroup(root: Group, layers: H5Layer[], attrs: KerasH5Attrs): void {
  writeStringList(root, 'layer_names', layers.map((layer) => layer.name));
  writeFixedString(root, 'backend', attrs.backend ?? 'tensorflow');
  writeFixedString(root, 'keras_version', attrs.kerasVersion ?? '2.2.4');
  if (attrs.topLevelModelWeights) writeStringList(root.create_group('top_level_model_weights'), 'weight_names', []);
  for (const layer of layers) {
    const group = root.create_group(layer.name);
    writeStringList(group, 'weight_names', layer.weights.map((w) => w.name));
    for (const weight of layer.weights) {
      const parts = weight.name.split('/');
      let parent: Group = group;
      for (const part of parts.slice(0, -1)) {
        parent = (parent.get(part) as Group | null) ?? parent.create_group(part);
      }
      parent.create_dataset({ name: parts[parts.length - 1], data: weight.data, shape: weight.shape, dtype: '<f' });
    }
  }
}

function writeStringList(node: Group, name: string, values: string[]): void {
  if (values.length === 0) {
    // h5py stores Keras's empty list as numpy's default empty array: float64, shape (0,).
    node.create_attribute(name, new Float64Array(0), [0]);
    return;
  }
  const width = Math.max(...values.map((v) => Buffer.byteLength(v)));
  node.create_attribute(name, values, [values.length], `A${width}`);
}

function writeFixedString(node: Group, name: string, value: string): void {
  node.create_attribute(name, value, null, `A${Math.max(1, Buffer.byteLength(value))}`);
}
