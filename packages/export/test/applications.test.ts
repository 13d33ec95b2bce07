// The built-in Keras applications (--model mobilenet_v2|resnet50|xception|efficientnet_b0, next to inception_v3).
// Architecture: parameter counts and weight-tensor counts equal what Keras's model.summary() and
// len(model.trainable_weights) print for keras.applications (published figures, quoted below), so the
// layers, their order and their shapes are Keras's and Keras's ImageNet .h5 files load by order.
// Export: each one with seeded random weights, exported and run as a TensorFlow graph by predict-local's
// executor on the fixture photos, against the in-memory model on the same pixels.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImageToRgb } from '@tensorsky/image';
import { loadModel } from '@tensorsky/predict-local';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { readSavedModel, validateGraph } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION_NAMES, exportSavedModel, initTfjs, KERAS_APPLICATIONS, loadModelSource, type ApplicationName } from '../src/index.js';
import { compareProbabilities } from './fidelity-helpers.js';
import { imagesDir, loadLayersSource, makeTempDir, PHOTOS } from './helpers/fixtures.js';
import { writeKerasWeightsFile } from './helpers/keras-h5-writer.js';

/**
 * keras.applications.X().summary() totals (TF 2.x): "Total params", "Non-trainable params" (batch-norm
 * moving statistics) and len(model.trainable_weights), for the 1000-class models.
 */
const KERAS_SUMMARIES: Record<ApplicationName, { total: number; nonTrainable: number; trainableWeights?: number; weights?: number }> = {
  inception_v3: { total: 23_851_784, nonTrainable: 34_432, trainableWeights: 190 },
  mobilenet_v2: { total: 3_538_984, nonTrainable: 34_112, trainableWeights: 158, weights: 262 },
  resnet50: { total: 25_636_712, nonTrainable: 53_120, trainableWeights: 214 },
  xception: { total: 22_910_480, nonTrainable: 54_528, trainableWeights: 156, weights: 236 },
  // Includes Normalization's mean (3), variance (3) and count (1).
  efficientnet_b0: { total: 5_330_571, nonTrainable: 42_023, weights: 314 },
};

const countOf = (weights: tf.LayerVariable[]) => weights.reduce((sum, w) => sum + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);

describe('Keras applications: architecture', () => {
  beforeAll(async () => {
    await initTfjs('wasm');
  });

  it.each(APPLICATION_NAMES)('%s has Keras’s parameter and weight counts', (name) => {
    const expected = KERAS_SUMMARIES[name];
    const model = KERAS_APPLICATIONS[name].build();
    try {
      expect(model.countParams()).toBe(expected.total);
      expect(KERAS_APPLICATIONS[name].params).toBe(expected.total);
      expect(countOf(model.nonTrainableWeights)).toBe(expected.nonTrainable);
      if (expected.trainableWeights !== undefined) expect(model.trainableWeights.length).toBe(expected.trainableWeights);
      if (expected.weights !== undefined) expect(model.weights.length).toBe(expected.weights);
      expect(model.inputs[0].shape).toEqual([null, ...KERAS_APPLICATIONS[name].inputShape]);
      expect(model.outputs[0].shape).toEqual([null, 1000]);
    } finally {
      model.dispose();
    }
  });

  it('builds smaller inputs and other class counts the way Keras allows, and refuses what Keras refuses', () => {
    const small = KERAS_APPLICATIONS.mobilenet_v2.build({ inputShape: [96, 96, 3], classes: 5 });
    // Odd sizes change correct_pad's padding, so the stride-2 blocks still halve 97 -> 49 -> 25 -> 13 -> 7 -> 4.
    const odd = KERAS_APPLICATIONS.mobilenet_v2.build({ inputShape: [97, 97, 3], includeTop: false });
    try {
      expect(small.outputs[0].shape).toEqual([null, 5]);
      expect(odd.outputs[0].shape).toEqual([null, 4, 4, 1280]);
    } finally {
      small.dispose();
      odd.dispose();
    }
    expect(() => KERAS_APPLICATIONS.xception.build({ inputShape: [64, 64, 3] })).toThrow(/>= 71/);
    expect(() => KERAS_APPLICATIONS.resnet50.build({ inputShape: [224, 224, 1] })).toThrow(/\[height, width, 3\]/);
  });

  it('names the Keras layers as Keras does (the ImageNet .h5 files list these names)', () => {
    const names = (name: ApplicationName) => {
      const model = KERAS_APPLICATIONS[name].build();
      const layerNames = model.layers.map((l) => l.name);
      model.dispose();
      return layerNames;
    };
    expect(names('mobilenet_v2')).toEqual(expect.arrayContaining(['Conv1', 'bn_Conv1', 'expanded_conv_depthwise', 'block_1_pad', 'block_16_project_BN', 'Conv_1_bn', 'out_relu', 'predictions']));
    expect(names('resnet50')).toEqual(expect.arrayContaining(['conv1_pad', 'conv1_conv', 'pool1_pool', 'conv2_block1_0_conv', 'conv5_block3_out', 'avg_pool', 'predictions']));
    expect(names('efficientnet_b0')).toEqual(expect.arrayContaining(['rescaling', 'normalization', 'rescaling_1', 'stem_conv_pad', 'block1a_se_excite', 'block2b_drop', 'block6d_add', 'top_activation', 'top_dropout', 'predictions']));
    expect(names('xception')).toEqual(expect.arrayContaining(['block1_conv1', 'block2_sepconv1', 'block13_pool', 'block14_sepconv2_act', 'conv2d_1', 'batch_normalization_4']));
  });
});

describe('Keras applications: export fidelity', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    temp = await makeTempDir('applications');
  });
  afterAll(async () => {
    await temp?.cleanup();
  });

  it.each(['mobilenet_v2', 'resnet50', 'xception', 'efficientnet_b0'] as const)(
    '%s with --weights random exports a valid graph that gives the in-memory model’s probabilities',
    async (name) => {
      const source = await loadModelSource({ model: name, weights: 'random', seed: 5, backend: 'wasm' });
      try {
        expect(source.name).toBe(name);
        expect(source.preprocess).toBe(KERAS_APPLICATIONS[name].preprocess);
        expect(source.provenance.model).toEqual({ kind: 'built-in', name });
        const result = await exportSavedModel({ modelDir: join(temp.dir, name, '1'), source });
        const metaGraph = (await readSavedModel(result.modelDir)).savedModel.meta_graphs![0];
        expect(validateGraph(metaGraph.graph_def!, undefined, { signatures: metaGraph.signature_def }).issues).toEqual([]);

        const files = await Promise.all(PHOTOS.map((photo) => readFile(join(imagesDir, photo))));
        const model = await loadModel(result.modelDir, { backend: 'wasm' });
        let exported: Float32Array;
        try {
          exported = (await model.predict({ inputs: files.map((f) => f.toString('base64url')) })).outputs.data as Float32Array;
        } finally {
          model.dispose();
        }
        const [height, width] = KERAS_APPLICATIONS[name].inputShape;
        const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
        const pixels = preprocessImagesReference(tf, decoded, { height, width, preprocess: KERAS_APPLICATIONS[name].preprocess });
        const probabilities = source.model.predict(pixels) as tf.Tensor;
        const reference = (await probabilities.data()) as Float32Array;
        tf.dispose([pixels, probabilities]);

        const comparison = compareProbabilities(exported, reference, 1000);
        console.log(`${name}: max abs diff exported vs in-memory ${comparison.maxAbsDiff.toExponential(2)}`);
        // Measured: 0 for all four (bit-identical, image front included). Both sides run TF.js wasm kernels
        // on the same pixels; the 1.1e-5 (mobilenet_v2) to 2.7e-5 (xception) seen before came from the
        // classifier alone: TF.js's Dense adds its bias after the MatMul when a softmax follows, as
        // TensorFlow does, while predict-local fused MatMul + BiasAdd into XNNPACK's kernel, which starts
        // each sum with the bias (float32 ordering, amplified by logits that are sums of large cancelling
        // terms); predict-local now leaves MatMul unfused (see its tfjs-model.ts).
        expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
        expect(comparison.top5Mismatches).toEqual([]);
        expect(new Set(comparison.top1).size).toBeGreaterThan(2);
        // Not saturated (a one-hot softmax would hide any difference): most photos' top-1 is below 0.99.
        const top1Probabilities = PHOTOS.map((_, i) => Math.max(...reference.subarray(i * 1000, (i + 1) * 1000)));
        expect(top1Probabilities.filter((p) => p < 0.99).length).toBeGreaterThanOrEqual(PHOTOS.length / 2);
      } finally {
        source.model.dispose();
      }
    },
    300_000,
  );

  it('loads MobileNetV2 ImageNet weights from the Keras cache, with no hash to check (Keras publishes none)', async () => {
    const cacheDir = join(temp.dir, 'keras-cache');
    await mkdir(cacheDir);
    const { fileName } = KERAS_APPLICATIONS.mobilenet_v2.imagenet;
    // A Keras 2 weights file for the architecture, each element marked with its layer and position.
    const shapes = KERAS_APPLICATIONS.mobilenet_v2.build();
    const layers = shapes.layers.map((layer, l) => ({
      name: layer.name,
      weights: layer.weights.map((w) => ({
        name: w.originalName + ':0',
        shape: w.shape as number[],
        data: Float32Array.from({ length: w.shape.reduce((a: number, b) => a * (b as number), 1) }, (_, i) => l + (i % 89) / 128),
      })),
    }));
    shapes.dispose();
    await writeKerasWeightsFile(join(cacheDir, fileName), layers);
    const md5 = createHash('md5').update(await readFile(join(cacheDir, fileName))).digest('hex');
    // A port nobody listens on: the cache must answer.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://${host}/weights.h5`;
    const source = await loadLayersSource({ model: 'mobilenet_v2', imagenet: { cacheDir, url } });
    try {
      expect(source.weights).toBe('imagenet');
      expect(source.provenance.weights).toEqual({ kind: 'imagenet', file: fileName, md5 });
      const layer = source.model.getLayer('block_16_project');
      const index = source.model.layers.indexOf(layer);
      expect(Array.from(layer.getWeights()[0].dataSync().subarray(0, 3))).toEqual([index, index + 1 / 128, index + 2 / 128]);
    } finally {
      source.model.dispose();
    }
    // Without the file, the offline error names the application's file and what to do.
    await expect(loadModelSource({ model: 'resnet50', imagenet: { cacheDir, url } })).rejects.toThrow(
      `ImageNet weights are not available offline (cannot reach ${host}): put resnet50_weights_tf_dim_ordering_tf_kernels.h5 in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`,
    );
  });

  it('refuses a name that is both an application and a file, and --weights imagenet for a model file', async () => {
    await expect(loadModelSource({ model: join(imagesDir, 'cat.jpg'), weights: 'imagenet' })).rejects.toThrow(
      /--weights imagenet applies to the built-in applications only \(inception_v3, mobilenet_v2, resnet50, xception, efficientnet_b0\)/,
    );
    const clash = join(temp.dir, 'clash');
    await mkdir(join(clash, 'resnet50'), { recursive: true });
    const cwd = process.cwd();
    process.chdir(clash);
    try {
      await expect(loadModelSource({ model: 'resnet50', weights: 'random' })).rejects.toThrow(
        '--model resnet50 names both a built-in application and a file here; write ./resnet50 for the file',
      );
      await expect(loadModelSource({ model: './resnet50' })).rejects.toThrow(/folder without model.json/);
    } finally {
      process.chdir(cwd);
    }
  });
});
