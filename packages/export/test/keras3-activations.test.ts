// Keras 3's activations that TF.js does not have, hard_silu (alias hard_swish) and leaky_relu, as the
// `activation=` of Conv2D and Dense in a `.keras` archive (Keras 3's saving_lib layout, see
// keras-archive-writer.ts), exported and compared on the fixture photos with a TF.js model holding the
// same weights whose activations are written here from Keras 3's definitions, independently of the
// exporter: hard_silu piecewise as keras/src/activations/activations.py documents it (0 below -3,
// x above 3, x * (x + 3) / 6 between), leaky_relu as TF.js's own LeakyReLU layer with Keras 3's
// default negative_slope 0.2 (keras.activations.leaky_relu(x, negative_slope=0.2)).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { photoPaths } from '@tensorsky/fixtures';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { readSavedModel } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, randomWeights } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';
import { functional, keras3 as K, type Keras3Layer } from './helpers/keras-archive-writer.js';
import { writeKerasArchive } from './helpers/keras-archive-writer.js';

const SIZE = 32;
const CLASSES = 10;

/** Keras 3's hard_silu by its documented cases, not by the relu6 form the exporter emits. */
class PiecewiseHardSilu extends tf.layers.Layer {
  static className = 'TestPiecewiseHardSilu';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const middle = tf.div(tf.mul(x, tf.add(x, 3)), 6);
      return tf.where(tf.less(x, -3), tf.zerosLike(x), tf.where(tf.greater(x, 3), x, middle));
    });
  }
}

function withActivation(layer: Keras3Layer, activation: string): Keras3Layer {
  return { ...layer, config: { ...layer.config, activation } };
}

/** The Keras 3 config: activations given by name, as model.save writes them. */
function kerasConfig(): Keras3Layer {
  const shape = (channels: number) => [null, SIZE, SIZE, channels];
  return functional(
    'activations',
    [
      K.input('image', [SIZE, SIZE, 3]),
      withActivation(K.conv2d('hs_conv', 8, 3, { from: 'image', shape: shape(3) }), 'hard_silu'),
      withActivation(K.conv2d('leaky_conv', 8, 3, { from: 'hs_conv', shape: shape(8) }), 'leaky_relu'),
      K.globalAveragePool('gap', { from: 'leaky_conv', shape: shape(8) }),
      K.dense('fc', 16, 'hard_swish', { from: 'gap', shape: [null, 8] }),
      K.dense('predictions', CLASSES, 'softmax', { from: 'fc', shape: [null, 16] }),
    ],
    'image',
    'predictions',
  );
}

/** The same network with linear layers followed by the reference activations; also returns the pre-activation tensors. */
function referenceModel(): { model: tf.LayersModel; preActivations: tf.LayersModel } {
  const L = tf.layers;
  const input = tf.input({ shape: [SIZE, SIZE, 3], name: 'image' });
  const hsConv = L.conv2d({ name: 'hs_conv', filters: 8, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  const leakyConv = L.conv2d({ name: 'leaky_conv', filters: 8, kernelSize: 3, padding: 'same' }).apply(new PiecewiseHardSilu({}).apply(hsConv)) as tf.SymbolicTensor;
  const gap = L.globalAveragePooling2d({ name: 'gap' }).apply(L.leakyReLU({ alpha: 0.2 }).apply(leakyConv)) as tf.SymbolicTensor;
  const fc = L.dense({ name: 'fc', units: 16 }).apply(gap) as tf.SymbolicTensor;
  const output = L.dense({ name: 'predictions', units: CLASSES, activation: 'softmax' }).apply(new PiecewiseHardSilu({}).apply(fc)) as tf.SymbolicTensor;
  return {
    model: tf.model({ inputs: input, outputs: output, name: 'activations' }),
    preActivations: tf.model({ inputs: input, outputs: [hsConv, leakyConv, fc] }),
  };
}

describe('Keras 3 activations hard_silu / hard_swish and leaky_relu', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let photos: Buffer[];
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('keras3-activations');
    photos = await Promise.all(photoPaths().map((p) => readFile(p)));
  });
  afterAll(() => temp.cleanup());

  it('exports them as TensorFlow ops that give the reference’s probabilities and top-5 on the photos', async () => {
    const { model: reference, preActivations } = referenceModel();
    await randomWeights(reference, 11);
    // Larger kernels spread the pre-activations over every piece of hard_silu and both sides of leaky_relu.
    for (const name of ['hs_conv', 'leaky_conv', 'fc']) {
      const layer = reference.getLayer(name);
      const [kernel, bias] = layer.getWeights();
      const scaled = tf.mul(kernel, 6);
      layer.setWeights([scaled, bias]);
      scaled.dispose();
    }
    const weights = Object.fromEntries(
      ['hs_conv', 'leaky_conv', 'fc', 'predictions'].map((name) => [
        name,
        reference.getLayer(name).getWeights().map((t) => ({ shape: [...t.shape], data: t.dataSync() as Float32Array })),
      ]),
    );
    const path = join(temp.dir, 'activations.keras');
    await writeKerasArchive(path, kerasConfig(), weights);

    const result = await exportSavedModel({ model: path, modelDir: join(temp.dir, 'export'), preprocess: 'inception' });
    const graph = (await readSavedModel(result.modelDir)).savedModel.meta_graphs![0].graph_def!;
    const node = (name: string) => graph.node!.find((n) => n.name === name);
    expect(node('hs_conv/hard_silu/Relu6')?.op).toBe('Relu6');
    expect(node('hs_conv/hard_silu/mul')?.op).toBe('Mul');
    expect(node('fc/hard_silu/truediv')?.op).toBe('RealDiv');
    expect(node('leaky_conv/leaky_relu')?.op).toBe('LeakyRelu');
    // The export leaves out attrs equal to their OpDef default; LeakyRelu's alpha defaults to 0.2, Keras 3's slope.
    expect(node('leaky_conv/leaky_relu')!.attr?.alpha).toBeUndefined();

    const decoded = await Promise.all(photos.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    const pixels = preprocessImagesReference(tf, decoded, { height: SIZE, width: SIZE, preprocess: 'inception' });
    // Each piece of the activations is exercised on these photos.
    const [hs, leaky, fc] = (preActivations.predict(pixels) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array);
    const pieces = (values: Float32Array) => [values.some((v) => v < -3), values.some((v) => v > -3 && v < 3), values.some((v) => v > 3)];
    expect(pieces(hs)).toEqual([true, true, true]);
    expect(pieces(fc)).toEqual([true, true, true]);
    expect([leaky.some((v) => v < 0), leaky.some((v) => v > 0)]).toEqual([true, true]);
    const probabilities = reference.predict(pixels) as tf.Tensor;
    const expected = (await probabilities.data()) as Float32Array;
    tf.dispose([pixels, probabilities]);
    reference.dispose();

    const exported = await predictExported(result.modelDir, photos.map((f) => f.toString('base64url')));
    const comparison = compareProbabilities(exported.data, expected, CLASSES);
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(comparison.top5Mismatches).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(1);
  });
});
