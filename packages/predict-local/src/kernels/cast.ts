// Cast, because TensorFlow's narrowing integer casts wrap where tfjs's cast does not.
import { dataTypeName, integerWrap, tfjsDtype, type DataType } from '@tensorsky/saved-model';
import * as tf from '../tf.js';
import { OpError, numberAttr, type GraphNode, type Kernel } from './kernel.js';

function cast(node: GraphNode): tf.Tensor {
  const dst = numberAttr(node, 'DstT') as DataType;
  const target = tfjsDtype(dst);
  if (!target || target === 'complex64') throw new OpError(`Cast to ${dataTypeName(dst)} is not supported`);
  const x = node.inputs[0];
  // Narrowing integer casts wrap modulo 2^bits in TensorFlow (static_cast); tfjs has no such dtypes.
  const wrap = integerWrap(dst);
  return tf.tidy(() => {
    const y = tf.cast(x, target);
    if (!wrap) return y;
    const offset = tf.scalar(wrap.offset, 'int32');
    return tf.sub(tf.mod(tf.add(y, offset), tf.scalar(wrap.modulus, 'int32')), offset);
  });
}

export const CAST_KERNEL: Kernel = { op: 'Cast', async: false, run: cast };
