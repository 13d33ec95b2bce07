// Keras 3 `.keras` archives (keras/src/saving/saving_lib.py) written by the test in Keras's exact
// layout, with seeded random weights, exported, and compared on the fixture photos with the same
// architecture built from TF.js layers holding the same weights.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { photoPaths } from '@tensorsky/fixtures';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, loadKerasArchive, randomWeights } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';
import { archiveLayerPaths, functional, keras3 as K, sequential, writeKerasArchive, type Keras3Layer } from './helpers/keras-archive-writer.js';

const SIZE = 32;
const CLASSES = 10;
const IMAGE = [SIZE, SIZE, 3];

/** The backbone as Keras 3 layers: names differ from the class-based paths Keras stores weights under. */
function backboneLayers(): Keras3Layer[] {
  const shape = (channels: number, size = SIZE) => [null, size, size, channels];
  return [
    K.input('image', IMAGE),
    K.conv2d('stem', 8, 3, { from: 'image', shape: shape(3) }),
    K.batchNorm('stem_bn', { from: 'stem', shape: shape(8) }),
    K.relu('stem_relu', { from: 'stem_bn', shape: shape(8) }),
    K.maxPool('pool', { from: 'stem_relu', shape: shape(8) }),
    K.conv2d('block', 16, 3, { from: 'pool', shape: shape(8, SIZE / 2) }),
    K.batchNorm('block_bn', { from: 'block', shape: shape(16, SIZE / 2) }),
    K.activation('block_relu', 'relu', { from: 'block_bn', shape: shape(16, SIZE / 2) }),
    K.globalAveragePool('gap', { from: 'block_relu', shape: shape(16, SIZE / 2) }),
  ];
}

/** The same backbone from TF.js layers. */
function tfjsBackbone(name: string, head: boolean): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: IMAGE, name: 'image' });
  let x = L.conv2d({ name: 'stem', filters: 8, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'stem_bn' }).apply(x) as tf.SymbolicTensor;
  x = L.reLU({ name: 'stem_relu' }).apply(x) as tf.SymbolicTensor;
  x = L.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = L.conv2d({ name: 'block', filters: 16, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'block_bn' }).apply(x) as tf.SymbolicTensor;
  x = L.activation({ name: 'block_relu', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = L.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  if (head) x = L.dense({ name: 'predictions', units: CLASSES, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name });
}

/** Each layer's weights by name, in Keras's variable order (TF.js keeps the same order). */
function weightsByLayer(model: tf.LayersModel): Record<string, { shape: number[]; data: Float32Array }[]> {
  const out: Record<string, { shape: number[]; data: Float32Array }[]> = {};
  const visit = (m: tf.LayersModel) => {
    for (const layer of m.layers) {
      if (layer instanceof tf.LayersModel) visit(layer);
      else out[layer.name] = layer.getWeights().map((t) => ({ shape: [...t.shape], data: t.dataSync() as Float32Array }));
    }
  };
  visit(model);
  return out;
}

async function referenceProbabilities(model: tf.LayersModel, files: Buffer[]): Promise<Float32Array> {
  const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
  const pixels = preprocessImagesReference(tf, decoded, { height: SIZE, width: SIZE, preprocess: 'inception' });
  const probabilities = model.predict(pixels) as tf.Tensor;
  const data = (await probabilities.data()) as Float32Array;
  tf.dispose([pixels, probabilities]);
  return data;
}

describe('Keras 3 .keras archives', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let photos: Buffer[];
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('keras-archive');
    photos = await Promise.all(photoPaths().map((p) => readFile(p)));
  });
  afterAll(() => temp.cleanup());

  it('stores weights under class-based paths, as saving_lib does', () => {
    const classifier = sequential('classifier', [K.input('input_layer', IMAGE), functional('backbone', backboneLayers(), 'image', 'gap'), K.dense('predictions', CLASSES, 'softmax')]);
    expect(archiveLayerPaths(classifier).map(({ path, layer }) => `${path} ${layer.config.name}`)).toEqual([
      'layers/functional backbone',
      'layers/functional/layers/input_layer image',
      'layers/functional/layers/conv2d stem',
      'layers/functional/layers/batch_normalization stem_bn',
      'layers/functional/layers/re_lu stem_relu',
      'layers/functional/layers/max_pooling2d pool',
      'layers/functional/layers/conv2d_1 block',
      'layers/functional/layers/batch_normalization_1 block_bn',
      'layers/functional/layers/activation block_relu',
      'layers/functional/layers/global_average_pooling2d gap',
      'layers/dense predictions',
    ]);
  });

  it.each([
    ['a Functional model', false],
    ['a Functional backbone nested in a Sequential with a new head', true],
  ])('exports %s with the TF.js model’s probabilities and top-5 on the photos', async (_, nested) => {
    const reference = nested
      ? tf.sequential({ name: 'classifier', layers: [tfjsBackbone('backbone', false), tf.layers.dense({ name: 'predictions', units: CLASSES, activation: 'softmax' })] })
      : tfjsBackbone('classifier', true);
    await randomWeights(reference, 5);
    const config = nested
      ? sequential('classifier', [K.input('input_layer', IMAGE), functional('backbone', backboneLayers(), 'image', 'gap'), K.dense('predictions', CLASSES, 'softmax')])
      : functional('classifier', [...backboneLayers(), K.dense('predictions', CLASSES, 'softmax', { from: 'gap', shape: [null, 16] })], 'image', 'predictions');
    const path = join(temp.dir, `${nested ? 'nested' : 'functional'}.keras`);
    await writeKerasArchive(path, config, weightsByLayer(reference));

    const loaded = await loadKerasArchive(path);
    expect(loaded.countParams()).toBe(reference.countParams());
    loaded.dispose();

    const result = await exportSavedModel({ model: path, modelDir: join(temp.dir, `${nested ? 'nested' : 'functional'}-export`), preprocess: 'inception' });
    expect(result.model).toBe(nested ? 'nested' : 'functional');
    expect(result.classes).toBe(CLASSES);
    expect(result.provenance.model).toMatchObject({ kind: 'file', file: `${nested ? 'nested' : 'functional'}.keras` });

    const exported = await predictExported(result.modelDir, photos.map((f) => f.toString('base64url')));
    const comparison = compareProbabilities(exported.data, await referenceProbabilities(reference, photos), CLASSES);
    reference.dispose();
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(comparison.top5Mismatches).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(1);
  });

  it('refuses weights that do not belong to the config, naming the layer and the path', async () => {
    const config = functional('classifier', [...backboneLayers(), K.dense('predictions', CLASSES, 'softmax', { from: 'gap', shape: [null, 16] })], 'image', 'predictions');
    const reference = tfjsBackbone('classifier', true);
    const weights = weightsByLayer(reference);
    reference.dispose();
    const path = join(temp.dir, 'short.keras');
    await writeKerasArchive(path, config, { ...weights, block_bn: weights.block_bn.slice(0, 2) });
    await expect(loadKerasArchive(path)).rejects.toThrow(
      `${path}:model.weights.h5: layer 'block_bn' has 4 weights, the file has 2 at layers/batch_normalization_1/vars; the weights do not belong to this config.json`,
    );
  });
});
