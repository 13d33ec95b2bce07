// What every kernel is: a TensorFlow op name and its tfjs-converter executor. Type attrs reach the
// executors as DataType numbers (see attrJson in tfjs-model.ts); inputs may be followed by extra
// entries, so only the leading data inputs are read.
import type * as tf from '../tf.js';

export type GraphNode = Parameters<Parameters<typeof tf.registerOp>[1]>[0];

export interface Kernel {
  /** The TensorFlow op it executes. */
  readonly op: string;
  /** Returns a promise (reads string bytes, or decodes with sharp): the graph must run under executeAsync. */
  readonly async: boolean;
  /** Ops with several outputs (or output lists) return them in the op's order, lists flattened. */
  readonly run: (node: GraphNode) => tf.Tensor | tf.Tensor[] | Promise<tf.Tensor | tf.Tensor[]>;
}

/** An op failed on its input, as TensorFlow's InvalidArgument would. */
export class OpError extends Error {
  override name = 'OpError';
}

export function numberAttr(node: GraphNode, name: string): number | undefined {
  const v = node.attrs[name];
  return typeof v === 'number' ? v : undefined;
}

/** A string attr; tfjs-converter hands custom ops string attrs lower-cased. */
export function stringAttr(node: GraphNode, name: string): string | undefined {
  const v = node.attrs[name];
  return typeof v === 'string' ? v : undefined;
}

export function boolAttr(node: GraphNode, name: string): boolean | undefined {
  const v = node.attrs[name];
  return typeof v === 'boolean' ? v : undefined;
}

/** Runs `fn`, turning an error of class `from` (a library's input error) into an OpError with its message. */
export function asOpError<T>(from: new (...args: never[]) => Error, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof from) throw new OpError(err.message);
    throw err;
  }
}
