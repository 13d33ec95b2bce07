// Deterministic test data for the numeric tests.

/** Deterministic values in [-1, 1) (a small LCG), so failures reproduce. */
export function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** Number of elements of a shape. */
export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
