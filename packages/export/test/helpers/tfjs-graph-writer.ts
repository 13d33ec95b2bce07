// Writes TF.js graph models in tfjs-converter's graph-model format, as tensorflowjs_converter
// --output_format tfjs_graph_model writes a Keras CNN after grappler: model.json {format: 'graph-model',
// generatedBy, convertedBy, modelTopology: GraphDef in protobuf JSON (camelCase, int64 as strings, bytes
// as base64, Const values only in the manifest), signature: {inputs, outputs} TensorInfos, weightsManifest}
// and binary shards. Weights can be stored quantized as the converter's --quantize_* flags store them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SeededRandom } from '../../src/index.js';

type Json = Record<string, unknown>;
type Quantization = 'uint8' | 'uint16' | 'float16';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const ints = (values: number[]) => ({ list: { i: values.map(String) } });
const shape = (dims: number[]) => ({ dim: dims.map((size) => ({ size: String(size) })) });
const T = { type: 'DT_FLOAT' };

export interface GraphWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
  quantization?: Quantization;
}

export interface GraphModelSpec {
  nodes: Json[];
  weights: GraphWeight[];
  size: number;
  classes: number;
}

function constNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', dims: number[]): Json {
  return { name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: shape(dims) } }, dtype: { type: dtype } } };
}

function convAttrs(strides: number, fusedOps: string[], numArgs: number, extra: Json = {}): Json {
  return {
    T, strides: ints([1, strides, strides, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]),
    explicit_paddings: { list: {} }, fused_ops: { list: { s: fusedOps.map(b64) } }, num_args: { i: String(numArgs) }, epsilon: { f: 0 }, ...extra,
  };
}

/**
 * A small CNN as grappler leaves it: _FusedConv2D [BiasAdd, Relu], FusedDepthwiseConv2dNative
 * [BiasAdd, Relu6], a FusedBatchNormV3 node, MaxPool, _FusedConv2D [BiasAdd, LeakyRelu], Mean,
 * _FusedMatMul [BiasAdd], Softmax, Identity; weights seeded, stored uint8, float16, uint16 and float32.
 * With `batchNorm` 'fused' a last convolution carries [FusedBatchNorm, Relu] (TF's remapper does this
 * for batch norms it cannot fold; TF.js cannot run it), with 'unfused' the same computation is written
 * as Conv2D → FusedBatchNormV3 → Relu, which TF.js runs.
 */
export function smallGraphModel(seed: number, options: { size?: number; classes?: number; batchNorm?: 'fused' | 'unfused' } = {}): GraphModelSpec {
  const size = options.size ?? 32;
  const classes = options.classes ?? 10;
  const weights: GraphWeight[] = [];
  const nodes: Json[] = [{ name: 'input_1', op: 'Placeholder', attr: { dtype: T, shape: { shape: shape([-1, size, size, 3]) } } }];
  const weight = (name: string, dims: number[], scale: number, offset = 0, quantization?: Quantization) => {
    const rng = new SeededRandom(seed, name);
    const count = dims.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: count }, () => offset + scale * rng.normal());
    // The classifier's columns sum to zero: the features' common positive part (after ReLUs) then
    // cancels, and different photos get different classes, as with a trained model.
    if (name === 'fc/kernel') {
      for (let c = 0; c < classes; c++) {
        let sum = 0;
        for (let r = 0; r < dims[0]; r++) sum += values[r * classes + c];
        for (let r = 0; r < dims[0]; r++) values[r * classes + c] -= sum / dims[0];
      }
    }
    weights.push({ name, shape: dims, dtype: 'float32', values, quantization });
    nodes.push(constNode(name, 'DT_FLOAT', dims));
    return name;
  };
  const add = (node: Json) => nodes.push(node);

  add({ name: 'conv1', op: '_FusedConv2D', input: ['input_1', weight('conv1/kernel', [3, 3, 3, 8], 0.3, 0, 'uint8'), weight('conv1/bias', [8], 0.1)], device: '/device:CPU:0', attr: convAttrs(1, ['BiasAdd', 'Relu'], 1, { use_cudnn_on_gpu: { b: true } }) });
  add({ name: 'dw', op: 'FusedDepthwiseConv2dNative', input: ['conv1', weight('dw/depthwise_kernel', [3, 3, 8, 1], 0.3, 0, 'float16'), weight('dw/bias', [8], 0.1)], attr: convAttrs(2, ['BiasAdd', 'Relu6'], 1) });
  add({
    name: 'bn', op: 'FusedBatchNormV3',
    input: ['dw', weight('bn/gamma', [8], 0.1, 1), weight('bn/beta', [8], 0.1), weight('bn/moving_mean', [8], 0.2, 1), weight('bn/moving_variance', [8], 0.1, 1)],
    attr: { T, U: T, epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') }, is_training: { b: false }, exponential_avg_factor: { f: 1 } },
  });
  add({ name: 'pool', op: 'MaxPool', input: ['bn'], attr: { T, ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, explicit_paddings: { list: {} } } });
  let last = 'conv2';
  add({ name: 'conv2', op: '_FusedConv2D', input: ['pool', weight('conv2/kernel', [3, 3, 8, 16], 0.2, 0, 'uint16'), weight('conv2/bias', [16], 0.1)], attr: convAttrs(1, ['BiasAdd', 'LeakyRelu'], 1, { leakyrelu_alpha: { f: 0.1 } }) });
  if (options.batchNorm) {
    const bn = [weight('conv3/kernel', [1, 1, 16, 16], 0.3), weight('conv3/scale', [16], 0.1, 1), weight('conv3/offset', [16], 0.1), weight('conv3/mean', [16], 0.1), weight('conv3/variance', [16], 0.1, 1)];
    if (options.batchNorm === 'fused') {
      add({ name: 'conv3', op: '_FusedConv2D', input: ['conv2', ...bn], attr: convAttrs(1, ['FusedBatchNorm', 'Relu'], 4, { epsilon: { f: 0.001 } }) });
    } else {
      const conv = convAttrs(1, [], 0);
      delete conv.fused_ops;
      delete conv.num_args;
      delete conv.epsilon;
      add({ name: 'conv3/Conv2D', op: 'Conv2D', input: ['conv2', bn[0]], attr: conv });
      add({ name: 'conv3/bn', op: 'FusedBatchNormV3', input: ['conv3/Conv2D', ...bn.slice(1)], attr: { T, U: T, epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') }, is_training: { b: false } } });
      add({ name: 'conv3', op: 'Relu', input: ['conv3/bn'], attr: { T } });
    }
    last = 'conv3';
  }
  weights.push({ name: 'gap/reduction_indices', shape: [2], dtype: 'int32', values: Int32Array.from([1, 2]) });
  nodes.push(constNode('gap/reduction_indices', 'DT_INT32', [2]));
  add({ name: 'gap', op: 'Mean', input: [last, 'gap/reduction_indices'], attr: { T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } });
  add({
    name: 'fc', op: '_FusedMatMul', input: ['gap', weight('fc/kernel', [16, classes], 4, 0, 'uint8'), weight('fc/bias', [classes], 0.5)],
    attr: { T, transpose_a: { b: false }, transpose_b: { b: false }, fused_ops: { list: { s: [b64('BiasAdd')] } }, num_args: { i: '1' }, epsilon: { f: 0 }, leakyrelu_alpha: { f: 0.2 } },
  });
  add({ name: 'probs', op: 'Softmax', input: ['fc'], attr: { T } });
  add({ name: 'Identity', op: 'Identity', input: ['probs'], attr: { T } });
  return { nodes, weights, size, classes };
}

/** Writes model.json and one shard, each weight stored as its quantization says. */
export async function writeTfjsGraphModel(dir: string, spec: GraphModelSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  const specs: Json[] = [];
  const chunks: Buffer[] = [];
  for (const w of spec.weights) {
    if (w.quantization === 'float16') {
      const halves = Buffer.alloc(w.values.length * 2);
      w.values.forEach((v, i) => halves.writeUInt16LE(toHalf(v), 2 * i));
      specs.push({ name: w.name, shape: w.shape, dtype: w.dtype, quantization: { dtype: 'float16', original_dtype: 'float32' } });
      chunks.push(halves);
    } else if (w.quantization) {
      const min = Math.min(...w.values);
      const max = Math.max(...w.values);
      const levels = w.quantization === 'uint8' ? 255 : 65535;
      const scale = (max - min) / levels;
      const q = Array.from(w.values, (v) => Math.round((v - min) / scale));
      const stored = w.quantization === 'uint8' ? Uint8Array.from(q) : Uint16Array.from(q);
      specs.push({ name: w.name, shape: w.shape, dtype: w.dtype, quantization: { dtype: w.quantization, min, scale, original_dtype: 'float32' } });
      chunks.push(Buffer.from(stored.buffer));
    } else {
      specs.push({ name: w.name, shape: w.shape, dtype: w.dtype });
      chunks.push(Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength));
    }
  }
  await writeFile(join(dir, 'group1-shard1of1.bin'), Buffer.concat(chunks));
  const tensorInfo = (name: string, dims: number[]) => ({ name, dtype: 'DT_FLOAT', tensorShape: shape(dims) });
  const modelJson = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    signature: {
      inputs: { input_1: tensorInfo('input_1:0', [-1, spec.size, spec.size, 3]) },
      outputs: { output_0: tensorInfo('Identity:0', [-1, spec.classes]) },
    },
    userDefinedMetadata: { signature: { inputs: {}, outputs: {} } },
    modelTopology: { node: spec.nodes, library: {}, versions: { producer: 1645 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
}

/** float32 → IEEE 754 half (round to nearest even), as numpy's astype(float16) stores it. */
function toHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    const half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (rest > midpoint || (rest === midpoint && half & 1) ? half + 1 : half);
  }
  if (exponent >= 31) return sign | 0x7c00;
  const half = (exponent << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half);
}
