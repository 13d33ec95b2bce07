// Batch-norm folding: at inference BN is an affine map per output channel, so it can be merged into the
// preceding convolution or dense kernel. Computed in float64 and rounded once to float32, which keeps the
// folded graph within float32 rounding of Keras's unfused conv → BN (what the fidelity tests measure).

/** Inference-time batch-norm parameters for one layer (Keras names; gamma is absent when scale=False). */
export interface BatchNormParams {
  gamma?: Float32Array;
  beta?: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  epsilon: number;
}

/** Per-channel scale and offset such that BN(x) = x * scale + offset. */
export function batchNormAffine(bn: BatchNormParams): { scale: Float64Array; offset: Float64Array } {
  const n = bn.movingMean.length;
  const scale = new Float64Array(n);
  const offset = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const s = (bn.gamma ? bn.gamma[c] : 1) / Math.sqrt(bn.movingVariance[c] + bn.epsilon);
    scale[c] = s;
    offset[c] = (bn.beta ? bn.beta[c] : 0) - bn.movingMean[c] * s;
  }
  return { scale, offset };
}

/**
 * Folds BN into a kernel whose LAST axis is the output channel (Conv2D [kh,kw,in,out], Dense [in,out],
 * and DepthwiseConv2dNative [kh,kw,in,mult] read as channels in*mult, which is TensorFlow's output order).
 * Returns the new kernel and bias: W' = W * s, b' = (b - mean) * s + beta.
 */
export function foldBatchNorm(
  kernel: Float32Array,
  bias: Float32Array | undefined,
  bn: BatchNormParams,
): { kernel: Float32Array; bias: Float32Array } {
  const { scale, offset } = batchNormAffine(bn);
  const channels = scale.length;
  if (kernel.length % channels !== 0) {
    throw new Error(`cannot fold batch norm with ${channels} channels into a kernel of ${kernel.length} values`);
  }
  const folded = new Float32Array(kernel.length);
  for (let i = 0; i < kernel.length; i++) folded[i] = kernel[i] * scale[i % channels];
  const foldedBias = new Float32Array(channels);
  for (let c = 0; c < channels; c++) foldedBias[c] = (bias ? bias[c] : 0) * scale[c] + offset[c];
  return { kernel: folded, bias: foldedBias };
}
