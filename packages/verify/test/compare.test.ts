import { describe, expect, it } from 'vitest';
import { compareScores, latencyStats, topIndices } from '../src/compare.js';

describe('topIndices', () => {
  it('returns the k largest, largest first, lower index first on ties', () => {
    expect(topIndices([0.1, 0.5, 0.2, 0.5, 0.05], 3)).toEqual([1, 3, 2]);
    expect(topIndices([3, 1, 2], 5)).toEqual([0, 2, 1]);
    expect(topIndices([7], 1)).toEqual([0]);
  });
});

describe('compareScores', () => {
  it('measures the largest absolute difference', () => {
    const cmp = compareScores([0.7, 0.2, 0.1], [0.69, 0.23, 0.08], 2, 0.05);
    expect(cmp.maxAbsDiff).toBeCloseTo(0.03, 12);
    expect(cmp.referenceTop1).toBe(0);
    expect(cmp.exportedTop1).toBe(0);
    expect(cmp.top1Agree).toBe(true);
    expect(cmp.topKAgree).toBe(true);
    expect(cmp.topKOverlap).toBe(2);
  });

  it('flags a different top-1', () => {
    const cmp = compareScores([0.6, 0.3, 0.1], [0.3, 0.6, 0.1], 1, 1e-4);
    expect(cmp.maxAbsDiff).toBeCloseTo(0.3, 12);
    expect(cmp.top1Agree).toBe(false);
    expect(cmp.topKAgree).toBe(false);
    expect(cmp.topKOverlap).toBe(0);
  });

  it('lets classes tied within the tolerance swap places', () => {
    // Classes 1 and 2 are 1e-6 apart: their order may flip without it being a disagreement.
    const cmp = compareScores([0.5, 0.2500005, 0.2499995], [0.5, 0.2499995, 0.2500005], 2, 1e-5);
    expect(cmp.topKOverlap).toBe(1);
    expect(cmp.topKAgree).toBe(true);
    expect(cmp.top1Agree).toBe(true);
    // Not with a tolerance below the gap.
    expect(compareScores([0.5, 0.2500005, 0.2499995], [0.5, 0.2499995, 0.2500005], 2, 1e-7).topKAgree).toBe(false);
  });

  it('treats NaN as an unbounded difference', () => {
    const cmp = compareScores([0.5, 0.5], [Number.NaN, 0.5], 1, 1);
    expect(cmp.maxAbsDiff).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses different class counts', () => {
    expect(() => compareScores([1, 0], [1, 0, 0], 1, 0)).toThrow(/class count: source 2, exported 3/);
  });
});

describe('latencyStats', () => {
  it('computes median, nearest-rank p95 and max', () => {
    // 20 samples 1..20: median (10 + 11) / 2, p95 = the 19th value.
    const samples = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(latencyStats(samples)).toEqual({ count: 20, medianMs: 10.5, p95Ms: 19, maxMs: 20 });
    expect(latencyStats([300, 100, 200])).toEqual({ count: 3, medianMs: 200, p95Ms: 300, maxMs: 300 });
    expect(latencyStats([])).toBeUndefined();
  });
});
