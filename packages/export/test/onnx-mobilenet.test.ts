// A MobileNetV2-style Keras model (inverted residual blocks: 1x1 expand, DepthwiseConv2D with multiplier
// 1 and 2, ReLU6, linear 1x1 projection, residual Add, ZeroPadding2D before a stride-2 VALID depthwise
// convolution, global average pooling, Dense softmax), converted by the exporter's layer converter with
// seeded random weights (batch norm statistics included), default and with batch norms folded; the frozen
// graph translated to ONNX and compared with predict-local's TF.js executor. Tolerance: max abs diff of
// probabilities ≤ 1e-5 on odd-sized (33x33) inputs, batch 1 and 3; one Transpose in the whole graph.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { DataType, freezeSignatureGraph, GraphBuilder } from '@tensorsky/saved-model';
import { compare, opDefs, onnxOps, uniform } from '../../predict-local/test/onnx-support.js';
import { layersModelToGraph, randomWeights } from '../src/index.js';

const TOLERANCE = 1e-5;


function mobileNetLike(): tf.LayersModel {
  const L = tf.layers;
  type T = tf.SymbolicTensor;
  const apply = (layer: tf.layers.Layer, x: T | T[]) => layer.apply(x) as T;
  let n = 0;
  const bn = (x: T) => apply(L.batchNormalization({ name: `bn_${n++}` }), x);
  const relu6 = (x: T) => apply(L.reLU({ maxValue: 6, name: `relu6_${n++}` }), x);
  const conv1x1 = (x: T, filters: number) => apply(L.conv2d({ filters, kernelSize: 1, useBias: false, name: `pw_${n++}` }), x);
  const depthwise = (x: T, strides: number, padding: 'same' | 'valid', depthMultiplier = 1) =>
    apply(L.depthwiseConv2d({ kernelSize: 3, strides, padding, depthMultiplier, useBias: false, name: `dw_${n++}` }), x);

  const input = tf.input({ shape: [33, 33, 3], name: 'image' });
  let x = relu6(bn(apply(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem' }), input)));
  // Block 1: stride 1, residual.
  let h = relu6(bn(conv1x1(x, 32)));
  h = relu6(bn(depthwise(h, 1, 'same')));
  x = apply(L.add({ name: 'add_1' }), [x, bn(conv1x1(h, 8))]);
  // Block 2: stride 2 with MobileNetV2's explicit (here asymmetric) padding, depth multiplier 2.
  h = relu6(bn(conv1x1(x, 24)));
  h = apply(L.zeroPadding2d({ padding: [[1, 0], [0, 1]], name: 'pad' }), h);
  h = relu6(bn(depthwise(h, 2, 'valid', 2)));
  x = bn(conv1x1(h, 16));
  // Block 3: stride 1, residual, with a biased depthwise convolution.
  h = relu6(bn(conv1x1(x, 48)));
  h = relu6(bn(apply(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw_bias' }), h)));
  x = apply(L.add({ name: 'add_2' }), [x, bn(conv1x1(h, 16))]);
  x = relu6(bn(conv1x1(x, 64)));
  x = apply(L.globalAveragePooling2d({ name: 'gap' }), x);
  const output = apply(L.dense({ units: 10, activation: 'softmax', name: 'predictions' }), x);
  return tf.model({ inputs: input, outputs: output, name: 'mobilenet_like' });
}

let model: tf.LayersModel;
beforeAll(async () => {
  await tf.setBackend('cpu');
  model = mobileNetLike();
  await randomWeights(model, 3);
}, 120_000);

function frozen(foldBatchNorms: boolean) {
  const g = new GraphBuilder(opDefs());
  const x = g.placeholder('x', DataType.DT_FLOAT, [-1, 33, 33, 3]);
  const { output } = layersModelToGraph(model, g, x, { foldBatchNorms });
  const signature = g.signature({ x }, { y: output });
  return freezeSignatureGraph({ meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: signature } }, { signature: 'serving_default', dir: '.' });
}

describe.each([false, true])('MobileNetV2-style model (foldBatchNorms %s)', (fold) => {
  for (const batch of [1, 3]) {
    it(`batch ${batch}: same probabilities as TF.js, one Transpose`, async () => {
      const graph = frozen(fold);
      const ops = new Set(graph.nodes.map((n) => n.op));
      for (const op of ['DepthwiseConv2dNative', 'Relu6', 'Pad', 'AddV2', 'Conv2D', 'Mean', 'MatMul', 'Softmax']) expect(ops).toContain(op);
      expect(ops.has('FusedBatchNormV3')).toBe(!fold);
      const { diffs, model: onnx, tfjs } = await compare(graph, { x: uniform([batch, 33, 33, 3], 21 + batch) });
      console.log(`MobileNetV2-style (fold ${fold}, batch ${batch}): max abs diff ${diffs.y.toExponential(2)}, max probability ${Math.max(...(tfjs.y as Float32Array)).toFixed(3)}`);
      expect(diffs.y).toBeLessThanOrEqual(TOLERANCE);
      const onnxNodes = await onnxOps(onnx);
      expect(onnxNodes.filter((o) => o === 'Transpose')).toHaveLength(1);
      expect(onnxNodes).not.toContain('BatchNormalization');
    }, 60_000);
  }
});
