// Softmax and LogSoftmax over the last axis (TensorFlow's definition); ONNX opset 13+ normalizes over
// exactly one axis too, so an NCHW input is normalized over held axis 1 (channels) and stays NCHW.
import { attr } from '../builder.js';
import { FLOAT_TYPES, requireType, runtimeValue, type OpTable, type Translator } from '../context.js';

function softmax(onnxOp: 'Softmax' | 'LogSoftmax'): Translator {
  return (ctx) => {
    const dtype = requireType(ctx, FLOAT_TYPES);
    const x = ctx.inputs[0];
    const [y] = ctx.emit(onnxOp, [ctx.name(x)], [ctx.outName()], { axis: attr.int(x.nchw ? 1 : -1) });
    return [runtimeValue(y, dtype, x.shape, x.nchw)];
  };
}

export const softmaxOps: OpTable = {
  Softmax: softmax('Softmax'),
  LogSoftmax: softmax('LogSoftmax'),
};
