// Fidelity of the exported InceptionV3 (seeded random weights): the SavedModel run as a TensorFlow
// graph by predict-local's executor, fed base64 JPEG files, against the source tf.LayersModel run on
// the same decoded pixels resized and scaled in TF.js (preprocessImagesReference).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '@tensorsky/predict-local';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { readSavedModel, summarizeSavedModel, validateGraph } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, loadModelSource, type ExportResult, type ModelSource } from '../src/index.js';
import { compareProbabilities } from './fidelity-helpers.js';
import { imagesDir, makeTempDir, PHOTOS } from './helpers/fixtures.js';

describe('InceptionV3 export fidelity', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let source: ModelSource;
  let result: ExportResult;
  beforeAll(async () => {
    temp = await makeTempDir('fidelity-inception');
    source = await loadModelSource({ weights: 'random', seed: 11, backend: 'wasm' });
    result = await exportSavedModel({ modelDir: join(temp.dir, 'inception'), source });
  }, 300_000);
  afterAll(async () => {
    source?.model.dispose();
    await temp.cleanup();
  });

  it('exports a frozen, valid graph with the serving signature', async () => {
    expect(result.timings.convert + result.timings.write).toBeLessThan(10_000);
    // 94 x conv2d_bn (Conv2D without bias → FusedBatchNormV3 → Relu), then avg_pool and predictions.
    expect(result.foldedBatchNorms).toBe(0);
    expect(result.ops).toMatchObject({ Conv2D: 94, FusedBatchNormV3: 94, Relu: 94, BiasAdd: 1, MatMul: 1, Softmax: 1, Mean: 1 });
    const loaded = await readSavedModel(result.modelDir);
    expect(loaded.variableFiles).toEqual([]);
    expect(loaded.assetFiles).toEqual(['labels.txt']);
    const metaGraph = loaded.savedModel.meta_graphs![0];
    expect(validateGraph(metaGraph.graph_def!, undefined, { signatures: metaGraph.signature_def }).issues).toEqual([]);
    const summary = await summarizeSavedModel(loaded);
    const [serving] = summary.metaGraphs[0].signatures;
    expect(serving.key).toBe('serving_default');
    expect(serving.methodName).toBe('tensorflow/serving/predict');
    expect(serving.inputs).toEqual([{ alias: 'inputs', name: 'inputs:0', dtype: 'DT_STRING', shape: [-1] }]);
    expect(serving.outputs).toEqual([{ alias: 'outputs', name: 'predictions/Softmax:0', dtype: 'DT_FLOAT', shape: [-1, 1000] }]);
  });

  it('gives the source model’s probabilities and top-5 on real photos', async () => {
    const files = await Promise.all(PHOTOS.map((name) => readFile(join(imagesDir, name))));
    const model = await loadModel(result.modelDir, { backend: 'wasm' });
    let exported: Float32Array;
    try {
      const out = await model.predict({ inputs: files.map((f) => f.toString('base64url')) });
      expect(out.outputs.shape).toEqual([PHOTOS.length, 1000]);
      exported = out.outputs.data as Float32Array;
    } finally {
      model.dispose();
    }
    const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    const pixels = preprocessImagesReference(tf, decoded, { height: 299, width: 299, preprocess: 'inception' });
    const probabilities = source.model.predict(pixels) as tf.Tensor;
    const reference = (await probabilities.data()) as Float32Array;
    tf.dispose([pixels, probabilities]);

    const comparison = compareProbabilities(exported, reference, 1000);
    // Measured: 0 (bit-identical: the executor runs the graph's ops with the TF.js kernels the layers use,
    // MatMul and BiasAdd one after the other as TF.js's softmax Dense and TensorFlow do).
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    expect(comparison.top5Mismatches).toEqual([]);
    // The random weights give photos distinct, peaked predictions, so the comparison means something.
    expect(new Set(comparison.top1).size).toBeGreaterThan(2);
  });
});
