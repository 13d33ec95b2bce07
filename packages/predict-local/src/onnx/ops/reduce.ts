// Reductions: Mean, Sum, Max, Min, Prod over constant axes, and ArgMax/ArgMin. On an NCHW tensor the
// axes are mapped; Mean/Max over H and W (Keras's global pooling) become GlobalAveragePool/
// GlobalMaxPool. Without keep_dims the output is in TensorFlow's layout when the remaining axes keep
// their order (e.g. [N, C] after pooling H, W); otherwise the input is brought back to NHWC first.
import { DataType, dataTypeName } from '@tensorsky/saved-model';
import { attr } from '../builder.js';
import { attrBool, constInts, fail, FLOAT_TYPES, NUMBER_TYPES, requireType, runtimeValue, type OpContext, type OpTable, type Translator } from '../context.js';
import { TO_NCHW, TO_NHWC } from '../layout.js';

function normalizeAxes(axes: number[], rank: number | undefined): number[] {
  if (rank === undefined) {
    if (axes.some((a) => a < 0)) fail('negative axes on a tensor of unknown rank');
    return [...new Set(axes)].sort((a, b) => a - b);
  }
  for (const a of axes) if (a < -rank || a >= rank) fail(`axis ${a} out of range`);
  return [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/** Output shape (TF order) of reducing `axes` of `shape`. */
function reducedShape(shape: number[] | undefined, axes: number[], keepDims: boolean): number[] | undefined {
  if (!shape) return undefined;
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/**
 * Where a reduction over TF `axes` of an NCHW-held value can run as held: 'nchw' (keep_dims),
 * 'tf' (the remaining axes are already in TF order), or undefined (transpose back first).
 */
function heldReduction(axes: number[], keepDims: boolean): 'nchw' | 'tf' | undefined {
  if (keepDims) return 'nchw';
  const remaining = TO_NCHW.filter((tfAxis) => !axes.includes(tfAxis));
  return remaining.every((a, i) => i === 0 || remaining[i - 1] < a) ? 'tf' : undefined;
}

type ReduceOp = 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd';
const GLOBAL_POOL: Partial<Record<ReduceOp, string>> = { ReduceMean: 'GlobalAveragePool', ReduceMax: 'GlobalMaxPool' };

function reduce(onnxOp: ReduceOp, types: ReadonlySet<DataType>): Translator {
  return (ctx) => {
    const dtype = requireType(ctx, types);
    const [x, axesValue] = ctx.inputs;
    const keepDims = attrBool(ctx.node, 'keep_dims', false);
    const axes = normalizeAxes(constInts(axesValue, 'reduction_indices'), x.shape?.length);
    // TensorFlow reduces nothing over no axes; ONNX would reduce everything.
    if (axes.length === 0) return [x];
    const shape = reducedShape(x.shape, axes, keepDims);
    const held = x.nchw ? heldReduction(axes, keepDims) : undefined;
    if (held) {
      const heldAxes = axes.map((a) => TO_NHWC[a]).sort((a, b) => a - b);
      const global = GLOBAL_POOL[onnxOp];
      if (global && heldAxes.join() === '2,3') {
        // Global pooling keeps [N, C, 1, 1]; without keep_dims, [N, C] is TF's [N, C] too.
        if (keepDims) return [runtimeValue(ctx.emit(global, [ctx.name(x)], [ctx.outName()])[0], dtype, shape, true)];
        const [pooled] = ctx.emit(global, [ctx.name(x)], [`${ctx.outName()}/pooled`]);
        const [y] = ctx.emit('Squeeze', [pooled, ctx.b.int64s([2, 3])], [ctx.outName()]);
        return [runtimeValue(y, dtype, shape, false)];
      }
      return [runtimeValue(emitReduce(ctx, onnxOp, ctx.name(x), heldAxes, keepDims), dtype, shape, held === 'nchw')];
    }
    return [runtimeValue(emitReduce(ctx, onnxOp, ctx.tf(x), axes, keepDims), dtype, shape, false)];
  };
}

function emitReduce(ctx: OpContext, onnxOp: ReduceOp, input: string, axes: number[], keepDims: boolean): string {
  // Opset 17: ReduceSum takes its axes as an input, the others as an attribute.
  if (onnxOp === 'ReduceSum') return ctx.emit(onnxOp, [input, ctx.b.int64s(axes)], [ctx.outName()], { keepdims: attr.int(keepDims) })[0];
  return ctx.emit(onnxOp, [input], [ctx.outName()], { axes: attr.ints(axes), keepdims: attr.int(keepDims) })[0];
}

const ARG_TYPES: ReadonlySet<DataType> = new Set([DataType.DT_FLOAT, DataType.DT_DOUBLE, DataType.DT_INT32]);

/** ArgMax/ArgMin over one constant axis; ONNX gives int64 (first index on ties, as TensorFlow). */
function argReduce(onnxOp: 'ArgMax' | 'ArgMin'): Translator {
  return (ctx) => {
    requireType(ctx, ARG_TYPES);
    const [x, axisValue] = ctx.inputs;
    const axisList = constInts(axisValue, 'dimension');
    if (axisList.length !== 1) fail('several axes');
    const [axis] = normalizeAxes(axisList, x.shape?.length);
    const outType = ctx.node.attr?.output_type?.type ?? DataType.DT_INT64;
    if (outType !== DataType.DT_INT64 && outType !== DataType.DT_INT32) fail(`output_type=${dataTypeName(outType)}`);
    const shape = reducedShape(x.shape, [axis], false);
    const held = x.nchw && heldReduction([axis], false) === 'tf';
    const input = held ? ctx.name(x) : ctx.tf(x);
    const target = outType === DataType.DT_INT64 ? ctx.outName() : `${ctx.outName()}/int64`;
    let [y] = ctx.emit(onnxOp, [input], [target], { axis: attr.int(held ? TO_NHWC[axis] : axis), keepdims: attr.int(0), select_last_index: attr.int(0) });
    if (outType === DataType.DT_INT32) [y] = ctx.emit('Cast', [y], [ctx.outName()], { to: attr.int(6) });
    return [runtimeValue(y, outType, shape, false)];
  };
}

export const reduceOps: OpTable = {
  Mean: reduce('ReduceMean', FLOAT_TYPES),
  Sum: reduce('ReduceSum', NUMBER_TYPES),
  Max: reduce('ReduceMax', NUMBER_TYPES),
  Min: reduce('ReduceMin', NUMBER_TYPES),
  Prod: reduce('ReduceProd', NUMBER_TYPES),
  ArgMax: argReduce('ArgMax'),
  ArgMin: argReduce('ArgMin'),
};
