// An InceptionV3 weights file in the layout and layer order of Keras's ImageNet file, with marker
// values instead of trained ones: every element says which file layer and weight it came from.
import type * as tf from '@tensorflow/tfjs';
import { KERAS_INCEPTION_V3_LAYER_ORDER } from './keras-inception-v3-order.js';
import { writeKerasWeightsFile, type H5Layer } from './keras-h5-writer.js';

/** Keras weight roles of InceptionV3 layers, in Keras's per-layer weight order. */
export function inceptionRoles(layer: string): string[] {
  if (layer.startsWith('conv2d_')) return ['kernel'];
  if (layer.startsWith('batch_normalization_')) return ['beta', 'moving_mean', 'moving_variance'];
  if (layer === 'predictions') return ['kernel', 'bias'];
  return [];
}

/** The value at element i of weight roleIndex of the layer at layerIndex in the Keras order. */
export function marker(layerIndex: number, roleIndex: number, i: number): number {
  return layerIndex * 10 + roleIndex + (i % 97) / 128;
}

/**
 * Writes the file in the order of Keras's own model.summary() (not the order of `shapesFrom`, which
 * only supplies each named layer's weight shapes).
 */
export async function writeInceptionV3WeightsFile(path: string, shapesFrom: tf.LayersModel): Promise<void> {
  const layers: H5Layer[] = KERAS_INCEPTION_V3_LAYER_ORDER.map((name, layerIndex) => ({
    name,
    weights: inceptionRoles(name).map((role, roleIndex) => {
      const shape = shapesFrom.getLayer(name).weights[roleIndex].shape as number[];
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = marker(layerIndex, roleIndex, i);
      return { name: `${name}/${role}:0`, shape, data };
    }),
  }));
  await writeKerasWeightsFile(path, layers, { kerasVersion: '2.0.6' });
}

/** Checks a few elements of every weight of `model` against the markers; returns mismatches. */
export function markerMismatches(model: tf.LayersModel): string[] {
  const mismatches: string[] = [];
  KERAS_INCEPTION_V3_LAYER_ORDER.forEach((name, layerIndex) => {
    model.getLayer(name).getWeights().forEach((tensor, roleIndex) => {
      const values = tensor.dataSync();
      for (const i of [0, 1, 96, 97, values.length - 1]) {
        if (i < values.length && values[i] !== Math.fround(marker(layerIndex, roleIndex, i))) {
          mismatches.push(`${name}[${roleIndex}][${i}] = ${values[i]}`);
        }
      }
    });
  });
  return mismatches;
}
