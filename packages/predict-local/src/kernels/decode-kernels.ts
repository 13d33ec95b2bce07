// The image decode ops as kernels: the node's bytes and attrs (decode-image.ts), decoded in this thread
// or by a DecodePool's worker, as a TF.js tensor (uint8/uint16 as int32, TF.js's integer dtype).
import * as tf from '../tf.js';
import { int32Tensor } from '../wasm-backend.js';
import { DECODE_OPS, decodeImage, readDecodeNode, type DecodeOp, type ImageDecoder } from './decode-image.js';
import type { GraphNode, Kernel } from './kernel.js';

/** A decode node's kernel, decoding with `decode`. */
export async function runDecode(op: DecodeOp, node: GraphNode, decode: ImageDecoder = decodeImage): Promise<tf.Tensor> {
  const { bytes, attrs } = await readDecodeNode(op, node);
  const { shape, data } = await decode(op, bytes, attrs);
  return data instanceof Float32Array ? tf.tensor(data, shape, 'float32') : int32Tensor(data, shape);
}

export const DECODE_IMAGE_KERNELS: readonly Kernel[] = DECODE_OPS.map((op) => ({ op, async: true, run: (node) => runDecode(op, node) }));
