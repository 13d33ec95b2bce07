// `--model PATH` for TensorFlow.js layers models (model.json + binary weight shards), and the check of
// layer classes shared with Keras .h5 models.
//
// Files are read with fs and handed to tf.loadLayersModel through an in-memory IOHandler, so
// quantized weights (weightSpecs[].quantization, uint8/uint16/float16) are dequantized by TF.js itself.
import * as tf from '@tensorflow/tfjs';
import { CONVERTED_ACTIVATIONS, CONVERTED_LAYER_CLASSES } from './convert/layers.js';
// Registers the Keras layers TF.js lacks before any model config is read.
import './keras-layers.js';
import { setInputPreprocessing, takeInputPreprocessing } from './preprocessing-layers.js';
import { modelArtifacts, readModelJson, readWeightData } from './tfjs-weights.js';

/** Layer classes and activations `tensorsky export` accepts: the ones its graph converter handles. */
export const SUPPORTED_LAYER_CLASSES = CONVERTED_LAYER_CLASSES;
export const SUPPORTED_ACTIVATIONS = CONVERTED_ACTIVATIONS;

/** Nested models appear as layers of these classes; their own layers are checked instead. */
export const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

export interface LayerJSON {
  class_name?: string;
  config?: { name?: string; activation?: unknown; layers?: unknown[] } | unknown[];
}

/**
 * Throws UnsupportedLayerError naming the first layer whose class or activation tensorsky export
 * cannot convert. `topology` is a Keras model config ({class_name, config}) or a TF.js modelTopology
 * (which may wrap it in model_config). `source` names the file in messages.
 */
export function checkSupportedLayers(topology: unknown, source: string): void {
  const root = (topology as { model_config?: unknown })?.model_config ?? topology;
  const visit = (node: LayerJSON): void => {
    const className = node.class_name ?? '(missing class_name)';
    const config = node.config;
    if (MODEL_CLASSES.has(className)) {
      // Sequential configs of Keras < 2.2.3 are a bare list of layers.
      const layers = Array.isArray(config) ? config : config?.layers;
      if (!Array.isArray(layers)) {
        throw new UnsupportedLayerError(`${source}: ${className} config has no layers list`);
      }
      for (const layer of layers) visit(layer as LayerJSON);
      return;
    }
    const name = (!Array.isArray(config) && config?.name) || '(unnamed)';
    if (className === 'Lambda') {
      throw new UnsupportedLayerError(
        `layer '${name}' is a Lambda layer: its Python code is not in the model file, so tensorsky export cannot convert it; rebuild the model with built-in layers in its place (e.g. Rescaling for x / 255) and save it again`,
      );
    }
    if (!SUPPORTED_LAYER_CLASSES.includes(className)) {
      if (['Resizing', 'CenterCrop'].includes(className)) {
        throw new UnsupportedLayerError(
          `layer '${name}' is a ${className} preprocessing layer that does not come right after the model's input; tensorsky export builds Resizing and CenterCrop into the serving graph only there (followed or preceded only by Rescaling and Normalization): move it to the input and save the model again`,
        );
      }
      throw new UnsupportedLayerError(
        `layer '${name}' has class ${className}, which tensorsky export does not support; supported: ${SUPPORTED_LAYER_CLASSES.join(', ')}`,
      );
    }
    if (className === 'ReLU' && !Array.isArray(config)) {
      // TF.js's ReLU layer implements max_value only; it would silently drop the other two.
      const { negative_slope: slope, threshold } = config as { negative_slope?: number; threshold?: number };
      if ((slope ?? 0) !== 0 || (threshold ?? 0) !== 0) {
        throw new UnsupportedLayerError(
          `layer '${name}' is a ReLU with negative_slope=${slope ?? 0}, threshold=${threshold ?? 0}; tensorsky export supports ReLU with max_value only`,
        );
      }
    }
    const activation = Array.isArray(config) ? undefined : activationName(config?.activation);
    if (activation !== undefined && !SUPPORTED_ACTIVATIONS.includes(activation)) {
      throw new UnsupportedLayerError(
        `layer '${name}' uses activation '${activation}', which tensorsky export does not support; supported: ${SUPPORTED_ACTIVATIONS.join(', ')}`,
      );
    }
  };
  if (typeof root !== 'object' || root === null || !('class_name' in root)) {
    throw new UnsupportedLayerError(`${source}: model topology has no class_name; not a Keras/TF.js layers model`);
  }
  visit(root as LayerJSON);
}

/** Keras 3 activation names for functions registered under another name (keras-layers.ts or TF.js's own). */
const KERAS3_ACTIVATION_ALIASES: Readonly<Record<string, string>> = { silu: 'swish', hard_swish: 'hard_silu' };

/** Keras writes built-in activations as strings; Keras 3 may write {class_name, config} objects. */
function activationName(activation: unknown): string | undefined {
  if (activation === undefined || activation === null) return undefined;
  if (typeof activation === 'string') return KERAS3_ACTIVATION_ALIASES[activation] ?? activation;
  const object = activation as { config?: unknown; class_name?: unknown };
  if (typeof object.config === 'string') return object.config;
  if (typeof object.class_name === 'string') return object.class_name;
  return JSON.stringify(activation);
}

/**
 * Rewrites the parts of a Keras 3 model config that TF.js (which reads Keras 2 configs) does not
 * understand, in place, and returns it. Keras 3 saves .h5 model configs with layer configs in the
 * legacy form but:
 *   - InputLayer batch_shape instead of batch_input_shape
 *   - inbound_nodes as [{args: [...], kwargs: {}}] with {class_name: '__keras_tensor__',
 *     config: {keras_history: [layer, node, tensor]}} entries instead of [[layer, node, tensor, kwargs]]
 *   - input_layers / output_layers as a bare [layer, node, tensor] for single-tensor models
 * Keras 2 configs pass through unchanged. (dtype policy objects and Keras 3 initializer objects
 * with module/registered_name keys are read correctly by TF.js as they are.)
 */
export function normalizeKerasConfig<T>(topology: T): T {
  const root = ((topology as { model_config?: unknown })?.model_config ?? topology) as LayerJSON;
  const visitModel = (node: LayerJSON): void => {
    const config = node.config;
    const layers = (Array.isArray(config) ? config : config?.layers) as LayerJSON[] | undefined;
    if (!Array.isArray(layers)) return;
    for (const layer of layers) {
      if (MODEL_CLASSES.has(layer.class_name ?? '')) visitModel(layer);
      normalizeLayer(layer);
    }
    if (!Array.isArray(config) && config) {
      const modelConfig = config as Record<string, unknown>;
      for (const key of ['input_layers', 'output_layers']) {
        const value = modelConfig[key];
        if (Array.isArray(value) && typeof value[0] === 'string') modelConfig[key] = [value];
      }
    }
  };
  visitModel(root);
  return topology;
}

function normalizeLayer(layer: LayerJSON & { inbound_nodes?: unknown[] }): void {
  const config = (Array.isArray(layer.config) ? undefined : layer.config) as Record<string, unknown> | undefined;
  if (config && typeof config.activation === 'string' && KERAS3_ACTIVATION_ALIASES[config.activation]) {
    config.activation = KERAS3_ACTIVATION_ALIASES[config.activation];
  }
  // Keras 3 renamed LeakyReLU's alpha to negative_slope.
  if (layer.class_name === 'LeakyReLU' && config && config.negative_slope !== undefined && config.alpha === undefined) {
    config.alpha = config.negative_slope;
    delete config.negative_slope;
  }
  if (layer.class_name === 'InputLayer' && config && config.batch_shape !== undefined && config.batch_input_shape === undefined) {
    config.batch_input_shape = config.batch_shape;
    delete config.batch_shape;
  }
  if (Array.isArray(layer.inbound_nodes)) {
    layer.inbound_nodes = layer.inbound_nodes.map((node) => {
      if (Array.isArray(node)) return node;
      const { args, kwargs } = node as { args?: unknown; kwargs?: Record<string, unknown> };
      const histories: unknown[][] = [];
      const collect = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(collect);
        const tensor = value as { class_name?: string; config?: { keras_history?: unknown[] } } | null;
        if (tensor?.class_name === '__keras_tensor__' && Array.isArray(tensor.config?.keras_history)) {
          histories.push(tensor.config.keras_history);
        }
      };
      collect(args);
      return histories.map(([name, nodeIndex, tensorIndex]) => [name, nodeIndex, tensorIndex, kwargs ?? {}]);
    });
  }
}

/**
 * Loads a TF.js layers model from `path` (model.json, or a folder containing model.json) after
 * checking its layer classes; the preprocessing layers right after the input are taken out
 * (inputPreprocessingOf tells what they do).
 */
export async function loadTfjsLayersModel(path: string): Promise<tf.LayersModel> {
  const { modelJsonPath, json } = await readModelJson(path);
  if (json.format === 'graph-model') {
    throw new LayersModelError(
      `${modelJsonPath} is a TF.js graph model; read it with loadTfjsGraphModel (tensorsky export --model reads both kinds)`,
    );
  }
  if (!json.modelTopology) {
    throw new LayersModelError(`${modelJsonPath} has no modelTopology; not a TF.js layers model`);
  }
  normalizeKerasConfig(json.modelTopology);
  const preprocessing = takeInputPreprocessing(json.modelTopology, modelJsonPath);
  checkSupportedLayers(json.modelTopology, modelJsonPath);
  const { weightSpecs, weightData } = await readWeightData(json, modelJsonPath);

  const handler: tf.io.IOHandler = {
    load: async () => modelArtifacts(json, weightSpecs, weightData),
  };
  try {
    const model = await tf.loadLayersModel(handler, { strict: true });
    setInputPreprocessing(model, preprocessing);
    return model;
  } catch (err) {
    throw new LayersModelError(`${modelJsonPath}: TF.js cannot load this layers model (${String((err as Error).message ?? err).split('\n')[0]})`);
  }
}

export class UnsupportedLayerError extends Error {
  override name = 'UnsupportedLayerError';
}

export class LayersModelError extends Error {
  override name = 'LayersModelError';
}
