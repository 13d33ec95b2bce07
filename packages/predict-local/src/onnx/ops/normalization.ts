// Inference batch norm (FusedBatchNorm/V2/V3 with is_training=false): y = (x - mean) * s + offset with
// s = scale / sqrt(variance + epsilon). Directly after a convolution whose output nothing else reads,
// with constant parameters, it is folded into the convolution (weights * s per output channel, bias
// (b - mean) * s + offset, computed in float64 and rounded once); otherwise it is a BatchNormalization.
import { DataType } from '@tensorsky/saved-model';
import { attr } from '../builder.js';
import { attrBool, attrFloat, attrType, fail, FLOAT_TYPES, isConst, requireNhwc, requireType, runtimeValue, type OpTable, type Translator } from '../context.js';

const fusedBatchNorm: Translator = (ctx) => {
  const dtype = requireType(ctx, FLOAT_TYPES);
  const u = attrType(ctx.node, 'U');
  if (u !== undefined && u !== DataType.DT_FLOAT) fail('U is not DT_FLOAT');
  requireNhwc(ctx.node);
  // TensorFlow's default is training mode (batch statistics), which an inference graph must not use.
  if (attrBool(ctx.node, 'is_training', true)) fail('is_training=true');
  for (const i of ctx.usedOutputs) if (i > 0) fail(`output ${i} used`);
  const [x, scale, offset, mean, variance] = ctx.inputs;
  if (x.shape && x.shape.length !== 4) fail(`rank-${x.shape.length} input`);
  const epsilon = attrFloat(ctx.node, 'epsilon', 0.0001);
  const shape = x.shape ?? [-1, -1, -1, -1];

  const params = [scale, offset, mean, variance];
  const fusible = x.fusible;
  if (fusible?.scale && fusible.tensor === ctx.inputTensors[0] && ctx.readers(ctx.inputTensors[0]) === 1 && params.every((p) => isConst(p) && p.constant.data?.length === fusible.channels)) {
    const [g, beta, mu, v] = params.map((p) => p.constant!.data as Float32Array);
    const s = new Float64Array(fusible.channels);
    const shift = new Float64Array(fusible.channels);
    for (let c = 0; c < s.length; c++) {
      s[c] = g[c] / Math.sqrt(v[c] + Math.fround(epsilon));
      shift[c] = beta[c] - mu[c] * s[c];
    }
    fusible.scale(s);
    fusible.addBias(shift);
    const name = fusible.rename(ctx.outName());
    return [{ ...x, name, other: undefined, label: ctx.outName(), fusible: { ...fusible, tensor: ctx.outName() }, shape }];
  }
  const [y] = ctx.emit('BatchNormalization', [ctx.nchw(x), ...params.map((p) => ctx.tf(p))], [ctx.outName()], { epsilon: attr.float(epsilon) });
  return [runtimeValue(y, dtype, shape, true)];
};

export const normalizationOps: OpTable = {
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
};
