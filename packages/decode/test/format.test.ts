import { describe, expect, it } from 'vitest';
import { formatPredictionsTable, formatPredictionsText, predictionsToJson, type Prediction } from '../src/index.js';

const fruit: Prediction[] = [
  { index: 5, label: 'orange', score: 0.52361 },
  { index: 6, label: 'pineapple', score: 0.3 },
  { index: 0, label: 'apple', score: 0.000049 },
];

const imagenet: Prediction[] = [
  { index: 950, id: 'n07747607', label: 'orange', score: 0.99996 },
  { index: 954, id: 'n07753592', label: 'banana', score: 0.00004 },
];

describe('formatPredictionsText', () => {
  it('prints the tutorial format with 4 decimals', () => {
    expect(formatPredictionsText(fruit)).toBe(
      ['Predicted:', 'Score 0.5236, Label orange', 'Score 0.3000, Label pineapple', 'Score 0.0000, Label apple'].join(
        '\n',
      ),
    );
    expect(formatPredictionsText(imagenet)).toBe(
      'Predicted:\nScore 1.0000, Label orange\nScore 0.0000, Label banana',
    );
  });
});

describe('formatPredictionsTable', () => {
  it('aligns rank, score, label and id columns', () => {
    expect(formatPredictionsTable(imagenet)).toBe(
      ['rank  score   label   id', '   1  1.0000  orange  n07747607', '   2  0.0000  banana  n07753592'].join('\n'),
    );
  });

  it('leaves out the id column when the labels carry no ids', () => {
    expect(formatPredictionsTable(fruit)).toBe(
      ['rank  score   label', '   1  0.5236  orange', '   2  0.3000  pineapple', '   3  0.0000  apple'].join('\n'),
    );
  });
});

describe('predictionsToJson', () => {
  it('gives every prediction the keys index, id, label, score', () => {
    expect(predictionsToJson([fruit[0], imagenet[0]])).toEqual([
      { index: 5, id: null, label: 'orange', score: 0.52361 },
      { index: 950, id: 'n07747607', label: 'orange', score: 0.99996 },
    ]);
    expect(JSON.stringify(predictionsToJson([fruit[1]]))).toBe('[{"index":6,"id":null,"label":"pineapple","score":0.3}]');
  });
});
