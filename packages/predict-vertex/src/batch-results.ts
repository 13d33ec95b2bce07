// What a batch prediction job wrote, turned into one result per image: the prediction shards
// (`prediction.results-0000X-of-0000N`, JSONL lines {"key": ..., "prediction": ...}) and error shards
// (`prediction.errors_stats-...`, lines {"key": ..., "error": {code, message}}) decoded into labelled top-k
// classes, written as JSONL and CSV, each through a temporary file renamed into place.
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeTopK, predictionsToJson, type Labels, type Prediction } from '@tensorsky/decode';
import { classScores } from '@tensorsky/predict-cloud';

/** The instance field that names the image; Vertex AI strips it before the model and echoes it as "key". */
export const KEY_FIELD = 'key';

export interface BatchImageResult {
  /** The image: its local path, or its gs:// URI. */
  image: string;
  predictions?: Prediction[];
  /** Why this image has no prediction. */
  error?: string;
}

/** True for a shard holding failed instances rather than predictions. */
export function isErrorShard(name: string): boolean {
  return /(^|\/)(prediction\.)?errors[_.-]/.test(name);
}

/**
 * One result per image, in `images` order, from the text of every shard. An image the job wrote
 * nothing about (it stopped early) gets an error saying so.
 */
export function decodeShards(shards: { name: string; text: string }[], images: readonly string[], labels: Labels, top: number): BatchImageResult[] {
  const found = new Map<string, BatchImageResult>();
  for (const shard of shards) {
    const errors = isErrorShard(shard.name);
    shard.text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let row: { key?: unknown; instance?: { [KEY_FIELD]?: unknown }; prediction?: unknown; error?: { message?: unknown } };
      try {
        row = JSON.parse(line);
      } catch {
        throw new Error(`line ${i + 1} of ${shard.name} is not JSON; is it a batch prediction output file?`);
      }
      const image = typeof row.key === 'string' ? row.key : row.instance?.[KEY_FIELD];
      if (typeof image !== 'string') throw new Error(`line ${i + 1} of ${shard.name} names no image (no "key"); was the job created by tensorsky?`);
      if (errors || row.error !== undefined) {
        found.set(image, { image, error: typeof row.error?.message === 'string' ? row.error.message : JSON.stringify(row.error) });
      } else {
        found.set(image, { image, predictions: decodeTopK(classScores(row.prediction, image), labels, top) });
      }
    });
  }
  return images.map((image) => found.get(image) ?? { image, error: 'no prediction: the job ended before predicting this image' });
}

/** Writes results as JSONL ({"image", "top": [{index, id, label, score}]} or {"image", "error"}) and CSV. */
export async function writeResults(results: readonly BatchImageResult[], dir: string, top: number): Promise<{ jsonl: string; csv: string }> {
  await fs.mkdir(dir, { recursive: true });
  const jsonl = path.join(dir, 'predictions.jsonl');
  const csv = path.join(dir, 'predictions.csv');
  const lines = results.map((r) =>
    JSON.stringify(r.error !== undefined ? { image: r.image, error: r.error } : { image: r.image, top: predictionsToJson(r.predictions!) }),
  );
  await writeAtomically(jsonl, lines.map((l) => `${l}\n`).join(''));
  const header = ['image', ...Array.from({ length: top }, (_, i) => [`label_${i + 1}`, `score_${i + 1}`]).flat(), 'error'];
  const rows = results.map((r) => {
    const cells = Array.from({ length: top }, (_, i) => {
      const p = r.predictions?.[i];
      return p ? [p.label, String(p.score)] : ['', ''];
    }).flat();
    return [r.image, ...cells, r.error ?? ''];
  });
  await writeAtomically(csv, [header, ...rows].map((row) => `${row.map(csvCell).join(',')}\n`).join(''));
  return { jsonl, csv };
}

/** RFC 4180: quote a cell holding a comma, quote or line break, doubling its quotes. */
function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Writes beside the target, then renames: a reader sees the old file or the new one, never half of one. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(temp, text);
  await fs.rename(temp, file);
}
