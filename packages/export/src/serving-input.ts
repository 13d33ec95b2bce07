// The serving input of an exported model, as TensorFlow ops: a batch of encoded images (base64 or raw
// bytes) is decoded, resized and normalized inside the graph, so clients send image files, not tensors.
// The crop, resize and normalization steps are @tensorsky/preprocess's description (built as ops in
// preprocessing.ts), which its TF.js reference also follows.
import { ImageInputGraphError, resolvePreprocessing, type Preprocessing, type PreprocessOptions } from '@tensorsky/preprocess';
import { DataType, IMAGE_ENCODINGS, type GraphBuilder, type GraphTensor, type ImageEncoding } from '@tensorsky/saved-model';
import { checkGraphPreprocessing, normalize, transformImage, type BodyConstant } from './preprocessing.js';
import { decodeImageStep, type JpegDct } from './jpeg-dct.js';

export interface ImageInputOptions extends PreprocessOptions {
  inputFormat: ImageEncoding;
  /** The IDCT JPEGs are decoded with (see jpeg-dct.ts); default 'accurate'. */
  jpegDct?: JpegDct;
}

/**
 * Adds the serving input to `g`: Placeholder "inputs" (DT_STRING [-1], one encoded JPEG/PNG/GIF/BMP
 * per element, any sizes) → float32 [-1, height, width, channels] images, normalized.
 *
 * Images of different sizes cannot be decoded as one tensor, so each is decoded and resized in a loop,
 * built the way TensorFlow 1's tf.map_fn builds it (only ops TensorFlow Serving has without function
 * libraries): a TensorArray scattered from the input, a while loop (Enter/Merge/Switch/LoopCond/
 * NextIteration/Exit) that reads one string, decodes it (DecodeBase64 for 'b64', then decodeImageStep:
 * JPEGs with the IDCT jpegDct names, a GIF's first frame), casts to float, crops or pads and resizes it
 * (by default ResizeBilinear(half_pixel_centers=true) to the network size, see preprocessing.ts) and
 * writes it to a second TensorArray, gathered at the end. Normalization then runs once on the whole batch.
 */
export function buildImageInputGraph(g: GraphBuilder, options: ImageInputOptions): { input: GraphTensor; images: GraphTensor } {
  const preprocessing = resolvePreprocessing(options);
  checkGraphPreprocessing(preprocessing);
  const { channels } = preprocessing;
  if (!IMAGE_ENCODINGS.includes(options.inputFormat)) {
    throw new ImageInputGraphError(`unknown input format '${options.inputFormat}'; use b64 or bytes`);
  }
  const input = g.placeholder('inputs', DataType.DT_STRING, [-1]);
  const images = g.withScope('preprocess', () => {
    const decoded = g.withScope('map', () =>
      mapImages(g, input, preprocessing, (encoded, loopPivot) => {
        const bytes = options.inputFormat === 'b64' ? g.decodeBase64(encoded) : encoded;
        return decodeImageStep(g, bytes, { channels, jpegDct: options.jpegDct ?? 'accurate', loopPivot });
      }),
    );
    return g.identity(normalize(g, decoded, preprocessing.normalize), { name: 'images' });
  });
  return { input, images };
}

/**
 * tf.map_fn over a DT_STRING vector in TF1 control flow: decode(element) → Cast → crop/pad and resize
 * (transformImage) per element, results stacked to [n, height, width, channels].
 */
function mapImages(
  g: GraphBuilder,
  elements: GraphTensor,
  preprocessing: Preprocessing,
  decode: (encoded: GraphTensor, loopPivot: GraphTensor) => GraphTensor,
): GraphTensor {
  const elementShape = [preprocessing.height, preprocessing.width, preprocessing.channels];
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
    const bodyConstant: BodyConstant = (name, values, shape) => g.withControlDependencies([i], () => g.constant(name, values, shape));

    const encoded = g.tensorArrayReadV3(
      enter(inArray, 'TensorArrayReadV3/Enter', true),
      i,
      enter(scattered, 'TensorArrayReadV3/Enter_1', true),
      DataType.DT_STRING,
      { name: 'TensorArrayReadV3' },
    );
    const pixels = g.cast(decode(encoded, i), DataType.DT_FLOAT);
    const image = transformImage(g, pixels, preprocessing, bodyConstant);
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
