// Keras HDF5 files: weights files (model.save_weights('x.h5')) and full models (model.save('x.h5')).
//
// Layout Keras 2 writes (keras/saving/hdf5_format.py, save_weights_to_hdf5_group):
//   weights root (the file, or the 'model_weights' group of a full model)
//     attrs: layer_names = [b'input_1', b'conv2d_1', ...] (every layer, model.layers order),
//            backend, keras_version
//     /<layer name>  attrs: weight_names = [b'conv2d_1/kernel:0', ...] (empty for weightless layers)
//       /<weight name>  float dataset (weight names contain '/', so these are nested groups)
//   full model root attrs: model_config (JSON), keras_version, backend, training_config (ignored)
// Keras 3 writes the same layout for .h5 (weight names without ':0', an extra, unlisted
// 'top_level_model_weights' group) with a partly Keras 3 style model_config; see normalizeKerasConfig.
// Attributes over HDF5's 64 KB header limit are split into name0, name1, ... chunks.
// Keras matches file layers to model layers BY POSITION among layers that have weights, not by name,
// and so does this loader (the ImageNet InceptionV3 file relies on it).
import { open } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';
import { checkSupportedLayers, normalizeKerasConfig } from './layers-model.js';
import { setInputPreprocessing, takeInputPreprocessing } from './preprocessing-layers.js';

let h5Ready: Promise<void> | undefined;

/** Loads h5wasm once; HDF5 errors then throw (with HDF5's message) instead of printing to stderr. */
function initH5wasm(): Promise<void> {
  h5Ready ??= h5wasm.ready.then((module) => {
    module.activate_throwing_error_handler();
  });
  return h5Ready;
}

/** Opens an HDF5 file read-only with one-line errors for missing, non-HDF5 and damaged files. */
export async function openH5(path: string): Promise<H5File> {
  await initH5wasm();
  const signature = await readHdf5Signature(path);
  if (!signature) {
    throw new KerasH5Error(`${path} is not an HDF5 file (no HDF5 signature); expected a Keras .h5 file`);
  }
  try {
    return new h5wasm.File(path, 'r');
  } catch (err) {
    throw new KerasH5Error(`${path} is a damaged HDF5 file (${hdf5Reason(err)}); re-save or re-download it`);
  }
}

/** HDF5 puts its 8-byte signature at offset 0, 512, 1024, ... (after an optional user block). */
async function readHdf5Signature(path: string): Promise<boolean> {
  const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KerasH5Error(code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      await handle.read(buffer, 0, 8, offset);
      if (buffer.equals(SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** The innermost "in Function(): reason" of an HDF5 error stack, e.g. "truncated file: eof = 800, ...". */
export function hdf5Reason(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  const reasons = [...text.matchAll(/#\d+: .* in [\w.]+\(\): (.*)$/gm)].map((m) => m[1]);
  return reasons.at(-1) ?? text.split('\n')[0];
}

export interface KerasH5Info {
  /** Present for full-model files (model.save); undefined for weights-only files. */
  modelConfig?: KerasModelConfig;
  kerasVersion?: string;
  backend?: string;
}

export interface KerasModelConfig {
  class_name: string;
  config: { name?: string; layers?: unknown[]; [key: string]: unknown } | unknown[];
  [key: string]: unknown;
}

/** Reads the root attributes of a Keras .h5 file: whether it holds a model config, Keras version. */
export async function inspectKerasH5(path: string): Promise<KerasH5Info> {
  const file = await openH5(path);
  try {
    const modelConfigText = readStringAttr(file, 'model_config');
    let modelConfig: KerasModelConfig | undefined;
    if (modelConfigText !== undefined) {
      try {
        modelConfig = JSON.parse(modelConfigText) as KerasModelConfig;
      } catch (err) {
        throw new KerasH5Error(`${path}: model_config attribute is not valid JSON (${(err as Error).message})`);
      }
    }
    return { modelConfig, kerasVersion: readStringAttr(file, 'keras_version'), backend: readStringAttr(file, 'backend') };
  } finally {
    file.close();
  }
}

/**
 * Rebuilds a full Keras model saved with model.save('x.h5') (Keras 2 / tf.keras layout) and loads its
 * weights. Layer classes are checked against what tensorsky export supports before building; the
 * preprocessing layers right after the input are taken out (inputPreprocessingOf tells what they do).
 */
export async function loadKerasModel(path: string): Promise<tf.LayersModel> {
  const { modelConfig } = await inspectKerasH5(path);
  if (!modelConfig) {
    throw new KerasH5Error(
      `${path} holds only weights (no model_config); use --weights ${path} with a matching architecture, or save the whole model with model.save()`,
    );
  }
  normalizeKerasConfig(modelConfig);
  const preprocessing = takeInputPreprocessing(modelConfig, path);
  checkSupportedLayers(modelConfig, path);
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: modelConfig as unknown as tf.io.ModelJSON['modelTopology'] });
  } catch (err) {
    throw new KerasH5Error(`${path}: cannot rebuild the model from its model_config (${oneLine(err)})`);
  }
  await loadKerasWeights(model, path);
  setInputPreprocessing(model, preprocessing);
  return model;
}

/**
 * Loads a Keras .h5 weights file (or the weights of a full-model file) into `model`, matching layers
 * with weights by position as Keras's load_weights does, and checking every weight's shape.
 */
export async function loadKerasWeights(model: tf.LayersModel, path: string): Promise<void> {
  const file = await openH5(path);
  try {
    const modelWeights = readStringListAttr(file, 'layer_names') === undefined ? getInFile(file, 'model_weights', path) : null;
    const root = modelWeights instanceof h5wasm.Group ? modelWeights : file;
    const layerNames = readStringListAttr(root, 'layer_names');
    if (layerNames === undefined) {
      throw new KerasH5Error(`${path} is not a Keras weights file (no layer_names attribute)`);
    }
    const fileLayers = layerNames
      .map((name) => {
        const group = getInFile(root, name, path);
        if (!(group instanceof h5wasm.Group)) {
          throw new KerasH5Error(`${path}: layer ${name} is listed in layer_names but has no group in the file`);
        }
        return { name, group, weightNames: readStringListAttr(group, 'weight_names') ?? [] };
      })
      .filter((layer) => layer.weightNames.length > 0);
    const modelLayers = model.layers.filter((layer) => layer.weights.length > 0);
    if (fileLayers.length !== modelLayers.length) {
      throw new KerasH5Error(
        `${path} has weights for ${fileLayers.length} layers, the model has ${modelLayers.length} layers with weights; the file does not belong to this architecture`,
      );
    }

    // Read and check everything before assigning anything, so a bad file leaves the model untouched.
    const assignments = modelLayers.map((layer, index) => {
      const source = fileLayers[index];
      const label = source.name === layer.name ? `layer ${layer.name}` : `layer ${layer.name} (file layer ${source.name})`;
      if (source.weightNames.length !== layer.weights.length) {
        throw new KerasH5Error(
          `${label}: ${source.weightNames.length} weights in file, model expects ${layer.weights.length}`,
        );
      }
      const values = source.weightNames.map((weightName, w) => {
        const dataset = getInFile(source.group, weightName, path);
        if (!(dataset instanceof h5wasm.Dataset)) {
          throw new KerasH5Error(`${label}: weight ${weightName} is listed in weight_names but missing from the file`);
        }
        const expected = layer.weights[w].shape as number[];
        const shape = dataset.shape ?? [];
        if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
          throw new KerasH5Error(
            `${label}: weight shape [${shape.join(',')}] in file, model expects [${expected.join(',')}] (${weightName})`,
          );
        }
        return { shape: expected, data: readFloatData(dataset, `${label}: weight ${weightName}`) };
      });
      return { layer, values };
    });

    for (const { layer, values } of assignments) {
      const tensors = values.map(({ data, shape }) => tf.tensor(data, shape, 'float32'));
      layer.setWeights(tensors);
      tf.dispose(tensors);
    }
  } catch (err) {
    if (err instanceof KerasH5Error) throw err;
    throw new KerasH5Error(`${path}: cannot read Keras weights (${hdf5Reason(err)})`);
  } finally {
    file.close();
  }
}

/**
 * `group.get(name)`, refusing an external link on the way: HDF5 follows one into any file of this
 * machine (h5wasm reports it as an ordinary group or dataset), and its data would become weights.
 */
export function getInFile(group: Group, name: string, path: string): ReturnType<Group['get']> {
  let node: ReturnType<Group['get']> = group;
  for (const component of name.split('/').filter(Boolean)) {
    // Listing names follows no link; get_external_link throws on a missing name.
    if (!(node instanceof h5wasm.Group) || !node.keys().includes(component)) return null;
    const link = node.get_external_link(`${node.path.replace(/\/$/, '')}/${component}`) as { filename?: string; obj_path?: string };
    if (link.filename !== undefined) {
      throw new KerasH5Error(`${path} links ${name} to ${link.filename}:${link.obj_path}, outside this file; save the weights into the .h5 file itself`);
    }
    node = node.get(component);
  }
  return node;
}

export function readFloatData(dataset: Dataset, label: string): Float32Array {
  const value = dataset.value;
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array) return Float32Array.from(value);
  // Integer weights: Normalization's count (int64), which Keras keeps next to the float ones.
  if (value instanceof BigInt64Array) return Float32Array.from(value, Number);
  if (value instanceof Int32Array) return Float32Array.from(value);
  throw new KerasH5Error(`${label} has dtype ${JSON.stringify(dataset.dtype)}; only float32 and float64 weights are supported`);
}

/** A Keras string-list attribute, joined from name0, name1, ... chunks when Keras split it. */
function readStringListAttr(node: Group, name: string): string[] | undefined {
  const attrs = node.attrs;
  if (name in attrs) return toStringList(attrs[name].value);
  if (!(`${name}0` in attrs)) return undefined;
  const out: string[] = [];
  for (let chunk = 0; `${name}${chunk}` in attrs; chunk++) out.push(...toStringList(attrs[`${name}${chunk}`].value));
  return out;
}

function toStringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(String);
  // Keras writes an empty list as an empty float array (numpy's default dtype).
  if (ArrayBuffer.isView(value) && (value as unknown as ArrayLike<number>).length === 0) return [];
  throw new KerasH5Error(`unexpected attribute value ${JSON.stringify(value)}; expected a list of strings`);
}

function readStringAttr(node: Group, name: string): string | undefined {
  if (!(name in node.attrs)) return undefined;
  const value = node.attrs[name].value;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return undefined;
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

export class KerasH5Error extends Error {
  override name = 'KerasH5Error';
}
