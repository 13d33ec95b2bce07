import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import h5wasm, { type Group } from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildInceptionV3,
  initTfjs,
  inspectKerasH5,
  KerasH5Error,
  loadKerasModel,
  loadKerasWeights,
  UnsupportedLayerError,
} from '../src/index.js';
import { makeTempDir } from './helpers/fixtures.js';
import { markerMismatches, writeInceptionV3WeightsFile } from './helpers/inception-weights-file.js';
import { writeKerasModelFile, writeKerasWeightsFile } from './helpers/keras-h5-writer.js';
import {
  configLayerNames,
  functionalConfig,
  h5LayersFor,
  kerasLayer,
  smallClassifierConfig,
  smallClassifierWeights,
} from './helpers/keras-models.js';

describe('loadKerasWeights', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    await initTfjs();
    temp = await makeTempDir('keras-h5');
  });
  afterAll(() => temp.cleanup());

  it('loads an InceptionV3 weights file in Keras layer order into the matching layers', async () => {
    const model = buildInceptionV3();
    const path = join(temp.dir, 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5');
    await writeInceptionV3WeightsFile(path, model);
    await loadKerasWeights(model, path);
    expect(markerMismatches(model)).toEqual([]);
    model.dispose();
  });

  it('rejects a weight with the wrong shape, naming the layer, and leaves the model untouched', async () => {
    const config = smallClassifierConfig();
    const model = await tf.models.modelFromJSON({ modelTopology: config as never });
    const before = model.getWeights().map((t) => t.dataSync().slice());
    const weights = smallClassifierWeights().map((w) =>
      w.layer === 'conv2d_2' && w.role === 'kernel' ? { ...w, shape: [1, 1, 8, 4], data: w.data.subarray(0, 32) } : w,
    );
    const path = join(temp.dir, 'wrong-shape.h5');
    await writeKerasWeightsFile(path, h5LayersFor(configLayerNames(config), weights));
    await expect(loadKerasWeights(model, path)).rejects.toThrow(
      'layer conv2d_2: weight shape [1,1,8,4] in file, model expects [1,1,8,8] (conv2d_2/kernel:0)',
    );
    model.getWeights().forEach((t, i) => expect(t.dataSync()).toEqual(before[i]));
    model.dispose();
  });

  it('rejects a file for another architecture (different number of weighted layers)', async () => {
    const config = smallClassifierConfig();
    const model = await tf.models.modelFromJSON({ modelTopology: config as never });
    const weights = smallClassifierWeights().filter((w) => w.layer !== 'dense_1');
    const path = join(temp.dir, 'headless.h5');
    await writeKerasWeightsFile(path, h5LayersFor(configLayerNames(config).slice(0, -1), weights));
    await expect(loadKerasWeights(model, path)).rejects.toThrow(
      `${path} has weights for 5 layers, the model has 6 layers with weights; the file does not belong to this architecture`,
    );
    model.dispose();
  });

  it('refuses weights reached through an external link to another file', async () => {
    const config = smallClassifierConfig();
    const model = await tf.models.modelFromJSON({ modelTopology: config as never });
    const layers = h5LayersFor(configLayerNames(config), smallClassifierWeights());
    const elsewhere = join(temp.dir, 'elsewhere.h5');
    await writeKerasWeightsFile(elsewhere, layers);
    // conv2d_2's weights are listed, but its group conv2d_2/conv2d_2 links into elsewhere.h5.
    const linking = join(temp.dir, 'linking.h5');
    await writeKerasWeightsFile(linking, layers.map((l) => (l.name === 'conv2d_2' ? { ...l, weights: [] } : l)));
    const file = new h5wasm.File(linking, 'a');
    try {
      const group = file.get('conv2d_2') as Group;
      const names = layers.find((l) => l.name === 'conv2d_2')!.weights.map((w) => w.name);
      group.delete_attribute('weight_names');
      group.create_attribute('weight_names', names, [names.length], `A${Math.max(...names.map((n) => n.length))}`);
      group.create_external_link(elsewhere, '/conv2d_2/conv2d_2', 'conv2d_2');
    } finally {
      file.close();
    }
    await expect(loadKerasWeights(model, linking)).rejects.toThrow(
      `${linking} links conv2d_2/kernel:0 to ${elsewhere}:/conv2d_2/conv2d_2, outside this file; save the weights into the .h5 file itself`,
    );
    model.dispose();
  });

  it('reads layer_names split into chunks (layer_names0, layer_names1, ...) as Keras writes long lists', async () => {
    const config = smallClassifierConfig();
    const model = await tf.models.modelFromJSON({ modelTopology: config as never });
    const path = join(temp.dir, 'chunked.h5');
    const names = configLayerNames(config);
    await writeKerasWeightsFile(path, h5LayersFor(names, smallClassifierWeights()));
    // Rewrite the root attribute as two chunks, the way Keras splits attributes over 64 KB.
    const h5wasm = (await import('h5wasm/node')).default;
    const file = new h5wasm.File(path, 'a');
    file.delete_attribute('layer_names');
    file.create_attribute('layer_names0', names.slice(0, 5), [5], 'A30');
    file.create_attribute('layer_names1', names.slice(5), [names.length - 5], 'A30');
    file.close();
    await loadKerasWeights(model, path);
    expect(model.getLayer('dense_1').getWeights()[1].dataSync()).toEqual(smallClassifierWeights()[13].data);
    model.dispose();
  });

  it('turns non-HDF5, truncated and missing files into one-line errors', async () => {
    const model = await tf.models.modelFromJSON({ modelTopology: smallClassifierConfig() as never });
    const garbage = join(temp.dir, 'garbage.h5');
    await writeFile(garbage, 'definitely not HDF5, just text pretending to be weights');
    const garbageError = await loadKerasWeights(model, garbage).catch((e) => e);
    expect(garbageError).toBeInstanceOf(KerasH5Error);
    expect(garbageError.message).toBe(`${garbage} is not an HDF5 file (no HDF5 signature); expected a Keras .h5 file`);

    const good = join(temp.dir, 'good.h5');
    await writeKerasWeightsFile(good, h5LayersFor(configLayerNames(smallClassifierConfig()), smallClassifierWeights()));
    const truncated = join(temp.dir, 'truncated.h5');
    await writeFile(truncated, (await readFile(good)).subarray(0, 2000));
    const truncatedError = await loadKerasWeights(model, truncated).catch((e) => e);
    expect(truncatedError).toBeInstanceOf(KerasH5Error);
    expect(truncatedError.message).toMatch(/^.*truncated\.h5 is a damaged HDF5 file \(truncated file: eof = 2000, .*\); re-save or re-download it$/);
    expect(truncatedError.message).not.toContain('\n');

    await expect(loadKerasWeights(model, join(temp.dir, 'nope.h5'))).rejects.toThrow(`${join(temp.dir, 'nope.h5')} does not exist`);
    model.dispose();
  });
});

describe('loadKerasModel (full-model .h5)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    await initTfjs();
    temp = await makeTempDir('keras-model');
  });
  afterAll(() => temp.cleanup());

  it('rebuilds the architecture from model_config and loads model_weights', async () => {
    const config = smallClassifierConfig();
    const weights = smallClassifierWeights();
    const path = join(temp.dir, 'flowers_small.h5');
    await writeKerasModelFile(path, config, h5LayersFor(configLayerNames(config), weights));

    const info = await inspectKerasH5(path);
    expect(info.kerasVersion).toBe('2.2.4');
    expect(info.modelConfig?.class_name).toBe('Functional');

    const model = await loadKerasModel(path);
    expect(model.layers.map((l) => `${l.name}:${l.getClassName()}`)).toEqual([
      'input_1:InputLayer', 'conv2d_1:Conv2D', 'batch_normalization_1:BatchNormalization', 're_lu_1:ReLU',
      'depthwise_conv2d_1:DepthwiseConv2D', 'batch_normalization_2:BatchNormalization', 'activation_1:Activation',
      'conv2d_2:Conv2D', 'add_1:Add', 'global_average_pooling2d_1:GlobalAveragePooling2D', 'dropout_1:Dropout',
      'dense_1:Dense',
    ]);
    for (const w of weights) {
      const layer = model.getLayer(w.layer);
      const index = layer.weights.findIndex((v) => v.originalName === `${w.layer}/${w.role}`);
      expect(index, `${w.layer}/${w.role}`).toBeGreaterThanOrEqual(0);
      expect(layer.getWeights()[index].shape).toEqual(w.shape);
      expect(layer.getWeights()[index].dataSync()).toEqual(w.data);
    }
    expect(model.inputs[0].shape).toEqual([null, 32, 32, 3]);
    expect(model.outputs[0].shape).toEqual([null, 3]);
    model.dispose();
  });

  it('computes what the Keras layers define (1x1 conv + bias -> flatten -> dense softmax, by hand)', async () => {
    const L = kerasLayer;
    const config = functionalConfig(
      'tiny',
      [
        L.input('input_1', [1, 2, 2]),
        L.conv2d('conv2d_1', 'input_1', 1, [1, 1], { activation: 'relu' }),
        { class_name: 'Flatten', config: { name: 'flatten_1', trainable: true, dtype: 'float32', data_format: 'channels_last' }, name: 'flatten_1', inbound_nodes: [[['conv2d_1', 0, 0, {}]]] },
        L.dense('dense_1', 'flatten_1', 2, 'softmax'),
      ],
      'input_1',
      'dense_1',
    );
    const layers = [
      { name: 'input_1', weights: [] },
      { name: 'conv2d_1', weights: [
        { name: 'conv2d_1/kernel:0', shape: [1, 1, 2, 1], data: new Float32Array([2, -1]) },
        { name: 'conv2d_1/bias:0', shape: [1], data: new Float32Array([0.5]) },
      ] },
      { name: 'flatten_1', weights: [] },
      { name: 'dense_1', weights: [
        { name: 'dense_1/kernel:0', shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) },
        { name: 'dense_1/bias:0', shape: [2], data: new Float32Array([0, 1]) },
      ] },
    ];
    const path = join(temp.dir, 'tiny.h5');
    await writeKerasModelFile(path, config, layers);
    const model = await loadKerasModel(path);
    // Pixels (1, 3) and (4, -2): conv = relu(2a - b + 0.5) = relu(-0.5) = 0 and relu(10.5) = 10.5.
    // Dense: logits = [0, 10.5] . I + [0, 1] = [0, 11.5]; softmax = [1, e^11.5] / (1 + e^11.5).
    const out = model.predict(tf.tensor4d([1, 3, 4, -2], [1, 1, 2, 2])) as tf.Tensor;
    const p1 = Math.exp(11.5) / (1 + Math.exp(11.5));
    const values = out.dataSync();
    expect(values[0]).toBeCloseTo(1 - p1, 7);
    expect(values[1]).toBeCloseTo(p1, 6);
    model.dispose();
  });

  it('reads the Keras 3 flavour of .h5 (dtype policies, batch_shape, __keras_tensor__ nodes, path weight names)', async () => {
    // What Keras 3 model.save('x.h5') writes for:
    //   inputs = keras.Input((8, 8, 3)); x = Conv2D(4, 3, padding='same', activation='relu')(inputs)
    //   y = Concatenate()([x, inputs]); z = GlobalAveragePooling2D()(y); Dense(2, activation='softmax')(z)
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const tensor = (layer: string, channels: number) => ({
      class_name: '__keras_tensor__',
      config: { shape: [null, 8, 8, channels], dtype: 'float32', keras_history: [layer, 0, 0] },
    });
    const initializer = (name: string) => ({ module: 'keras.initializers', class_name: name, config: name === 'Zeros' ? {} : { seed: null }, registered_name: null });
    const config = {
      class_name: 'Functional',
      config: {
        name: 'functional',
        trainable: true,
        layers: [
          { class_name: 'InputLayer', config: { batch_shape: [null, 8, 8, 3], dtype: 'float32', sparse: false, name: 'input_layer' }, name: 'input_layer', inbound_nodes: [] },
          {
            class_name: 'Conv2D',
            config: {
              name: 'conv2d', trainable: true, dtype: policy, filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: 'same',
              data_format: 'channels_last', dilation_rate: [1, 1], groups: 1, activation: 'relu', use_bias: true,
              kernel_initializer: initializer('GlorotUniform'), bias_initializer: initializer('Zeros'),
              kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
            },
            name: 'conv2d',
            inbound_nodes: [{ args: [tensor('input_layer', 3)], kwargs: {} }],
          },
          {
            class_name: 'Concatenate',
            config: { name: 'concatenate', trainable: true, dtype: policy, axis: -1 },
            name: 'concatenate',
            inbound_nodes: [{ args: [[tensor('conv2d', 4), tensor('input_layer', 3)]], kwargs: {} }],
          },
          {
            class_name: 'GlobalAveragePooling2D',
            config: { name: 'global_average_pooling2d', trainable: true, dtype: policy, data_format: 'channels_last', keepdims: false },
            name: 'global_average_pooling2d',
            inbound_nodes: [{ args: [tensor('concatenate', 7)], kwargs: {} }],
          },
          {
            class_name: 'Dense',
            config: {
              name: 'dense', trainable: true, dtype: policy, units: 2, activation: 'softmax', use_bias: true,
              kernel_initializer: initializer('GlorotUniform'), bias_initializer: initializer('Zeros'),
              kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null, bias_constraint: null,
            },
            name: 'dense',
            inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { shape: [null, 7], dtype: 'float32', keras_history: ['global_average_pooling2d', 0, 0] } }], kwargs: {} }],
          },
        ],
        input_layers: ['input_layer', 0, 0],
        output_layers: ['dense', 0, 0],
      },
    };
    const kernel = Float32Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i));
    const dense = Float32Array.from({ length: 7 * 2 }, (_, i) => i / 10);
    const path = join(temp.dir, 'keras3.h5');
    await writeKerasModelFile(
      path,
      config,
      [
        { name: 'input_layer', weights: [] },
        { name: 'conv2d', weights: [
          { name: 'conv2d/kernel', shape: [3, 3, 3, 4], data: kernel },
          { name: 'conv2d/bias', shape: [4], data: new Float32Array([0.1, 0.2, 0.3, 0.4]) },
        ] },
        { name: 'concatenate', weights: [] },
        { name: 'global_average_pooling2d', weights: [] },
        { name: 'dense', weights: [
          { name: 'dense/kernel', shape: [7, 2], data: dense },
          { name: 'dense/bias', shape: [2], data: new Float32Array([1, -1]) },
        ] },
      ],
      { kerasVersion: '3.6.0', topLevelModelWeights: true },
    );
    const model = await loadKerasModel(path);
    expect(model.inputs[0].shape).toEqual([null, 8, 8, 3]);
    expect(model.outputs[0].shape).toEqual([null, 2]);
    expect(model.getLayer('conv2d').weights.map((w) => w.dtype)).toEqual(['float32', 'float32']);
    expect(model.getLayer('concatenate').inboundNodes[0].inboundLayers.map((l) => l.name)).toEqual(['conv2d', 'input_layer']);
    expect(model.getLayer('conv2d').getWeights()[0].dataSync()).toEqual(kernel);
    expect(model.getLayer('dense').getWeights()[1].dataSync()).toEqual(new Float32Array([1, -1]));
    model.dispose();
  });

  it('refuses layer classes the exporter cannot convert, before building', async () => {
    const L = kerasLayer;
    const config = functionalConfig('seq', [L.input('input_1', [10, 4]), L.lstm('lstm_1', 'input_1')], 'input_1', 'lstm_1');
    const path = join(temp.dir, 'lstm.h5');
    await writeKerasModelFile(path, config, [{ name: 'input_1', weights: [] }, { name: 'lstm_1', weights: [] }]);
    const error = await loadKerasModel(path).catch((e) => e);
    expect(error).toBeInstanceOf(UnsupportedLayerError);
    expect(error.message).toMatch(/^layer 'lstm_1' has class LSTM, which tensorsky export does not support; supported: InputLayer, Conv2D, /);
  });

  it('explains that a weights-only file is not a model', async () => {
    const path = join(temp.dir, 'weights-only.h5');
    await writeKerasWeightsFile(path, h5LayersFor(configLayerNames(smallClassifierConfig()), smallClassifierWeights()));
    await expect(loadKerasModel(path)).rejects.toThrow(`${path} holds only weights (no model_config)`);
  });
});
