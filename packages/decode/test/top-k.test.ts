import { describe, expect, it } from 'vitest';
import { PredictionError, decodeTopK, decodeTopKBatch, labelsFromList, loadLabels } from '../src/index.js';

const abcd = labelsFromList(['a', 'b', 'c', 'd']);

describe('decodeTopK', () => {
  it('returns the k highest scores in descending order with their labels', () => {
    expect(decodeTopK([0.1, 0.5, 0.15, 0.25], abcd, 2)).toEqual([
      { index: 1, label: 'b', score: 0.5 },
      { index: 3, label: 'd', score: 0.25 },
    ]);
  });

  it('breaks ties by lower class index', () => {
    expect(decodeTopK([0.2, 0.4, 0.4, 0], abcd, 4).map((p) => p.index)).toEqual([1, 2, 0, 3]);
    expect(decodeTopK([0.25, 0.25, 0.25, 0.25], abcd, 3).map((p) => p.index)).toEqual([0, 1, 2]);
  });

  it('reads Float32Array scores (values are float32-rounded)', () => {
    const top = decodeTopK(new Float32Array([0.1, 0.7, 0.2, 0]), abcd, 1);
    expect(top).toEqual([{ index: 1, label: 'b', score: Math.fround(0.7) }]);
  });

  it('orders negative scores (logits) too', () => {
    expect(decodeTopK([-3, -1, -2, -4], abcd, 4).map((p) => p.label)).toEqual(['b', 'c', 'a', 'd']);
  });

  it('returns every class when k exceeds the number of classes', () => {
    expect(decodeTopK([0.1, 0.2, 0.3, 0.4], abcd, 10).map((p) => p.index)).toEqual([3, 2, 1, 0]);
  });

  it('rejects k that is not a positive integer', () => {
    for (const k of [0, -1, 1.5, Number.NaN]) {
      expect(() => decodeTopK([1, 0, 0, 0], abcd, k)).toThrow(PredictionError);
      expect(() => decodeTopK([1, 0, 0, 0], abcd, k)).toThrow(`k must be a positive integer, got ${k}`);
    }
  });

  it('rejects NaN and infinite scores, naming the class', () => {
    expect(() => decodeTopK([0.1, Number.NaN, 0.2, 0.3], abcd, 1)).toThrow('score of class 1 is NaN');
    expect(() => decodeTopK(new Float32Array([0, 0, Infinity, 0]), abcd, 1)).toThrow('score of class 2 is Infinity');
  });

  it('rejects an empty output', () => {
    expect(() => decodeTopK([], { source: 'none', classes: null }, 1)).toThrow('model output has no classes');
  });

  it('states both numbers when labels and output disagree', async () => {
    const transfert = await loadLabels('transfert');
    expect(() => decodeTopK(new Float32Array(10), transfert, 3)).toThrow(
      'model output has 10 classes but the labels (transfert) have 9 entries',
    );
    const imagenet = await loadLabels('imagenet');
    expect(() => decodeTopK(new Float32Array(1001), imagenet, 5)).toThrow(
      /1001 classes but the labels \(imagenet\) have 1000 entries \(.*background class at index 0\)/,
    );
  });

  it('names classes by index with the none preset, for any number of classes', async () => {
    const none = await loadLabels('none');
    expect(decodeTopK([0.1, 0.2, 0.05, 0.6, 0.05], none, 2)).toEqual([
      { index: 3, label: '3', score: 0.6 },
      { index: 1, label: '1', score: 0.2 },
    ]);
  });

  it('carries ImageNet WordNet ids', async () => {
    const scores = new Float32Array(1000);
    scores[950] = 0.75; // orange
    scores[954] = 0.2; // banana
    scores[0] = 0.05; // tench
    expect(decodeTopK(scores, await loadLabels('inception'), 3)).toEqual([
      { index: 950, id: 'n07747607', label: 'orange', score: 0.75 },
      { index: 954, id: 'n07753592', label: 'banana', score: Math.fround(0.2) },
      { index: 0, id: 'n01440764', label: 'tench', score: Math.fround(0.05) },
    ]);
  });

  it('decodes the tutorial fruit model output', async () => {
    const scores = [0.01, 0.02, 0.03, 0.04, 0.05, 0.5236, 0.3, 0.0164, 0.01];
    expect(decodeTopK(scores, await loadLabels('transfert'), 2)).toEqual([
      { index: 5, label: 'orange', score: 0.5236 },
      { index: 6, label: 'pineapple', score: 0.3 },
    ]);
  });
});

describe('decodeTopKBatch', () => {
  it('decodes each row of row arrays', () => {
    const out = decodeTopKBatch([[0.1, 0.6, 0.2, 0.1], new Float32Array([0.5, 0, 0, 0.5])], abcd, 2);
    expect(out).toEqual([
      [
        { index: 1, label: 'b', score: 0.6 },
        { index: 2, label: 'c', score: 0.2 },
      ],
      [
        { index: 0, label: 'a', score: 0.5 },
        { index: 3, label: 'd', score: 0.5 },
      ],
    ]);
  });

  it('decodes flat row-major values with a [batch, classes] shape', () => {
    const values = new Float32Array([0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
    const out = decodeTopKBatch({ values, shape: [3, 4] }, abcd, 1);
    expect(out.map((row) => row[0].label)).toEqual(['c', 'd', 'a']);
  });

  it('rejects shapes that are not [batch, classes] or do not match the values', () => {
    expect(() => decodeTopKBatch({ values: new Float32Array(4), shape: [4] }, abcd, 1)).toThrow(
      'expected model output of shape [batch, classes], got [4]',
    );
    expect(() => decodeTopKBatch({ values: new Float32Array(7), shape: [2, 4] }, abcd, 1)).toThrow(
      'model output shape [2, 4] needs 8 values, got 7',
    );
  });

  it('names the batch row in errors', () => {
    expect(() => decodeTopKBatch([[1, 0, 0, 0], [0, Number.NaN, 0, 0]], abcd, 1)).toThrow(
      'batch row 1: score of class 1 is NaN',
    );
    expect(() => decodeTopKBatch([[1, 0, 0, 0], [1, 0, 0]], abcd, 1)).toThrow(
      'batch row 1: model output has 3 classes but the labels (label list) have 4 entries',
    );
  });

  it('returns no rows for an empty batch and still validates k', () => {
    expect(decodeTopKBatch({ values: new Float32Array(0), shape: [0, 4] }, abcd, 1)).toEqual([]);
    expect(() => decodeTopKBatch([], abcd, 0)).toThrow('k must be a positive integer');
  });
});
