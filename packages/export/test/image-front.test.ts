// Engine onnx's fast image front (predict-local/src/engines/image-front.ts) against the executor's front
// on the exports users make: the gathered [n, height, width, channels] batch must be the same bits, on
// every fixture image in one batch of mixed sizes and formats; a front it does not recognize is left to
// the executor, and bad images fail with the executor's errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IMAGES_DIR, gifFrames } from '@tensorsky/fixtures';
import { DataType, freezeSignatureGraph, getMetaGraph, GraphBuilder, parseTensorName, readSavedModel, tensorProto, writeSavedModel, type FrozenGraph } from '@tensorsky/saved-model';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@tensorsky/predict-local';
import { exportSavedModel, loadModelSource, randomWeights, type ExportOptions } from '../src/index.js';
import { buildImageInputGraph, type ImageInputOptions } from '../src/serving-input.js';
import { buildLayerZoo, compareProbabilities, saveQuantizedLayersModel } from './fidelity-helpers.js';
import { bmpFile } from '../../image/test/fixtures.js';
import { frontOf, loadFront, splitNetwork } from '../../predict-local/src/engines/onnx.js';
import { fastImageFront, type ImageBatch } from '../../predict-local/src/engines/image-front.js';
import { startExecutorBackend } from '../../predict-local/src/engines/executor.js';
import { registerCustomOps } from '../../predict-local/src/kernels/index.js';

let saved = 0;
/** The export's serving input written as a SavedModel and read back (protobuf-decoded, as users' models are). */
async function frozen(options: ImageInputOptions): Promise<FrozenGraph> {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, options);
  const signature = g.signature({ inputs: input }, { images });
  const dir = path.join(scratch, `model-${saved++}`);
  await writeSavedModel(dir, {
    savedModel: { saved_model_schema_version: 1, meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: signature } }] },
  });
  const { savedModel } = await readSavedModel(dir);
  return freezeSignatureGraph(getMetaGraph(savedModel), { signature: 'serving_default', dir });
}

function front(graph: FrozenGraph) {
  const { feeds, boundary } = splitNetwork(graph);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const nodes = frontOf(feeds.slice(0, boundary).map((f) => f.tensor), byName);
  return { feeds: feeds.slice(0, boundary), nodes };
}

/**
 * The fronts on one batch: the fast one run image by image in this thread, the fast one with a decode
 * thread (JPEGs decoded side by side), and the executor's.
 */
async function bothFronts(options: ImageInputOptions, files: Uint8Array[]): Promise<{ fast: ImageBatch; pooled: ImageBatch; executor: tf.Tensor }> {
  const graph = await frozen(options);
  const { feeds, nodes } = front(graph);
  const fast = fastImageFront(graph, nodes, feeds.map((f) => f.tensor));
  const withPool = fastImageFront(graph, nodes, feeds.map((f) => f.tensor), { decodeThreads: 1 });
  expect(fast, 'the export front is recognized').toBeDefined();
  const executor = await loadFront(graph, feeds, nodes);
  const strings = files.map((f) => (options.inputFormat === 'b64' ? new TextEncoder().encode(Buffer.from(f).toString('base64url')) : f));
  const input = tf.tensor(strings, [strings.length], 'string');
  try {
    // The direct front keeps no tensor of a call (its constants are made at load).
    const before = tf.memory().numTensors;
    const fastOut = (await fast!.run({ inputs: input }))!;
    const pooled = (await withPool!.run({ inputs: input }))!;
    expect(tf.memory().numTensors).toBe(before);
    const [executorOut] = await executor.graph.run({ inputs: input });
    return { fast: fastOut, pooled, executor: executorOut! };
  } finally {
    input.dispose();
    fast!.dispose();
    withPool!.dispose();
    executor.graph.dispose();
  }
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

let scratch: string;
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let files: Uint8Array[] = [];
/** What TensorFlow (GIF, BMP) or our decoder (CMYK JPEG) refuses to decode to one channel. */
let notGray: Uint8Array[];
beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-image-front-'));
  registerCustomOps();
  expect(await startExecutorBackend('wasm', 1)).toBe('wasm');
  const photos = fs.readdirSync(IMAGES_DIR).filter((f) => /\.(jpe?g|png)$/.test(f)).map((f) => new Uint8Array(fs.readFileSync(`${IMAGES_DIR}/${f}`)));
  const cat = fs.readFileSync(`${IMAGES_DIR}/cat.jpg`);
  const gray = await sharp(cat).resize(97, 61).grayscale().jpeg().toBuffer();
  const cmykJpeg = await sharp(cat).resize(50, 70).toColourspace('cmyk').jpeg().toBuffer();
  const progressive = await sharp(cat).resize(64, 48).jpeg({ progressive: true }).toBuffer();
  const gifFile = gifFrames(5, 3, 2);
  const bmp = bmpFile(3, 2, [238, 101, 0, 50, 50, 50, 100, 50, 0, 200, 100, 50, 1, 2, 3, 4, 5, 6]);
  files = [...photos, gray, cmykJpeg, progressive, gifFile, bmp].map((b) => new Uint8Array(b));
  notGray = [files[photos.length + 1]!, files[photos.length + 3]!, files[photos.length + 4]!];
}, 60_000);

const EXPORTS: Array<[string, ImageInputOptions]> = [
  ['default (b64, accurate IDCT, inception)', { inputFormat: 'b64', height: 75, width: 75, preprocess: 'inception' }],
  ['--jpeg_dct fast', { inputFormat: 'b64', height: 75, width: 75, preprocess: 'inception', jpegDct: 'fast' }],
  ['bytes input', { inputFormat: 'bytes', height: 40, width: 56, preprocess: 'none' }],
  ['central crop 0.875, bicubic', { inputFormat: 'b64', height: 64, width: 64, preprocess: 'unit', geometry: { kind: 'central_crop', fraction: 0.875 }, resize: 'bicubic' }],
  ['short side 80 then center crop, area', { inputFormat: 'b64', height: 64, width: 64, preprocess: 'torch', geometry: { kind: 'short_side', shortSide: 80 }, resize: 'area' }],
  ['pad to square, nearest, align_corners', { inputFormat: 'b64', height: 48, width: 48, preprocess: 'caffe', geometry: { kind: 'pad_to_square' }, resize: 'nearest', grid: 'align_corners' }],
  ['antialiased bicubic', { inputFormat: 'b64', height: 32, width: 32, preprocess: 'inception', antialias: true, resize: 'bicubic' }],
  ['grayscale, legacy grid', { inputFormat: 'b64', height: 30, width: 20, preprocess: 'inception', channels: 1, grid: 'legacy' }],
];

describe('engine onnx: the fast image front', () => {
  it.each(EXPORTS)('%s: the same bits as the executor on every fixture image, in one batch', async (_name, options) => {
    const batch = options.channels === 1 ? files.filter((f) => !notGray.includes(f)) : files;
    const { fast, pooled, executor } = await bothFronts(options, batch);
    try {
      expect(fast.shape).toEqual([batch.length, options.height, options.width, options.channels ?? 3]);
      expect(fast.shape).toEqual(executor.shape);
      expect(pooled.shape).toEqual(executor.shape);
      const expected = (await executor.data()) as Float32Array;
      // Bit for bit: the typed arrays' bytes.
      expect(sameBits(fast.values, expected), 'image by image').toBe(true);
      expect(sameBits(pooled.values, expected), 'JPEGs decoded side by side').toBe(true);
    } finally {
      executor.dispose();
    }
  }, 120_000);

  const bytes: ImageInputOptions = { inputFormat: 'bytes', height: 8, width: 8, preprocess: 'none' };
  it.each<[string, ImageInputOptions, () => Uint8Array]>([
    ['not an image', bytes, () => new TextEncoder().encode('not an image')],
    ['a truncated JPEG', bytes, () => files[0]!.subarray(0, 2000)],
    ['an empty string', bytes, () => new Uint8Array(0)],
    ['a CMYK JPEG to one channel', { ...bytes, channels: 1 }, () => notGray[0]!],
    ['a GIF to one channel', { ...bytes, channels: 1 }, () => notGray[1]!],
    ['a BMP to one channel', { ...bytes, channels: 1 }, () => notGray[2]!],
    ['invalid base64', { ...bytes, inputFormat: 'b64' }, () => new TextEncoder().encode('a$b')],
  ])('%s fails with the executor’s error', async (_name, options, bad) => {
    const graph = await frozen(options);
    const { feeds, nodes } = front(graph);
    const fast = fastImageFront(graph, nodes, feeds.map((f) => f.tensor))!;
    const pooled = fastImageFront(graph, nodes, feeds.map((f) => f.tensor), { decodeThreads: 1 })!;
    const executor = await loadFront(graph, feeds, nodes);
    const good = options.inputFormat === 'b64' ? new TextEncoder().encode(Buffer.from(files[1]!).toString('base64url')) : files[1]!;
    // Several good JPEGs around the bad image, and a different bad one after it: the error is the
    // first bad element's, as the executor meets it, also when the JPEGs decode side by side.
    const later = new TextEncoder().encode(options.inputFormat === 'b64' ? 'QUJD' : 'ABC');
    const input = tf.tensor([good, good, bad(), good, later, good], [6], 'string');
    try {
      const executorError = await executor.graph.run({ inputs: input }).then(() => undefined, (err: Error) => err.message);
      expect(executorError).toBeDefined();
      await expect(fast.run({ inputs: input })).rejects.toThrow(executorError!);
      await expect(pooled.run({ inputs: input })).rejects.toThrow(executorError!);
    } finally {
      input.dispose();
      fast.dispose();
      pooled.dispose();
      executor.graph.dispose();
    }
  });

  it('a batch array is reused only after it is released', async () => {
    const graph = await frozen({ inputFormat: 'bytes', height: 8, width: 8, preprocess: 'none' });
    const { feeds, nodes } = front(graph);
    const fast = fastImageFront(graph, nodes, feeds.map((f) => f.tensor))!;
    const two = tf.tensor([files[0]!, files[1]!], [2], 'string');
    const three = tf.tensor([files[0]!, files[1]!, files[2]!], [3], 'string');
    try {
      const a = (await fast.run({ inputs: two }))!;
      const kept = a.values.slice();
      const b = (await fast.run({ inputs: two }))!;
      expect(b.values).not.toBe(a.values);
      expect(sameBits(a.values, kept), 'a batch still lent out is not written').toBe(true);
      a.release();
      const c = (await fast.run({ inputs: three }))!;
      expect(c.values).not.toBe(a.values);
      const d = (await fast.run({ inputs: two }))!;
      expect(d.values).toBe(a.values);
      expect(sameBits(d.values, kept)).toBe(true);
      [b, c, d].forEach((x) => x.release());
    } finally {
      tf.dispose([two, three]);
      fast.dispose();
    }
  });

  it('a front that is not the exporter’s loop is left to the executor', async () => {
    const graph = await frozen({ inputFormat: 'b64', height: 16, width: 16, preprocess: 'none' });
    const { feeds, nodes } = front(graph);
    const boundary = feeds.map((f) => f.tensor);
    expect(fastImageFront(graph, nodes, boundary)).toBeDefined();
    // An op in the body the fast path does not run (a Relu after the Cast).
    const cast = nodes.find((n) => n.op === 'Cast')!;
    const changed = nodes.map((n) => (n.input ?? []).some((i) => parseTensorName(i).node === cast.name) ? { ...n, input: n.input!.map((i) => (parseTensorName(i).node === cast.name ? 'relu' : i)) } : n);
    const relu = { name: 'relu', op: 'Relu', input: [cast.name], attr: { T: cast.attr!.DstT! } };
    expect(fastImageFront(graph, [...changed, relu], boundary)).toBeUndefined();
    // A loop counting from 1.
    const start = nodes.find((n) => n.name.endsWith('/map/Const'))!;
    const from1 = { ...start, attr: { ...start.attr, value: { tensor: tensorProto(DataType.DT_INT32, [], [1]) } } };
    expect(fastImageFront(graph, nodes.map((n) => (n === start ? from1 : n)), boundary)).toBeUndefined();
  });
});

describe('engine onnx on exports: the image front runs directly', () => {
  const EXPORT_OPTIONS: Array<[string, Partial<ExportOptions>]> = [
    ['default', {}],
    ['--fold_batch_norms', { foldBatchNorms: true }],
    ['--jpeg_dct fast', { jpegDct: 'fast' }],
    ['--input_format bytes', { inputFormat: 'bytes' }],
    ['central crop 0.875', { geometry: { kind: 'central_crop', fraction: 0.875 } }],
  ];
  let source: Awaited<ReturnType<typeof loadModelSource>>;
  beforeAll(async () => {
    const trained = buildLayerZoo(32, 10);
    await randomWeights(trained, 5);
    await saveQuantizedLayersModel(trained, path.join(scratch, 'zoo'));
    trained.dispose();
    source = await loadModelSource({ model: path.join(scratch, 'zoo') });
  }, 120_000);
  afterAll(() => source?.model.dispose());

  it.each(EXPORT_OPTIONS)('%s: engine onnx recognizes the front and agrees with wasm on every fixture image', async (name, options) => {
    const { modelDir } = await exportSavedModel({ modelDir: path.join(scratch, `zoo-${saved++}`), source, preprocess: 'inception', ...options });
    const onnx = await loadModel(modelDir, { backend: 'onnx' });
    const wasm = await loadModel(modelDir, { backend: 'wasm' });
    try {
      expect(onnx.onnx?.imageFront).toBe('direct');
      const inputs = options.inputFormat === 'bytes' ? files : files.map((f) => Buffer.from(f).toString('base64url'));
      const [a, b] = [await onnx.predict({ inputs }), await wasm.predict({ inputs })];
      const [pa, pb] = [Object.values(a)[0]!, Object.values(b)[0]!];
      expect(pa.shape).toEqual([files.length, 10]);
      expect(compareProbabilities(pa.data as Float32Array, pb.data as Float32Array, 10).maxAbsDiff, name).toBeLessThanOrEqual(2.5e-4);
    } finally {
      onnx.dispose();
      wasm.dispose();
    }
  }, 120_000);
});
