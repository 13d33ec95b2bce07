import type { Prediction } from './top-k.js';

/** JSON form of a prediction: always the same four keys, id null when the labels carry none. */
export interface PredictionJson {
  index: number;
  id: string | null;
  label: string;
  score: number;
}

function formatScore(score: number): string {
  return score.toFixed(4);
}

/** The tutorial's output: a `Predicted:` line, then `Score 0.5236, Label orange` per class. */
export function formatPredictionsText(predictions: readonly Prediction[]): string {
  return ['Predicted:', ...predictions.map((p) => `Score ${formatScore(p.score)}, Label ${p.label}`)].join('\n');
}

/** An aligned table with columns rank, score, label and (when the labels carry ids) id. */
export function formatPredictionsTable(predictions: readonly Prediction[]): string {
  const withIds = predictions.some((p) => p.id !== undefined);
  const header = withIds ? ['rank', 'score', 'label', 'id'] : ['rank', 'score', 'label'];
  const rows = predictions.map((p, i) => {
    const cells = [String(i + 1), formatScore(p.score), p.label];
    return withIds ? [...cells, p.id ?? ''] : cells;
  });
  const widths = header.map((title, c) => Math.max(title.length, ...rows.map((row) => row[c].length)));
  return [header, ...rows]
    .map((row) => row.map((cell, c) => (c === 0 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd())
    .join('\n');
}

export function predictionsToJson(predictions: readonly Prediction[]): PredictionJson[] {
  return predictions.map((p) => ({ index: p.index, id: p.id ?? null, label: p.label, score: p.score }));
}
