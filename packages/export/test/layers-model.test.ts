import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkSupportedLayers,
  initTfjs,
  LayersModelError,
  loadTfjsLayersModel,
  SUPPORTED_LAYER_CLASSES,
  UnsupportedLayerError,
} from '../src/index.js';
import { normalizeKerasConfig } from '../src/layers-model.js';
import { makeTempDir } from './helpers/fixtures.js';
import { functionalConfig, kerasLayer, smallClassifierConfig, smallClassifierWeights } from './helpers/keras-models.js';
import { writeTfjsLayersModel } from './helpers/tfjs-layers-writer.js';

describe('loadTfjsLayersModel', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    await initTfjs();
    temp = await makeTempDir('layers-model');
  });
  afterAll(() => temp.cleanup());

  it('loads a uint8-quantized model split over shards, dequantizing every weight', async () => {
    const dir = join(temp.dir, 'quantized');
    // 100-byte shards: tensors straddle shard boundaries, as with the converter's 4 MB shards.
    const written = await writeTfjsLayersModel(dir, smallClassifierConfig(), smallClassifierWeights(), {
      quantization: 'uint8',
      shardBytes: 100,
    });
    const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(manifest.weightsManifest[0].paths.length).toBeGreaterThan(3);

    const model = await loadTfjsLayersModel(dir);
    const originals = smallClassifierWeights();
    written.forEach((w, t) => {
      const [layerName] = w.name.split('/');
      const variable = model.getLayer(layerName).weights.findIndex((v) => v.originalName === w.name);
      expect(variable, w.name).toBeGreaterThanOrEqual(0);
      const values = model.getLayer(layerName).getWeights()[variable].dataSync();
      // Exactly q * scale + min, and within half a quantization step of the float32 original.
      expect(Array.from(values)).toEqual(Array.from(w.expected));
      const maxError = Math.max(...Array.from(values, (v, i) => Math.abs(v - originals[t].data[i])));
      expect(maxError).toBeLessThanOrEqual(w.tolerance * 1.0001);
      expect(w.tolerance).toBeGreaterThan(0);
    });
    const out = model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
    expect(out.shape).toEqual([2, 3]);
    model.dispose();
  });

  it('accepts the path of model.json itself and float32 weights', async () => {
    const dir = join(temp.dir, 'float');
    await writeTfjsLayersModel(dir, smallClassifierConfig(), smallClassifierWeights());
    const model = await loadTfjsLayersModel(join(dir, 'model.json'));
    expect(model.getLayer('dense_1').getWeights()[0].dataSync()).toEqual(smallClassifierWeights()[12].data);
    model.dispose();
  });

  it('names the layer and class of an unsupported layer', async () => {
    const L = kerasLayer;
    const dir = join(temp.dir, 'lstm');
    const config = functionalConfig('seq', [L.input('input_1', [10, 4]), L.lstm('lstm_1', 'input_1')], 'input_1', 'lstm_1');
    await writeTfjsLayersModel(dir, config, []);
    const error = await loadTfjsLayersModel(dir).catch((e) => e);
    expect(error).toBeInstanceOf(UnsupportedLayerError);
    expect(error.message).toBe(
      `layer 'lstm_1' has class LSTM, which tensorsky export does not support; supported: ${SUPPORTED_LAYER_CLASSES.join(', ')}`,
    );
  });

  it('names the layer of an unsupported activation, also inside nested models', () => {
    const L = kerasLayer;
    const inner = functionalConfig('backbone', [L.input('input_2', [8, 8, 3]), L.conv2d('conv2d_9', 'input_2', 4, [3, 3], { activation: 'softsign' })], 'input_2', 'conv2d_9');
    const outer = { class_name: 'Sequential', config: { name: 'sequential', layers: [inner] } };
    expect(() => checkSupportedLayers(outer, 'model.json')).toThrow(
      "layer 'conv2d_9' uses activation 'softsign', which tensorsky export does not support; supported: linear, relu, relu6, elu, selu, sigmoid, tanh, softmax, swish, gelu, mish, hard_silu, leaky_relu",
    );
  });

  it('refuses a leaky or thresholded ReLU, which TF.js would silently compute as a plain ReLU', () => {
    const L = kerasLayer;
    const relu = L.relu6('re_lu_1', 'input_1');
    (relu.config as Record<string, unknown>).negative_slope = 0.1;
    const config = functionalConfig('leaky', [L.input('input_1', [8, 8, 3]), relu], 'input_1', 're_lu_1');
    expect(() => checkSupportedLayers(config, 'model.json')).toThrow(
      "layer 're_lu_1' is a ReLU with negative_slope=0.1, threshold=0; tensorsky export supports ReLU with max_value only",
    );
  });

  it('explains that a Lambda layer cannot be converted, and what to do', () => {
    const L = kerasLayer;
    const lambda = { class_name: 'Lambda', name: 'scale', config: { name: 'scale', function: ['4wEAAAAAAAAA', null, null], function_type: 'lambda' }, inbound_nodes: [[['input_1', 0, 0, {}]]] };
    const config = functionalConfig('with_lambda', [L.input('input_1', [8, 8, 3]), lambda], 'input_1', 'scale');
    expect(() => checkSupportedLayers(config, 'model.h5')).toThrow(
      "layer 'scale' is a Lambda layer: its Python code is not in the model file, so tensorsky export cannot convert it; rebuild the model with built-in layers in its place (e.g. Rescaling for x / 255) and save it again",
    );
  });

  it("reads Keras 3's names: activation 'silu' is TF.js's 'swish', LeakyReLU's negative_slope is its alpha", async () => {
    const L = kerasLayer;
    const conv = L.conv2d('conv', 'input_1', 4, [3, 3], { activation: 'silu' });
    const leaky = { class_name: 'LeakyReLU', name: 'leaky', config: { name: 'leaky', negative_slope: 0.25 }, inbound_nodes: [[['conv', 0, 0, {}]]] };
    const config = functionalConfig('keras3', [L.input('input_1', [8, 8, 3]), conv, leaky], 'input_1', 'leaky');
    checkSupportedLayers(config, 'model.keras');
    normalizeKerasConfig(config);
    const model = await tf.models.modelFromJSON({ modelTopology: config as tf.io.ModelJSON['modelTopology'] });
    try {
      expect(model.getLayer('conv').getConfig().activation).toBe('swish');
      expect(model.getLayer('leaky').getConfig().alpha).toBe(0.25);
    } finally {
      model.dispose();
    }
  });

  it('rejects graph models, missing shards and shards that do not match the manifest', async () => {
    const graph = join(temp.dir, 'graph');
    await writeTfjsLayersModel(graph, smallClassifierConfig(), smallClassifierWeights());
    const json = JSON.parse(await readFile(join(graph, 'model.json'), 'utf8'));
    await writeFile(join(graph, 'model.json'), JSON.stringify({ ...json, format: 'graph-model' }));
    await expect(loadTfjsLayersModel(graph)).rejects.toThrow(/is a TF\.js graph model; read it with loadTfjsGraphModel/);

    const missing = join(temp.dir, 'missing-shard');
    await writeTfjsLayersModel(missing, smallClassifierConfig(), smallClassifierWeights(), { shardBytes: 400 });
    await rm(join(missing, 'group1-shard2of5.bin'));
    const missingError = await loadTfjsLayersModel(missing).catch((e) => e);
    expect(missingError).toBeInstanceOf(ModelFileError);
    expect(missingError.message).toBe(
      `${join(missing, 'model.json')} lists weight file group1-shard2of5.bin, which cannot be read (ENOENT)`,
    );

    // 451 float32 values: 216 + 4*8 + 72 + 4*8 + 64 + 8 + 24 + 3.
    const short = join(temp.dir, 'short-shard');
    await writeTfjsLayersModel(short, smallClassifierConfig(), smallClassifierWeights());
    const shard = join(short, 'group1-shard1of1.bin');
    await writeFile(shard, (await readFile(shard)).subarray(0, 100));
    await expect(loadTfjsLayersModel(short)).rejects.toThrow(
      `${join(short, 'model.json')}: weight files hold 100 bytes, the weightsManifest describes ${451 * 4}`,
    );
  });

  it('reads weight files only from inside the model folder, as regular files of the expected size', async () => {
    const dir = join(temp.dir, 'escaping', 'model');
    await writeTfjsLayersModel(dir, smallClassifierConfig(), smallClassifierWeights());
    const modelJson = join(dir, 'model.json');
    const json = JSON.parse(await readFile(modelJson, 'utf8'));
    const withPath = async (shardPath: string) => {
      await writeFile(modelJson, JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [shardPath] }] }));
      return loadTfjsLayersModel(dir).catch((e) => e);
    };
    const outside = `, which is outside the model's folder ${dir}; a model's files must sit in its folder`;
    await writeFile(join(temp.dir, 'escaping', 'secret.bin'), Buffer.alloc(451 * 4));
    for (const shardPath of ['../secret.bin', '../../../../etc/passwd', '/dev/zero', '/etc/passwd']) {
      const err = await withPath(shardPath);
      expect(err).toBeInstanceOf(ModelFileError);
      expect(err.message).toBe(`${modelJson} lists weight file ${shardPath}${outside}`);
    }
    // A link inside the folder to a file outside it is outside too; a device is not a regular file.
    await symlink(join(temp.dir, 'escaping', 'secret.bin'), join(dir, 'linked.bin'));
    expect((await withPath('linked.bin')).message).toBe(`${modelJson} lists weight file linked.bin${outside}`);
    await mkdir(join(dir, 'dev'));
    await symlink('/dev/zero', join(dir, 'dev', 'zero'));
    expect((await withPath('dev/zero')).message).toMatch(/lists weight file dev\/zero, which is outside/);
    execFileSync('mkfifo', [join(dir, 'pipe.bin')]);
    expect((await withPath('pipe.bin')).message).toBe(
      `${modelJson} lists weight file pipe.bin, which is not a regular file; a model's files must be plain files in its folder`,
    );
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(451 * 4 + 1));
    expect((await withPath('big.bin')).message).toBe(
      `${modelJson} lists weight file big.bin, which holds ${451 * 4 + 1} bytes, more than the ${451 * 4} expected; it does not belong to this model`,
    );
  });
});
