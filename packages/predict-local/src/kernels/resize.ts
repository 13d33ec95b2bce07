// Image resize ops with TensorFlow's CPU kernels' arithmetic (@tensorsky/image's resize): ResizeBicubic
// and ResizeArea, which tfjs-converter lacks, and ResizeNearestNeighbor, whose TF.js kernel computes the
// source index in double where TensorFlow uses float (a row or column can differ at exact boundaries).
// ResizeBilinear stays TF.js's. ScaleAndTranslate is what tf.image.resize(antialias=True) emits.
import { ResizeError, resizeArea, resizeBicubic, resizeNearestNeighbor, scaleAndTranslate, type ImageBatch, type ResizeFlags } from '@tensorsky/image';
import * as tf from '../tf.js';
import { OpError, asOpError, boolAttr, stringAttr, type GraphNode, type Kernel } from './kernel.js';

type Resize = (images: ImageBatch, height: number, width: number, flags: ResizeFlags) => Float32Array;

function imageBatch(op: string, images: tf.Tensor): ImageBatch {
  if (images.rank !== 4) throw new OpError(`${op}: input must be 4-dimensional [batch, height, width, channels], got shape [${images.shape.join(', ')}]`);
  const data = images.dataSync();
  return { data: data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>), shape: images.shape as ImageBatch['shape'] };
}

function outputSize(op: string, size: tf.Tensor): [number, number] {
  const values = size.dataSync();
  if (size.rank !== 1 || values.length !== 2) throw new OpError(`${op}: size must be a 1-D int32 tensor of 2 elements, got shape [${size.shape.join(', ')}]`);
  return [values[0]!, values[1]!];
}

function resizeKernel(op: string, resize: Resize, keepsDtype: boolean): Kernel {
  return {
    op,
    async: false,
    run: (node: GraphNode) => {
      const [images, size] = node.inputs as [tf.Tensor, tf.Tensor];
      const [height, width] = outputSize(op, size);
      const batch = imageBatch(op, images);
      const flags = { alignCorners: boolAttr(node, 'align_corners') ?? false, halfPixelCenters: boolAttr(node, 'half_pixel_centers') ?? false };
      const out = asOpError(ResizeError, () => resize(batch, height, width, flags));
      const shape = [batch.shape[0], height, width, batch.shape[3]];
      // ResizeBicubic and ResizeArea always output float; nearest neighbour keeps the input dtype.
      return keepsDtype && images.dtype === 'int32' ? tf.tensor(Int32Array.from(out), shape, 'int32') : tf.tensor(out, shape, 'float32');
    },
  };
}

function pair(op: string, name: string, t: tf.Tensor): [number, number] {
  const values = t.dataSync();
  if (t.rank !== 1 || values.length !== 2) throw new OpError(`${op}: ${name} must be a 1-D float tensor of 2 elements, got shape [${t.shape.join(', ')}]`);
  return [values[0]!, values[1]!];
}

const SCALE_AND_TRANSLATE_KERNEL: Kernel = {
  op: 'ScaleAndTranslate',
  async: false,
  run: (node: GraphNode) => {
    const op = 'ScaleAndTranslate';
    const [images, size, scale, translation] = node.inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const [height, width] = outputSize(op, size);
    const batch = imageBatch(op, images);
    const out = asOpError(ResizeError, () =>
      scaleAndTranslate(batch, height, width, {
        scale: pair(op, 'scale', scale),
        translation: pair(op, 'translation', translation),
        // The OpDef's defaults (export strips attrs equal to them).
        kernelType: stringAttr(node, 'kernel_type') ?? 'lanczos3',
        antialias: boolAttr(node, 'antialias') ?? true,
      }),
    );
    return tf.tensor(out, [batch.shape[0], height, width, batch.shape[3]], 'float32');
  },
};

export const RESIZE_KERNELS: readonly Kernel[] = [
  SCALE_AND_TRANSLATE_KERNEL,
  resizeKernel('ResizeBicubic', resizeBicubic, false),
  resizeKernel('ResizeArea', (images, h, w, flags) => resizeArea(images, h, w, { alignCorners: flags.alignCorners }), false),
  resizeKernel('ResizeNearestNeighbor', resizeNearestNeighbor, true),
];
