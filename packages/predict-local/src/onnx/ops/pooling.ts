// Pooling windows: MaxPool (and MaxPoolV2 with constant ksize/strides) and AvgPool, on NCHW. Padded
// positions never count: MaxPool ignores them in both frameworks, and TensorFlow's SAME AvgPool divides
// by the number of real pixels in the window, which is ONNX's count_include_pad=0.
import { DataType } from '@tensorsky/saved-model';
import { attr } from '../builder.js';
import { attrString, constInts, fail, FLOAT_TYPES, requireNhwc, requireType, runtimeValue, type OpContext, type OpTable, type Value } from '../context.js';
import { windowPadding } from '../layout.js';
import { explicitPads, mapPadding, spatialAttr } from './conv.js';

function nhwcWindow(values: number[], name: string): [number, number] {
  if (values.length !== 4 || values[0] !== 1 || values[3] !== 1) fail(`${name}=[${values.join(',')}]`);
  return [values[1], values[2]];
}

function pool(ctx: OpContext, onnxOp: 'MaxPool' | 'AveragePool', window?: { ksize: number[]; strides: number[] }): Value[] {
  requireType(ctx, FLOAT_TYPES);
  requireNhwc(ctx.node);
  const x = ctx.inputs[0];
  const ksize = window ? nhwcWindow(window.ksize, 'ksize') : spatialAttr(ctx, 'ksize');
  const strides = window ? nhwcWindow(window.strides, 'strides') : spatialAttr(ctx, 'strides');
  const xs = x.shape ?? [-1, -1, -1, -1];
  if (xs.length !== 4) fail(`rank-${xs.length} input`);
  const padding = attrString(ctx.node, 'padding');
  if (padding === 'EXPLICIT' && onnxOp === 'AveragePool') fail('padding=EXPLICIT');
  const pad = windowPadding(padding, [xs[1], xs[2]], ksize, strides, [1, 1], explicitPads(ctx));
  const [y] = ctx.emit(onnxOp, [ctx.nchw(x)], [ctx.outName()], {
    kernel_shape: attr.ints(ksize),
    strides: attr.ints(strides),
    ...mapPadding(pad),
    count_include_pad: onnxOp === 'AveragePool' ? attr.int(0) : undefined,
  });
  return [runtimeValue(y, DataType.DT_FLOAT, [xs[0], pad.out[0], pad.out[1], xs[3]], true)];
}

export const poolingOps: OpTable = {
  MaxPool: (ctx) => pool(ctx, 'MaxPool'),
  MaxPoolV2: (ctx) => pool(ctx, 'MaxPool', { ksize: constInts(ctx.inputs[1], 'ksize'), strides: constInts(ctx.inputs[2], 'strides') }),
  AvgPool: (ctx) => pool(ctx, 'AveragePool'),
};

