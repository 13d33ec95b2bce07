// Ops that move no data: the Identity family (the output is the input's value, in whatever layout it is
// held) and Cast (elementwise, layout kept; casts of small integer constants are evaluated here).
import { DataType, dataTypeName } from '@tensorsky/saved-model';
import { attr } from '../builder.js';
import { arrayFor, attrBool, attrType, fail, isConst, requireOnnxType, runtimeValue, size, type OpTable, type Translator } from '../context.js';

const passThrough: Translator = (ctx) => [ctx.inputs[0]];

const identityN: Translator = (ctx) => [...ctx.inputs];

const INTEGERS: ReadonlySet<DataType> = new Set([DataType.DT_INT32, DataType.DT_INT64]);

const cast: Translator = (ctx) => {
  const x = ctx.inputs[0];
  const to = attrType(ctx.node, 'DstT') ?? fail('no DstT');
  const from = attrType(ctx.node, 'SrcT') ?? x.dtype;
  if (from !== x.dtype) fail(`SrcT=${dataTypeName(from)} but the input is ${dataTypeName(x.dtype)}`);
  const onnxTo = requireOnnxType(to);
  requireOnnxType(from);
  if (from === to) return [x];
  // Truncate changes how floats round to half/bfloat16; nothing else.
  if (attrBool(ctx.node, 'Truncate', false) && to === DataType.DT_HALF) fail('Truncate=true');
  if (isConst(x) && x.constant.data && INTEGERS.has(from) && INTEGERS.has(to) && size(x.constant.shape) <= 64) {
    const values = Array.from(x.constant.data as ArrayLike<number | bigint>, Number);
    if (values.every((v) => Number.isSafeInteger(v) && (to === DataType.DT_INT64 || (v >= -(2 ** 31) && v < 2 ** 31)))) {
      const data = arrayFor(to, values.length);
      values.forEach((v, i) => ((data as unknown as (number | bigint)[])[i] = to === DataType.DT_INT64 ? BigInt(v) : v));
      return [{ dtype: to, shape: x.constant.shape, nchw: false, constant: { dtype: to, shape: x.constant.shape, data } }];
    }
  }
  const [y] = ctx.emit('Cast', [ctx.name(x)], [ctx.outName()], { to: attr.int(onnxTo) });
  return [runtimeValue(y, to, x.shape, x.nchw)];
};

export const basicOps: OpTable = {
  Identity: passThrough,
  Snapshot: passThrough,
  StopGradient: passThrough,
  PreventGradient: passThrough,
  // Only reached when not fed: then it is its default, the input.
  PlaceholderWithDefault: passThrough,
  IdentityN: identityN,
  Cast: cast,
};
