// exportSavedModel end to end on a Keras .h5 model: the SavedModel's contents (frozen graph, signature,
// stripped default attrs, labels asset), raw-bytes input with 'unit' preprocessing checked against the
// Keras model in TF.js, and failures that must leave nothing behind.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { DataType, lockTarget, readSavedModel, TargetLockError, tensorProtoToArray, validateGraph, type MetaGraphDef } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExportError, exportSavedModel, initTfjs, loadKerasModel, type ExportOptions, type ExportProgress } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { imagesDir, makeTempDir } from './helpers/fixtures.js';
import { writeKerasModelFile, writeKerasWeightsFile } from './helpers/keras-h5-writer.js';
import { configLayerNames, h5LayersFor, kerasLayer, functionalConfig, smallClassifierConfig, smallClassifierWeights } from './helpers/keras-models.js';

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let h5: string;
let labels: string;
beforeAll(async () => {
  await initTfjs('wasm');
  temp = await makeTempDir('export');
  const config = smallClassifierConfig();
  h5 = join(temp.dir, 'flowers_small.h5');
  await writeKerasModelFile(h5, config, h5LayersFor(configLayerNames(config), smallClassifierWeights()));
  labels = join(temp.dir, 'labels.txt');
  await writeFile(labels, 'daisy\nrose\ntulip\n');
});
afterAll(() => temp.cleanup());

const utf8 = new TextDecoder();

describe('exportSavedModel', () => {
  let metaGraph: MetaGraphDef;
  let modelDir: string;
  const progress: ExportProgress[] = [];
  let result: Awaited<ReturnType<typeof exportSavedModel>>;
  beforeAll(async () => {
    modelDir = join(temp.dir, 'flowers', '1');
    result = await exportSavedModel({
      modelDir,
      model: h5,
      inputFormat: 'bytes',
      preprocess: 'unit',
      labels,
      onProgress: (p) => progress.push(p),
    });
    const loaded = await readSavedModel(modelDir);
    expect(loaded.variableFiles).toEqual([]);
    expect(loaded.assetFiles).toEqual(['labels.txt']);
    metaGraph = loaded.savedModel.meta_graphs![0];
  });

  it('writes one frozen MetaGraphDef tagged serve with the serving_default signature', () => {
    expect(metaGraph.meta_info_def!.tags).toEqual(['serve']);
    expect(metaGraph.saver_def ?? undefined).toBeUndefined();
    const nodes = metaGraph.graph_def!.node!;
    expect(nodes.filter((n) => /Variable|Assign|Restore/.test(n.op))).toEqual([]);
    expect(validateGraph(metaGraph.graph_def!, undefined, { signatures: metaGraph.signature_def }).issues).toEqual([]);
    const signature = metaGraph.signature_def!.serving_default;
    expect(signature.method_name).toBe('tensorflow/serving/predict');
    expect(Object.keys(signature.inputs!)).toEqual(['inputs']);
    expect(Object.keys(signature.outputs!)).toEqual(['outputs']);
    expect(signature.outputs!.outputs.name).toBe('dense_1/Softmax:0');
    // The graph decodes raw bytes: no DecodeBase64.
    expect(nodes.some((n) => n.op === 'DecodeBase64')).toBe(false);
    expect(result).toMatchObject({
      modelDir,
      model: 'flowers_small',
      weights: 'model file',
      inputShape: [32, 32, 3],
      classes: 3,
      inputFormat: 'bytes',
      preprocess: 'unit',
      labels: { file: 'assets/labels.txt', count: 3, source: labels },
      nodes: nodes.length,
      signature: {
        key: 'serving_default',
        inputs: { inputs: { name: 'inputs:0', dtype: 'DT_STRING', shape: [-1] } },
        outputs: { outputs: { name: 'dense_1/Softmax:0', dtype: 'DT_FLOAT', shape: [-1, 3] } },
      },
    });
    expect(Object.values(result.ops).reduce((a, b) => a + b, 0)).toBe(nodes.length);
    expect(progress.map((p) => p.step)).toEqual(['load', 'convert', 'validate', 'write']);
  });

  it('strips attrs equal to their defaults and lists the ops it uses', () => {
    const nodes = metaGraph.graph_def!.node!;
    expect(metaGraph.meta_info_def!.stripped_default_attrs).toBe(true);
    const matMul = nodes.find((n) => n.op === 'MatMul')!;
    expect(Object.keys(matMul.attr ?? {})).toEqual(['T']);
    const conv = nodes.find((n) => n.name === 'conv2d_1/Conv2D')!;
    expect(Object.keys(conv.attr!).sort()).toEqual(['T', 'padding', 'strides']);
    const listed = metaGraph.meta_info_def!.stripped_op_list!.op!.map((op) => op.name);
    expect(listed).toEqual([...new Set(nodes.map((n) => n.op))].sort());
  });

  it('ships the labels as an asset named by a graph tensor', async () => {
    expect(await readFile(join(modelDir, 'assets', 'labels.txt'), 'utf8')).toBe('daisy\nrose\ntulip\n');
    const [asset, ...more] = metaGraph.asset_file_def!;
    expect(more).toEqual([]);
    expect(asset.filename).toBe('labels.txt');
    expect(asset.tensor_info!.name).toBe('labels_file:0');
    expect(asset.tensor_info!.dtype).toBe(DataType.DT_STRING);
    const holder = metaGraph.graph_def!.node!.find((n) => n.name === 'labels_file')!;
    expect(holder.op).toBe('Const');
    expect((tensorProtoToArray(holder.attr!.value!.tensor!) as Uint8Array[]).map((b) => utf8.decode(b))).toEqual(['labels.txt']);
  });

  it('classifies raw image bytes like the Keras model on the same pixels', async () => {
    const files = await Promise.all(['cat.jpg', 'image_png_test.png', 'rocket.jpg'].map((f) => readFile(join(imagesDir, f))));
    const exported = await predictExported(modelDir, files.map((f) => new Uint8Array(f)));
    expect(exported.shape).toEqual([3, 3]);
    const keras = await loadKerasModel(h5);
    const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    const pixels = preprocessImagesReference(tf, decoded, { height: 32, width: 32, preprocess: 'unit' });
    const probabilities = keras.predict(pixels) as tf.Tensor;
    const comparison = compareProbabilities(exported.data, (await probabilities.data()) as Float32Array, 3);
    tf.dispose([pixels, probabilities]);
    keras.dispose();
    expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
  });
});

describe('exportSavedModel with foldBatchNorms', () => {
  it('folds the batch norms after linear convolutions and still matches the Keras model', async () => {
    const modelDir = join(temp.dir, 'folded');
    const result = await exportSavedModel({ modelDir, model: h5, foldBatchNorms: true });
    // flowers_small: conv2d_1 → batch_normalization_1 and depthwise_conv2d_1 → batch_normalization_2.
    expect(result.foldedBatchNorms).toBe(2);
    expect(result.ops.FusedBatchNormV3).toBeUndefined();
    const file = await readFile(join(imagesDir, 'astronaut.jpg'));
    const exported = await predictExported(modelDir, [file.toString('base64url')]);
    const keras = await loadKerasModel(h5);
    const pixels = preprocessImagesReference(tf, [await decodeImageToRgb(file, { dctMethod: 'accurate' })], { height: 32, width: 32, preprocess: 'inception' });
    const probabilities = keras.predict(pixels) as tf.Tensor;
    expect(compareProbabilities(exported.data, (await probabilities.data()) as Float32Array, 3).maxAbsDiff).toBeLessThanOrEqual(1e-4);
    tf.dispose([pixels, probabilities]);
    keras.dispose();
  });
});

describe('exportSavedModel refusals', () => {
  /** Runs an export that must fail; returns the error after checking nothing was left in `parent`. */
  async function failedExport(parent: string, options: Omit<ExportOptions, 'modelDir'> & { modelDir?: string }): Promise<Error> {
    await mkdir(parent, { recursive: true });
    const before = await readdir(parent);
    const error = await exportSavedModel({ modelDir: join(parent, 'model'), ...options }).then(
      () => new Error('expected the export to fail'),
      (err: Error) => err,
    );
    expect(await readdir(parent)).toEqual(before);
    expect(error.message).not.toContain('\n');
    return error;
  }

  it('replaces a non-empty directory only with force', async () => {
    const parent = join(temp.dir, 'existing');
    const modelDir = join(parent, 'model');
    await mkdir(modelDir, { recursive: true });
    await writeFile(join(modelDir, 'keep.txt'), 'mine');
    const error = await failedExport(parent, { model: h5 });
    expect(error).toBeInstanceOf(ExportError);
    expect(error.message).toBe(`refusing to overwrite ${modelDir}: the directory is not empty (use --force to replace it)`);
    expect(await readFile(join(modelDir, 'keep.txt'), 'utf8')).toBe('mine');

    await exportSavedModel({ modelDir, model: h5, force: true });
    expect((await readdir(modelDir)).sort()).toEqual(['assets.extra', 'saved_model.pb', 'variables']);
    expect(await readdir(parent)).toEqual(['model']);
  });

  it('refuses to export into a target another export is writing, then exports once it is done', async () => {
    const parent = join(temp.dir, 'locked');
    const modelDir = join(parent, 'model');
    const other = await lockTarget(modelDir);
    const error = await failedExport(parent, { model: h5 });
    expect(error).toBeInstanceOf(TargetLockError);
    expect(error.message).toBe(
      `${modelDir} is being written by process ${process.pid} (lock ${other.file}); wait for it to finish, or remove the lock if that process is gone`,
    );
    await other.release();
    await exportSavedModel({ modelDir, model: h5 });
    expect(await readdir(parent)).toEqual(['model']);
  });

  it('refuses an output path under a regular file', async () => {
    const parent = join(temp.dir, 'under-file');
    await mkdir(parent);
    await writeFile(join(parent, 'file'), 'x');
    const error = await failedExport(parent, { modelDir: join(parent, 'file', 'model'), model: h5 });
    expect(error.message).toBe(`cannot export to ${join(parent, 'file', 'model')}: ${join(parent, 'file')} is a file, not a directory`);
  });

  it('refuses labels that do not match the classes', async () => {
    const wrong = join(temp.dir, 'two-labels.txt');
    await writeFile(wrong, 'cat\ndog\n');
    const error = await failedExport(join(temp.dir, 'labels-mismatch'), { model: h5, labels: wrong });
    expect(error.message).toBe(`labels ${wrong} has 2 labels but the model has 3 classes`);
  });

  it('refuses a model with a layer it cannot convert', async () => {
    const L = kerasLayer;
    const config = functionalConfig('recurrent', [L.input('input_1', [8, 8, 3]), L.lstm('lstm_1', 'input_1')], 'input_1', 'lstm_1');
    const path = join(temp.dir, 'recurrent.h5');
    await writeKerasModelFile(path, config, []);
    const error = await failedExport(join(temp.dir, 'unknown-layer'), { model: path });
    expect(error.message).toMatch(/^layer 'lstm_1' has class LSTM, which tensorsky export does not support/);
  });

  it('refuses weights of the wrong shapes', async () => {
    const config = smallClassifierConfig();
    const weights = smallClassifierWeights().map((w) =>
      w.layer === 'dense_1' && w.role === 'kernel' ? { ...w, shape: [3, 8], data: w.data } : w,
    );
    const file = join(temp.dir, 'wrong-shapes.h5');
    await writeKerasWeightsFile(file, h5LayersFor(configLayerNames(config), weights));
    const error = await failedExport(join(temp.dir, 'wrong-shapes'), { model: h5, weights: file });
    expect(error.message).toContain('layer dense_1: weight shape [3,8] in file, model expects [8,3]');
  });

  it('refuses a corrupt .h5 file', async () => {
    const file = join(temp.dir, 'corrupt.h5');
    const bytes = Buffer.alloc(4096, 0xab);
    Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
    await writeFile(file, bytes);
    const error = await failedExport(join(temp.dir, 'corrupt'), { model: file });
    expect(error.message).toMatch(/corrupt\.h5 is a damaged HDF5 file/);
  });

  it('fails offline with a one-line hint when the ImageNet weights are not cached', async () => {
    // A port nothing listens on: the connection is refused, as without network.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/weights.h5`;
    await new Promise((resolve) => probe.close(resolve));
    const cacheDir = join(temp.dir, 'empty-cache');
    const error = await failedExport(join(temp.dir, 'offline'), { weights: 'imagenet', imagenet: { url, cacheDir } });
    expect(error.message).toBe(
      `ImageNet weights are not available offline (cannot reach ${new URL(url).host}): put inception_v3_weights_tf_dim_ordering_tf_kernels.h5 in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`,
    );
  });

  it('reports download progress and fails cleanly when the download is bad', async () => {
    // A server that sends 3 chunks of junk instead of the weights file: the md5 check fails.
    const server = createServer((_, res) => {
      res.writeHead(200, { 'content-length': String(3 * 65536) });
      for (let i = 0; i < 3; i++) res.write(Buffer.alloc(65536, i));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/weights.h5`;
    const progress: ExportProgress[] = [];
    try {
      const error = await failedExport(join(temp.dir, 'bad-download'), {
        weights: 'imagenet',
        imagenet: { url, cacheDir: join(temp.dir, 'keras-cache') },
        onProgress: (p) => progress.push(p),
      });
      expect(error.message).toMatch(/the download is corrupt, try again$/);
    } finally {
      server.close();
    }
    const downloads = progress.filter((p) => p.step === 'download');
    expect(downloads.length).toBeGreaterThan(0);
    expect(downloads.at(-1)).toMatchObject({ bytes: 3 * 65536, total: 3 * 65536 });
  });
});
