// Substr and Equal on strings, byte for byte, as TensorFlow computes them (an export's serving graph tests
// an image's magic bytes with Equal(Substr(contents, 0, 3), b'\xff\xd8\xff'), tf.io.is_jpeg). tfjs's own
// Equal decodes strings as UTF-8 first, so every invalid byte becomes U+FFFD and b'\xff\xd8\xff' would
// equal b'\xfe\xfe\xfe': our Equal compares the bytes, and leaves numbers to tfjs. Both are synchronous
// (string bytes are read with readSync), so they do not force a graph onto executeAsync.
import * as tf from '../tf.js';
import { OpError, boolAttr, stringAttr, type GraphNode, type Kernel } from './kernel.js';

/** The bytes of each element of a string tensor (tfjs keeps them as they are; dataSync would decode UTF-8). */
function stringBytes(t: tf.Tensor): Uint8Array[] {
  return tf.engine().readSync(t.dataId) as unknown as Uint8Array[];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** numpy/TensorFlow broadcasting of two shapes, or undefined when they are incompatible. */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Flat index into a tensor of `shape` for the element at `coords` of the broadcast result. */
function broadcastIndex(coords: readonly number[], shape: readonly number[]): number {
  const offset = coords.length - shape.length;
  let index = 0;
  for (let d = 0; d < shape.length; d++) index = index * shape[d] + (shape[d] === 1 ? 0 : coords[offset + d]);
  return index;
}

/**
 * cwise_op_equal_to: element-wise x == y with broadcasting. Strings compare as byte strings. With
 * incompatible_shape_error=false, shapes that do not broadcast give a scalar false (TF 2.x BinaryOp).
 */
function equal(node: GraphNode): tf.Tensor {
  const [x, y] = node.inputs;
  const shape = broadcastShape(x.shape, y.shape);
  if (!shape) {
    if (boolAttr(node, 'incompatible_shape_error') === false) return tf.scalar(false, 'bool');
    throw new OpError(`Equal: incompatible shapes: [${x.shape.join(',')}] vs. [${y.shape.join(',')}]`);
  }
  if (x.dtype !== 'string' && y.dtype !== 'string') return tf.equal(x, y);
  if (x.dtype !== y.dtype) throw new OpError(`Equal: cannot compare a ${x.dtype} tensor with a ${y.dtype} tensor`);
  const [a, b] = [stringBytes(x), stringBytes(y)];
  const size = shape.reduce((n, d) => n * d, 1);
  const out = new Uint8Array(size);
  const coords = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < size; i++) {
    out[i] = sameBytes(a[broadcastIndex(coords, x.shape)], b[broadcastIndex(coords, y.shape)]) ? 1 : 0;
    for (let d = shape.length - 1; d >= 0 && ++coords[d] === shape[d]; d--) coords[d] = 0;
  }
  return tf.tensor(out, shape, 'bool');
}

/**
 * substr_op.cc with unit BYTE: for each string, `len` bytes from `pos` (a negative pos counts from the
 * end), cut short at the end of the string; pos must lie in [0, size]. pos and len are scalars or have
 * the input's shape (the broadcasting forms are not needed by any graph we build).
 */
function substr(node: GraphNode): tf.Tensor {
  const [input, posTensor, lenTensor] = node.inputs;
  const unit = (stringAttr(node, 'unit') ?? 'BYTE').toUpperCase();
  if (unit !== 'BYTE') throw new OpError(`Substr: unit ${unit} is not supported (only BYTE)`);
  if (!tf.util.arraysEqual(posTensor.shape, lenTensor.shape)) {
    throw new OpError(`Substr: pos and len should have the same shape, got: [${posTensor.shape.join(',')}] vs. [${lenTensor.shape.join(',')}]`);
  }
  if (posTensor.size === 0) throw new OpError('Substr: received empty tensor pos_tensor');
  const scalar = posTensor.rank === 0;
  if (!scalar && !tf.util.arraysEqual(posTensor.shape, input.shape)) {
    throw new OpError(`Substr: pos and len of shape [${posTensor.shape.join(',')}] must be scalars or have the input's shape [${input.shape.join(',')}]`);
  }
  const strings = stringBytes(input);
  const positions = posTensor.dataSync();
  const lengths = lenTensor.dataSync();
  const out = strings.map((s, i) => {
    const requested = positions[scalar ? 0 : i];
    const len = lengths[scalar ? 0 : i];
    const pos = requested < 0 ? s.length + requested : requested;
    if (pos < 0 || pos > s.length) throw new OpError(`Substr: pos ${requested} out of range for string at index ${i}`);
    // std::string_view::substr: a negative len, as size_t, is "to the end".
    return s.subarray(pos, len < 0 ? s.length : Math.min(s.length, pos + len));
  });
  return tf.tensor(out, input.shape, 'string');
}

export const STRING_KERNELS: readonly Kernel[] = [
  { op: 'Equal', async: false, run: equal },
  { op: 'Substr', async: false, run: substr },
];
