// GraphBuilder. Expected attr sets, defaults and output dtypes are TensorFlow's (the REGISTER_OP
// definitions in tensorflow/core/ops), naming follows tf.Graph.unique_name, bytes are hand-computed.
import { describe, expect, it } from 'vitest';
import {
  DataType,
  GraphBuildError,
  GraphBuilder,
  GraphTensor,
  decodeMessage,
  encodeMessage,
  validateGraph,
  type AttrValue,
  type GraphDef,
  type NodeDef,
} from '../src/index.js';

const { DT_FLOAT, DT_INT32, DT_INT64, DT_STRING, DT_UINT8, DT_UINT16, DT_BOOL, DT_RESOURCE } = DataType;

function nodeOf(graph: GraphDef, name: string): NodeDef {
  const found = graph.node!.find((n) => n.name === name);
  if (!found) throw new Error(`no node ${name}; nodes: ${graph.node!.map((n) => n.name).join(', ')}`);
  return found;
}

const str = (v: AttrValue | undefined) => Buffer.from(v!.s!).toString('utf8');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** A small image classifier: conv + bias + relu, global mean pool, dense, softmax. */
function buildClassifier() {
  const b = new GraphBuilder();
  const images = b.placeholder('images', DT_FLOAT, [-1, 8, 8, 3]);
  const features = b.withScope('conv2d', () => {
    const kernel = b.constant('kernel', new Float32Array(3 * 3 * 3 * 4).fill(0.1), [3, 3, 3, 4]);
    const bias = b.constant('bias', new Float32Array(4), [4]);
    return b.relu(b.biasAdd(b.conv2d(images, kernel, { padding: 'SAME' }), bias));
  });
  const pooled = b.mean(features, [1, 2]);
  const logits = b.withScope('dense', () => b.matMul(pooled, b.constant('kernel', new Float32Array(4 * 5), [4, 5])));
  const probs = b.softmax(logits, { name: 'probs' });
  return { b, images, probs };
}

describe('GraphBuilder op construction', () => {
  it('infers T, writes every OpDef attr with its default, and names nodes by scope', () => {
    const { b } = buildClassifier();
    const graph = b.toGraphDef();
    const conv = nodeOf(graph, 'conv2d/Conv2D');
    expect(conv.op).toBe('Conv2D');
    expect(conv.input).toEqual(['images', 'conv2d/kernel']);
    // Conv2D's attrs in TensorFlow: T, strides, use_cudnn_on_gpu=true, padding, explicit_paddings=[],
    // data_format="NHWC", dilations=[1,1,1,1].
    expect(Object.keys(conv.attr!).sort()).toEqual(['T', 'data_format', 'dilations', 'explicit_paddings', 'padding', 'strides', 'use_cudnn_on_gpu']);
    expect(conv.attr!.T).toEqual({ type: DT_FLOAT });
    expect(conv.attr!.use_cudnn_on_gpu).toEqual({ b: true });
    expect(str(conv.attr!.data_format)).toBe('NHWC');
    expect(str(conv.attr!.padding)).toBe('SAME');
    expect(conv.attr!.dilations!.list!.i).toEqual([1, 1, 1, 1]);
    expect(conv.attr!.strides!.list!.i).toEqual([1, 1, 1, 1]);
    expect(conv.attr!.explicit_paddings!.list!.i ?? []).toEqual([]);

    expect(nodeOf(graph, 'conv2d/BiasAdd').input).toEqual(['conv2d/Conv2D', 'conv2d/bias']);
    expect(nodeOf(graph, 'conv2d/Relu').attr).toEqual({ T: { type: DT_FLOAT } });

    // Mean: T, Tidx=DT_INT32 default, keep_dims=false default; the literal axis became an int32 Const.
    const mean = nodeOf(graph, 'Mean');
    expect(mean.input).toEqual(['conv2d/Relu', 'Mean/reduction_indices']);
    expect(mean.attr).toEqual({ keep_dims: { b: false }, T: { type: DT_FLOAT }, Tidx: { type: DT_INT32 } });
    const axis = nodeOf(graph, 'Mean/reduction_indices');
    expect(axis.attr!.dtype).toEqual({ type: DT_INT32 });
    expect(hex(axis.attr!.value!.tensor!.tensor_content!)).toBe('0100000002000000');

    // MatMul: transpose_a/b and grad_a/b default to false.
    const matmul = nodeOf(graph, 'dense/MatMul');
    expect(matmul.input).toEqual(['Mean', 'dense/kernel']);
    expect(matmul.attr).toEqual({
      transpose_a: { b: false },
      transpose_b: { b: false },
      T: { type: DT_FLOAT },
      grad_a: { b: false },
      grad_b: { b: false },
    });
    expect(nodeOf(graph, 'probs').op).toBe('Softmax');
  });

  it('writes Float32Array constants to little-endian tensor_content', () => {
    const b = new GraphBuilder();
    const c = b.constant('c', new Float32Array([1, 0.5]));
    const node = nodeOf(b.toGraphDef(), 'c');
    expect(node.attr!.dtype).toEqual({ type: DT_FLOAT });
    expect(node.attr!.value!.tensor!.dtype).toBe(DT_FLOAT);
    expect(hex(node.attr!.value!.tensor!.tensor_content!)).toBe('0000803f0000003f');
    expect(c.shape).toEqual([2]);
    expect(c.name).toBe('c:0');
  });

  it('infers constant dtypes from their values', () => {
    const b = new GraphBuilder();
    expect(b.constant('f', 2).dtype).toBe(DT_FLOAT);
    expect(b.constant('i', 2, [], DT_INT32).dtype).toBe(DT_INT32);
    expect(b.constant('s', 'hello').dtype).toBe(DT_STRING);
    expect(b.constant('u8', new Uint8Array([1, 2])).dtype).toBe(DT_UINT8);
    expect(b.constant('bytes', new Uint8Array([1, 2]), [], DT_STRING).dtype).toBe(DT_STRING);
    expect(b.constant('i64', new BigInt64Array([1n])).dtype).toBe(DT_INT64);
    expect(b.constant('bool', true).dtype).toBe(DT_BOOL);
    expect(b.constant('m', new Int32Array(6), [2, 3]).shape).toEqual([2, 3]);
    expect(() => b.constant('bad', new Float32Array(5), [2, 3])).toThrow(/node "bad" \(Const\): .*needs 6 values, got 5/);
  });

  it('gives every output its dtype as TensorFlow defines it', () => {
    const b = new GraphBuilder();
    const bytes = b.placeholder('bytes', DT_STRING, [-1]);
    const u8 = b.placeholder('u8', DT_UINT8, [-1, 4, 4, 3]);
    const f = b.placeholder('f', DT_FLOAT);
    expect(b.decodeBase64(bytes).dtype).toBe(DT_STRING);
    expect(b.decodeImage(bytes, { channels: 3 }).dtype).toBe(DT_UINT8);
    expect(b.decodeImage(bytes, { dtype: DT_FLOAT }).dtype).toBe(DT_FLOAT);
    expect(b.decodeJpeg(bytes, { channels: 3 }).dtype).toBe(DT_UINT8);
    expect(b.decodePng(bytes, { dtype: DT_UINT16 }).dtype).toBe(DT_UINT16);
    expect(b.resizeBilinear(u8, [2, 2]).dtype).toBe(DT_FLOAT); // always float
    expect(b.shape(u8).dtype).toBe(DT_INT32);
    expect(b.shape(u8, { outType: DT_INT64 }).dtype).toBe(DT_INT64);
    expect(b.cast(u8, DT_FLOAT).dtype).toBe(DT_FLOAT);
    expect(b.less(f, f).dtype).toBe(DT_BOOL);
    const [handle, flow] = b.tensorArrayV3(3, DT_FLOAT);
    expect([handle.dtype, flow.dtype]).toEqual([DT_RESOURCE, DT_FLOAT]);
    const [out, valueIndex] = b.merge([f, f]);
    expect([out.dtype, valueIndex.dtype]).toEqual([DT_FLOAT, DT_INT32]);
    expect(b.tensorArrayReadV3(handle, 0, flow, DT_FLOAT).dtype).toBe(DT_FLOAT);
    expect(b.tensorArraySizeV3(handle, flow).dtype).toBe(DT_INT32);
  });

  it('returns every output of multi-output ops, named node:index', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT, [1, 2, 2, 3]);
    const p = b.constant('p', new Float32Array(3));
    const bn = b.op('FusedBatchNormV3', [x, p, p, p, p], { is_training: false }, { name: 'bn' });
    expect(bn.outputs.map((o) => o.name)).toEqual(['bn:0', 'bn:1', 'bn:2', 'bn:3', 'bn:4', 'bn:5']);
    expect(bn.outputs.map((o) => o.dtype)).toEqual([DT_FLOAT, DT_FLOAT, DT_FLOAT, DT_FLOAT, DT_FLOAT, DT_FLOAT]);
    const y = b.identity(bn.outputs[2]!);
    expect(nodeOf(b.toGraphDef(), y.node).input).toEqual(['bn:2']);
    expect(b.identity(bn.outputs[0]!).shape).toEqual([1, 2, 2, 3]);
  });

  it('writes fusedBatchNormV3 in inference mode with U inferred from the scale', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT);
    const p = b.constant('p', new Float32Array(3));
    b.fusedBatchNormV3(x, p, p, p, p, { epsilon: 0.001, name: 'bn' });
    const bn = nodeOf(b.toGraphDef(), 'bn');
    expect(bn.attr!.is_training).toEqual({ b: false });
    expect(bn.attr!.U).toEqual({ type: DT_FLOAT });
    expect(bn.attr!.epsilon).toEqual({ f: 0.001 });
    expect(bn.attr!.exponential_avg_factor).toEqual({ f: 1 });
  });

  it('sets N from list inputs (ConcatV2, Pack) and enforces its minimum', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT, [1, 2]);
    const concat = b.concatV2([x, x, x], 1);
    const graph = b.toGraphDef();
    expect(nodeOf(graph, concat.node).input).toEqual(['x', 'x', 'x', 'ConcatV2/axis']);
    expect(nodeOf(graph, concat.node).attr).toMatchObject({ N: { i: 3 }, T: { type: DT_FLOAT }, Tidx: { type: DT_INT32 } });
    const pack = b.apply('Pack', [[x, x]], { axis: 1 });
    expect(nodeOf(b.toGraphDef(), pack.node).attr).toEqual({ N: { i: 2 }, T: { type: DT_FLOAT }, axis: { i: 1 } });
    // ConcatV2 requires N >= 2.
    expect(() => b.concatV2([x], 0)).toThrow(/node "ConcatV2_1" \(ConcatV2\): attr "N" = 1 is less than the minimum 2/);
  });

  it('rejects inputs whose dtype conflicts with the OpDef', () => {
    const b = new GraphBuilder();
    const f = b.placeholder('f', DT_FLOAT);
    const i = b.placeholder('i', DT_INT32);
    const s = b.placeholder('s', DT_STRING);
    expect(() => b.add(f, i)).toThrow(GraphBuildError);
    expect(() => b.add(f, i)).toThrow(/input "y" \("i:0"\) gives T = DT_INT32, but T = DT_FLOAT from input "x"/);
    // Conv2D's T allows half, bfloat16, float, double, int32: not string.
    expect(() => b.conv2d(s, s, { padding: 'VALID' })).toThrow(/node "Conv2D(_\d+)?" \(Conv2D\): attr "T" = DT_STRING is not allowed/);
    // DecodeBase64 takes DT_STRING only.
    expect(() => b.decodeBase64(f)).toThrow(/input "input" must be DT_STRING, got DT_FLOAT/);
    // An explicit attr must agree with the inputs.
    expect(() => b.op('Identity', [f], { T: DT_INT32 })).toThrow(/gives T = DT_FLOAT, but T = DT_INT32 was given/);
  });

  it('rejects unknown ops, missing required attrs, unknown attrs and wrongly typed attrs', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT);
    expect(() => b.op('Conv3DTranspose', [x])).toThrow(/unknown op "Conv3DTranspose"/);
    expect(() => b.op('Conv2D', [x, x], { padding: 'SAME' }, { name: 'c' })).toThrow(/node "c" \(Conv2D\): missing required attr "strides"/);
    expect(() => b.op('Relu', [x], { alpha: 0.2 })).toThrow(/attr "alpha" is not defined by the OpDef/);
    expect(() => b.op('Conv2D', [x, x], { strides: 1, padding: 'SAME' })).toThrow(/attr "strides" \(list\(int\)\) cannot be set from 1/);
    expect(() => b.conv2d(x, x, { padding: 'FULL' as 'SAME' })).toThrow(/attr "padding" = "FULL" is not allowed \(allowed: "SAME", "VALID", "EXPLICIT"\)/);
    expect(() => b.op('Relu', [])).toThrow(/expects 1 input args \(features\), got 0/);
    expect(() => b.op('ConcatV2', [x, b.constant('a', 0, [], DT_INT32)], {})).toThrow(/input "values" must be a list of tensors/);
  });

  it('rejects tensors from another builder', () => {
    const other = new GraphBuilder().placeholder('x', DT_FLOAT);
    const b = new GraphBuilder();
    b.placeholder('x', DT_FLOAT);
    expect(() => b.relu(other)).toThrow(/not a tensor of this graph/);
  });

  it('places control inputs after data inputs', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT);
    const init = b.op('NoOp', [], {}, { name: 'init' });
    const y = b.op('Identity', [x], {}, { name: 'y', controlInputs: [init, 'x'] }).outputs[0]!;
    b.addControlInput(y, init); // already there: not repeated
    const z = b.withControlDependencies([y], () => b.relu(x, { name: 'z' }));
    const graph = b.toGraphDef();
    expect(nodeOf(graph, 'y').input).toEqual(['x', '^init', '^x']);
    expect(nodeOf(graph, z.node).input).toEqual(['x', '^y']);
    expect(() => b.op('NoOp', [], {}, { controlInputs: ['missing'] })).toThrow(/control input "missing" is not a node of this graph/);
  });
});

describe('GraphBuilder names', () => {
  it('uniquifies like tf.Graph.unique_name (case-insensitive, name_1, name_1_1)', () => {
    const b = new GraphBuilder();
    const names = [
      b.constant('w', 1).node,
      b.constant('w', 1).node,
      b.constant('w_1', 1).node,
      b.constant('W', 1).node,
    ];
    expect(names).toEqual(['w', 'w_1', 'w_1_1', 'W_2']);
    const x = b.placeholder('x', DT_FLOAT);
    expect([b.relu(x).node, b.relu(x).node]).toEqual(['Relu', 'Relu_1']);
  });

  it('makes scopes unique and nests them', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT);
    const first = b.withScope('block', () => b.withScope('conv', () => b.relu(x)));
    const second = b.withScope('block', () => b.relu(x));
    const reentered = b.withScope('block/', () => b.relu(x));
    expect([first.node, second.node, reentered.node]).toEqual(['block/conv/Relu', 'block_1/Relu', 'block/Relu']);
    expect(b.currentScope).toBe('');
    // A scope name is taken like a node name.
    expect(b.identity(x, { name: 'block' }).node).toBe('block_2');
    // Consts made for literal inputs take their names too.
    expect(b.mean(x, 0).node).toBe('Mean');
    expect(b.withScope('Mean/', () => b.constant('reduction_indices', 0)).node).toBe('Mean/reduction_indices_1');
  });

  it('rejects names TensorFlow does not accept', () => {
    const b = new GraphBuilder();
    expect(() => b.placeholder('bad name', DT_FLOAT)).toThrow(/invalid node name "bad name"/);
    expect(() => b.placeholder('_x', DT_FLOAT)).toThrow(/invalid node name/);
  });
});

describe('GraphBuilder GraphDef output', () => {
  it('writes TF 2.x-loadable versions', () => {
    expect(new GraphBuilder().toGraphDef().versions).toEqual({ producer: 1286, min_consumer: 12 });
  });

  it('survives protobuf encoding with false/zero/empty attrs intact and stays valid', () => {
    const { b } = buildClassifier();
    const x = b.placeholder('x', DT_FLOAT);
    const p = b.constant('p', new Float32Array(3));
    b.fusedBatchNormV3(x, p, p, p, p, { name: 'bn' });
    const graph = decodeMessage('GraphDef', encodeMessage('GraphDef', b.toGraphDef()));
    const bn = nodeOf(graph, 'bn');
    // oneof members are written even when false: TensorFlow would otherwise see an empty AttrValue.
    expect(Object.prototype.hasOwnProperty.call(bn.attr!.is_training, 'b')).toBe(true);
    expect(bn.attr!.is_training!.b).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(nodeOf(graph, 'Mean').attr!.keep_dims, 'b')).toBe(true);
    expect(validateGraph(graph).issues).toEqual([]);
  });

  it('can strip attrs that equal their defaults, keeping the others', () => {
    const b = new GraphBuilder();
    const a = b.placeholder('a', DT_FLOAT, [2, 2]);
    b.matMul(a, a, { transposeB: true, name: 'mm' });
    b.conv2d(a, a, { padding: 'VALID', name: 'conv' });
    const graph = b.toGraphDef({ stripDefaultAttrs: true });
    expect(Object.keys(nodeOf(graph, 'mm').attr!).sort()).toEqual(['T', 'transpose_b']);
    expect(Object.keys(nodeOf(graph, 'conv').attr!).sort()).toEqual(['T', 'padding', 'strides']);
    // Placeholder's shape default is unknown rank; a known shape stays.
    expect(Object.keys(nodeOf(graph, 'a').attr!).sort()).toEqual(['dtype', 'shape']);
    expect(validateGraph(graph).valid).toBe(true);
    // The builder keeps its full attrs.
    expect(Object.keys(nodeOf(b.toGraphDef(), 'mm').attr!)).toContain('grad_a');
  });

  it('builds SignatureDefs with names, dtypes and static shapes', () => {
    const { b, images, probs } = buildClassifier();
    const sig = b.signature({ images }, { probabilities: probs });
    expect(sig).toEqual({
      inputs: { images: { name: 'images:0', dtype: DT_FLOAT, tensor_shape: { dim: [{ size: -1 }, { size: 8 }, { size: 8 }, { size: 3 }] } } },
      outputs: { probabilities: { name: 'probs:0', dtype: DT_FLOAT, tensor_shape: { unknown_rank: true } } },
      method_name: 'tensorflow/serving/predict',
    });
    expect(validateGraph(b.toGraphDef(), undefined, { signatures: { serving_default: sig } }).valid).toBe(true);
    expect(() => b.signature({ x: new GraphTensor('nope', 0, DT_FLOAT) }, {})).toThrow(/"nope:0" is not a tensor of this graph/);
  });
});

/**
 * A TF1 while loop over a TensorArray, shaped like tf.while_loop's graph: out[i] = in[i] * 2.
 * Loop variables enter the frame through Enter, meet their back-edge in Merge, are routed by Switch on
 * LoopCond, come back through NextIteration and leave through Exit.
 */
function buildTensorArrayLoop() {
  const b = new GraphBuilder();
  const input = b.placeholder('input', DT_FLOAT, [-1, 2]);
  const n = b.stridedSlice(b.shape(input), [0], [1], [1], { shrinkAxisMask: 1, name: 'n' });
  const [inTa, inFlow0] = b.tensorArrayV3(n, DT_FLOAT, { elementShape: [2], name: 'input_ta' });
  const indices = b.op('Range', [b.constant('start', 0, [], DT_INT32), n, b.constant('delta', 1, [], DT_INT32)]).outputs[0]!;
  const inFlow = b.tensorArrayScatterV3(inTa, indices, input, inFlow0);
  const [outTa, outFlow0] = b.tensorArrayV3(n, DT_FLOAT, { elementShape: [2], name: 'output_ta' });
  const i0 = b.constant('i', 0, [], DT_INT32);

  const merges: GraphTensor[] = [];
  const exits = b.withScope('while', () => {
    const frame = 'while/while_context';
    const iEnter = b.enter(i0, frame);
    const flowEnter = b.enter(outFlow0, frame);
    const [iMerge] = b.merge([iEnter, iEnter]);
    const [flowMerge] = b.merge([flowEnter, flowEnter]);
    merges.push(iMerge, flowMerge);
    const cond = b.loopCond(b.less(iMerge, b.enter(n, frame, { isConstant: true })));
    const [iExit, iSwitched] = b.switch(iMerge, cond);
    const [flowExit, flowSwitched] = b.switch(flowMerge, cond);
    const i = b.identity(iSwitched);
    const flow = b.identity(flowSwitched);
    const inTaInFrame = b.enter(inTa, frame, { isConstant: true });
    const inFlowInFrame = b.enter(inFlow, frame, { isConstant: true });
    const outTaInFrame = b.enter(outTa, frame, { isConstant: true });
    // Consts have no inputs; a control input from the pivot puts them in the loop frame.
    const [two, one] = b.withControlDependencies([i], () => [b.constant('two', 2), b.constant('one', 1, [], DT_INT32)]);
    const item = b.tensorArrayReadV3(inTaInFrame, i, inFlowInFrame, DT_FLOAT);
    const written = b.tensorArrayWriteV3(outTaInFrame, i, b.mul(item, two!), flow);
    b.setInput(flowMerge, 1, b.nextIteration(written));
    b.setInput(iMerge, 1, b.nextIteration(b.add(i, one!)));
    return { i: b.exit(iExit), flow: b.exit(flowExit) };
  });
  const output = b.tensorArrayGatherV3(outTa, b.op('Range', [b.constant('start', 0, [], DT_INT32), n, b.constant('delta', 1, [], DT_INT32)]).outputs[0]!, exits.flow, DT_FLOAT, {
    elementShape: [2],
    name: 'output',
  });
  return { b, input, output, merges };
}

describe('GraphBuilder while loops', () => {
  it('wires Merge back-edges from NextIteration with setInput and validates', () => {
    const { b, output, merges } = buildTensorArrayLoop();
    const graph = b.toGraphDef();
    expect(nodeOf(graph, merges[0]!.node).input).toEqual(['while/Enter', 'while/NextIteration_1']);
    expect(nodeOf(graph, merges[1]!.node).input).toEqual(['while/Enter_1', 'while/NextIteration']);
    expect(nodeOf(graph, 'while/one').input).toEqual(['^while/Identity']);
    expect(nodeOf(graph, 'while/Enter').attr).toMatchObject({ is_constant: { b: false }, parallel_iterations: { i: 10 } });
    expect(str(nodeOf(graph, 'while/Enter').attr!.frame_name)).toBe('while/while_context');
    expect(nodeOf(graph, 'while/Merge').attr).toEqual({ T: { type: DT_INT32 }, N: { i: 2 } });
    // Consts inside the body depend on the loop's pivot so they run in the frame.
    expect(nodeOf(graph, 'while/two').input).toEqual(['^while/Identity']);
    expect(nodeOf(graph, 'input_ta').attr!.element_shape!.shape).toEqual({ dim: [{ size: 2 }] });
    expect(output.dtype).toBe(DT_FLOAT);
    expect(validateGraph(graph).issues).toEqual([]);
    const roundTripped = decodeMessage('GraphDef', encodeMessage('GraphDef', graph));
    expect(validateGraph(roundTripped).issues).toEqual([]);
  });

  it('checks the dtype of a replaced input', () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DT_FLOAT);
    const [m] = b.merge([x, x], { name: 'm' });
    const wrong = b.nextIteration(b.placeholder('i', DT_INT32));
    expect(() => b.setInput(m, 1, wrong)).toThrow(/node "m" \(Merge\): input 1 must be DT_FLOAT, got DT_INT32/);
    expect(() => b.setInput(m, 2, x)).toThrow(/has no data input 2/);
  });
});
