// DecodeBase64 and EncodeBase64 (web-safe alphabet), TensorFlow's rules from @tensorsky/saved-model's base64.
import { Base64Error, decodeBase64WebSafe, encodeBase64WebSafe } from '@tensorsky/saved-model';
import * as tf from '../tf.js';
import { asOpError, boolAttr, type Kernel } from './kernel.js';

/** Applies `fn` to every element of a string tensor, keeping its shape. */
async function mapStrings(input: tf.Tensor, fn: (bytes: Uint8Array) => Uint8Array): Promise<tf.Tensor> {
  const values = (await input.bytes()) as Uint8Array[];
  return tf.tensor(
    values.map((v) => asOpError(Base64Error, () => fn(v))),
    input.shape,
    'string',
  );
}

export const BASE64_KERNELS: readonly Kernel[] = [
  { op: 'DecodeBase64', async: true, run: (node) => mapStrings(node.inputs[0], decodeBase64WebSafe) },
  {
    op: 'EncodeBase64',
    async: true,
    run: (node) => mapStrings(node.inputs[0], (b) => encodeBase64WebSafe(b, boolAttr(node, 'pad') ?? false)),
  },
];
