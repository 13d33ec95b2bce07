// validateGraph. Valid graphs are written the way TensorFlow writes them (NodeDefs as in TF's pbtxt,
// defaults stripped as tf.saved_model does); the strongest cross-check runs the validator on graphs
// TensorFlow itself wrote (@tensorsky/fixtures).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DataType,
  GraphBuilder,
  GraphValidationError,
  assertValidGraph,
  decodeMessage,
  parseOpDefs,
  tfOpDefs,
  validateGraph,
  type AttrValue,
  type GraphDef,
  type NodeDef,
  type SavedModel,
  type SignatureDef,
} from '../src/index.js';
import { allFixtureDirs, savedModelsDir } from './io-fixtures.js';

const { DT_FLOAT, DT_INT32, DT_INT64, DT_STRING } = DataType;
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const s = (v: string): AttrValue => ({ s: new TextEncoder().encode(v) });
const type = (t: DataType): AttrValue => ({ type: t });
const ints = (...i: number[]): AttrValue => ({ list: { i } });

function placeholder(name: string, dtype: DataType = DT_FLOAT): NodeDef {
  return { name, op: 'Placeholder', attr: { dtype: type(dtype), shape: { shape: { unknown_rank: true } } } };
}

function constant(name: string, dtype: DataType, dims: number[], input: string[] = []): NodeDef {
  return { name, op: 'Const', input, attr: { dtype: type(dtype), value: { tensor: { dtype, tensor_shape: { dim: dims.map((size) => ({ size })) } } } } };
}

/** conv → bias → relu → mean → matmul → softmax, attrs as a default-stripped TF graph has them. */
function classifier(): NodeDef[] {
  const f = type(DT_FLOAT);
  return [
    placeholder('images'),
    constant('conv/kernel', DT_FLOAT, [3, 3, 3, 4]),
    { name: 'conv/Conv2D', op: 'Conv2D', input: ['images', 'conv/kernel'], attr: { T: f, strides: ints(1, 1, 1, 1), padding: s('SAME') } },
    constant('conv/bias', DT_FLOAT, [4]),
    { name: 'conv/BiasAdd', op: 'BiasAdd', input: ['conv/Conv2D', 'conv/bias'], attr: { T: f } },
    { name: 'conv/Relu', op: 'Relu', input: ['conv/BiasAdd'], attr: { T: f } },
    constant('pool/axes', DT_INT32, [2]),
    { name: 'pool/Mean', op: 'Mean', input: ['conv/Relu', 'pool/axes'], attr: { T: f, Tidx: type(DT_INT32) } },
    constant('dense/kernel', DT_FLOAT, [4, 5]),
    { name: 'dense/MatMul', op: 'MatMul', input: ['pool/Mean', 'dense/kernel'], attr: { T: f } },
    { name: 'probs', op: 'Softmax', input: ['dense/MatMul'], attr: { T: f } },
  ];
}

/** tf.while_loop(lambda i: i < 10, lambda i: i + 1, [0]) as TF1 writes it. */
function counterLoop(): NodeDef[] {
  const i32 = type(DT_INT32);
  const frame = s('while/while_context');
  return [
    constant('Const', DT_INT32, []),
    constant('limit', DT_INT32, []),
    { name: 'while/Enter', op: 'Enter', input: ['Const'], attr: { T: i32, frame_name: frame, is_constant: { b: false }, parallel_iterations: { i: 10 } } },
    { name: 'while/Merge', op: 'Merge', input: ['while/Enter', 'while/NextIteration'], attr: { T: i32, N: { i: 2 } } },
    { name: 'while/Less/Enter', op: 'Enter', input: ['limit'], attr: { T: i32, frame_name: frame, is_constant: { b: true } } },
    { name: 'while/Less', op: 'Less', input: ['while/Merge', 'while/Less/Enter'], attr: { T: i32 } },
    { name: 'while/LoopCond', op: 'LoopCond', input: ['while/Less'] },
    { name: 'while/Switch', op: 'Switch', input: ['while/Merge', 'while/LoopCond'], attr: { T: i32 } },
    { name: 'while/Identity', op: 'Identity', input: ['while/Switch:1'], attr: { T: i32 } },
    constant('while/add/y', DT_INT32, [], ['^while/Identity']),
    { name: 'while/add', op: 'AddV2', input: ['while/Identity', 'while/add/y'], attr: { T: i32 } },
    { name: 'while/NextIteration', op: 'NextIteration', input: ['while/add'], attr: { T: i32 } },
    { name: 'while/Exit', op: 'Exit', input: ['while/Switch'], attr: { T: i32 } },
  ];
}

/** The graph with one node replaced (or added when absent). */
function withNode(nodes: NodeDef[], replacement: NodeDef): GraphDef {
  const found = nodes.some((n) => n.name === replacement.name);
  return { node: found ? nodes.map((n) => (n.name === replacement.name ? replacement : n)) : [...nodes, replacement] };
}

function nodeIn(nodes: NodeDef[], name: string): NodeDef {
  return structuredClone(nodes.find((n) => n.name === name)!);
}

function messages(graph: GraphDef, signatures?: Record<string, SignatureDef>): string[] {
  return validateGraph(graph, undefined, { signatures }).issues.map((i) => i.message);
}

describe('validateGraph accepts correct graphs', () => {
  it('accepts a default-stripped classifier', () => {
    expect(validateGraph({ node: classifier() })).toEqual({ valid: true, issues: [] });
  });

  it('accepts a TF1 while loop whose only cycle is the NextIteration -> Merge back-edge', () => {
    expect(validateGraph({ node: counterLoop() })).toEqual({ valid: true, issues: [] });
  });

  it('accepts the same classifier built with GraphBuilder, with matching signatures', () => {
    const b = new GraphBuilder();
    const images = b.placeholder('images', DT_FLOAT, [-1, 8, 8, 3]);
    const conv = b.conv2d(images, b.constant('kernel', new Float32Array(108), [3, 3, 3, 4]), { padding: 'SAME' });
    const relu = b.relu(b.biasAdd(conv, b.constant('bias', new Float32Array(4))));
    const probs = b.softmax(b.matMul(b.mean(relu, [1, 2]), b.constant('dense', new Float32Array(20), [4, 5])));
    const signatures = { serving_default: b.signature({ images }, { probs }) };
    expect(validateGraph(b.toGraphDef(), undefined, { signatures })).toEqual({ valid: true, issues: [] });
  });
});

describe('validateGraph reports broken graphs, naming the node', () => {
  const nodes = classifier();

  it('missing required attr', () => {
    const conv = nodeIn(nodes, 'conv/Conv2D');
    delete conv.attr!.padding;
    expect(messages(withNode(nodes, conv))).toEqual(['node "conv/Conv2D" (Conv2D): missing required attr "padding" (string)']);
  });

  it('attr of the wrong kind', () => {
    const conv = nodeIn(nodes, 'conv/Conv2D');
    conv.attr!.strides = { i: 1 };
    expect(messages(withNode(nodes, conv))).toEqual(['node "conv/Conv2D" (Conv2D): attr "strides" must be a list(int) but is an int']);
    conv.attr!.strides = { list: { f: [1, 1, 1, 1] } };
    expect(messages(withNode(nodes, conv))).toEqual(['node "conv/Conv2D" (Conv2D): attr "strides" must be a list(int) but holds a float values']);
    const relu = nodeIn(nodes, 'conv/Relu');
    relu.attr!.T = s('float');
    expect(messages(withNode(nodes, relu))[0]).toBe('node "conv/Relu" (Relu): attr "T" must be a type but is a string');
  });

  it('disallowed dtype and string values', () => {
    const softmax = nodeIn(nodes, 'probs');
    softmax.attr!.T = type(DT_INT32); // Softmax: half, bfloat16, float, double
    const issues = messages(withNode(nodes, softmax));
    expect(issues[0]).toBe('node "probs" (Softmax): attr "T" = DT_INT32 is not allowed (allowed: DT_HALF, DT_BFLOAT16, DT_FLOAT, DT_DOUBLE)');
    expect(issues[1]).toBe('node "probs" (Softmax): input 0 ("dense/MatMul") is DT_FLOAT but Softmax expects DT_INT32 there');
    const conv = nodeIn(nodes, 'conv/Conv2D');
    conv.attr!.padding = s('FULL');
    expect(messages(withNode(nodes, conv))).toEqual(['node "conv/Conv2D" (Conv2D): attr "padding" = "FULL" is not allowed (allowed: "SAME", "VALID", "EXPLICIT")']);
  });

  it('attr unknown to the OpDef (internal "_" attrs are fine)', () => {
    const relu = nodeIn(nodes, 'conv/Relu');
    relu.attr!.alpha = { f: 0.2 };
    relu.attr!._output_shapes = { list: { shape: [{ unknown_rank: true }] } };
    expect(messages(withNode(nodes, relu))).toEqual(['node "conv/Relu" (Relu): attr "alpha" is not defined by op Relu']);
  });

  it('list length below the minimum', () => {
    const concat: NodeDef = { name: 'concat', op: 'ConcatV2', input: ['probs', 'pool/axes'], attr: { N: { i: 1 }, T: type(DT_FLOAT) } };
    expect(messages(withNode(nodes, concat))).toContain('node "concat" (ConcatV2): attr "N" = 1 is less than the minimum 2');
  });

  it('Const whose value tensor disagrees with its dtype attr', () => {
    const kernel = nodeIn(nodes, 'dense/kernel');
    kernel.attr!.value!.tensor!.dtype = DT_INT32;
    expect(messages(withNode(nodes, kernel))).toEqual(['node "dense/kernel" (Const): value is a DT_INT32 tensor but attr "dtype" is DT_FLOAT']);
  });

  it('dangling input', () => {
    const relu = nodeIn(nodes, 'conv/Relu');
    relu.input = ['conv/BiasAd'];
    expect(messages(withNode(nodes, relu))).toEqual(['node "conv/Relu" (Relu): input "conv/BiasAd" names no node in the graph']);
    relu.input = ['conv/BiasAdd', '^init'];
    expect(messages(withNode(nodes, relu))).toEqual(['node "conv/Relu" (Relu): control input "^init" names no node in the graph']);
  });

  it('output index the producer does not have', () => {
    const relu = nodeIn(nodes, 'conv/Relu');
    relu.input = ['conv/BiasAdd:1'];
    expect(messages(withNode(nodes, relu))).toEqual([
      'node "conv/Relu" (Relu): input "conv/BiasAdd:1" refers to output 1 of node "conv/BiasAdd" (BiasAdd), which has 1 output',
    ]);
  });

  it('unknown op', () => {
    expect(messages(withNode(nodes, { name: 'fancy', op: 'FancyOp', input: ['probs'] }))).toEqual([
      'node "fancy" (FancyOp): unknown op "FancyOp" (not in the OpDefs and not a function in the graph\'s library)',
    ]);
  });

  it('wrong number of data inputs, including list args', () => {
    const add: NodeDef = { name: 'add', op: 'AddV2', input: ['probs'], attr: { T: type(DT_FLOAT) } };
    expect(messages(withNode(nodes, add))).toEqual(['node "add" (AddV2): has 1 data inputs but AddV2 expects 2 (args: x, y)']);
    // ConcatV2 with N=3 takes 3 values plus the axis.
    const concat: NodeDef = { name: 'concat', op: 'ConcatV2', input: ['probs', 'probs', 'probs'], attr: { N: { i: 3 }, T: type(DT_FLOAT) } };
    expect(messages(withNode(nodes, concat))).toEqual(['node "concat" (ConcatV2): has 3 data inputs but ConcatV2 expects 4 (args: values, axis)']);
  });

  it('control inputs before data inputs', () => {
    const relu = nodeIn(nodes, 'conv/Relu');
    relu.input = ['^images', 'conv/BiasAdd'];
    expect(messages(withNode(nodes, relu))).toEqual([
      'node "conv/Relu" (Relu): data input "conv/BiasAdd" comes after a control input (control inputs "^x" must come last)',
    ]);
  });

  it('dtype mismatch between producer and consumer', () => {
    const mean = nodeIn(nodes, 'pool/Mean');
    mean.attr!.Tidx = type(DT_INT64); // the axes Const is int32
    expect(messages(withNode(nodes, mean))).toEqual(['node "pool/Mean" (Mean): input 1 ("pool/axes") is DT_INT32 but Mean expects DT_INT64 there']);
  });

  it('duplicate node names', () => {
    expect(messages({ node: [...nodes, placeholder('images')] })).toEqual(['node "images" (Placeholder): duplicate node name']);
  });

  it('a cycle not closed by NextIteration -> Merge', () => {
    const loop = counterLoop();
    const merge = nodeIn(loop, 'while/Merge');
    merge.input = ['while/Enter', 'while/add']; // back-edge skips NextIteration
    const issues = messages(withNode(loop, merge));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toBe(
      'node "while/Merge" (Merge): is on a cycle while/Merge -> while/Switch -> while/Identity -> while/add -> while/Merge (only NextIteration -> Merge back-edges may close loops)',
    );
    const a: NodeDef = { name: 'a', op: 'Identity', input: ['b'], attr: { T: type(DT_FLOAT) } };
    const b: NodeDef = { name: 'b', op: 'Identity', input: ['a'], attr: { T: type(DT_FLOAT) } };
    expect(messages({ node: [a, b] })).toEqual(['node "a" (Identity): is on a cycle a -> b -> a (only NextIteration -> Merge back-edges may close loops)']);
  });

  it('signature tensors that do not exist or disagree in dtype', () => {
    const graph = { node: nodes };
    const sig = (outputs: SignatureDef['outputs']): Record<string, SignatureDef> => ({
      serving_default: { inputs: { images: { name: 'images:0', dtype: DT_FLOAT } }, outputs, method_name: 'tensorflow/serving/predict' },
    });
    expect(messages(graph, sig({ probs: { name: 'probs:0', dtype: DT_FLOAT } }))).toEqual([]);
    expect(messages(graph, sig({ probs: { name: 'prob:0', dtype: DT_FLOAT } }))).toEqual([
      'signature "serving_default" output "probs": tensor "prob:0" names no node "prob" in the graph',
    ]);
    expect(messages(graph, sig({ probs: { name: 'probs:1', dtype: DT_FLOAT } }))).toEqual([
      'signature "serving_default" output "probs": tensor "probs:1" refers to output 1 of node "probs" (Softmax), which has 1 output',
    ]);
    expect(messages(graph, sig({ probs: { name: 'probs:0', dtype: DT_STRING } }))).toEqual([
      'signature "serving_default" output "probs": declares DT_STRING but tensor "probs:0" of node "probs" (Softmax) is DT_FLOAT',
    ]);
    const issue = validateGraph(graph, undefined, { signatures: sig({ probs: { name: 'prob:0', dtype: DT_FLOAT } }) }).issues[0];
    expect(issue?.node).toBe('prob');
  });

  it('assertValidGraph throws one error listing every issue on one line', () => {
    const conv = nodeIn(nodes, 'conv/Conv2D');
    delete conv.attr!.padding;
    const broken = withNode(withNode(nodes, conv).node!, { name: 'fancy', op: 'FancyOp' });
    expect(() => assertValidGraph({ node: nodes })).not.toThrow();
    let error: unknown;
    try {
      assertValidGraph(broken);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GraphValidationError);
    const { message, issues } = error as GraphValidationError;
    expect(issues).toHaveLength(2);
    expect(message).not.toContain('\n');
    expect(message).toContain('(2 issues)');
    expect(message).toContain('node "conv/Conv2D" (Conv2D): missing required attr "padding"');
    expect(message).toContain('node "fancy" (FancyOp): unknown op');
  });
});

describe('validateGraph with library functions', () => {
  const library: GraphDef['library'] = {
    function: [{ signature: { name: 'double_it', input_arg: [{ name: 'x', type: DT_FLOAT }], output_arg: [{ name: 'y', type: DT_FLOAT }] } }],
  };

  it('treats functions as ops and checks inputs against their signature', () => {
    const call: NodeDef = { name: 'call', op: 'double_it', input: ['x'] };
    const use: NodeDef = { name: 'use', op: 'Identity', input: ['call'], attr: { T: type(DT_FLOAT) } };
    expect(validateGraph({ node: [placeholder('x'), call, use], library }).issues).toEqual([]);
    expect(messages({ node: [placeholder('x'), { ...call, input: ['x', 'x'] }], library })).toEqual([
      'node "call" (double_it): has 2 data inputs but double_it expects 1 (args: x)',
    ]);
    expect(messages({ node: [placeholder('x', DT_INT32), call], library })).toEqual([
      'node "call" (double_it): input 0 ("x") is DT_INT32 but double_it expects DT_FLOAT there',
    ]);
    expect(messages({ node: [placeholder('x'), call, { ...use, input: ['call:1'] }], library })).toEqual([
      'node "use" (Identity): input "call:1" refers to output 1 of node "call" (double_it), which has 1 output',
    ]);
  });
});

// -----------------------------------------------------------------------------------------------
// Graphs written by TensorFlow

function loadFixture(relative: string): SavedModel {
  return decodeMessage('SavedModel', readFileSync(path.join(savedModelsDir, relative, 'saved_model.pb')));
}

// Op names in tf_opdefs.json, read straight from the JSON (not through the code under test).
const opsInJson = new Set(Object.keys(JSON.parse(readFileSync(path.join(packageRoot, 'data', 'tf_opdefs.json'), 'utf8')) as object));

describe('validateGraph on TensorFlow-written SavedModels', () => {
  const dirs = allFixtureDirs();

  it('finds the fixtures', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(14);
  });

  it.each(dirs)('%s: the only issues are ops outside tf_opdefs.json', (dir) => {
    for (const metaGraph of loadFixture(dir).meta_graphs!) {
      const graph = metaGraph.graph_def!;
      const { issues } = validateGraph(graph, undefined, { signatures: metaGraph.signature_def });
      const unknownNodes = graph.node!.filter((n) => !opsInJson.has(n.op)).map((n) => n.name);
      expect(issues.filter((i) => /: unknown op "/.test(i.message)).map((i) => i.node)).toEqual(unknownNodes);
      const others = issues.filter((i) => !/: unknown op "/.test(i.message)).map((i) => i.message);
      if (dir === 'tf-serving/saved_model_half_plus_three/00000123') {
        // A real defect in this old TF Serving test model: the regress signature declares its serialized
        // tf.Example input as DT_FLOAT, but tf_example is a DT_STRING Placeholder.
        expect(others).toEqual([
          'signature "tensorflow/serving/regress" input "inputs": declares DT_FLOAT but tensor "tf_example:0" of node "tf_example" (Placeholder) is DT_STRING',
        ]);
      } else {
        expect(others).toEqual([]);
      }
    }
  });

  // TensorFlow's definitions of the two TF1 variable ops (tensorflow/core/ops/state_ops.cc), whose ref
  // outputs feed Identity and Assign in half_plus_two.
  const variableOps = parseOpDefs({
    VariableV2: {
      name: 'VariableV2',
      output_arg: [{ name: 'ref', type_attr: 'dtype', is_ref: true }],
      attr: [
        { name: 'shape', type: 'shape' },
        { name: 'dtype', type: 'type' },
        { name: 'container', type: 'string', default_value: { s: '' } },
        { name: 'shared_name', type: 'string', default_value: { s: '' } },
      ],
      is_stateful: true,
    },
    Assign: {
      name: 'Assign',
      input_arg: [
        { name: 'ref', type_attr: 'T', is_ref: true },
        { name: 'value', type_attr: 'T' },
      ],
      output_arg: [{ name: 'output_ref', type_attr: 'T', is_ref: true }],
      attr: [
        { name: 'T', type: 'type' },
        { name: 'validate_shape', type: 'bool', default_value: { b: true } },
        { name: 'use_locking', type: 'bool', default_value: { b: true } },
      ],
      allows_uninitialized_input: true,
    },
  });
  const withVariables = new Map([...tfOpDefs(), ...variableOps]);
  const halfPlusTwo = () => loadFixture('tf-serving/saved_model_half_plus_two_cpu/00000123').meta_graphs![0]!.graph_def!;

  it('checks ref dtypes: variables feed Identity (ref into non-ref) and Assign (ref into ref)', () => {
    const graph = halfPlusTwo();
    const issues = validateGraph(graph, withVariables).issues;
    const stillUnknown = new Set(graph.node!.filter((n) => !withVariables.has(n.op)).map((n) => n.name));
    expect(issues.every((i) => /unknown op/.test(i.message) && stillUnknown.has(i.node!))).toBe(true);
    // Assign's ref input must be a ref: feeding it a plain tensor is an error.
    const assign = graph.node!.find((n) => n.name === 'a/Assign')!;
    assign.input = ['a/read', 'a/initial_value'];
    expect(validateGraph(graph, withVariables).issues.map((i) => i.message)).toContain(
      'node "a/Assign" (Assign): input 0 ("a/read") is DT_FLOAT but Assign expects DT_FLOAT_REF there',
    );
  });

  it('catches defects injected into a TensorFlow-written graph', () => {
    const graph = halfPlusTwo();
    const byName = (name: string) => graph.node!.find((n) => n.name === name)!;
    delete byName('Mul').attr!.T;
    byName('y').input = ['Add:1'];
    byName('Add_1').attr!.T = type(DT_INT32);
    const issues = validateGraph(graph).issues.filter((i) => !/unknown op/.test(i.message)).map((i) => i.message);
    expect(issues).toEqual([
      'node "Mul" (Mul): missing required attr "T" (type)',
      'node "y" (Identity): input "Add:1" refers to output 1 of node "Add" (Add), which has 1 output',
      'node "Add_1" (Add): input 0 ("Mul_1") is DT_FLOAT but Add expects DT_INT32 there',
      'node "Add_1" (Add): input 1 ("c/read") is DT_FLOAT but Add expects DT_INT32 there',
      // and its consumer now receives int32 where its T says float
      'node "y2" (Identity): input 0 ("Add_1") is DT_INT32 but Identity expects DT_FLOAT there',
    ]);
  });
});
