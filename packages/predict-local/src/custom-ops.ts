// tfjs-converter executors for the TensorFlow ops it lacks (and for Cast, whose narrowing differs).
// Type attrs reach these executors as DataType numbers (see attrJson in tfjs-model.ts); inputs may be
// followed by extra entries, so only the leading data inputs are read.
import * as tf from './tf.js';
import { DataType, dataTypeName } from '@tensorsky/saved-model';
import {
  OpError,
  decodeBase64WebSafe,
  decodeImage,
  encodeBase64WebSafe,
  type DecodeAttrs,
  type DecodeOp,
  type ImageDtype,
} from './kernels.js';
import { tfjsDtype } from './tfjs-model.js';

type GraphNode = Parameters<Parameters<typeof tf.registerOp>[1]>[0];

const DECODE_OPS: readonly DecodeOp[] = ['DecodeJpeg', 'DecodeAndCropJpeg', 'DecodePng', 'DecodeGif', 'DecodeBmp', 'DecodeImage'];

/** Ops executed by this module's kernels. */
export const CUSTOM_OPS: ReadonlySet<string> = new Set(['DecodeBase64', 'EncodeBase64', 'Cast', ...DECODE_OPS]);

/** Those of them whose kernels are async (they read string bytes, or decode with sharp). */
export const ASYNC_CUSTOM_OPS: ReadonlySet<string> = new Set(['DecodeBase64', 'EncodeBase64', ...DECODE_OPS]);

const IMAGE_DTYPES: Partial<Record<DataType, ImageDtype>> = {
  [DataType.DT_UINT8]: 'uint8',
  [DataType.DT_UINT16]: 'uint16',
  [DataType.DT_FLOAT]: 'float32',
};

function numberAttr(node: GraphNode, name: string): number | undefined {
  const v = node.attrs[name];
  return typeof v === 'number' ? v : undefined;
}

function boolAttr(node: GraphNode, name: string): boolean | undefined {
  const v = node.attrs[name];
  return typeof v === 'boolean' ? v : undefined;
}

/** Applies `fn` to every element of a string tensor, keeping its shape. */
async function mapStrings(input: tf.Tensor, fn: (bytes: Uint8Array) => Uint8Array): Promise<tf.Tensor> {
  const values = (await input.bytes()) as Uint8Array[];
  return tf.tensor(values.map(fn), input.shape, 'string');
}

async function runDecode(op: DecodeOp, node: GraphNode): Promise<tf.Tensor> {
  const [contents, cropWindow] = node.inputs;
  if (contents.rank !== 0) throw new OpError(`${op}: contents must be a scalar, got shape [${contents.shape.join(', ')}]`);
  const dtypeEnum = numberAttr(node, 'dtype');
  const dtype = dtypeEnum === undefined ? undefined : IMAGE_DTYPES[dtypeEnum as DataType];
  if (dtypeEnum !== undefined && !dtype) throw new OpError(`${op}: dtype ${dataTypeName(dtypeEnum)} is not supported`);
  const attrs: DecodeAttrs = {
    channels: numberAttr(node, 'channels'),
    ratio: numberAttr(node, 'ratio'),
    try_recover_truncated: boolAttr(node, 'try_recover_truncated'),
    dtype,
    expand_animations: boolAttr(node, 'expand_animations'),
  };
  if (op === 'DecodeAndCropJpeg') {
    const window = Array.from(await cropWindow.data());
    if (window.length !== 4) throw new OpError(`DecodeAndCropJpeg: crop_window must have 4 elements, got ${window.length}`);
    attrs.crop_window = window as [number, number, number, number];
  }
  const [bytes] = (await contents.bytes()) as Uint8Array[];
  const image = await decodeImage(op, bytes, attrs);
  return image.dtype === 'float32' ? tf.tensor(image.data, image.shape, 'float32') : tf.tensor(Int32Array.from(image.data), image.shape, 'int32');
}

/** Narrowing integer casts wrap modulo 2^bits in TensorFlow (static_cast); tfjs has no such dtypes. */
const WRAP: Partial<Record<DataType, { modulus: number; offset: number }>> = {
  [DataType.DT_UINT8]: { modulus: 256, offset: 0 },
  [DataType.DT_INT8]: { modulus: 256, offset: 128 },
  [DataType.DT_UINT16]: { modulus: 65536, offset: 0 },
  [DataType.DT_INT16]: { modulus: 65536, offset: 32768 },
};

function cast(node: GraphNode): tf.Tensor {
  const dst = numberAttr(node, 'DstT') as DataType;
  const target = tfjsDtype(dst);
  if (!target || target === 'complex64') throw new OpError(`Cast to ${dataTypeName(dst)} is not supported`);
  const x = node.inputs[0];
  const wrap = WRAP[dst];
  return tf.tidy(() => {
    const y = tf.cast(x, target);
    if (!wrap) return y;
    const offset = tf.scalar(wrap.offset, 'int32');
    return tf.sub(tf.mod(tf.add(y, offset), tf.scalar(wrap.modulus, 'int32')), offset);
  });
}

let registered = false;

/** Registers the executors with tfjs-converter; must run before a graph using them is loaded. */
export function registerCustomOps(): void {
  if (registered) return;
  registered = true;
  tf.registerOp('DecodeBase64', (node) => mapStrings(node.inputs[0], decodeBase64WebSafe));
  tf.registerOp('EncodeBase64', (node) => mapStrings(node.inputs[0], (b) => encodeBase64WebSafe(b, boolAttr(node, 'pad') ?? false)));
  tf.registerOp('Cast', cast);
  for (const op of DECODE_OPS) tf.registerOp(op, (node) => runDecode(op, node));
}
