// Conv + BiasAdd + activation fusion in the conversion to tfjs-converter (MatMul stays unfused): which chains are fused
// (only those whose intermediate tensors feed nothing else), and that fused graphs compute the same as
// the unfused ones and as the TF.js ops applied one by one here.
import { describe, it, expect, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { DataType, freezeSignatureGraph, GraphBuilder, type GraphTensor, type MetaGraphDef } from '@tensorsky/saved-model';
import { toTfjsModel } from '../src/tfjs-model.js';
import { size, values } from './support/values.js';

interface Built {
  metaGraph: MetaGraphDef;
}

function build(make: (b: GraphBuilder) => { x: GraphTensor; outputs: Record<string, GraphTensor> }): Built {
  const b = new GraphBuilder();
  const { x, outputs } = make(b);
  const signature = b.signature({ x }, outputs);
  return { metaGraph: { meta_info_def: { tags: ['serve'] }, graph_def: b.toGraphDef(), signature_def: { serving_default: signature } } };
}

interface Run {
  ops: string[];
  fusedOps: string[][];
  outputs: Record<string, Float32Array>;
}

async function run({ metaGraph }: Built, input: tf.Tensor, fuse: boolean): Promise<Run> {
  const graph = freezeSignatureGraph(metaGraph, { signature: 'serving_default', dir: '.' });
  const { artifacts, outputNames } = toTfjsModel(graph, new Set(), { fuse });
  const nodes = (artifacts.modelTopology as { node: { op: string; attr: { fused_ops?: { list: { s: string[] } } } }[] }).node;
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  try {
    const results = [await model.executeAsync({ x: input }, outputNames)].flat();
    const outputs: Record<string, Float32Array> = {};
    for (const [i, spec] of graph.outputs.entries()) outputs[spec.alias] = (await results[i].data()) as Float32Array;
    tf.dispose(results);
    return {
      ops: nodes.map((n) => n.op).filter((op) => op !== 'Const' && op !== 'Placeholder' && op !== 'Merge'),
      fusedOps: nodes.filter((n) => n.attr.fused_ops).map((n) => n.attr.fused_ops!.list.s.map((s) => Buffer.from(s, 'base64').toString())),
      outputs,
    };
  } finally {
    model.dispose();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const INPUT_SHAPE = [2, 9, 9, 3];
const FILTER_SHAPE = [3, 3, 3, 4];

/** Conv2D(stride 2, SAME) → BiasAdd; `then` adds what follows. */
function convBias(b: GraphBuilder) {
  const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 9, 9, 3]);
  const filter = b.constant('filter', values(size(FILTER_SHAPE), 1), FILTER_SHAPE);
  const bias = b.constant('bias', values(4, 2), [4]);
  const conv = b.conv2d(x, filter, { strides: [1, 2, 2, 1], padding: 'SAME', name: 'conv' });
  return { x, conv, biased: b.biasAdd(conv, bias, { name: 'bias_add' }) };
}

/** The same computation with TF.js ops one at a time (independent of the converter). */
function convBiasReference(input: tf.Tensor4D): tf.Tensor4D {
  const filter = tf.tensor4d(values(size(FILTER_SHAPE), 1), FILTER_SHAPE as [number, number, number, number]);
  const bias = tf.tensor1d(values(4, 2));
  return tf.add(tf.conv2d(input, filter, [2, 2], 'same'), bias);
}

describe.each(['wasm', 'cpu'])('bias and activation fusion on %s', (backend) => {
  let input: tf.Tensor4D;
  afterAll(() => input?.dispose());

  it('sets up the backend', async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    input = tf.tensor4d(values(size(INPUT_SHAPE), 3), INPUT_SHAPE as [number, number, number, number]);
  });

  it('fuses Conv2D → BiasAdd → Relu into _FusedConv2D with the same result', async () => {
    const model = build((b) => {
      const { x, biased } = convBias(b);
      return { x, outputs: { y: b.relu(biased, { name: 'relu' }) } };
    });
    const fused = await run(model, input, true);
    const plain = await run(model, input, false);
    expect(fused.ops).toEqual(['_FusedConv2D']);
    expect(fused.fusedOps).toEqual([['BiasAdd', 'Relu']]);
    expect(plain.ops).toEqual(['Conv2D', 'BiasAdd', 'Relu']);
    const expected = tf.tidy(() => tf.relu(convBiasReference(input)).dataSync());
    expect(expected.some((v) => v === 0) && expected.some((v) => v > 0)).toBe(true);
    expect(maxAbsDiff(fused.outputs.y, plain.outputs.y)).toBeLessThan(1e-5);
    expect(maxAbsDiff(fused.outputs.y, expected)).toBeLessThan(1e-5);
  });

  it('fuses Relu6 and leaves a chain alone where an intermediate tensor is also read elsewhere', async () => {
    const model = build((b) => {
      const { x, conv, biased } = convBias(b);
      // conv feeds BiasAdd and Mul: nothing may be fused into it.
      const doubled = b.mul(conv, b.constant('two', new Float32Array([2]), []), { name: 'double' });
      return { x, outputs: { y: b.relu6(biased, { name: 'relu6' }), z: doubled } };
    });
    const fused = await run(model, input, true);
    expect(fused.ops.sort()).toEqual(['BiasAdd', 'Conv2D', 'Mul', 'Relu6']);
    const expected = tf.tidy(() => tf.relu6(convBiasReference(input)).dataSync());
    expect(maxAbsDiff(fused.outputs.y, expected)).toBeLessThan(1e-5);
  });

  it('fuses only Conv2D → BiasAdd when the BiasAdd output is fetched or feeds two ops', async () => {
    const fetched = build((b) => {
      const { x, biased } = convBias(b);
      return { x, outputs: { y: b.relu(biased, { name: 'relu' }), pre: biased } };
    });
    const twoReaders = build((b) => {
      const { x, biased } = convBias(b);
      return { x, outputs: { y: b.add(b.relu(biased, { name: 'relu' }), biased, { name: 'sum' }) } };
    });
    const a = await run(fetched, input, true);
    expect(a.ops.sort()).toEqual(['Relu', '_FusedConv2D']);
    expect(a.fusedOps).toEqual([['BiasAdd']]);
    const pre = tf.tidy(() => convBiasReference(input).dataSync());
    expect(maxAbsDiff(a.outputs.pre, pre)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.outputs.y, pre.map((v) => Math.max(v, 0)))).toBeLessThan(1e-5);

    const c = await run(twoReaders, input, true);
    expect(c.ops.sort()).toEqual(['AddV2', 'Relu', '_FusedConv2D']);
    expect(maxAbsDiff(c.outputs.y, pre.map((v) => Math.max(v, 0) + v))).toBeLessThan(1e-5);
  });

  it('fuses DepthwiseConv2dNative → BiasAdd → Relu into FusedDepthwiseConv2dNative', async () => {
    const model = build((b) => {
      const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 9, 9, 3]);
      const filter = b.constant('filter', values(3 * 3 * 3 * 2, 4), [3, 3, 3, 2]);
      const conv = b.depthwiseConv2dNative(x, filter, { padding: 'VALID', name: 'dw' });
      const biased = b.biasAdd(conv, b.constant('bias', values(6, 5), [6]), { name: 'bias_add' });
      return { x, outputs: { y: b.relu(biased, { name: 'relu' }) } };
    });
    const fused = await run(model, input, true);
    const plain = await run(model, input, false);
    expect(fused.ops).toEqual(['FusedDepthwiseConv2dNative']);
    const expected = tf.tidy(() => {
      const filter = tf.tensor4d(values(3 * 3 * 3 * 2, 4), [3, 3, 3, 2]);
      return tf.relu(tf.add(tf.depthwiseConv2d(input, filter, 1, 'valid'), tf.tensor1d(values(6, 5)))).dataSync();
    });
    expect(maxAbsDiff(fused.outputs.y, plain.outputs.y)).toBeLessThan(1e-5);
    expect(maxAbsDiff(fused.outputs.y, expected)).toBeLessThan(1e-5);
  });

  it('leaves MatMul → BiasAdd unfused, so logits are summed in TensorFlow’s order (bias added to the finished product)', async () => {
    const dense = (transposeB: boolean) =>
      build((b) => {
        const x = b.placeholder('x', DataType.DT_FLOAT, [-1, 9, 9, 3]);
        const flat = b.reshape(x, [-1, 243]);
        const weights = b.constant('w', values(10 * 243, 6), transposeB ? [10, 243] : [243, 10]);
        const product = b.matMul(flat, weights, { transposeB, name: 'matmul' });
        const logits = b.biasAdd(product, b.constant('bias', values(10, 7), [10]), { name: 'logits' });
        return { x, outputs: { y: b.softmax(logits, { name: 'softmax' }) } };
      });
    const expected = (transposeB: boolean) =>
      tf.tidy(() => {
        const weights = tf.tensor2d(values(10 * 243, 6), transposeB ? [10, 243] : [243, 10]);
        const logits = tf.add(tf.matMul(tf.reshape(input, [-1, 243]), weights, false, transposeB), tf.tensor1d(values(10, 7)));
        return tf.softmax(logits).dataSync();
      });
    for (const transposeB of [false, true]) {
      const result = await run(dense(transposeB), input, true);
      expect(result.ops).toEqual(['Reshape', 'MatMul', 'BiasAdd', 'Softmax']);
      // The product, then the bias: bit for bit what the ops give one after the other.
      expect(maxAbsDiff(result.outputs.y, expected(transposeB))).toBe(0);
    }
  });
});
