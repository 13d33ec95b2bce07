// InceptionV3 as the exporter writes it (seeded random weights; default and with batch norms folded):
// frozen, cut where the two-phase plan cuts it (the decoded [N, 299, 299, 3] float batch), translated to
// ONNX from there to the Softmax, and compared with TF.js (wasm backend) running the same subgraph with
// GraphModel.execute, on the repository's photos (resized to 299x299) and on a seeded random [2, 299,
// 299, 3] tensor in [0, 255]. Also: at most 2 Transposes in the ONNX graph; the translation time is
// printed (speed is measured by `npm run bench`, not asserted here).
//
// Tolerances. This randomly initialized network amplifies float32 rounding layer by layer (the relative
// difference between any two engines grows ~2x per Inception block, to ~1e-4 of the activations at
// mixed10), so two correct float32 engines differ by up to ~1e-4 in probability: TF.js's own cpu and
// wasm backends differ by 2.1e-4 on the random tensor. The bounds below are therefore: photos 1e-4
// (default export) / 2e-4 (folded export), the random tensor 5e-4, and the same top-5 except where two
// classes' probabilities are within the bound of each other. A translation error (a wrong pad, layout or
// axis) shows as a difference of the size of the activations, already at the first block: mixed0 is
// held to a relative 2e-5.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { DataType, freezeSignatureGraph, getMetaGraph, parseTensorName, readSavedModel, type FrozenGraph, type NodeDef } from '@tensorsky/saved-model';
import { ASYNC_CUSTOM_OPS } from '../../predict-local/src/kernels/index.js';
import { asyncBoundary, toTfjsModel } from '../../predict-local/src/tfjs-model.js';
import { translateToOnnx } from '../../predict-local/src/onnx/index.js';
import sharp from 'sharp';
import { IMAGES_DIR, PHOTOS } from '@tensorsky/fixtures';
import { maxAbsDiff, onnxOps, ort, uniform } from '../../predict-local/test/onnx-support.js';
import { exportSavedModel, loadModelSource } from '../src/index.js';

const TOLERANCE = { photos: { default: 1e-4, folded: 2e-4 }, random: 5e-4, mixed0Relative: 2e-5 };
const BOUNDARY = 'preprocess/map/TensorArrayStack/TensorArrayGatherV3:0';


let tmp: string;
const dirs: Record<string, string> = {};

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorsky-onnx-inception-'));
  const source = await loadModelSource({ weights: 'random', seed: 1, backend: 'wasm' });
  try {
    for (const [key, fold] of [['default', false], ['folded', true]] as const) {
      dirs[key] = path.join(tmp, key);
      await exportSavedModel({ modelDir: dirs[key], source, foldBatchNorms: fold });
    }
  } finally {
    source.model.dispose();
  }
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function frozen(dir: string): Promise<FrozenGraph> {
  const loaded = await readSavedModel(dir);
  return freezeSignatureGraph(getMetaGraph(loaded.savedModel), { signature: 'serving_default', dir: loaded.dir });
}

/** The network after the boundary, for TF.js: the boundary's producer becomes a placeholder of the same name. */
function network(graph: FrozenGraph, boundary: string): FrozenGraph {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const cut = parseTensorName(boundary).node;
  const kept = new Map<string, NodeDef>();
  const stack = graph.outputs.map((o) => parseTensorName(o.tensor).node);
  while (stack.length) {
    const name = stack.pop()!;
    if (kept.has(name)) continue;
    if (name === cut) {
      kept.set(name, { name, op: 'Placeholder', input: [], attr: { dtype: { type: DataType.DT_FLOAT }, shape: { shape: { unknown_rank: true } } } });
      continue;
    }
    const node = byName.get(name)!;
    kept.set(name, node);
    for (const i of node.input ?? []) stack.push(parseTensorName(i).node);
  }
  return {
    ...graph,
    nodes: [...kept.values()],
    functions: [],
    inputs: [{ alias: 'images', tensor: boundary, dtype: DataType.DT_FLOAT, shape: [-1, 299, 299, 3] }],
  };
}

function top5(probs: Float32Array, image: number, classes: number): number[] {
  const row = Array.from(probs.subarray(image * classes, (image + 1) * classes));
  return row.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([, i]) => i);
}

/** Same top-5, except for neighbours whose reference probabilities are within `tolerance` (near ties). */
function sameTop5(onnx: Float32Array, reference: Float32Array, images: number, tolerance: number, exact: boolean): boolean {
  const classes = reference.length / images;
  for (let i = 0; i < images; i++) {
    const a = top5(onnx, i, classes);
    const b = top5(reference, i, classes);
    if (exact ? a.join() !== b.join() : a.some((c, k) => Math.abs(reference[i * classes + c] - reference[i * classes + b[k]]) > tolerance)) return false;
  }
  return true;
}

async function photoBatch(): Promise<{ data: Float32Array; shape: number[] }> {
  const size = 299 * 299 * 3;
  const data = new Float32Array(PHOTOS.length * size);
  for (const [i, photo] of PHOTOS.entries()) {
    const rgb = await sharp(path.join(IMAGES_DIR, photo)).removeAlpha().resize(299, 299, { fit: 'fill' }).raw().toBuffer();
    data.set(Float32Array.from(rgb), i * size);
  }
  return { data, shape: [PHOTOS.length, 299, 299, 3] };
}

/** Runs the translated model (fetching `extra` tensors too) and the TF.js subgraph; outputs in fetch order. */
async function both(graph: FrozenGraph, fetches: string[], input: { data: Float32Array; shape: number[] }): Promise<{ onnx: Float32Array[]; tfjs: Float32Array[] }> {
  const model = translateToOnnx(graph, [{ tensor: BOUNDARY, dtype: DataType.DT_FLOAT, shape: [-1, 299, 299, 3] }], fetches.map((tensor) => ({ tensor, dtype: DataType.DT_FLOAT })));
  const o = await ort();
  const s = await o.InferenceSession.create(model.bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  const results = await s.run({ [model.inputNames[0]]: new o.Tensor('float32', input.data, input.shape) });
  const onnx = model.outputNames.map((name) => results[name].data as Float32Array);
  await s.release();

  await tf.setBackend('wasm');
  const { artifacts } = toTfjsModel(network(graph, BOUNDARY), new Set(), { split: false });
  const gm = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  const out = [gm.execute({ [parseTensorName(BOUNDARY).node]: x }, fetches)].flat() as tf.Tensor[];
  const tfjs = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, ...out]);
  gm.dispose();
  return { onnx, tfjs };
}

describe.each(['default', 'folded'] as const)('InceptionV3 export (%s batch norms)', (variant) => {
  it('translates the network from the decoded batch to the Softmax: ≤ 2 Transposes, no BatchNormalization left', async () => {
    const graph = await frozen(dirs[variant]);
    const plan = asyncBoundary(graph.nodes, graph.outputs.map((o) => o.tensor), ASYNC_CUSTOM_OPS);
    expect(plan?.boundary).toEqual([BOUNDARY]);
    const output = graph.outputs[0];
    const translate = () => translateToOnnx(graph, [{ tensor: BOUNDARY, dtype: DataType.DT_FLOAT, shape: [-1, 299, 299, 3] }], [{ tensor: output.tensor, dtype: output.dtype }]);
    let started = performance.now();
    const model = translate();
    const firstMs = performance.now() - started;
    started = performance.now();
    translate();
    const againMs = performance.now() - started;
    const ops = await onnxOps(model);
    const transposes = ops.filter((o) => o === 'Transpose').length;
    console.log(
      `InceptionV3 (${variant}): ${ops.length} ONNX nodes (${ops.filter((o) => o === 'Conv').length} Conv), ${transposes} Transpose, ` +
        `${(model.bytes.length / 2 ** 20).toFixed(1)} MiB; translated in ${firstMs.toFixed(0)} ms (again: ${againMs.toFixed(0)} ms)`,
    );
    expect(transposes).toBeLessThanOrEqual(2);
    expect(ops).not.toContain('BatchNormalization');
    // Speed (translation time, ORT ms/image) is measured by `npm run bench` (tools/bench/engines.mjs), not asserted here.
  }, 300_000);

  it('same probabilities and top-5 as TF.js on the photos; the first block agrees to float32 rounding', async () => {
    const graph = await frozen(dirs[variant]);
    const output = graph.outputs[0].tensor;
    const photos = await photoBatch();
    const { onnx, tfjs } = await both(graph, ['mixed0/concat:0', output], photos);
    const mixed0 = maxAbsDiff(onnx[0], tfjs[0]) / tfjs[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const diff = maxAbsDiff(onnx[1], tfjs[1]);
    const top = sameTop5(onnx[1], tfjs[1], PHOTOS.length, 0, true);
    console.log(`InceptionV3 (${variant}), ${PHOTOS.length} photos: max abs diff vs TF.js wasm ${diff.toExponential(2)}, top-5 ${top ? 'same' : 'DIFFERENT'}; mixed0 relative diff ${mixed0.toExponential(2)}`);
    expect(mixed0).toBeLessThanOrEqual(TOLERANCE.mixed0Relative);
    expect(diff).toBeLessThanOrEqual(TOLERANCE.photos[variant]);
    expect(top).toBe(true);
  }, 300_000);

  it('same probabilities as TF.js on a seeded random [2, 299, 299, 3] tensor in [0, 255]', async () => {
    const graph = await frozen(dirs[variant]);
    const images = uniform([2, 299, 299, 3], 7, 0, 255) as { data: Float32Array; shape: number[] };
    const { onnx, tfjs } = await both(graph, [graph.outputs[0].tensor], images);
    const diff = maxAbsDiff(onnx[0], tfjs[0]);
    const exact = sameTop5(onnx[0], tfjs[0], 2, 0, true);
    console.log(`InceptionV3 (${variant}), random tensor: max abs diff vs TF.js wasm ${diff.toExponential(2)}, top-5 ${exact ? 'same' : 'same up to near ties'}`);
    expect(diff).toBeLessThanOrEqual(TOLERANCE.random);
    expect(sameTop5(onnx[0], tfjs[0], 2, TOLERANCE.random, false)).toBe(true);
  }, 300_000);
});
