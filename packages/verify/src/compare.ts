// The numbers behind the golden checks: class scores split per image, how far the exported model's are
// from the source model's, whether their top classes agree, and latency percentiles.

/** Rows of a [batch, classes] output ([classes] for a single image); `model` names it in the error. */
export function scoreRows(data: Float32Array, shape: readonly number[], batch: number, model: string): Float32Array[] {
  const classes = shape.at(-1) ?? 0;
  const rows = shape.length === 1 ? 1 : shape[0];
  if (shape.length > 2 || rows !== batch || data.length !== rows * classes) {
    throw new RangeError(`${model}: expected class scores of shape [${batch}, classes], got [${shape.join(', ')}]`);
  }
  return Array.from({ length: rows }, (_, i) => data.subarray(i * classes, (i + 1) * classes));
}

export interface ScoreComparison {
  /** Largest |exported - reference| over all classes. */
  maxAbsDiff: number;
  /** Class with the largest reference score, and the exported model's. */
  referenceTop1: number;
  exportedTop1: number;
  /** Classes in both top-k lists. */
  topKOverlap: number;
  /**
   * True when the top-k lists agree up to ties: every class in one list scores, in the other model, at
   * least that model's k-th best score minus the tolerance. Two classes within the tolerance of each other
   * may swap places without it being a disagreement.
   */
  topKAgree: boolean;
  /** The same rule for k = 1. */
  top1Agree: boolean;
}

export function compareScores(reference: ArrayLike<number>, exported: ArrayLike<number>, k: number, tolerance: number): ScoreComparison {
  if (reference.length !== exported.length) {
    throw new RangeError(`the models disagree on the class count: source ${reference.length}, exported ${exported.length}`);
  }
  let maxAbsDiff = 0;
  for (let i = 0; i < reference.length; i++) {
    const diff = Math.abs(reference[i] - exported[i]);
    // NaN anywhere is a failure, never "no difference".
    if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
  }
  const refTop = topIndices(reference, k);
  const expTop = topIndices(exported, k);
  const expSet = new Set(expTop);
  const agreeUpToTies = (kk: number) => {
    const refKth = reference[refTop[kk - 1]];
    const expKth = exported[expTop[kk - 1]];
    return expTop.slice(0, kk).every((c) => reference[c] >= refKth - tolerance) && refTop.slice(0, kk).every((c) => exported[c] >= expKth - tolerance);
  };
  const kk = Math.min(k, reference.length);
  return {
    maxAbsDiff,
    referenceTop1: refTop[0],
    exportedTop1: expTop[0],
    topKOverlap: refTop.filter((c) => expSet.has(c)).length,
    topKAgree: kk > 0 && agreeUpToTies(kk),
    top1Agree: kk > 0 && agreeUpToTies(1),
  };
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (top.length === k && !(values[i] > values[top[k - 1]])) continue;
    let at = Math.min(top.length, k - 1);
    if (top.length < k) top.push(i);
    else top[at] = i;
    while (at > 0 && values[top[at]] > values[top[at - 1]]) {
      [top[at], top[at - 1]] = [top[at - 1], top[at]];
      at--;
    }
  }
  return top;
}

export interface LatencyStats {
  count: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

/** Median, 95th percentile (nearest rank) and maximum; undefined for no samples. */
export function latencyStats(samplesMs: readonly number[]): LatencyStats | undefined {
  if (samplesMs.length === 0) return undefined;
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { count: sorted.length, medianMs: median, p95Ms: rank(0.95), maxMs: sorted[sorted.length - 1] };
}
