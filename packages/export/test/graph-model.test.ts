// TF.js graph models (tfjs-converter's graph-model format, written by the test as tensorflowjs_converter
// writes them, with grappler's fused ops and quantized weights), exported and compared on the fixture
// photos with TF.js's own GraphModel of the same files: TF.js runs graph models itself, so it is an
// independent reference for the unfusing, the dequantization and the image front.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { photoPaths } from '@tensorsky/fixtures';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, loadModelSource, loadTfjsGraphModel } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';
import { smallGraphModel, writeTfjsGraphModel } from './helpers/tfjs-graph-writer.js';

/** TF.js's GraphModel of the files in `dir`, read here with fs (not by the exporter's reader). */
async function tfjsReference(dir: string): Promise<tf.GraphModel> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const group = json.weightsManifest[0];
  const data = Buffer.concat(await Promise.all(group.paths.map((p: string) => readFile(join(dir, p)))));
  return tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: new Uint8Array(data).buffer, format: json.format, signature: json.signature }),
  );
}

describe('TF.js graph models', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let photos: Buffer[];
  let pixels: tf.Tensor4D;
  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('graph-model');
    photos = await Promise.all(photoPaths().map((p) => readFile(p)));
    const decoded = await Promise.all(photos.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    pixels = preprocessImagesReference(tf, decoded, { height: 32, width: 32, preprocess: 'inception' });
  });
  afterAll(async () => {
    pixels?.dispose();
    await temp.cleanup();
  });

  async function exportAndCompare(exportDir: string, modelDir: string, referenceDir: string, classes: number) {
    const result = await exportSavedModel({ model: modelDir, modelDir: join(temp.dir, exportDir), preprocess: 'inception' });
    const exported = await predictExported(result.modelDir, photos.map((f) => f.toString('base64url')));
    const reference = await tfjsReference(referenceDir);
    const probabilities = reference.predict(pixels) as tf.Tensor;
    const expected = (await probabilities.data()) as Float32Array;
    tf.dispose(probabilities);
    reference.dispose();
    return { result, comparison: compareProbabilities(exported.data, expected, classes) };
  }

  it('reads the graph, its signature and its quantized weights', async () => {
    const dir = join(temp.dir, 'reader');
    const spec = smallGraphModel(1);
    await writeTfjsGraphModel(dir, spec);
    const model = await loadTfjsGraphModel(dir);
    expect(model).toMatchObject({ input: 'input_1', output: 'Identity:0', inputShape: [32, 32, 3], classes: 10 });
    // Dequantized as TF.js does: uint8 within half a step, float16 to its precision, int32 exact.
    const original = (name: string) => spec.weights.find((w) => w.name === name)!.values;
    const maxDiff = (name: string) => Math.max(...Array.from(model.weights.get(name)!.values, (v, i) => Math.abs(v - original(name)[i])));
    expect(maxDiff('conv1/kernel')).toBeLessThan(0.01);
    expect(maxDiff('conv1/kernel')).toBeGreaterThan(0);
    expect(maxDiff('dw/depthwise_kernel')).toBeLessThan(1e-3);
    expect(maxDiff('conv2/kernel')).toBeLessThan(1e-4);
    expect(maxDiff('conv1/bias')).toBe(0);
    expect(model.weights.get('gap/reduction_indices')).toEqual({ dtype: 'int32', shape: [2], values: Int32Array.from([1, 2]) });
  });

  it('exports with TF.js GraphModel’s probabilities and top-5 on the photos, fused ops unfused', async () => {
    const dir = join(temp.dir, 'cnn');
    await writeTfjsGraphModel(dir, smallGraphModel(3));
    const { result, comparison } = await exportAndCompare('cnn-export', dir, dir, 10);
    expect(result.model).toBe('cnn');
    expect(result.signature.outputs.outputs).toEqual({ name: 'Identity:0', dtype: 'DT_FLOAT', shape: [-1, 10] });
    expect(Object.keys(result.ops).filter((op) => op.includes('Fused') && op !== 'FusedBatchNormV3')).toEqual([]);
    expect(result.ops).toMatchObject({ Conv2D: 2, DepthwiseConv2dNative: 1, BiasAdd: 4, Relu: 1, Relu6: 1, Maximum: 1, MatMul: 1, Mean: 1 });
    expect(result.provenance).toMatchObject({ model: { kind: 'file', name: 'cnn', file: 'model.json' }, weights: { kind: 'model-file' } });
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(comparison.top5Mismatches).toEqual([]);
    expect(new Set(comparison.top1).size).toBeGreaterThan(1);
  });

  it('unfuses a convolution fused with a batch norm, which TF.js itself cannot run, into Conv2D + FusedBatchNormV3', async () => {
    const fused = join(temp.dir, 'bn-fused');
    const unfused = join(temp.dir, 'bn-unfused');
    await writeTfjsGraphModel(fused, smallGraphModel(4, { batchNorm: 'fused' }));
    await writeTfjsGraphModel(unfused, smallGraphModel(4, { batchNorm: 'unfused' }));
    const { result, comparison } = await exportAndCompare('bn-export', fused, unfused, 10);
    expect(result.ops).toMatchObject({ Conv2D: 3, FusedBatchNormV3: 2 });
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(comparison.top5Mismatches).toEqual([]);
  });

  it('serves as its own reference model: TF.js’s GraphModel of the same files', async () => {
    const dir = join(temp.dir, 'cnn');
    const source = await loadModelSource({ model: join(dir, 'model.json') });
    expect(source.kind).toBe('graph');
    expect(source).toMatchObject({ name: 'cnn', inputShape: [32, 32, 3], classes: 10, weights: 'model file' });
    const y = source.model.predict(pixels) as tf.Tensor;
    expect(y.shape).toEqual([photos.length, 10]);
    tf.dispose(y);
    source.model.dispose();
    await expect(loadModelSource({ model: dir, weights: 'random' })).rejects.toThrow(
      `--weights applies to Keras and TF.js layers models; the weights of the graph model ${join(dir, 'model.json')} are the ones its weightsManifest lists`,
    );
  });
});
