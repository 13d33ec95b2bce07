import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInceptionV3, IMAGENET_WEIGHTS, loadModelSource, ModelSourceError, randomWeights } from '../src/index.js';
import { loadLayersSource, makeTempDir, SAVED_MODELS_DIR } from './helpers/fixtures.js';
import { markerMismatches, writeInceptionV3WeightsFile } from './helpers/inception-weights-file.js';
import { writeKerasModelFile } from './helpers/keras-h5-writer.js';
import { configLayerNames, functionalConfig, h5LayersFor, kerasLayer, smallClassifierConfig, smallClassifierWeights } from './helpers/keras-models.js';
import { writeTfjsLayersModel } from './helpers/tfjs-layers-writer.js';

/** A URL on 127.0.0.1 where nothing listens (connection refused). */
async function refusedUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}/inception_v3.h5`;
}

describe('loadModelSource', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    temp = await makeTempDir('source');
  });
  afterAll(() => temp.cleanup());

  it('builds InceptionV3 with seeded random weights and describes it', async () => {
    const source = await loadLayersSource({ weights: 'random', seed: 3 });
    expect(source).toMatchObject({
      name: 'inception_v3',
      inputShape: [299, 299, 3],
      classes: 1000,
      preprocess: 'inception',
      labels: 'imagenet',
      weights: 'random (seed 3)',
      provenance: { model: { kind: 'built-in', name: 'inception_v3' }, weights: { kind: 'random', seed: 3 } },
    });
    expect(source.model.countParams()).toBe(23_851_784);
    const reference = buildInceptionV3({ includeTop: false, inputShape: [75, 75, 3] });
    await randomWeights(reference, 3);
    expect(source.model.getLayer('conv2d_50').getWeights()[0].dataSync()).toEqual(
      reference.getLayer('conv2d_50').getWeights()[0].dataSync(),
    );
    source.model.dispose();
    reference.dispose();
  });

  it('uses ImageNet weights from the Keras cache without touching the network', async () => {
    const cacheDir = join(temp.dir, 'keras-cache');
    await mkdir(cacheDir);
    const file = join(cacheDir, IMAGENET_WEIGHTS.fileName);
    await writeInceptionV3WeightsFile(file, buildInceptionV3());
    const md5 = createHash('md5').update(await readFile(file)).digest('hex');
    const source = await loadLayersSource({ imagenet: { cacheDir, md5, url: await refusedUrl() } });
    expect(source.weights).toBe('imagenet');
    expect(source.provenance).toEqual({ model: { kind: 'built-in', name: 'inception_v3' }, weights: { kind: 'imagenet', file: IMAGENET_WEIGHTS.fileName, md5 } });
    expect(markerMismatches(source.model)).toEqual([]);
    source.model.dispose();
  });

  it('fails offline with the one-line hint when the weights are not cached', async () => {
    const url = await refusedUrl();
    const cacheDir = join(temp.dir, 'empty-cache');
    await expect(loadModelSource({ weights: 'imagenet', imagenet: { cacheDir, url } })).rejects.toThrow(
      `ImageNet weights are not available offline (cannot reach ${new URL(url).host}): put ${IMAGENET_WEIGHTS.fileName} in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`,
    );
  });

  it('loads a full Keras .h5 model and a TF.js layers model with their own weights', async () => {
    const config = smallClassifierConfig();
    const h5 = join(temp.dir, 'flowers_small.h5');
    await writeKerasModelFile(h5, config, h5LayersFor(configLayerNames(config), smallClassifierWeights()));
    const fromH5 = await loadModelSource({ model: h5 });
    expect(fromH5).toMatchObject({
      name: 'flowers_small',
      inputShape: [32, 32, 3],
      classes: 3,
      preprocess: undefined,
      labels: undefined,
      weights: 'model file',
    });
    fromH5.model.dispose();

    const dir = join(temp.dir, 'flowers_tfjs');
    await writeTfjsLayersModel(dir, config, smallClassifierWeights(), { quantization: 'uint8' });
    const fromTfjs = await loadLayersSource({ model: dir });
    expect(fromTfjs).toMatchObject({ name: 'flowers_tfjs', inputShape: [32, 32, 3], classes: 3 });
    const viaJson = await loadLayersSource({ model: join(dir, 'model.json'), weights: 'random', seed: 1 });
    expect(viaJson).toMatchObject({ name: 'flowers_tfjs', weights: 'random (seed 1)' });
    expect(viaJson.model.getLayer('dense_1').getWeights()[0].dataSync()).not.toEqual(
      fromTfjs.model.getLayer('dense_1').getWeights()[0].dataSync(),
    );
    fromTfjs.model.dispose();
    viaJson.model.dispose();
  });

  it('explains inputs it cannot use', async () => {
    const fail = (options: Parameters<typeof loadModelSource>[0]): Promise<Error> =>
      loadModelSource(options).then(
        () => {
          throw new Error('expected loadModelSource to fail');
        },
        (e: Error) => e,
      );

    const config = smallClassifierConfig();
    const h5 = join(temp.dir, 'for-errors.h5');
    await writeKerasModelFile(h5, config, h5LayersFor(configLayerNames(config), smallClassifierWeights()));
    expect((await fail({ model: h5, weights: 'imagenet' })).message).toBe(
      '--weights imagenet applies to the built-in applications only (inception_v3, mobilenet_v2, resnet50, xception, efficientnet_b0); pass --weights FILE.h5',
    );

    const zip = join(temp.dir, 'model.keras');
    await writeFile(zip, Buffer.from('PK\x03\x04 rest of a zip archive', 'latin1'));
    expect((await fail({ model: zip })).message).toMatch(/model\.keras is not a readable zip archive \(.*\); save the model again with model\.save\('model\.keras'\)$/);

    const savedModel = join(SAVED_MODELS_DIR, 'tfjs-node', 'times_three_float');
    const savedModelError = await fail({ model: savedModel });
    expect(savedModelError).toBeInstanceOf(ModelSourceError);
    expect(savedModelError.message).toBe(
      `${savedModel} is already a TensorFlow SavedModel; tensorsky export reads Keras .h5 and .keras files and TF.js layers and graph models`,
    );

    expect((await fail({ weights: join(temp.dir, 'missing.h5') })).message).toBe(`${join(temp.dir, 'missing.h5')} does not exist`);

    // A model whose output is not [batch, classes]: a feature extractor.
    const L = kerasLayer;
    const features = functionalConfig('features', [L.input('input_1', [16, 16, 3]), L.conv2d('conv2d_1', 'input_1', 4, [3, 3])], 'input_1', 'conv2d_1');
    const featuresPath = join(temp.dir, 'features.h5');
    await writeKerasModelFile(featuresPath, features, [
      { name: 'input_1', weights: [] },
      { name: 'conv2d_1', weights: [
        { name: 'conv2d_1/kernel:0', shape: [3, 3, 3, 4], data: new Float32Array(108) },
        { name: 'conv2d_1/bias:0', shape: [4], data: new Float32Array(4) },
      ] },
    ]);
    expect((await fail({ model: featuresPath })).message).toBe(
      'features is not an image classifier: expected one input [batch, height, width, channels] and one output [batch, classes], got inputs [None, 16, 16, 3] and outputs [None, 16, 16, 4]',
    );
  });
});
