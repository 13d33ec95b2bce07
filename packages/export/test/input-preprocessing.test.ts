// Keras preprocessing layers right after a model's input (Resizing, CenterCrop, Rescaling, Normalization)
// in the model file itself: the export takes them out of the network and builds them into the serving
// graph, as --preprocess_from does. A Keras 3 `.keras` archive (saving_lib layout, see
// keras-archive-writer.ts) and a tf.keras 2.x full-model `.h5` (legacy hdf5_format layout, see
// keras-h5-writer.ts), and the same model as a TF.js layers model, are written here with seeded weights, exported, and compared on every photo with
// the network alone as a TF.js model, fed pixels preprocessed by @tensorsky/preprocess's reference
// functions with the layers' settings by Keras's formulas (Resizing: tf.image.resize; CenterCrop: offsets
// (size - target) // 2; Rescaling: x * scale + offset; Normalization: (x - mean) / sqrt(variance)).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { photoPaths } from '@tensorsky/fixtures';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference, type PreprocessOptions, type PreprocessStep } from '@tensorsky/preprocess';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, randomWeights, type ExportOptions } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';
import { functional, keras3 as K } from './helpers/keras-archive-writer.js';
import { writeKerasArchive } from './helpers/keras-archive-writer.js';
import { writeKerasModelFile } from './helpers/keras-h5-writer.js';
import { h5LayersFor, kerasLayer, type NamedWeight } from './helpers/keras-models.js';
import { writeTfjsLayersModel } from './helpers/tfjs-layers-writer.js';

const SIZE = 32;
const CLASSES = 10;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** The network after the preprocessing layers, from TF.js's own layers. */
function network(): tf.LayersModel {
  const L = tf.layers;
  const input = tf.input({ shape: [SIZE, SIZE, 3], name: 'image' });
  let x = L.conv2d({ name: 'stem', filters: 8, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'stem_bn' }).apply(x) as tf.SymbolicTensor;
  x = L.activation({ name: 'stem_relu', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = L.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  x = L.dense({ name: 'predictions', units: CLASSES, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: 'classifier' });
}

function weightsOf(model: tf.LayersModel): Record<string, { shape: number[]; data: Float32Array }[]> {
  return Object.fromEntries(
    model.layers.map((layer) => [layer.name, layer.getWeights().map((t) => ({ shape: [...t.shape], data: t.dataSync() as Float32Array }))]),
  );
}

describe('preprocessing layers at the input of the exported model', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let photos: Buffer[];
  let decoded: Awaited<ReturnType<typeof decodeImageToRgb>>[];
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('input-preprocessing');
    photos = await Promise.all(photoPaths().map((p) => readFile(p)));
    decoded = await Promise.all(photos.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
  });
  afterAll(() => temp.cleanup());

  async function expectReference(
    file: string,
    reference: tf.LayersModel,
    pixels: Omit<PreprocessOptions, 'height' | 'width' | 'preprocess'>,
    layers: string[],
    options: Partial<ExportOptions> = {},
  ) {
    const modelDir = join(temp.dir, `${file.split('/').slice(-2).join('-')}-export`);
    const result = await exportSavedModel({ model: file, modelDir, labels: 'none', ...options });
    expect(result.inputShape).toEqual([SIZE, SIZE, 3]);
    expect(result.preprocessFrom).toEqual({ source: file, layers });
    expect(result.preprocessing).toContain(`crop the center ${SIZE}x${SIZE}`);

    const input = preprocessImagesReference(tf, decoded, { height: SIZE, width: SIZE, preprocess: 'none', ...pixels });
    const probabilities = reference.predict(input) as tf.Tensor;
    const expected = (await probabilities.data()) as Float32Array;
    tf.dispose([input, probabilities]);
    const exported = await predictExported(result.modelDir, photos.map((f) => f.toString('base64url')));
    const comparison = compareProbabilities(exported.data, expected, CLASSES);
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(comparison.top5Mismatches).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(1);
  }

  it('a Keras 3 .keras Functional model: Resizing(40, 40) + CenterCrop(32, 32) + Rescaling(1/127.5, -1) for images of any size', async () => {
    const reference = network();
    await randomWeights(reference, 3);
    const any = [null, null, null, 3];
    const cropped = (channels: number) => [null, SIZE, SIZE, channels];
    const config = functional(
      'classifier',
      [
        K.input('image', [null, null, 3] as never),
        K.resizing('resizing', 40, 40, 'bilinear', { from: 'image', shape: any }),
        K.centerCrop('center_crop', SIZE, SIZE, { from: 'resizing', shape: [null, 40, 40, 3] }),
        K.rescaling('rescaling', 1 / 127.5, -1, { from: 'center_crop', shape: cropped(3) }),
        K.conv2d('stem', 8, 3, { from: 'rescaling', shape: cropped(3) }),
        K.batchNorm('stem_bn', { from: 'stem', shape: cropped(8) }),
        K.activation('stem_relu', 'relu', { from: 'stem_bn', shape: cropped(8) }),
        K.globalAveragePool('gap', { from: 'stem_relu', shape: cropped(8) }),
        K.dense('predictions', CLASSES, 'softmax', { from: 'gap', shape: [null, 8] }),
      ],
      'image',
      'predictions',
    );
    const file = join(temp.dir, 'classifier.keras');
    await writeKerasArchive(file, config, weightsOf(reference));
    await expectReference(
      file,
      reference,
      { resize: 'bilinear', geometry: { kind: 'resize_then_crop', height: 40, width: 40 }, normalize: [{ kind: 'mul', value: 1 / 127.5 }, { kind: 'add', value: -1 }] },
      ['resizing (Resizing)', 'center_crop (CenterCrop)', 'rescaling (Rescaling)'],
    );
    reference.dispose();
  });

  /** A tf.keras 2 Sequential taking uint8 images of any size: Resizing(36, 44, bicubic) + CenterCrop + Rescaling(1/255) + Normalization. */
  function keras2Sequential() {
    const L = kerasLayer;
    const keras2 = (className: string, name: string, config: Record<string, unknown>) => ({ class_name: className, config: { name, trainable: true, dtype: 'float32', ...config } });
    const layers = [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, null, null, 3], dtype: 'uint8', sparse: false, ragged: false, name: 'image' } },
      keras2('Resizing', 'resizing', { height: 36, width: 44, interpolation: 'bicubic', crop_to_aspect_ratio: false }),
      keras2('CenterCrop', 'center_crop', { height: SIZE, width: SIZE }),
      keras2('Rescaling', 'rescaling', { scale: 1 / 255, offset: 0.0 }),
      keras2('Normalization', 'normalization', { axis: -1, mean: MEAN, variance: STD.map((s) => s * s), invert: false }),
      L.conv2d('stem', 'normalization', 8, [3, 3]),
      L.batchNorm('stem_bn', 'stem'),
      L.activation('stem_relu', 'stem_bn', 'relu'),
      L.globalAveragePooling2d('gap', 'stem_relu'),
      L.dense('predictions', 'gap', CLASSES, 'softmax'),
    ];
    return { config: { class_name: 'Sequential', config: { name: 'classifier', layers } }, names: layers.map((l) => (l.config as { name: string }).name) };
  }

  function namedWeights(model: tf.LayersModel): NamedWeight[] {
    return model.layers.flatMap((layer) =>
      layer.weights.map((w, i) => {
        const value = layer.getWeights()[i];
        return { layer: layer.name, role: w.originalName.split('/').pop()!, shape: [...value.shape], data: value.dataSync() as Float32Array };
      }),
    );
  }

  // Keras's divisor max(sqrt(variance), 1e-7), with the float32 variance it stores.
  const divisor = STD.map((s) => Math.fround(Math.sqrt(Math.fround(s * s))));
  const keras2Pixels = (before: PreprocessStep[] = []): Omit<PreprocessOptions, 'height' | 'width' | 'preprocess'> => ({
    resize: 'bicubic',
    geometry: { kind: 'resize_then_crop', height: 36, width: 44 },
    normalize: [...before, { kind: 'mul', value: 1 / 255 }, { kind: 'sub', value: MEAN }, { kind: 'div', value: divisor }],
  });
  const keras2Layers = ['resizing (Resizing)', 'center_crop (CenterCrop)', 'rescaling (Rescaling)', 'normalization (Normalization)'];

  it('a tf.keras 2 .h5 Sequential model: Resizing(36, 44, bicubic) + CenterCrop + Rescaling(1/255) + Normalization(ImageNet mean/variance)', async () => {
    const reference = network();
    await randomWeights(reference, 4);
    const { config, names } = keras2Sequential();
    const file = join(temp.dir, 'classifier.h5');
    // Keras 2 lists a Sequential's layers without its InputLayer.
    await writeKerasModelFile(file, config, h5LayersFor(names.slice(1), namedWeights(reference)), { kerasVersion: '2.15.0' });
    await expectReference(file, reference, keras2Pixels(), keras2Layers);
    reference.dispose();
  });

  it('a TF.js layers model (model.json) with the same layers; a --preprocess preset applies before the model’s own normalization', async () => {
    const reference = network();
    await randomWeights(reference, 6);
    const folder = join(temp.dir, 'tfjs');
    await writeTfjsLayersModel(folder, { class_name: keras2Sequential().config.class_name, config: keras2Sequential().config.config }, namedWeights(reference));
    const file = join(folder, 'model.json');
    await expectReference(file, reference, keras2Pixels(), keras2Layers);
    // Keras's 'caffe' preprocess_input first (RGB to BGR, minus the ImageNet means), then the model's Rescaling and Normalization.
    const caffe: PreprocessStep[] = [{ kind: 'rgbToBgr' }, { kind: 'sub', value: [103.939, 116.779, 123.68] }];
    await expectReference(file, reference, keras2Pixels(caffe), keras2Layers, { preprocess: 'caffe', modelDir: join(temp.dir, 'tfjs-caffe') });
    reference.dispose();
  });

  it('refuses --preprocess_from for a model that carries its own preprocessing layers, writing nothing', async () => {
    const folder = join(temp.dir, 'tfjs');
    const modelDir = join(temp.dir, 'refused');
    await expect(exportSavedModel({ model: join(folder, 'model.json'), modelDir, preprocessFrom: join(folder, 'model.json') })).rejects.toThrow(
      'tfjs carries its preprocessing layers (resizing (Resizing), center_crop (CenterCrop), rescaling (Rescaling), normalization (Normalization)), which the serving graph does; --preprocess_from is for a model without them',
    );
    expect(existsSync(modelDir)).toBe(false);
  });
});
