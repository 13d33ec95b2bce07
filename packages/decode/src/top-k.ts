import type { Labels } from './labels.js';

export class PredictionError extends Error {
  override name = 'PredictionError';
}

export interface Prediction {
  /** Class index in the model output. */
  readonly index: number;
  /** Class id when the labels carry one (WordNet id for ImageNet). */
  readonly id?: string;
  /** Class label; the index as text when there are no labels. */
  readonly label: string;
  readonly score: number;
}

export type Scores = Float32Array | readonly number[];

/** A [batch, classes] model output: flat row-major values and their shape (e.g. a tensor's data and shape). */
export interface ScoresBatch {
  readonly values: Scores;
  readonly shape: readonly number[];
}

/**
 * The k best classes of one output row, by score descending (ties: lower index first). k larger
 * than the number of classes returns every class.
 */
export function decodeTopK(probabilities: Scores, labels: Labels, k: number): Prediction[] {
  checkK(k);
  return topK(probabilities, labels, k, '');
}

/** decodeTopK for each row of a [batch, classes] output, given as rows or as flat values plus shape. */
export function decodeTopKBatch(
  output: readonly Scores[] | ScoresBatch,
  labels: Labels,
  k: number,
): Prediction[][] {
  checkK(k);
  const rows = isScoresBatch(output) ? splitRows(output) : output;
  return rows.map((row, i) => topK(row, labels, k, `batch row ${i}: `));
}

function isScoresBatch(output: readonly Scores[] | ScoresBatch): output is ScoresBatch {
  return 'shape' in output && 'values' in output;
}

function splitRows({ values, shape }: ScoresBatch): Scores[] {
  if (shape.length !== 2) {
    throw new PredictionError(`expected model output of shape [batch, classes], got [${shape.join(', ')}]`);
  }
  const [batch, classes] = shape;
  if (values.length !== batch * classes) {
    throw new PredictionError(
      `model output shape [${batch}, ${classes}] needs ${batch * classes} values, got ${values.length}`,
    );
  }
  return Array.from({ length: batch }, (_, i) => values.slice(i * classes, (i + 1) * classes));
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new PredictionError(`k must be a positive integer, got ${k}`);
}

function topK(scores: Scores, labels: Labels, k: number, where: string): Prediction[] {
  const classes = scores.length;
  if (classes === 0) throw new PredictionError(`${where}model output has no classes`);
  if (labels.classes !== null && labels.classes.length !== classes) {
    const background =
      classes === labels.classes.length + 1
        ? ' (a model with one extra class often has a background class at index 0)'
        : '';
    throw new PredictionError(
      `${where}model output has ${classes} classes but the labels (${labels.source}) have ${labels.classes.length} entries${background}`,
    );
  }
  for (let i = 0; i < classes; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new PredictionError(`${where}score of class ${i} is ${scores[i]}; the model output is not usable`);
    }
  }
  const order = Array.from({ length: classes }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.min(k, classes)).map((index) => {
    const entry = labels.classes?.[index];
    const score = scores[index];
    if (entry === undefined) return { index, label: String(index), score };
    return entry.id === undefined
      ? { index, label: entry.label, score }
      : { index, id: entry.id, label: entry.label, score };
  });
}
