// The serving input of an exported model, as TensorFlow ops: a batch of encoded images (base64 or raw
// bytes) is decoded, resized and normalized inside the graph, so clients send image files, not tensors.
// Also the same computation in TF.js (preprocessImagesReference), the reference the fidelity tests and
// clients compare against.
import type * as tfjs from '@tensorflow/tfjs-core';
import { DataType, type GraphBuilder, type GraphTensor } from '@tensorsky/saved-model';

/**
 * 'b64': DT_STRING web-safe base64 of the image file (TensorFlow's DecodeBase64 alphabet), as in the
 * tutorial. 'bytes': the raw file bytes (TF Serving and Vertex AI clients send them as {"b64": ...}).
 */
export type InputFormat = 'b64' | 'bytes';
export const INPUT_FORMATS: readonly InputFormat[] = ['b64', 'bytes'];

/** How pixel values 0-255 are scaled before the network, named after Keras's preprocess_input modes. */
export type PreprocessMode = 'inception' | 'unit' | 'caffe' | 'torch' | 'none';

export const PREPROCESS_MODES: Readonly<Record<PreprocessMode, string>> = {
  inception: 'x / 127.5 - 1 (Keras "tf" mode: InceptionV3, MobileNet, Xception)',
  unit: 'x / 255',
  caffe: 'RGB to BGR, then minus [103.939, 116.779, 123.68] (Keras "caffe" mode: VGG, ResNet50)',
  torch: 'x / 255, minus [0.485, 0.456, 0.406], divided by [0.229, 0.224, 0.225] (Keras "torch" mode: DenseNet)',
  none: 'pixel values 0-255 as they are',
};

/** One normalization step on float pixels; vectors are per channel (RGB order unless after rgbToBgr). */
type Step = { kind: 'div' | 'sub'; value: number | readonly number[] } | { kind: 'rgbToBgr' };

// Same operations in the same order as Keras's preprocess_input, so float32 results match it exactly.
const STEPS: Readonly<Record<PreprocessMode, readonly Step[]>> = {
  inception: [
    { kind: 'div', value: 127.5 },
    { kind: 'sub', value: 1 },
  ],
  unit: [{ kind: 'div', value: 255 }],
  caffe: [{ kind: 'rgbToBgr' }, { kind: 'sub', value: [103.939, 116.779, 123.68] }],
  torch: [
    { kind: 'div', value: 255 },
    { kind: 'sub', value: [0.485, 0.456, 0.406] },
    { kind: 'div', value: [0.229, 0.224, 0.225] },
  ],
  none: [],
};

export interface ImageInputOptions {
  inputFormat: InputFormat;
  /** The network's input size. */
  height: number;
  width: number;
  preprocess: PreprocessMode;
  /** 3 (RGB, default) or 1 (grayscale, TensorFlow's luma). */
  channels?: 1 | 3;
}

export class ImageInputGraphError extends Error {
  override name = 'ImageInputGraphError';
}

function checkOptions(options: Omit<ImageInputOptions, 'inputFormat'>): 1 | 3 {
  const { height, width, preprocess, channels = 3 } = options;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ImageInputGraphError(`image size must be positive integers, got ${height}x${width}`);
  }
  if (!(preprocess in STEPS)) {
    throw new ImageInputGraphError(`unknown preprocessing '${preprocess}'; use one of ${Object.keys(STEPS).join(', ')}`);
  }
  if (channels !== 1 && channels !== 3) throw new ImageInputGraphError(`images must have 1 or 3 channels, got ${channels}`);
  if (channels === 1 && STEPS[preprocess].some((s) => s.kind === 'rgbToBgr' || Array.isArray((s as { value?: unknown }).value))) {
    throw new ImageInputGraphError(`preprocessing '${preprocess}' works on RGB images; a grayscale model needs inception, unit or none`);
  }
  return channels;
}

/**
 * Adds the serving input to `g`: Placeholder "inputs" (DT_STRING [-1], one encoded JPEG/PNG/GIF/BMP
 * per element, any sizes) → float32 [-1, height, width, channels] images, normalized.
 *
 * Images of different sizes cannot be decoded as one tensor, so each is decoded and resized in a loop,
 * built the way TensorFlow 1's tf.map_fn builds it (only ops TensorFlow Serving has without function
 * libraries): a TensorArray scattered from the input, a while loop (Enter/Merge/Switch/LoopCond/
 * NextIteration/Exit) that reads one string, decodes it (DecodeBase64 for 'b64', DecodeImage with
 * channels and expand_animations=false, so a GIF gives its first frame), casts to float, resizes with
 * ResizeBilinear(half_pixel_centers=true) and writes it to a second TensorArray, gathered at the end.
 * Normalization then runs once on the whole batch.
 */
export function buildImageInputGraph(g: GraphBuilder, options: ImageInputOptions): { input: GraphTensor; images: GraphTensor } {
  const channels = checkOptions(options);
  if (!INPUT_FORMATS.includes(options.inputFormat)) {
    throw new ImageInputGraphError(`unknown input format '${options.inputFormat}'; use b64 or bytes`);
  }
  const { height, width } = options;
  const input = g.placeholder('inputs', DataType.DT_STRING, [-1]);
  const images = g.withScope('preprocess', () => {
    const decoded = g.withScope('map', () =>
      mapImages(g, input, [height, width, channels], (encoded) => {
        const bytes = options.inputFormat === 'b64' ? g.decodeBase64(encoded) : encoded;
        return g.decodeImage(bytes, { channels, expandAnimations: false });
      }),
    );
    return g.identity(normalize(g, decoded, options.preprocess), { name: 'images' });
  });
  return { input, images };
}

/**
 * tf.map_fn over a DT_STRING vector in TF1 control flow: decode(element) → Cast → ExpandDims →
 * ResizeBilinear → Squeeze per element, results stacked to [n, ...elementShape].
 */
function mapImages(
  g: GraphBuilder,
  elements: GraphTensor,
  elementShape: [number, number, number],
  decode: (encoded: GraphTensor) => GraphTensor,
): GraphTensor {
  const frame = `${g.currentScope}/while/while_context`;
  const n = g.stridedSlice(g.shape(elements), [0], [1], [1], { shrinkAxisMask: 1, name: 'strided_slice' });
  const [inArray, inFlow] = g.tensorArrayV3(n, DataType.DT_STRING, { elementShape: [], identicalElementShapes: true, name: 'TensorArray' });
  // 0, 1, ..., limit - 1 under the current scope.
  const range = (limit: GraphTensor) => {
    const start = g.constant('range/start', new Int32Array([0]), []);
    const delta = g.constant('range/delta', new Int32Array([1]), []);
    return g.op('Range', [start, limit, delta], {}, { name: 'range' }).outputs[0]!;
  };
  const scattered = g.withScope('TensorArrayUnstack', () =>
    g.tensorArrayScatterV3(inArray, range(n), elements, inFlow, { name: 'TensorArrayScatter/TensorArrayScatterV3' }),
  );
  const start = g.constant('Const', new Int32Array([0]), []);
  const [outArray, outFlow] = g.tensorArrayV3(n, DataType.DT_FLOAT, { elementShape, identicalElementShapes: true, name: 'TensorArray_1' });

  const flowExit = g.withScope('while', () => {
    // parallel_iterations 10 is tf.while_loop's default. Loop variables enter with is_constant=false,
    // loop invariants with is_constant=true.
    const enter = (t: GraphTensor, name: string, isConstant: boolean) => g.enter(t, frame, { isConstant, parallelIterations: 10, name });
    const iEnter = enter(start, 'Enter', false);
    const flowEnter = enter(outFlow, 'Enter_1', false);
    // Merge's second input becomes the NextIteration back-edge once the body exists.
    const [iMerge] = g.merge([iEnter, iEnter], { name: 'Merge' });
    const [flowMerge] = g.merge([flowEnter, flowEnter], { name: 'Merge_1' });
    const cond = g.loopCond(g.less(iMerge, enter(n, 'Less/Enter', true), { name: 'Less' }), { name: 'LoopCond' });
    const [iDone, iBody] = g.switch(iMerge, cond, { name: 'Switch' });
    const [flowDone, flowBody] = g.switch(flowMerge, cond, { name: 'Switch_1' });
    const i = g.identity(iBody, { name: 'Identity' });
    const flow = g.identity(flowBody, { name: 'Identity_1' });
    // Nodes without inputs inside the body must depend on the loop pivot (the first loop variable's
    // Identity), or TensorFlow would run them outside the frame.
    const bodyConst = (name: string, values: number[], shape: number[]) =>
      g.withControlDependencies([i], () => g.constant(name, new Int32Array(values), shape));

    const encoded = g.tensorArrayReadV3(
      enter(inArray, 'TensorArrayReadV3/Enter', true),
      i,
      enter(scattered, 'TensorArrayReadV3/Enter_1', true),
      DataType.DT_STRING,
      { name: 'TensorArrayReadV3' },
    );
    const pixels = g.cast(decode(encoded), DataType.DT_FLOAT);
    const batchOfOne = g.expandDims(pixels, bodyConst('ExpandDims/dim', [0], []));
    const resized = g.resizeBilinear(batchOfOne, bodyConst('ResizeBilinear/size', elementShape.slice(0, 2), [2]), {
      alignCorners: false,
      halfPixelCenters: true,
    });
    const image = g.squeeze(resized, { axis: [0] });
    const written = g.tensorArrayWriteV3(enter(outArray, 'TensorArrayWrite/TensorArrayWriteV3/Enter', true), i, image, flow, {
      name: 'TensorArrayWrite/TensorArrayWriteV3',
    });
    const next = g.add(i, bodyConst('add/y', [1], []), { name: 'add' });
    g.setInput(iMerge, 1, g.nextIteration(next, { name: 'NextIteration' }));
    g.setInput(flowMerge, 1, g.nextIteration(written, { name: 'NextIteration_1' }));
    // Every loop variable leaves through an Exit, as in TensorFlow's graphs, though only the flow is used.
    g.exit(iDone, { name: 'Exit' });
    return g.exit(flowDone, { name: 'Exit_1' });
  });

  return g.withScope('TensorArrayStack', () => {
    const size = g.tensorArraySizeV3(outArray, flowExit, { name: 'TensorArraySizeV3' });
    return g.tensorArrayGatherV3(outArray, range(size), flowExit, DataType.DT_FLOAT, { elementShape, name: 'TensorArrayGatherV3' });
  });
}

function normalize(g: GraphBuilder, images: GraphTensor, mode: PreprocessMode): GraphTensor {
  let x = images;
  for (const step of STEPS[mode]) {
    if (step.kind === 'rgbToBgr') {
      x = g.gatherV2(x, [2, 1, 0], 3, { name: 'rgb_to_bgr' });
      continue;
    }
    const value = typeof step.value === 'number' ? new Float32Array([step.value]) : Float32Array.from(step.value);
    const name = step.kind === 'div' ? 'truediv' : 'sub';
    const operand = g.constant(`${name}/y`, value, typeof step.value === 'number' ? [] : [value.length]);
    x = step.kind === 'div' ? g.realDiv(x, operand, { name }) : g.sub(x, operand, { name });
  }
  return x;
}

/** Decoded pixels: height x width x channels uint8, row-major (as decodeImageToRgb returns for RGB). */
export interface ReferenceImage {
  readonly data: Uint8Array;
  readonly height: number;
  readonly width: number;
  /** Default 3. */
  readonly channels?: number;
}

/**
 * What the graph of buildImageInputGraph computes from already decoded pixels, in TF.js:
 * tf.image.resizeBilinear(float pixels, [height, width], alignCorners=false, halfPixelCenters=true)
 * per image, stacked, then the same normalization steps. Returns float32 [n, height, width, channels].
 */
export function preprocessImagesReference(
  tf: typeof tfjs,
  images: readonly ReferenceImage[],
  options: Omit<ImageInputOptions, 'inputFormat'>,
): tfjs.Tensor4D {
  const channels = checkOptions(options);
  const { height, width } = options;
  return tf.tidy(() => {
    const resized = images.map((image) => {
      if ((image.channels ?? 3) !== channels) {
        throw new ImageInputGraphError(`reference images must have ${channels} channels, got ${image.channels ?? 3}`);
      }
      const pixels = tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, channels]);
      return tf.image.resizeBilinear(pixels, [height, width], false, true);
    });
    let x: tfjs.Tensor4D = tf.stack(resized) as tfjs.Tensor4D;
    for (const step of STEPS[options.preprocess]) {
      if (step.kind === 'rgbToBgr') {
        x = tf.gather(x, [2, 1, 0], 3);
        continue;
      }
      const operand = typeof step.value === 'number' ? tf.scalar(step.value) : tf.tensor1d(step.value as number[]);
      x = step.kind === 'div' ? tf.div(x, operand) : tf.sub(x, operand);
    }
    return x;
  });
}
