// Elementwise ops: unary math and activations, broadcasting binary arithmetic, comparisons, logic,
// Select. None of them cares about layout: the output is held like the inputs, so a chain of them after
// a convolution stays NCHW. With several inputs, NCHW wins when one input is held NCHW and the others
// can follow (scalars as they are, constants permuted at translation, small runtime tensors transposed),
// which is how TensorFlow's broadcasting of a [C] or [1, 1, 1, C] tensor against NHWC carries over.
import { DataType } from '@tensorsky/saved-model';
import { attr, type Attr } from '../builder.js';
import {
  arrayFor,
  attrFloat,
  fail,
  FLOAT_TYPES,
  isConst,
  NUMBER_TYPES,
  requireOnnxType,
  requireType,
  runtimeValue,
  size,
  type OpContext,
  type OpTable,
  type Translator,
  type Value,
} from '../context.js';
import { broadcastShapes } from '../layout.js';

export interface Aligned {
  names: string[];
  nchw: boolean;
  shape: number[] | undefined;
}

/** ONNX names for inputs that broadcast against each other, all in one layout (see the header). */
export function aligned(ctx: OpContext, values: readonly Value[]): Aligned {
  const shape = broadcastShapes(...values.map((v) => v.shape));
  const canFollow = shape !== undefined && shape.length === 4 && values.every((v) => v.nchw || (v.shape !== undefined && v.shape.length <= 4));
  if (values.some((v) => v.nchw) && canFollow) {
    return { names: values.map((v) => (!v.nchw && v.shape!.length === 0 ? ctx.name(v) : ctx.nchw(v))), nchw: true, shape };
  }
  return { names: values.map((v) => ctx.tf(v)), nchw: false, shape };
}

const FLOAT_OR_DOUBLE: ReadonlySet<DataType> = new Set([DataType.DT_FLOAT, DataType.DT_DOUBLE]);
const SIGNED: ReadonlySet<DataType> = new Set([DataType.DT_FLOAT, DataType.DT_DOUBLE, DataType.DT_INT32, DataType.DT_INT64]);
const COMPARABLE: ReadonlySet<DataType> = NUMBER_TYPES;
const EQUATABLE: ReadonlySet<DataType> = new Set([...NUMBER_TYPES, DataType.DT_BOOL]);
const BOOL: ReadonlySet<DataType> = new Set([DataType.DT_BOOL]);

/** A one-input op keeping the input's layout and shape. */
function unary(onnxOp: string, types: ReadonlySet<DataType>, attrs?: (ctx: OpContext) => Record<string, Attr>): Translator {
  return (ctx) => {
    const dtype = requireType(ctx, types);
    const x = ctx.inputs[0];
    const [y] = ctx.emit(onnxOp, [ctx.name(x)], [ctx.outName()], attrs?.(ctx));
    return [runtimeValue(y, dtype, x.shape, x.nchw)];
  };
}

/** Small integer arithmetic on constants (shape computations) is done here, as TensorFlow's grappler would. */
type Fold = (a: number, b: number) => number;

function foldable(ctx: OpContext, values: readonly Value[]): boolean {
  return values.every((v) => isConst(v) && v.constant.data && size(v.constant.shape) <= 64) && (values[0].dtype === DataType.DT_INT32 || values[0].dtype === DataType.DT_INT64) && ctx.inputs.length === 2;
}

function foldBinary(x: Value, y: Value, fn: Fold): Value | undefined {
  const shape = broadcastShapes(x.shape, y.shape)!;
  const n = size(shape);
  const a = Array.from(x.constant!.data as ArrayLike<number | bigint>, Number);
  const b = Array.from(y.constant!.data as ArrayLike<number | bigint>, Number);
  const index = (values: number[], vShape: number[], flat: number) => {
    // Row-major index into a broadcast operand.
    let at = 0;
    let stride = 1;
    let rest = flat;
    const offset = shape.length - vShape.length;
    const coords = new Array<number>(shape.length);
    for (let k = shape.length - 1; k >= 0; k--) {
      coords[k] = rest % shape[k];
      rest = Math.floor(rest / shape[k]);
    }
    for (let k = vShape.length - 1; k >= 0; k--) {
      at += (vShape[k] === 1 ? 0 : coords[k + offset]) * stride;
      stride *= vShape[k];
    }
    return values[at];
  };
  const out = arrayFor(x.dtype, n);
  for (let i = 0; i < n; i++) {
    const r = fn(index(a, x.shape!, i), index(b, y.shape!, i));
    // Overflow (which wraps in TensorFlow) is left to the runtime op.
    if (!Number.isSafeInteger(r) || (x.dtype === DataType.DT_INT32 && (r < -(2 ** 31) || r >= 2 ** 31))) return undefined;
    if (out instanceof BigInt64Array) out[i] = BigInt(r);
    else (out as Int32Array)[i] = r;
  }
  return { dtype: x.dtype, shape, nchw: false, constant: { dtype: x.dtype, shape, data: out } };
}

/** A broadcasting two-or-more-input op; the output dtype is the inputs' unless `outType` says. */
function nary(onnxOp: string, types: ReadonlySet<DataType>, options: { outType?: DataType; fold?: Fold; attrs?: Record<string, Attr> } = {}): Translator {
  return (ctx) => {
    const dtype = requireType(ctx, types);
    if (options.fold && foldable(ctx, ctx.inputs)) {
      const folded = foldBinary(ctx.inputs[0], ctx.inputs[1], options.fold);
      if (folded) return [folded];
    }
    const { names, nchw, shape } = aligned(ctx, ctx.inputs);
    const [y] = ctx.emit(onnxOp, names, [ctx.outName()], options.attrs);
    return [runtimeValue(y, options.outType ?? dtype, shape, nchw)];
  };
}

/** A float scalar constant of the input's type, for Clip bounds and the like. */
function scalar(ctx: OpContext, dtype: DataType, value: number): string {
  const data = arrayFor(dtype, 1);
  (data as Float32Array)[0] = value;
  return ctx.b.smallConstant(`const/${value}`, requireOnnxType(dtype), [], data);
}

const relu6: Translator = (ctx) => {
  const dtype = requireType(ctx, FLOAT_TYPES);
  const x = ctx.inputs[0];
  const [y] = ctx.emit('Clip', [ctx.name(x), scalar(ctx, dtype, 0), scalar(ctx, dtype, 6)], [ctx.outName()]);
  return [runtimeValue(y, dtype, x.shape, x.nchw)];
};

// TensorFlow's rsqrt is 1/sqrt(x); ONNX has no single op for it.
const rsqrt: Translator = (ctx) => {
  const dtype = requireType(ctx, FLOAT_TYPES);
  const x = ctx.inputs[0];
  const [root] = ctx.emit('Sqrt', [ctx.name(x)], [`${ctx.outName()}/sqrt`]);
  const [y] = ctx.emit('Reciprocal', [root], [ctx.outName()]);
  return [runtimeValue(y, dtype, x.shape, x.nchw)];
};

const square: Translator = (ctx) => {
  const dtype = requireType(ctx, SIGNED);
  const x = ctx.inputs[0];
  const name = ctx.name(x);
  const [y] = ctx.emit('Mul', [name, name], [ctx.outName()]);
  return [runtimeValue(y, dtype, x.shape, x.nchw)];
};

// (x - y)^2, as TensorFlow computes it: the difference, then its square.
const squaredDifference: Translator = (ctx) => {
  const dtype = requireType(ctx, SIGNED);
  const { names, nchw, shape } = aligned(ctx, ctx.inputs);
  const [d] = ctx.emit('Sub', names, [`${ctx.outName()}/difference`]);
  const [y] = ctx.emit('Mul', [d, d], [ctx.outName()]);
  return [runtimeValue(y, dtype, shape, nchw)];
};

const floorDiv: Translator = (ctx) => {
  const dtype = requireType(ctx, FLOAT_OR_DOUBLE);
  const { names, nchw, shape } = aligned(ctx, ctx.inputs);
  const [q] = ctx.emit('Div', names, [`${ctx.outName()}/quotient`]);
  const [y] = ctx.emit('Floor', [q], [ctx.outName()]);
  return [runtimeValue(y, dtype, shape, nchw)];
};

const notEqual: Translator = (ctx) => {
  requireType(ctx, EQUATABLE);
  const { names, nchw, shape } = aligned(ctx, ctx.inputs);
  const [eq] = ctx.emit('Equal', names, [`${ctx.outName()}/equal`]);
  const [y] = ctx.emit('Not', [eq], [ctx.outName()]);
  return [runtimeValue(y, DataType.DT_BOOL, shape, nchw)];
};

// min(max(x, lo), hi): TensorFlow's clip with broadcasting bounds (ONNX's Clip takes scalars only).
const clipByValue: Translator = (ctx) => {
  const dtype = requireType(ctx, NUMBER_TYPES);
  const { names, nchw, shape } = aligned(ctx, ctx.inputs);
  const [low] = ctx.emit('Max', [names[0], names[1]], [`${ctx.outName()}/max`]);
  const [y] = ctx.emit('Min', [low, names[2]], [ctx.outName()]);
  return [runtimeValue(y, dtype, shape, nchw)];
};

// Select (v1) broadcasts a vector condition over the first dimension; only same-rank use maps to Where.
const select: Translator = (ctx) => {
  const [cond, t] = ctx.inputs;
  if (cond.shape === undefined || t.shape === undefined || cond.shape.length !== t.shape.length) fail('condition of another rank');
  return selectV2(ctx);
};

const selectV2: Translator = (ctx) => {
  const dtype = ctx.inputs[1].dtype;
  requireOnnxType(dtype);
  const { names, nchw, shape } = aligned(ctx, ctx.inputs);
  const [y] = ctx.emit('Where', names, [ctx.outName()]);
  return [runtimeValue(y, dtype, shape, nchw)];
};

const addN: Translator = (ctx) => {
  const dtype = requireType(ctx, NUMBER_TYPES);
  if (ctx.inputs.length === 1) return [ctx.inputs[0]];
  const { names, nchw, shape } = aligned(ctx, ctx.inputs);
  const [y] = ctx.emit('Sum', names, [ctx.outName()]);
  return [runtimeValue(y, dtype, shape, nchw)];
};

// Shape arithmetic on constants (exact: results that would overflow are not folded).
const add: Fold = (a, b) => a + b;
const sub: Fold = (a, b) => a - b;
const mul: Fold = (a, b) => a * b;

export const elementwiseOps: OpTable = {
  // Activations and unary math (float: ONNX Runtime's kernels for them are float).
  Relu: unary('Relu', FLOAT_TYPES),
  Relu6: relu6,
  Elu: unary('Elu', FLOAT_TYPES, () => ({ alpha: attr.float(1) })),
  // TensorFlow's constants (scale and alpha of tf.nn.selu), as float32.
  Selu: unary('Selu', FLOAT_TYPES, () => ({ alpha: attr.float(1.6732632423543772), gamma: attr.float(1.0507009873554805) })),
  LeakyRelu: unary('LeakyRelu', FLOAT_TYPES, (ctx) => ({ alpha: attr.float(attrFloat(ctx.node, 'alpha', 0.2)) })),
  Sigmoid: unary('Sigmoid', FLOAT_TYPES),
  Tanh: unary('Tanh', FLOAT_TYPES),
  Softplus: unary('Softplus', FLOAT_TYPES),
  Softsign: unary('Softsign', FLOAT_TYPES),
  Erf: unary('Erf', FLOAT_TYPES),
  Exp: unary('Exp', FLOAT_TYPES),
  Log: unary('Log', FLOAT_TYPES),
  Sqrt: unary('Sqrt', FLOAT_TYPES),
  Rsqrt: rsqrt,
  Reciprocal: unary('Reciprocal', FLOAT_TYPES),
  Inv: unary('Reciprocal', FLOAT_TYPES),
  Square: square,
  Neg: unary('Neg', SIGNED),
  Abs: unary('Abs', SIGNED),
  Sign: unary('Sign', SIGNED),
  Floor: unary('Floor', FLOAT_TYPES),
  Ceil: unary('Ceil', FLOAT_TYPES),
  // Both round half to even.
  Round: unary('Round', FLOAT_TYPES),
  Sin: unary('Sin', FLOAT_TYPES),
  Cos: unary('Cos', FLOAT_TYPES),
  LogicalNot: unary('Not', BOOL),
  // Binary arithmetic (numpy broadcasting in both).
  Add: nary('Add', NUMBER_TYPES, { fold: add }),
  AddV2: nary('Add', NUMBER_TYPES, { fold: add }),
  Sub: nary('Sub', NUMBER_TYPES, { fold: sub }),
  Mul: nary('Mul', NUMBER_TYPES, { fold: mul }),
  RealDiv: nary('Div', FLOAT_OR_DOUBLE),
  Div: nary('Div', FLOAT_OR_DOUBLE),
  FloorDiv: floorDiv,
  Maximum: nary('Max', NUMBER_TYPES, { fold: Math.max }),
  Minimum: nary('Min', NUMBER_TYPES, { fold: Math.min }),
  Pow: nary('Pow', FLOAT_OR_DOUBLE),
  SquaredDifference: squaredDifference,
  AddN: addN,
  ClipByValue: clipByValue,
  // Comparisons and logic.
  Less: nary('Less', COMPARABLE, { outType: DataType.DT_BOOL }),
  LessEqual: nary('LessOrEqual', COMPARABLE, { outType: DataType.DT_BOOL }),
  Greater: nary('Greater', COMPARABLE, { outType: DataType.DT_BOOL }),
  GreaterEqual: nary('GreaterOrEqual', COMPARABLE, { outType: DataType.DT_BOOL }),
  Equal: nary('Equal', EQUATABLE, { outType: DataType.DT_BOOL }),
  NotEqual: notEqual,
  LogicalAnd: nary('And', BOOL),
  LogicalOr: nary('Or', BOOL),
  Select: select,
  SelectV2: selectV2,
};
