// asyncBoundary: which part of a graph runs under executeAsync (async kernels, control flow and what
// they read) and which with the synchronous executor, and the tensors that cross between them.
import type { NodeDef } from '@tensorsky/saved-model';
import { describe, expect, it } from 'vitest';
import { ASYNC_CUSTOM_OPS } from '../src/kernels/index.js';
import { asyncBoundary } from '../src/tfjs-model.js';

const node = (name: string, op: string, ...input: string[]): NodeDef => ({ name, op, input });

// The shape of an export: string batch -> map loop decoding each image -> stacked pixels -> network.
const exportLike: NodeDef[] = [
  node('inputs', 'Placeholder'),
  node('map/TensorArray', 'TensorArrayV3', 'map/size'),
  node('map/size', 'Const'),
  node('map/Enter', 'Enter', 'inputs'),
  node('map/decoded', 'DecodeJpeg', 'map/Enter'),
  node('map/Exit', 'Exit', 'map/decoded'),
  node('map/stack', 'TensorArrayGatherV3', 'map/TensorArray', 'map/Exit'),
  node('preprocess/scale', 'Const'),
  node('preprocess/images', 'Mul', 'map/stack', 'preprocess/scale'),
  node('conv/kernel', 'Const'),
  node('conv/Conv2D', 'Conv2D', 'preprocess/images', 'conv/kernel'),
  node('relu', 'Relu', 'conv/Conv2D'),
  node('shape', 'Shape', 'map/stack:1'),
  node('probs', 'Softmax', 'relu'),
];

describe('asyncBoundary', () => {
  it('runs the decoding loop first and the network synchronously, fed with the stacked pixels', () => {
    expect(asyncBoundary(exportLike, ['probs:0'], ASYNC_CUSTOM_OPS)).toEqual({
      // Mul reads nothing async itself: it runs in the second phase, fed with the loop's output.
      boundary: ['map/stack:0'],
      inputs: [],
      outputs: ['probs:0'],
    });
  });

  it('keeps output indices, and several crossing tensors', () => {
    const plan = asyncBoundary(exportLike, ['probs', 'shape:0'], ASYNC_CUSTOM_OPS);
    expect(plan?.outputs).toEqual(['probs:0', 'shape:0']);
    expect(new Set(plan?.boundary)).toEqual(new Set(['map/stack:0', 'map/stack:1']));
  });

  it('runs a graph without async or control-flow ops in one synchronous phase, fed by its inputs', () => {
    const graph = [node('x', 'Placeholder'), node('a', 'Const'), node('y', 'Mul', 'x', 'a'), node('z', 'AddV2', 'y', 'x')];
    expect(asyncBoundary(graph, ['z:0'], ASYNC_CUSTOM_OPS)).toEqual({ boundary: [], inputs: ['x:0'], outputs: ['z:0'] });
  });

  it('feeds an input read by both phases directly to the second', () => {
    const graph = [node('s', 'Placeholder'), node('d', 'DecodeBase64', 's'), node('n', 'StringLength', 's'), node('m', 'Size', 'd')];
    expect(asyncBoundary(graph, ['n:0', 'm:0'], ASYNC_CUSTOM_OPS)).toEqual({ boundary: ['d:0'], inputs: ['s:0'], outputs: ['n:0', 'm:0'] });
  });

  it('plans nothing when an output needs executeAsync, or a synchronous node waits on the first phase by a control input', () => {
    expect(asyncBoundary(exportLike, ['map/stack:0'], ASYNC_CUSTOM_OPS)).toBeUndefined();
    const control = [...exportLike.slice(0, -1), node('probs', 'Softmax', 'relu', '^map/decoded')];
    expect(asyncBoundary(control, ['probs:0'], ASYNC_CUSTOM_OPS)).toBeUndefined();
  });
});
