// tf.keras 2.x transfer-learning models in .h5: a Functional base (MobileNet-like: conv → BN → ReLU6 →
// depthwise → BN → relu, frozen with base.trainable = False) nested in a model with a new head
// (GAP → dropout → dense softmax), as a Sequential and as a Functional (`base(inputs, training=False)`).
// Files are written here in Keras 2's legacy h5 layout (keras/saving/legacy/hdf5_format.py,
// save_weights_to_hdf5_group): root attr layer_names = model.layers (a Sequential's InputLayer is not
// among them); one group per layer with weight_names = _legacy_weights(layer) = trainable weights then
// non-trainable ones, which for the nested model means every sublayer's trainable weights (conv kernel,
// bias, gamma, beta, depthwise kernel), then every moving mean and variance; datasets at
// <layer>/<weight name>, so model_weights/base/bn1/moving_mean:0. Full-model files hold that under
// model_weights with the model_config; Model.save_weights files hold it at the root.
// The export is compared with the same network built with TF.js's own layers API, its weights set by
// name: same top-5, max abs diff ≤ 1e-5 on the repository's photos.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, SeededRandom } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { imagesDir, makeTempDir, PHOTOS } from './helpers/fixtures.js';
import { writeKerasModelFile, writeKerasWeightsFile, type H5Layer } from './helpers/keras-h5-writer.js';
import { functionalConfig, kerasLayer as L } from './helpers/keras-models.js';

type Json = Record<string, unknown>;
const SIZE = 32;
const CLASSES = 5;

/** [layer, role, shape], in each layer's Keras weight order (trainable first). */
const BASE_WEIGHTS: [string, string, number[]][] = [
  ['conv1', 'kernel', [3, 3, 3, 8]],
  ['conv1', 'bias', [8]],
  ['bn1', 'gamma', [8]],
  ['bn1', 'beta', [8]],
  ['bn1', 'moving_mean', [8]],
  ['bn1', 'moving_variance', [8]],
  ['dw1', 'depthwise_kernel', [3, 3, 8, 1]],
  ['bn2', 'gamma', [8]],
  ['bn2', 'beta', [8]],
  ['bn2', 'moving_mean', [8]],
  ['bn2', 'moving_variance', [8]],
];
const HEAD_WEIGHTS: [string, string, number[]][] = [
  ['head', 'kernel', [8, CLASSES]],
  ['head', 'bias', [CLASSES]],
];
const NON_TRAINABLE = new Set(['moving_mean', 'moving_variance']);

type Values = Map<string, Float32Array>;

/** Seeded values per tensor (the seed picks the set); variances positive. */
function weightValues(seed: number): Values {
  const random = new SeededRandom(seed);
  const values: Values = new Map();
  for (const [layer, role, shape] of [...BASE_WEIGHTS, ...HEAD_WEIGHTS]) {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
      const v = random.uniform() * 2 - 1;
      // The head's large kernel spreads the photos over several classes.
      return role === 'moving_variance' ? 1 + 0.5 * v : layer === 'head' ? (role === 'kernel' ? 15 * v : 0.1 * v) : v;
    });
    values.set(`${layer}/${role}`, data);
  }
  return values;
}

function baseConfig(): Json {
  const base = functionalConfig(
    'base',
    [
      L.input('input_1', [SIZE, SIZE, 3]),
      L.conv2d('conv1', 'input_1', 8, [3, 3], { strides: 2 }),
      L.batchNorm('bn1', 'conv1'),
      L.relu6('relu1', 'bn1'),
      L.depthwiseConv2d('dw1', 'relu1'),
      L.batchNorm('bn2', 'dw1'),
      L.activation('act2', 'bn2', 'relu'),
    ],
    'input_1',
    'act2',
  );
  // base.trainable = False, as for feature extraction.
  return { ...base, config: { ...(base.config as Json), trainable: false } };
}

/** A layer as a Sequential lists it: class_name and config only. */
const sequentialEntry = ({ class_name, config }: Json) => ({ class_name, config });

function sequentialConfig(): Json {
  return {
    class_name: 'Sequential',
    config: {
      name: 'transfer',
      layers: [
        { class_name: 'InputLayer', config: { batch_input_shape: [null, SIZE, SIZE, 3], dtype: 'float32', sparse: false, ragged: false, name: 'input_2' } },
        baseConfig(),
        sequentialEntry(L.globalAveragePooling2d('gap', 'base')),
        sequentialEntry(L.dropout('dropout', 'gap', 0.2)),
        sequentialEntry(L.dense('head', 'dropout', CLASSES, 'softmax')),
      ],
    },
  };
}

function functionalTransferConfig(): Json {
  const base = { ...baseConfig(), name: 'base', inbound_nodes: [[['input_2', 0, 0, { training: false }]]] };
  // Node 0 of a nested Functional is its own input-to-output node, so the call on input_2 is node 1
  // (Keras 2's get_network_config counts it though it is not saved: _should_skip_first_node).
  const gapOfBase = { ...L.globalAveragePooling2d('gap', 'base'), inbound_nodes: [[['base', 1, 0, {}]]] };
  return functionalConfig(
    'transfer',
    [L.input('input_2', [SIZE, SIZE, 3]), base, gapOfBase, L.dropout('dropout', 'gap', 0.2), L.dense('head', 'dropout', CLASSES, 'softmax')],
    'input_2',
    'head',
  );
}

/** The h5 layers of model.layers (names given), the nested base's weights in _legacy_weights order. */
function h5Layers(layerNames: string[], values: Values): H5Layer[] {
  const weight = ([layer, role, shape]: [string, string, number[]]) => ({ name: `${layer}/${role}:0`, shape, data: values.get(`${layer}/${role}`)! });
  return layerNames.map((name) => {
    if (name === 'base') {
      const trainable = BASE_WEIGHTS.filter(([, role]) => !NON_TRAINABLE.has(role));
      const nonTrainable = BASE_WEIGHTS.filter(([, role]) => NON_TRAINABLE.has(role));
      return { name, weights: [...trainable, ...nonTrainable].map(weight) };
    }
    return { name, weights: HEAD_WEIGHTS.filter(([layer]) => layer === name).map(weight) };
  });
}

/** The same network with TF.js's layers API, weights set by name. */
function referenceModel(values: Values): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  const image = tf.input({ shape: [SIZE, SIZE, 3] });
  const T = tf.layers;
  let x = T.conv2d({ name: 'conv1', filters: 8, kernelSize: 3, strides: 2, padding: 'same' }).apply(image) as tf.SymbolicTensor;
  x = T.batchNormalization({ name: 'bn1', epsilon: 0.001 }).apply(x) as tf.SymbolicTensor;
  x = T.reLU({ name: 'relu1', maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  x = T.depthwiseConv2d({ name: 'dw1', kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
  x = T.batchNormalization({ name: 'bn2', epsilon: 0.001 }).apply(x) as tf.SymbolicTensor;
  x = T.activation({ name: 'act2', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  const base = tf.model({ inputs: image, outputs: x, name: 'base' });
  const head = T.dense({ name: 'head', units: CLASSES, activation: 'softmax' });
  const output = head.apply(T.globalAveragePooling2d({ name: 'gap' }).apply(base.apply(input))) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  for (const layer of [...base.layers, head]) {
    if (layer.weights.length === 0) continue;
    layer.setWeights(layer.weights.map((w) => tf.tensor(values.get(`${layer.name}/${w.originalName.split('/').pop()}`)!, w.shape as number[])));
  }
  return model;
}

describe('tf.keras 2.x .h5 with a nested Functional base (transfer learning)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let files: Buffer[];
  let pixels: tf.Tensor4D;
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('keras-nested');
    files = await Promise.all(PHOTOS.map((name) => readFile(join(imagesDir, name))));
    const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    pixels = preprocessImagesReference(tf, decoded, { height: SIZE, width: SIZE, preprocess: 'inception' });
  });
  afterAll(async () => {
    pixels?.dispose();
    await temp?.cleanup();
  });

  /** Exports, runs the export on the photos, and compares with the TF.js reference of `values`. */
  async function exportAndCompare(name: string, options: { model: string; weights?: string }, values: Values) {
    const result = await exportSavedModel({ modelDir: join(temp.dir, name, '1'), ...options, preprocess: 'inception' });
    expect(result.inputShape).toEqual([SIZE, SIZE, 3]);
    expect(result.classes).toBe(CLASSES);
    const exported = await predictExported(result.modelDir, files.map((f) => f.toString('base64url')));
    const reference = referenceModel(values);
    const expected = tf.tidy(() => (reference.predict(pixels) as tf.Tensor).dataSync() as Float32Array);
    reference.dispose();
    const comparison = compareProbabilities(exported.data, expected, CLASSES);
    console.log(`${name}: max abs diff ${comparison.maxAbsDiff.toExponential(2)}, top-1 ${comparison.top1.join(' ')}`);
    expect(comparison.top5Mismatches).toEqual([]);
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(new Set(comparison.top1).size).toBeGreaterThan(1);
  }

  const shapes = [
    { shape: 'Sequential', config: sequentialConfig, layerNames: ['base', 'gap', 'dropout', 'head'] },
    { shape: 'Functional', config: functionalTransferConfig, layerNames: ['input_2', 'base', 'gap', 'dropout', 'head'] },
  ];
  for (const { shape, config, layerNames } of shapes) {
    it(`exports a full-model .h5 of a ${shape} around the base (model.save)`, async () => {
      const values = weightValues(1);
      const file = join(temp.dir, `${shape}.h5`);
      await writeKerasModelFile(file, config(), h5Layers(layerNames, values), { kerasVersion: '2.13.1' });
      await exportAndCompare(`${shape}-full`, { model: file }, values);
    });

    it(`applies a Model.save_weights .h5 of a ${shape} around the base (--weights)`, async () => {
      const file = join(temp.dir, `${shape}-for-weights.h5`);
      // The model file's own weights differ from the weights file's, which must replace them.
      await writeKerasModelFile(file, config(), h5Layers(layerNames, weightValues(3)), { kerasVersion: '2.13.1' });
      const values = weightValues(1);
      const weightsFile = join(temp.dir, `${shape}.weights.h5`);
      await writeKerasWeightsFile(weightsFile, h5Layers(layerNames, values), { kerasVersion: '2.13.1' });
      await exportAndCompare(`${shape}-weights`, { model: file, weights: weightsFile }, values);
    });
  }
});
