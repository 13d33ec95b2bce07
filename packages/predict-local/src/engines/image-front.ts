// The exporter's image front without tfjs-converter's control flow. An export's serving input is a TF1
// map_fn (export/src/serving-input.ts): the string batch is scattered into a TensorArray, a while loop
// reads one element, runs the decode/cast/crop/resize body and writes the image to a second TensorArray,
// which is gathered to [n, height, width, channels]. On the executor, the loop's frames, TensorArrays and
// per-node promises cost more than the decode and resize themselves. When the front is exactly that loop
// (recognized from the graph's nodes), this runs the body once per element with the same kernels the
// executor runs for each node (our kernels, and the TF.js ops tfjs-converter's executors call), so the
// gathered tensor is bit for bit the executor's; any other front stays on the executor.
import { attrValueCase, canonicalTensorName, DataType, int64ToNumber, parseTensorName, shapeFromProto, tensorProtoToArray, tfjsDtype, type FrozenGraph, type NodeDef } from '@tensorsky/saved-model';
import { CUSTOM_KERNELS } from '../kernels/index.js';
import { isDecodeOp, type ImageDecoder } from '../kernels/decode-image.js';
import { runDecode } from '../kernels/decode-kernels.js';
import { DecodePool } from '../kernels/decode-pool.js';
import type { GraphNode } from '../kernels/kernel.js';
import * as tf from '../tf.js';
import { float32Values } from '../wasm-backend.js';

/** The gathered batch, [n, height, width, channels] float32, in one array ONNX Runtime takes as it is. */
export interface ImageBatch {
  values: Float32Array;
  shape: number[];
  /** Hands `values` back for the next batch of the same size (fresh pages cost more than filling them). */
  release(): void;
}

/** The front of an exported signature, computing the gathered image batch per element. */
export interface ImageFront {
  /**
   * The boundary tensor for the batch of encoded images in `feeds`, each image copied into its place as
   * it is made (no stacked tensor, no read back of one); undefined for a batch the executor's front must
   * take (empty, or not a string vector).
   */
  run(feeds: Record<string, tf.Tensor>): Promise<ImageBatch | undefined>;
  dispose(): void;
}

type Value = tf.Tensor | typeof DEAD;
/** A tensor on the untaken branch of a Switch (TensorFlow's dead tensors). */
const DEAD = Symbol('dead');

type Attrs = GraphNode['attrs'];
type Standard = (inputs: tf.Tensor[], attrs: Attrs) => tf.Tensor;

const ints = (t: tf.Tensor): number[] => Array.from(t.dataSync());

// The ops the exporter's loop body uses that tfjs-converter runs itself, each as its executor calls
// TF.js (tfjs-converter/src/operations/executors/*). A body with any other op stays on the executor.
const STANDARD_OPS: Readonly<Record<string, Standard>> = {
  Identity: ([x]) => tf.clone(x),
  ExpandDims: ([x, axis]) => tf.expandDims(x, ints(axis)[0]),
  Squeeze: ([x], a) => tf.squeeze(x, a.squeeze_dims as number[] | undefined),
  ResizeBilinear: ([x, size], a) => {
    const [h, w] = ints(size);
    return tf.image.resizeBilinear(x as tf.Tensor4D, [h, w], a.align_corners as boolean, a.half_pixel_centers as boolean);
  },
  Shape: ([x]) => tf.tensor1d(x.shape, 'int32'),
  StridedSlice: ([x, begin, end, strides], a) =>
    tf.stridedSlice(x, ints(begin), ints(end), ints(strides), a.begin_mask as number, a.end_mask as number, a.ellipsis_mask as number, a.new_axis_mask as number, a.shrink_axis_mask as number),
  Slice: ([x, begin, size]) => tf.slice(x, ints(begin), ints(size)),
  Pack: (xs, a) => tf.stack(xs, a.axis as number),
  Pad: ([x, paddings]) => tf.pad(x, tf.util.toNestedArray([paddings.shape[0]!, 2], paddings.dataSync()) as Array<[number, number]>),
  Mul: ([x, y]) => tf.mul(x, y),
  Sub: ([x, y]) => tf.sub(x, y),
  RealDiv: ([x, y]) => tf.div(x, y),
  FloorDiv: ([x, y]) => tf.floorDiv(x, y),
  Maximum: ([x, y]) => tf.maximum(x, y),
  Minimum: ([x, y]) => tf.minimum(x, y),
};

/**
 * Attr values as tfjs-converter hands them to kernels (custom_op/node_value_impl.ts): numbers, booleans,
 * lower-cased strings, DataType numbers (type attrs reach custom ops as ints, see attrJson), int lists.
 */
function converterAttrs(node: NodeDef): Attrs {
  const attrs: Attrs = {};
  for (const [name, v] of Object.entries(node.attr ?? {})) {
    const which = attrValueCase(v);
    if (which === 'i') attrs[name] = int64ToNumber(v.i);
    else if (which === 'f') attrs[name] = v.f!;
    else if (which === 'b') attrs[name] = v.b!;
    else if (which === 'type') attrs[name] = v.type!;
    else if (which === 's') attrs[name] = new TextDecoder().decode(v.s!).toLowerCase();
    else if (which === 'list' && v.list?.i?.length) attrs[name] = v.list.i.map(int64ToNumber);
  }
  return attrs;
}

/** A Const node's value as the executor loads it (tfjs dtype; DT_DOUBLE as float32, strings as bytes). */
function constantTensor(node: NodeDef): tf.Tensor | undefined {
  const proto = node.attr?.value?.tensor;
  const dtype = proto?.dtype !== undefined ? tfjsDtype(proto.dtype) : undefined;
  const shape = proto && shapeFromProto(proto.tensor_shape);
  if (!proto || !dtype || !shape) return undefined;
  const values = tensorProtoToArray(proto);
  if (dtype === 'string') return tf.tensor(values as Uint8Array[], shape, 'string');
  if (dtype === 'float32') return tf.tensor(Float32Array.from(values as ArrayLike<number>), shape, 'float32');
  if (dtype === 'int32') return tf.tensor(Int32Array.from(values as ArrayLike<number>), shape, 'int32');
  return undefined;
}

interface BodyNode {
  name: string;
  op: string;
  inputs: string[];
  controls: string[];
  attrs: Attrs;
}

interface Loop {
  placeholder: string;
  /** The tensor each iteration reads its element from (TensorArrayReadV3), and the iteration index. */
  read: string;
  index: string;
  /** The body's nodes in execution order, from the element to the written image. */
  body: BodyNode[];
  written: string;
  elementShape: number[];
  constants: Map<string, tf.Tensor>;
}

const key = canonicalTensorName;

/**
 * The map_fn loop of an export's front, or undefined when the front is anything else. Checks every
 * node of the front: the scaffolding roles of serving-input.ts's mapImages, and a body of known ops.
 */
function recognizeLoop(graph: FrozenGraph, nodes: readonly NodeDef[], boundary: readonly string[]): Loop | undefined {
  if (boundary.length !== 1 || graph.functions.length > 0) return undefined;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const node = (tensor: string | undefined, op: string): NodeDef | undefined => {
    if (tensor === undefined || tensor.startsWith('^')) return undefined;
    const n = byName.get(parseTensorName(tensor).node);
    return n?.op === op ? n : undefined;
  };
  const data = (n: NodeDef) => (n.input ?? []).filter((i) => !i.startsWith('^'));
  const scaffold = new Set<string>();
  const take = <T extends NodeDef | undefined>(n: T): T => (n && scaffold.add(n.name), n);

  const gather = take(node(boundary[0], 'TensorArrayGatherV3'));
  if (!gather || parseTensorName(boundary[0]!).index !== 0) return undefined;
  const outArray = take(node(data(gather)[0], 'TensorArrayV3'));
  const shapeAttr = (n: NodeDef) => (n.attr?.element_shape?.shape ? shapeFromProto(n.attr.element_shape.shape) : undefined);
  const elementShape = shapeAttr(gather);
  if (!outArray || !elementShape || elementShape.some((d) => d < 0) || outArray.attr?.dtype?.type !== DataType.DT_FLOAT) return undefined;
  if (!tf.util.arraysEqual(shapeAttr(outArray) ?? [], elementShape)) return undefined;
  // Gather indices: Range(0, TensorArraySizeV3(out, exit flow), 1); the flow is the loop's Exit.
  const gatherRange = take(node(data(gather)[1], 'Range'));
  const size = take(node(gatherRange && data(gatherRange)[1], 'TensorArraySizeV3'));
  const exit = take(node(data(gather)[2], 'Exit'));
  if (!gatherRange || !size || !exit || !isRange(gatherRange, byName, scaffold) || key(data(size)[1]!) !== key(data(gather)[2]!)) return undefined;

  // The flow leaving the loop is the write's: Exit ← Switch_1 ← Merge_1 ← NextIteration_1 ← write.
  const flowSwitch = take(node(data(exit)[0], 'Switch'));
  const flowMerge = take(node(flowSwitch && data(flowSwitch)[0], 'Merge'));
  const flowEnter = take(node(flowMerge && data(flowMerge)[0], 'Enter'));
  const flowNext = take(node(flowMerge && data(flowMerge)[1], 'NextIteration'));
  const write = take(node(flowNext && data(flowNext)[0], 'TensorArrayWriteV3'));
  if (!flowSwitch || !flowMerge || !flowEnter || !flowNext || !write) return undefined;
  if (key(data(flowEnter)[0]!) !== key(`${outArray.name}:1`)) return undefined;
  const writeEnter = take(node(data(write)[0], 'Enter'));
  const flowIdentity = take(node(data(write)[3], 'Identity'));
  if (!writeEnter || key(data(writeEnter)[0]!) !== key(`${outArray.name}:0`) || !flowIdentity || key(data(flowIdentity)[0]!) !== key(`${flowSwitch.name}:1`)) return undefined;

  // The counter: Identity ← Switch ← Merge(Enter(Const 0), NextIteration(Add(Identity, 1))), LoopCond(Less(Merge, Enter(n))).
  const index = take(node(data(write)[1], 'Identity'));
  const iSwitch = take(node(index && data(index)[0], 'Switch'));
  const iMerge = take(node(iSwitch && data(iSwitch)[0], 'Merge'));
  const loopCond = take(node(iSwitch && data(iSwitch)[1], 'LoopCond'));
  if (!index || !iSwitch || !iMerge || !loopCond || key(data(index)[0]!) !== key(`${iSwitch.name}:1`)) return undefined;
  if (key(data(flowSwitch)[1]!) !== key(loopCond.name)) return undefined;
  const iEnter = take(node(data(iMerge)[0], 'Enter'));
  const start = take(node(iEnter && data(iEnter)[0], 'Const'));
  const iNext = take(node(data(iMerge)[1], 'NextIteration'));
  const add = take(node(iNext && data(iNext)[0], 'Add') ?? node(iNext && data(iNext)[0], 'AddV2'));
  const one = take(node(add && data(add)[1], 'Const'));
  const less = take(node(data(loopCond)[0], 'Less'));
  const nEnter = take(node(less && data(less)[1], 'Enter'));
  if (!start || !add || !one || !less || !nEnter || scalarInt(start) !== 0 || scalarInt(one) !== 1) return undefined;
  if (key(data(add)[0]!) !== key(index.name) || key(data(less)[0]!) !== key(iMerge.name)) return undefined;
  // Both loop exits exist in the exporter's graphs; the counter's is unused.
  for (const n of nodes) if (n.op === 'Exit' && key(data(n)[0]!) === key(iSwitch.name)) take(n);

  // The read: TensorArrayReadV3(Enter(in array), i, Enter(scatter flow)), scattered from the placeholder.
  const read = take(nodes.find((n) => n.op === 'TensorArrayReadV3'));
  if (!read || key(data(read)[1]!) !== key(index.name)) return undefined;
  const readEnter = take(node(data(read)[0], 'Enter'));
  const scatterEnter = take(node(data(read)[2], 'Enter'));
  const inArray = take(node(readEnter && data(readEnter)[0], 'TensorArrayV3'));
  const scatter = take(node(scatterEnter && data(scatterEnter)[0], 'TensorArrayScatterV3'));
  if (!inArray || !scatter || key(data(scatter)[0]!) !== key(`${inArray.name}:0`) || key(data(scatter)[3]!) !== key(`${inArray.name}:1`)) return undefined;
  const placeholder = take(node(data(scatter)[2], 'Placeholder'));
  const scatterRange = take(node(data(scatter)[1], 'Range'));
  if (!placeholder || !scatterRange || !isRange(scatterRange, byName, scaffold)) return undefined;
  // n = StridedSlice(Shape(inputs), [0], [1], [1], shrink) sizes both arrays and bounds the loop.
  const n = data(scatterRange)[1]!;
  const nSlice = take(node(n, 'StridedSlice'));
  const shape = take(node(nSlice && data(nSlice)[0], 'Shape'));
  if (!nSlice || !shape || key(data(shape)[0]!) !== key(placeholder.name)) return undefined;
  for (const c of data(nSlice).slice(1)) take(node(c, 'Const'));
  if (![inArray, outArray].every((a) => key(data(a)[0]!) === key(n)) || key(data(nEnter)[0]!) !== key(n)) return undefined;

  // The body: everything else, from the element (and the pivot, for its constants) to the written image.
  const constants = new Map<string, tf.Tensor>();
  const body: BodyNode[] = [];
  const ready = new Set([key(read.name), key(index.name)]);
  const rest = nodes.filter((x) => !scaffold.has(x.name));
  const release = () => constants.forEach((t) => t.dispose());
  // Nodes in dependency order (the exporter writes them so; a body that is not is left to the executor).
  for (const x of rest) {
    const inputs = data(x);
    const controls = (x.input ?? []).filter((i) => i.startsWith('^')).map((i) => key(i.slice(1)));
    const known = x.op === 'Const' || x.op === 'Switch' || x.op === 'Merge' || x.op in STANDARD_OPS || CUSTOM_KERNELS.has(x.op);
    if (!known || ![...inputs.map(key), ...controls].every((i) => ready.has(i))) return release(), undefined;
    if (x.op === 'Const') {
      const value = constantTensor(x);
      if (!value) return release(), undefined;
      constants.set(key(x.name), value);
    }
    body.push({ name: x.name, op: x.op, inputs: inputs.map(key), controls, attrs: converterAttrs(x) });
    // Only Switch's second output is read (Merge's value_index is not computed here).
    const outputs = x.op === 'Switch' ? 2 : 1;
    for (let i = 0; i < outputs; i++) ready.add(`${x.name}:${i}`);
  }
  const written = key(data(write)[2]!);
  if (!ready.has(written)) return release(), undefined;
  return { placeholder: placeholder.name, read: key(read.name), index: key(index.name), body, written, elementShape, constants };
}

function scalarInt(n: NodeDef): number | undefined {
  const proto = n.attr?.value?.tensor;
  if (!proto || proto.dtype !== DataType.DT_INT32) return undefined;
  const values = tensorProtoToArray(proto) as Int32Array;
  return values.length === 1 ? values[0] : undefined;
}

/** Range(Const 0, limit, Const 1); its constants join the scaffolding. */
function isRange(range: NodeDef, byName: ReadonlyMap<string, NodeDef>, scaffold: Set<string>): boolean {
  const [start, , delta] = (range.input ?? []).map((i) => byName.get(parseTensorName(i).node));
  if (start?.op !== 'Const' || delta?.op !== 'Const' || scalarInt(start) !== 0 || scalarInt(delta) !== 1) return false;
  scaffold.add(start.name).add(delta.name);
  return true;
}

/** Runs the loop body on one element and copies the image it writes to `into` at `offset`. */
async function runBody(loop: Loop, element: tf.Tensor, index: tf.Tensor, into: Float32Array, offset: number, decode?: ImageDecoder): Promise<void> {
  const values = new Map<string, Value>([
    [loop.read, element],
    [loop.index, index],
  ]);
  const made: tf.Tensor[] = [];
  try {
    for (const n of loop.body) {
      const inputs = n.inputs.map((i) => values.get(i)!);
      const dead = n.controls.some((c) => values.get(c) === DEAD);
      if (n.op === 'Merge') {
        // The first live input, and which one it was.
        const live = inputs.findIndex((v) => v !== DEAD);
        values.set(`${n.name}:0`, live < 0 || dead ? DEAD : inputs[live]!);
        continue;
      }
      if (dead || inputs.some((v) => v === DEAD)) {
        values.set(`${n.name}:0`, DEAD).set(`${n.name}:1`, DEAD);
        continue;
      }
      const tensors = inputs as tf.Tensor[];
      if (n.op === 'Const') {
        values.set(`${n.name}:0`, loop.constants.get(`${n.name}:0`)!);
      } else if (n.op === 'Switch') {
        const taken = (await tensors[1]!.data())[0] ? 1 : 0;
        values.set(`${n.name}:${taken}`, tensors[0]!).set(`${n.name}:${1 - taken}`, DEAD);
      } else {
        const kernel = CUSTOM_KERNELS.get(n.op);
        const node = { inputs: tensors, attrs: n.attrs };
        const out = decode && isDecodeOp(n.op) ? await runDecode(n.op, node, decode) : kernel ? await kernel.run(node) : STANDARD_OPS[n.op]!(tensors, n.attrs);
        const first = Array.isArray(out) ? out[0]! : out;
        made.push(first);
        values.set(`${n.name}:0`, first);
      }
    }
    const image = values.get(loop.written);
    if (image === undefined || image === DEAD) throw new Error('the image front wrote no image');
    if (image.dtype !== 'float32' || !tf.util.arraysEqual(image.shape, loop.elementShape)) {
      throw new Error(`the image front made a ${image.dtype} image of shape [${image.shape.join(', ')}] where float32 [${loop.elementShape.join(', ')}] is declared`);
    }
    into.set(float32Values(image), offset);
  } finally {
    tf.dispose(made);
  }
}

/**
 * Elements in flight at once when images decode on worker threads: enough to keep every decoding thread
 * busy while this one resizes, never more than TensorFlow's map_fn default (parallel_iterations 10),
 * which bounds the decoded images held at once.
 */
const inFlight = (decodeThreads: number) => Math.min(10, 2 * decodeThreads + 1);

export interface ImageFrontOptions {
  /** Worker threads decoding the JPEGs of a batch while this thread runs the rest (default 0: none). */
  decodeThreads?: number;
}

/** The export's front run element by element, or undefined when the front is not the exporter's loop. */
export function fastImageFront(graph: FrozenGraph, nodes: readonly NodeDef[], boundary: readonly string[], options: ImageFrontOptions = {}): ImageFront | undefined {
  const loop = recognizeLoop(graph, nodes, boundary);
  if (!loop) return undefined;
  // Started with the model; only batches of several images use it (one image gains nothing from it).
  const pool = (options.decodeThreads ?? 0) > 0 ? new DecodePool(options.decodeThreads!) : undefined;
  // Batch arrays handed back by release(), by length: refilling one costs a copy, a new one its page
  // faults too (several times the copy for megabytes). The two latest lengths are kept.
  const spare = new Map<number, Float32Array>();
  return {
    async run(feeds) {
      const input = feeds[loop.placeholder];
      if (!input || input.dtype !== 'string' || input.rank !== 1 || input.shape[0] === 0) return undefined;
      // What TensorArrayScatterV3 hands each iteration: one scalar string of the same bytes.
      const elements = ((await input.bytes()) as Uint8Array[]).map((bytes) => tf.tensor([bytes], [], 'string'));
      const size = loop.elementShape.reduce((a, b) => a * b, 1);
      const length = elements.length * size;
      const values = spare.get(length) ?? new Float32Array(length);
      spare.delete(length);
      const release = () => {
        spare.delete(length);
        spare.set(length, values);
        if (spare.size > 2) spare.delete(spare.keys().next().value!);
      };
      const decode = pool && elements.length > 1 ? pool.decode : undefined;
      // The first failing element's error, as the executor (one element after the other) reports it:
      // after a failure no later element starts, and every earlier one has started already.
      const errors: unknown[] = [];
      let next = 0;
      let failedAt = Infinity;
      const lane = async () => {
        while (next < elements.length && next < failedAt) {
          const i = next++;
          const index = tf.scalar(i, 'int32');
          try {
            await runBody(loop, elements[i]!, index, values, i * size, decode);
          } catch (err) {
            errors[i] = err;
            failedAt = Math.min(failedAt, i);
          } finally {
            index.dispose();
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: decode ? Math.min(inFlight(pool!.size), elements.length) : 1 }, lane));
      } finally {
        tf.dispose(elements);
      }
      if (failedAt < Infinity) {
        release();
        throw errors[failedAt];
      }
      return { values, shape: [elements.length, ...loop.elementShape], release };
    },
    dispose: () => {
      loop.constants.forEach((t) => t.dispose());
      void pool?.close();
    },
  };
}
