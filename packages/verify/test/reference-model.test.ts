// The reference verify compares exports with, for a model file that carries Keras preprocessing layers
// right after its input (Resizing, CenterCrop, Rescaling, Normalization): the export builds them into its
// serving graph, so the reference must resize, crop and normalize as they did before running the network.
// A TF.js layers model with such layers is written here (tf.keras 2 config), exported, and the reference's
// scores on the fixture photos are compared with the export run by predict-local.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { exportSavedModel, initTfjs, randomWeights } from '@tensorsky/export';
import { photoPaths } from '@tensorsky/fixtures';
import { loadModel } from '@tensorsky/predict-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kerasLayer as L, type NamedWeight } from '../../export/test/helpers/keras-models.js';
import { writeTfjsLayersModel } from '../../export/test/helpers/tfjs-layers-writer.js';
import { loadReferenceModel } from '../src/reference-model.js';

const SIZE = 24;
const CLASSES = 5;

let work: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'tensorsky-verify-reference-'));
  await initTfjs('wasm');
});
afterAll(() => fs.rm(work, { recursive: true, force: true }));

describe('referenceModel for a model with its own preprocessing layers', () => {
  it('scores photos as the export does: Resizing + CenterCrop + Rescaling before the network, after any --preprocess', async () => {
    // The network alone, for its seeded weights.
    const input = tf.input({ shape: [SIZE, SIZE, 3] });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 6, kernelSize: 3, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as tf.SymbolicTensor;
    const network = tf.model({ inputs: input, outputs: tf.layers.dense({ name: 'predictions', units: CLASSES, activation: 'softmax' }).apply(gap) as tf.SymbolicTensor });
    await randomWeights(network, 2);
    const weights: NamedWeight[] = network.layers.flatMap((layer) =>
      layer.getWeights().map((value, i) => ({ layer: layer.name, role: layer.weights[i]!.originalName.split('/').pop()!, shape: [...value.shape], data: value.dataSync() as Float32Array })),
    );
    network.dispose();
    const keras2 = (className: string, name: string, config: Record<string, unknown>) => ({ class_name: className, config: { name, trainable: true, dtype: 'float32', ...config } });
    const layers = [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, null, null, 3], dtype: 'float32', name: 'image' } },
      keras2('Resizing', 'resizing', { height: 30, width: 28, interpolation: 'bilinear', crop_to_aspect_ratio: false }),
      keras2('CenterCrop', 'center_crop', { height: SIZE, width: SIZE }),
      keras2('Rescaling', 'rescaling', { scale: 1 / 127.5, offset: -1 }),
      L.conv2d('conv', 'rescaling', 6, [3, 3], { activation: 'relu' }),
      L.globalAveragePooling2d('gap', 'conv'),
      L.dense('predictions', 'gap', CLASSES, 'softmax'),
    ];
    // Valid padding, as the network above.
    (layers[4]!.config as Record<string, unknown>).padding = 'valid';
    const folder = path.join(work, 'classifier');
    await writeTfjsLayersModel(folder, { class_name: 'Sequential', config: { name: 'classifier', layers } }, weights);

    const photos = await Promise.all(photoPaths().map((p) => fs.readFile(p)));
    for (const preprocess of [undefined, 'caffe'] as const) {
      const modelDir = path.join(work, `export-${preprocess ?? 'default'}`);
      await exportSavedModel({ model: folder, modelDir, labels: 'none', preprocess });
      const exported = await loadModel(modelDir, { backend: 'wasm' });
      let got: Float32Array;
      try {
        got = (await exported.predict({ inputs: photos.map((f) => f.toString('base64url')) })).outputs.data as Float32Array;
      } finally {
        exported.dispose();
      }
      const reference = await loadReferenceModel({ model: folder, backend: 'wasm', preprocess });
      try {
        expect(reference.preprocess).toBe(preprocess ?? 'none');
        const rows = await reference.scores(await Promise.all(photos.map((f) => reference.decode(f))));
        const expected = Float32Array.from(rows.flatMap((row) => [...row]));
        let max = 0;
        for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - expected[i]!));
        expect(max).toBeLessThanOrEqual(1e-5);
        // The scores depend on the photo (not a constant the comparison would pass trivially).
        expect(new Set(rows.map((row) => row.indexOf(Math.max(...row)))).size).toBeGreaterThan(1);
      } finally {
        reference.dispose();
      }
    }
  });
});
