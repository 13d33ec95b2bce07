// Payload splitting, checked against JSON.stringify of the request bodies it produces.
import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError, splitIntoRequests } from '../src/index.js';

const item = (source: string, chars: number) => ({ source, instance: 'a'.repeat(chars) });

describe('splitIntoRequests', () => {
  it('fills requests in order up to the byte limit', () => {
    // '{"instances":[]}' is 16 bytes, each instance 32 ("..." with 30 characters), commas between:
    // 2 instances make 81 bytes, 3 make 114.
    const items = ['a', 'b', 'c', 'd', 'e'].map((s) => item(s, 30));
    const batches = splitIntoRequests(items, { maxRequestBytes: 100 });
    expect(batches.map((b) => b.map((i) => i.source))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    for (const batch of batches) expect(JSON.stringify({ instances: batch.map((i) => i.instance) }).length).toBeLessThanOrEqual(100);
    expect(JSON.stringify({ instances: items.slice(0, 2).map((i) => i.instance) }).length).toBe(81);
    expect(splitIntoRequests(items, { maxRequestBytes: 114 }).map((b) => b.length)).toEqual([3, 2]);
  });

  it('caps instances per request too', () => {
    expect(splitIntoRequests(['a', 'b', 'c'].map((s) => item(s, 1)), { maxInstances: 2 }).map((b) => b.length)).toEqual([2, 1]);
  });

  it('names the image that cannot fit in any request', () => {
    expect(() => splitIntoRequests([item('small.jpg', 10), item('big.jpg', 200)], { maxRequestBytes: 100 })).toThrow(PayloadTooLargeError);
    expect(() => splitIntoRequests([item('big.jpg', 200)], { maxRequestBytes: 100 })).toThrow(/^big\.jpg makes a 0\.00 MB request/);
  });
});
