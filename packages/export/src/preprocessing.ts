// The preprocessing steps of the serving input as TensorFlow ops: geometry (central crop, pad to square,
// short-side resize then center crop), the resize op with its pixel-grid attrs, and normalization. Each
// step is built from the ops TensorFlow's Python emits for it (tf.image.central_crop's dynamic-shape
// path, pad_to_bounding_box's Pad), so TensorFlow Serving computes exactly what those functions compute,
// and only from ops our executor runs with TensorFlow's arithmetic.
import {
  ANTIALIAS_KERNELS,
  float32CropMismatches,
  ImageInputGraphError,
  resizeAttrs,
  type PreprocessStep,
  type Preprocessing,
} from '@tensorsky/preprocess';
import { DataType, type GraphBuilder, type GraphTensor } from '@tensorsky/saved-model';

/** A Const inside the loop body (it must depend on the loop pivot; see mapImages). */
export type BodyConstant = (name: string, values: Int32Array | Float32Array | Float64Array, shape: number[]) => GraphTensor;

const RESIZE_OPS = { bilinear: 'ResizeBilinear', nearest: 'ResizeNearestNeighbor', bicubic: 'ResizeBicubic', area: 'ResizeArea' } as const;

/** Refuses options whose graph our executor would not compute exactly as TensorFlow does. */
export function checkGraphPreprocessing(p: Preprocessing): void {
  if (p.geometry.kind === 'central_crop') {
    // tf.image.central_crop computes the offsets in float64; TF.js has no float64 and computes them in float32.
    const mismatches = float32CropMismatches(p.geometry.fraction);
    if (mismatches.length > 0) {
      throw new ImageInputGraphError(
        `central crop fraction ${p.geometry.fraction} rounds differently in float32 for ${mismatches.length} image sizes (e.g. ${mismatches[0]} px), ` +
          'so local predictions could differ from TensorFlow Serving by a pixel row; use a fraction such as 0.875 or 0.9',
      );
    }
  }
}

/**
 * One decoded image, float [h, w, channels] of any size → float [height, width, channels]: the
 * geometry and resize steps of `p`.
 */
export function transformImage(g: GraphBuilder, pixels: GraphTensor, p: Preprocessing, constant: BodyConstant): GraphTensor {
  // A number is a scalar, an array a vector.
  const int: IntConstant = (name, values) =>
    typeof values === 'number' ? constant(name, new Int32Array([values]), []) : constant(name, new Int32Array(values), [values.length]);
  const dims: Dims = (image, scope) => {
    const shape = g.shape(image, { name: `${scope}/Shape` });
    const dim = (i: number, name: string) =>
      g.stridedSlice(shape, int(`${scope}/${name}/stack`, [i]), int(`${scope}/${name}/stack_1`, [i + 1]), int(`${scope}/${name}/stack_2`, [1]), {
        shrinkAxisMask: 1,
        name: `${scope}/${name}`,
      });
    return [dim(0, 'strided_slice'), dim(1, 'strided_slice_1')] as const;
  };
  const op = p.antialias ? 'ScaleAndTranslate' : RESIZE_OPS[p.resize];
  const resize = (image: GraphTensor, size: GraphTensor) => {
    const batchOfOne = g.expandDims(image, int('ExpandDims/dim', 0));
    let resized: GraphTensor;
    if (p.antialias) {
      // tf.image.resize(antialias=True): scale = float(size) / float(shape[1:3]), translation zeros.
      const inputSize = g.stridedSlice(g.shape(batchOfOne, { name: `${op}/Shape` }), int(`${op}/stack`, [1]), int(`${op}/stack_1`, [3]), int(`${op}/stack_2`, [1]), {
        name: `${op}/strided_slice`,
      });
      const scale = g.apply('RealDiv', [g.cast(size, DataType.DT_FLOAT, { name: `${op}/Cast` }), g.cast(inputSize, DataType.DT_FLOAT, { name: `${op}/Cast_1` })], {}, { name: `${op}/truediv` });
      const translation = constant(`${op}/zeros`, new Float32Array(2), [2]);
      resized = g.apply(op, [batchOfOne, size, scale, translation], { kernel_type: ANTIALIAS_KERNELS[p.resize], antialias: true }, { name: op });
    } else {
      const { alignCorners, halfPixelCenters } = resizeAttrs(p.resize, p.grid);
      resized = g.apply(op, [batchOfOne, size], { align_corners: alignCorners, half_pixel_centers: halfPixelCenters }, { name: op });
    }
    return g.squeeze(resized, { axis: [0] });
  };
  const networkSize = () => int(`${op}/size`, [p.height, p.width]);

  switch (p.geometry.kind) {
    case 'stretch':
      return resize(pixels, networkSize());
    case 'central_crop':
      return resize(centralCrop(g, pixels, p.geometry.fraction, dims, constant, int), networkSize());
    case 'pad_to_square':
      return resize(padToSquare(g, pixels, dims, int), networkSize());
    case 'short_side':
      return g.withScope('short_side', () => {
        const shortSide = p.geometry.kind === 'short_side' ? p.geometry.shortSide : 0;
        const [h, w] = dims(pixels, 'size');
        const short = g.apply('Minimum', [h, w], {}, { name: 'short' });
        // floor(side * shortSide / short) in float32: exact while side * shortSide < 2^24.
        const scaled = (side: GraphTensor, name: string) =>
          g.cast(
            g.apply('RealDiv', [g.mul(g.cast(side, DataType.DT_FLOAT), constant(`${name}/y`, new Float32Array([shortSide]), [])), g.cast(short, DataType.DT_FLOAT)], {}, { name: `${name}/truediv` }),
            DataType.DT_INT32,
            { name },
          );
        const size = g.apply('Pack', [[scaled(h, 'new_height'), scaled(w, 'new_width')]], { axis: 0 }, { name: 'new_size' });
        const resized = resize(pixels, size);
        return centerCrop(g, resized, p.height, p.width, dims, int);
      });
    case 'resize_then_crop': {
      const resized = resize(pixels, int(`${op}/size`, [p.geometry.height, p.geometry.width]));
      return centerCrop(g, resized, p.height, p.width, dims, int);
    }
  }
}

type Dims = (image: GraphTensor, scope: string) => readonly [GraphTensor, GraphTensor];
type IntConstant = (name: string, values: number | readonly number[]) => GraphTensor;

/**
 * tf.image.central_crop for an image of unknown size, op for op: start = int((h - h * fraction) / 2)
 * in float64, size = h - 2 * start, then Slice.
 */
function centralCrop(g: GraphBuilder, image: GraphTensor, fraction: number, dims: Dims, constant: BodyConstant, int: IntConstant): GraphTensor {
  return g.withScope('central_crop', () => {
    const [h, w] = dims(image, 'shape');
    const start = (side: GraphTensor, name: string) => {
      const sided = g.cast(side, DataType.DT_DOUBLE, { name: `${name}/Cast` });
      const cropped = g.mul(sided, constant(`${name}/mul/y`, new Float64Array([fraction]), []), { name: `${name}/mul` });
      const margin = g.sub(sided, cropped, { name: `${name}/sub` });
      const half = g.apply('RealDiv', [margin, constant(`${name}/truediv/y`, new Float64Array([2]), [])], {}, { name: `${name}/truediv` });
      return g.cast(half, DataType.DT_INT32, { name: `${name}/start` });
    };
    const top = start(h, 'height');
    const left = start(w, 'width');
    const size = (side: GraphTensor, begin: GraphTensor, name: string) => g.sub(side, g.mul(begin, int(`${name}/mul/y`, 2)), { name: `${name}/size` });
    const begin = g.apply('Pack', [[top, left, int('zero', 0)]], { axis: 0 }, { name: 'begin' });
    const extent = g.apply('Pack', [[size(h, top, 'height'), size(w, left, 'width'), int('all', -1)]], { axis: 0 }, { name: 'size' });
    return g.apply('Slice', [image, begin, extent], {}, { name: 'Slice' });
  });
}

/** Zero padding to a max(h, w) square with the image centered (offsets rounded down), as pad_to_bounding_box pads. */
function padToSquare(g: GraphBuilder, image: GraphTensor, dims: Dims, int: IntConstant): GraphTensor {
  return g.withScope('pad_to_square', () => {
    const [h, w] = dims(image, 'shape');
    const side = g.apply('Maximum', [h, w], {}, { name: 'side' });
    const two = int('two', 2);
    const padding = (size: GraphTensor, name: string) => {
      const total = g.sub(side, size, { name: `${name}/total` });
      const before = g.apply('FloorDiv', [total, two], {}, { name: `${name}/before` });
      return g.apply('Pack', [[before, g.sub(total, before, { name: `${name}/after` })]], { axis: 0 }, { name: name });
    };
    const paddings = g.apply('Pack', [[padding(h, 'height'), padding(w, 'width'), int('channels', [0, 0])]], { axis: 0 }, { name: 'paddings' });
    return g.pad(image, paddings, { name: 'Pad' });
  });
}

/** The center height x width of an image at least that large: offsets (size - target) // 2, then Slice. */
function centerCrop(g: GraphBuilder, image: GraphTensor, height: number, width: number, dims: Dims, int: IntConstant): GraphTensor {
  return g.withScope('center_crop', () => {
    const [h, w] = dims(image, 'shape');
    const two = int('two', 2);
    const offset = (size: GraphTensor, target: number, name: string) =>
      g.apply('FloorDiv', [g.sub(size, int(`${name}/target`, target), { name: `${name}/excess` }), two], {}, { name: `${name}/offset` });
    const begin = g.apply('Pack', [[offset(h, height, 'height'), offset(w, width, 'width'), int('zero', 0)]], { axis: 0 }, { name: 'begin' });
    return g.apply('Slice', [image, begin, int('size', [height, width, -1])], {}, { name: 'Slice' });
  });
}

/** The normalization steps on the whole batch, each as the op Keras/TensorFlow uses for it. */
export function normalize(g: GraphBuilder, images: GraphTensor, steps: readonly PreprocessStep[]): GraphTensor {
  let x = images;
  for (const step of steps) {
    if (step.kind === 'rgbToBgr') {
      x = g.gatherV2(x, [2, 1, 0], 3, { name: 'rgb_to_bgr' });
      continue;
    }
    const value = typeof step.value === 'number' ? new Float32Array([step.value]) : Float32Array.from(step.value);
    const { op, name } = NORMALIZE_OPS[step.kind];
    const operand = g.constant(`${name}/y`, value, typeof step.value === 'number' ? [] : [value.length]);
    x = g.apply(op, [x, operand], {}, { name });
  }
  return x;
}

const NORMALIZE_OPS = {
  div: { op: 'RealDiv', name: 'truediv' },
  sub: { op: 'Sub', name: 'sub' },
  mul: { op: 'Mul', name: 'mul' },
  add: { op: 'AddV2', name: 'add' },
} as const;
