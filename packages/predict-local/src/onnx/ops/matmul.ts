// Matrix products and bias: MatMul → Gemm (transposes are Gemm attributes, so no data moves),
// BatchMatMul/V2/V3 → MatMul (numpy broadcasting of batch dims, as BatchMatMulV2), BiasAdd → the bias
// input of the convolution or Gemm before it when nothing else reads that, else a broadcasting Add
// (a [C] bias against NCHW becomes [1, C, 1, 1]).
import { DataType } from '@tensorsky/saved-model';
import { attr } from '../builder.js';
import {
  attrBool,
  attrType,
  fail,
  FLOAT_TYPES,
  isConst,
  NUMBER_TYPES,
  requireNhwc,
  requireType,
  runtimeValue,
  type OpContext,
  type OpTable,
  type Translator,
  type Value,
} from '../context.js';
import { broadcastShapes, transposeData } from '../layout.js';
import { channelFusible } from './conv.js';
import { aligned } from './elementwise.js';

const GEMM_TYPES: ReadonlySet<DataType> = new Set([DataType.DT_FLOAT, DataType.DT_DOUBLE]);

const matMul: Translator = (ctx) => {
  const dtype = requireType(ctx, GEMM_TYPES);
  const [a, b] = ctx.inputs;
  const ta = attrBool(ctx.node, 'transpose_a', false);
  const tb = attrBool(ctx.node, 'transpose_b', false);
  for (const v of [a, b]) if (v.shape && v.shape.length !== 2) fail(`rank-${v.shape.length} operand`);
  const m = a.shape ? a.shape[ta ? 1 : 0] : -1;
  const n = b.shape ? b.shape[tb ? 0 : 1] : -1;
  const [y] = ctx.emit('Gemm', [ctx.tf(a), ctx.tf(b)], [ctx.outName()], { transA: attr.int(ta), transB: attr.int(tb) });
  const out = runtimeValue(y, dtype, [m, n]);
  if (n > 0 && dtype === DataType.DT_FLOAT) out.fusible = channelFusible(ctx, y, n, undefined, 2);
  return [out];
};

/** The last two axes swapped: permuted data for a constant, a Transpose otherwise. */
function adjoint(ctx: OpContext, v: Value): string {
  const rank = v.shape?.length;
  if (rank === undefined) fail('adjoint of an operand of unknown rank');
  if (rank < 2) fail(`rank-${rank} operand`);
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  if (isConst(v) && v.constant.data) {
    const data = transposeData(v.constant.data, v.shape!, perm);
    const shape = perm.map((p) => v.shape![p]);
    return ctx.name({ dtype: v.dtype, shape, nchw: false, constant: { dtype: v.dtype, shape, data }, label: `${v.label}/adjoint` });
  }
  return ctx.emit('Transpose', [ctx.tf(v)], [`${v.label ?? ctx.outName()}/adjoint`], { perm: attr.ints(perm) })[0];
}

const batchMatMul: Translator = (ctx) => {
  const dtype = requireType(ctx, NUMBER_TYPES);
  for (const t of ['Ta', 'Tb']) {
    const other = attrType(ctx.node, t);
    if (other !== undefined && other !== dtype) fail(`${t} differs from T`);
  }
  const tout = attrType(ctx.node, 'Tout');
  if (tout !== undefined && tout !== dtype) fail('Tout differs from T');
  const [x, y] = ctx.inputs;
  const adjX = attrBool(ctx.node, 'adj_x', false);
  const adjY = attrBool(ctx.node, 'adj_y', false);
  const xs = x.shape && (adjX ? swapLast(x.shape) : x.shape);
  const ys = y.shape && (adjY ? swapLast(y.shape) : y.shape);
  const [out] = ctx.emit('MatMul', [adjX ? adjoint(ctx, x) : ctx.tf(x), adjY ? adjoint(ctx, y) : ctx.tf(y)], [ctx.outName()]);
  let shape: number[] | undefined;
  if (xs && ys && xs.length >= 2 && ys.length >= 2) {
    const batch = broadcastShapes(xs.slice(0, -2), ys.slice(0, -2))!;
    shape = [...batch, xs[xs.length - 2], ys[ys.length - 1]];
  }
  return [runtimeValue(out, dtype, shape)];
};

function swapLast(shape: number[]): number[] {
  if (shape.length < 2) return shape;
  return [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]];
}

const biasAdd: Translator = (ctx) => {
  const dtype = requireType(ctx, NUMBER_TYPES);
  requireNhwc(ctx.node);
  const [x, bias] = ctx.inputs;
  if (x.shape && x.shape.length < 2) fail(`rank-${x.shape.length} input`);
  const fusible = x.fusible;
  if (
    fusible &&
    FLOAT_TYPES.has(dtype) &&
    fusible.tensor === ctx.inputTensors[0] &&
    ctx.readers(ctx.inputTensors[0]) === 1 &&
    isConst(bias) &&
    bias.constant.data?.length === fusible.channels
  ) {
    fusible.addBias(bias.constant.data as Float32Array);
    const name = fusible.rename(ctx.outName());
    return [{ ...x, name, other: undefined, label: ctx.outName(), fusible: { ...fusible, tensor: ctx.outName() } }];
  }
  const { names, nchw, shape } = aligned(ctx, [x, bias]);
  const [y] = ctx.emit('Add', names, [ctx.outName()]);
  return [runtimeValue(y, dtype, shape, nchw)];
};

export const matmulOps: OpTable = {
  MatMul: matMul,
  BatchMatMul: batchMatMul,
  BatchMatMulV2: batchMatMul,
  BatchMatMulV3: batchMatMul,
  BiasAdd: biasAdd,
  BiasAddV1: biasAdd,
};
