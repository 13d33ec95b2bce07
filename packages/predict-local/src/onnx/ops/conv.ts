// Convolutions: Conv2D, DepthwiseConv2dNative (a grouped Conv, group = channels) and
// Conv2DBackpropInput (ConvTranspose). Inputs are taken as NCHW, filters are permuted to ONNX's
// layouts once here, and the output stays NCHW. A constant-weight convolution offers itself as Fusible,
// so a following BiasAdd or inference batch norm becomes its bias and scaled weights.
import { DataType } from '@tensorsky/saved-model';
import type { Initializer } from '../builder.js';
import { attr } from '../builder.js';
import {
  attrInts,
  floats,
  attrString,
  constInts,
  fail,
  FLOAT_TYPES,
  isConst,
  requireNhwc,
  requireType,
  runtimeValue,
  type Fusible,
  type OpContext,
  type OpTable,
  type Value,
} from '../context.js';
import { depthwiseToOihw, hwioToOihw, paddingAttrs, windowPadding } from '../layout.js';
import { OnnxDataType } from '../proto.js';

/** strides/dilations/ksize attrs in NHWC: [1, h, w, 1]; returns [h, w]. */
export function spatialAttr(ctx: OpContext, name: string, fallback?: number[]): [number, number] {
  const v = attrInts(ctx.node, name, fallback);
  if (v.length !== 4) fail(`${name} of length ${v.length}`);
  if (v[0] !== 1 || v[3] !== 1) fail(`${name}=[${v.join(',')}]`);
  return [v[1], v[2]];
}

/** explicit_paddings (NHWC, [before, after] per dimension) as [[top, bottom], [left, right]]. */
export function explicitPads(ctx: OpContext): [number, number][] | undefined {
  if (attrString(ctx.node, 'padding') !== 'EXPLICIT') return undefined;
  const e = attrInts(ctx.node, 'explicit_paddings', []);
  if (e.length !== 8 || e[0] || e[1] || e[6] || e[7]) fail(`explicit_paddings=[${e.join(',')}]`);
  return [
    [e[2], e[3]],
    [e[4], e[5]],
  ];
}

/** Static filter shape (a filter's shape is known even when it is computed, for any graph Keras writes). */
function filterShape(filter: Value): [number, number, number, number] {
  const s = filter.shape;
  if (!s || s.length !== 4 || s.some((d) => d < 0)) fail('filter of unknown shape');
  return s as [number, number, number, number];
}

/**
 * Fusible for a node whose bias is input `biasSlot` and whose weights, if `scaleWeights` is given, can be
 * scaled per output channel. The bias is accumulated in float64 and written as float32.
 */
export function channelFusible(ctx: OpContext, output: string, channels: number, scaleWeights: ((s: ArrayLike<number>) => void) | undefined, biasSlot: number): Fusible {
  const node = ctx.b.producerOf(output)!;
  let bias: Float64Array | undefined;
  let init: Initializer | undefined;
  const writeBias = () => {
    if (!init) {
      init = ctx.b.initializer(`${node.output[0]}/bias`, OnnxDataType.FLOAT, [channels], new Float32Array(channels));
      while (node.input.length < biasSlot) node.input.push('');
      node.input[biasSlot] = init.name;
    }
    init.data = Float32Array.from(bias!);
  };
  return {
    tensor: ctx.outName(),
    channels,
    addBias(b) {
      bias ??= new Float64Array(channels);
      for (let c = 0; c < channels; c++) bias[c] += b[c];
      writeBias();
    },
    scale: scaleWeights
      ? (s) => {
          scaleWeights(s);
          if (bias) {
            for (let c = 0; c < channels; c++) bias[c] *= s[c];
            writeBias();
          }
        }
      : undefined,
    rename(name) {
      node.output[0] = ctx.b.unique(name);
      return node.output[0];
    },
  };
}

interface Weights {
  name: string;
  /** Multiplies output channel c by s[c] (constant weights only; applied while they are written). */
  scale?: (s: ArrayLike<number>) => void;
}

/**
 * ONNX weights for a filter: a constant is permuted (and scaled) as the model is encoded, straight from
 * the TensorFlow constant's bytes; a computed filter gets a Transpose.
 */
function weights(
  ctx: OpContext,
  filter: Value,
  dims: number[],
  permuteConst: (src: Float32Array, out: Float32Array, scale?: Float64Array) => void,
  runtimePerm: number[],
): Weights {
  if (isConst(filter)) {
    const c = filter.constant;
    let factors: Float64Array | undefined;
    const init = ctx.b.deferredInitializer(`${ctx.node.name}/weights`, dims, (out) => permuteConst(floats(c), out, factors));
    return {
      name: init.name,
      scale: (s) => {
        factors ??= new Float64Array(dims[0]).fill(1);
        for (let k = 0; k < factors.length; k++) factors[k] *= s[k];
      },
    };
  }
  return { name: ctx.emit('Transpose', [ctx.name(filter)], [`${ctx.node.name}/weights`], { perm: attr.ints(runtimePerm) })[0] };
}

function convolution(ctx: OpContext, depthwise: boolean): Value[] {
  requireType(ctx, FLOAT_TYPES);
  requireNhwc(ctx.node);
  const [x, filter] = ctx.inputs;
  const strides = spatialAttr(ctx, 'strides');
  const dilations = spatialAttr(ctx, 'dilations', [1, 1, 1, 1]);
  const [kh, kw, fi, fo] = filterShape(filter);
  const xs = x.shape ?? [-1, -1, -1, -1];
  if (xs.length !== 4) fail(`rank-${xs.length} input`);
  const pad = windowPadding(attrString(ctx.node, 'padding'), [xs[1], xs[2]], [kh, kw], strides, dilations, explicitPads(ctx));
  // ONNX Runtime refuses auto_pad with dilations (TensorFlow's CPU kernels take dilations only with stride 1, padded statically).
  if (pad.autoPad && dilations.some((d) => d > 1)) fail('dilations with SAME padding of unknown size');

  let group = 1;
  let outChannels = fo;
  let w: Weights;
  if (depthwise) {
    // [H, W, C, M] → [C*M, 1, H, W], group C: output channel c*M + m, TensorFlow's order.
    group = fi;
    outChannels = fi * fo;
    if (isConst(filter)) {
      w = weights(ctx, filter, [outChannels, 1, kh, kw], (src, out, scale) => depthwiseToOihw(src, [kh, kw, fi, fo], out, scale), [3, 2, 0, 1]);
    } else {
      // A computed depthwise filter: [H, W, C, M] → [H, W, 1, C*M] → [C*M, 1, H, W].
      const flat = ctx.emit('Reshape', [ctx.name(filter), ctx.b.int64s([kh, kw, 1, outChannels])], [`${ctx.node.name}/filter_hwio`])[0];
      w = { name: ctx.emit('Transpose', [flat], [`${ctx.node.name}/weights`], { perm: attr.ints([3, 2, 0, 1]) })[0] };
    }
  } else {
    // Grouped convolution (TF 2.x): the input has a multiple of the filter's input channels.
    if (xs[3] > 0 && xs[3] !== fi) {
      if (xs[3] % fi !== 0) fail(`input channels ${xs[3]} not a multiple of the filter's ${fi}`);
      group = xs[3] / fi;
    }
    w = weights(ctx, filter, [fo, fi, kh, kw], (src, out, scale) => hwioToOihw(src, [kh, kw, fi, fo], out, scale), [3, 2, 0, 1]);
  }
  const [y] = ctx.emit('Conv', [ctx.nchw(x), w.name], [ctx.outName()], {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints(strides),
    dilations: attr.ints(dilations),
    group: attr.int(group),
    ...mapPadding(pad),
  });
  const out = runtimeValue(y, DataType.DT_FLOAT, [xs[0], pad.out[0], pad.out[1], outChannels], true);
  out.fusible = channelFusible(ctx, y, outChannels, w.scale, 2);
  return [out];
}

export function mapPadding(pad: ReturnType<typeof windowPadding>) {
  const p = paddingAttrs(pad);
  return { pads: p.pads && attr.ints(p.pads), auto_pad: p.auto_pad === undefined ? undefined : attr.string(p.auto_pad) };
}

/**
 * The gradient of Conv2D with respect to its input (Keras Conv2DTranspose): ConvTranspose with the
 * forward convolution's pads, and output_padding making the output exactly input_sizes.
 */
function conv2dBackpropInput(ctx: OpContext): Value[] {
  requireType(ctx, FLOAT_TYPES);
  requireNhwc(ctx.node);
  const [sizes, filter, dy] = ctx.inputs;
  const [n, h, w, c] = constInts(sizes, 'input_sizes');
  const strides = spatialAttr(ctx, 'strides');
  const dilations = spatialAttr(ctx, 'dilations', [1, 1, 1, 1]);
  const [kh, kw, fi, fo] = filterShape(filter);
  if (c !== fi) fail(`input_sizes channels ${c} and filter input channels ${fi} differ`);
  const pad = windowPadding(attrString(ctx.node, 'padding'), [h, w], [kh, kw], strides, dilations, explicitPads(ctx));
  const ds = dy.shape;
  if (ds && ds.length === 4 && ((ds[1] >= 0 && ds[1] !== pad.out[0]) || (ds[2] >= 0 && ds[2] !== pad.out[1]))) fail('out_backprop size does not match input_sizes');
  const pads = pad.pads!;
  const effective = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1];
  const outputPadding = [h, w].map((size, i) => size - (strides[i] * (pad.out[i] - 1) + effective[i] - pads[i] - pads[i + 2]));
  if (outputPadding.some((p) => p < 0 || p >= Math.max(strides[0], strides[1], dilations[0], dilations[1]))) fail('inconsistent output size');
  // ConvTranspose weights are [C_in, C_out, kH, kW] = [O, I, H, W] of the forward filter: OIHW again.
  const wts = weights(ctx, filter, [fo, fi, kh, kw], (src, out) => hwioToOihw(src, [kh, kw, fi, fo], out), [3, 2, 0, 1]);
  const [y] = ctx.emit('ConvTranspose', [ctx.nchw(dy), wts.name], [ctx.outName()], {
    kernel_shape: attr.ints([kh, kw]),
    strides: attr.ints(strides),
    dilations: attr.ints(dilations),
    pads: attr.ints(pads),
    output_padding: outputPadding.some((p) => p > 0) ? attr.ints(outputPadding) : undefined,
  });
  const out = runtimeValue(y, DataType.DT_FLOAT, [ds?.[0] ?? n, h, w, fi], true);
  // The bias folds in; a scale would not be per contiguous block (weights are [in, out, ...]).
  out.fusible = channelFusible(ctx, y, fi, undefined, 2);
  return [out];
}

export const convOps: OpTable = {
  Conv2D: (ctx) => convolution(ctx, false),
  DepthwiseConv2dNative: (ctx) => convolution(ctx, true),
  Conv2DBackpropInput: conv2dBackpropInput,
};
