// Fidelity of an exported fine-tuned-style classifier saved as a uint8-quantized TF.js layers model
// (every converted layer class: conv, batch norm, ReLU6, depthwise, separable, pooling, concat, add,
// multiply, dense, ...): the SavedModel run by predict-local's executor on real photos against the
// source tf.LayersModel (as TF.js loads it, dequantized) on the same decoded pixels.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, randomWeights, type ExportResult, type LayersModelSource } from '../src/index.js';
import { buildLayerZoo, compareProbabilities, predictExported, saveQuantizedLayersModel } from './fidelity-helpers.js';
import { imagesDir, loadLayersSource, makeTempDir, PHOTOS } from './helpers/fixtures.js';

const SIZE = 64;
const CLASSES = 10;

describe('fine-tuned TF.js layers model export fidelity', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let source: LayersModelSource;
  let result: ExportResult;
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('fidelity-finetuned');
    const trained = buildLayerZoo(SIZE, CLASSES);
    await randomWeights(trained, 7);
    await saveQuantizedLayersModel(trained, join(temp.dir, 'flowers'));
    trained.dispose();
    const labels = join(temp.dir, 'labels.txt');
    await writeFile(labels, Array.from({ length: CLASSES }, (_, i) => `flower ${i}`).join('\n'));
    source = await loadLayersSource({ model: join(temp.dir, 'flowers') });
    result = await exportSavedModel({ modelDir: join(temp.dir, 'export'), source, labels, preprocess: 'inception' });
  });
  afterAll(async () => {
    source?.model.dispose();
    await temp.cleanup();
  });

  it('exports the quantized model with its labels', async () => {
    // uint8 quantization leaves at most 256 distinct values per weight tensor.
    for (const layer of ['stem', 'dw', 'sep', 'predictions']) {
      const [kernel] = source.model.getLayer(layer).getWeights();
      expect(new Set(kernel.dataSync()).size).toBeLessThanOrEqual(256);
    }
    expect(result.signature.outputs.outputs).toEqual({ name: 'predictions/Softmax:0', dtype: 'DT_FLOAT', shape: [-1, CLASSES] });
    expect(result.labels).toMatchObject({ file: 'assets/labels.txt', count: CLASSES });
    expect(await readFile(join(result.modelDir, 'assets', 'labels.txt'), 'utf8')).toBe(
      `${Array.from({ length: CLASSES }, (_, i) => `flower ${i}`).join('\n')}\n`,
    );
  });

  it('gives the source model’s probabilities and top-5 on photos of different sizes in one request', async () => {
    const files = await Promise.all(PHOTOS.map((name) => readFile(join(imagesDir, name))));
    const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    expect(new Set(decoded.map((d) => `${d.height}x${d.width}`)).size).toBeGreaterThan(3);

    const exported = await predictExported(result.modelDir, files.map((f) => f.toString('base64url')));
    expect(exported.shape).toEqual([PHOTOS.length, CLASSES]);
    const pixels = preprocessImagesReference(tf, decoded, { height: SIZE, width: SIZE, preprocess: 'inception' });
    const probabilities = source.model.predict(pixels) as tf.Tensor;
    const reference = (await probabilities.data()) as Float32Array;
    tf.dispose([pixels, probabilities]);

    const comparison = compareProbabilities(exported.data, reference, CLASSES);
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(comparison.top5Mismatches).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(2);
  });
});
