// Output shards to one result per image, and the JSONL and CSV files, on hand-written shards.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labelsFromList } from '@tensorsky/decode';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeShards, writeResults } from '../src/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-batch-results-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const labels = labelsFromList(['apple', 'cat', 'dog']);

describe('decodeShards', () => {
  it('takes keys or echoed instances, error shards, and says which images the job never reached', () => {
    const results = decodeShards(
      [
        { name: 'out/prediction.results-00000-of-00002', text: '{"key":"a.jpg","prediction":[0.1,0.7,0.2]}\n\n' },
        // Without a key field, Vertex AI echoes the instance (ours carries the key inside).
        { name: 'out/prediction.results-00001-of-00002', text: '{"instance":{"key":"b, c.jpg","inputs":"..."},"prediction":{"outputs":[0.5,0.1,0.4]}}\n' },
        { name: 'out/prediction.errors_stats-00000-of-00001', text: '{"key":"d.jpg","error":{"code":3,"message":"Invalid JPEG data"}}\n' },
      ],
      ['a.jpg', 'b, c.jpg', 'd.jpg', 'e.jpg'],
      labels,
      2,
    );
    expect(results.map((r) => [r.image, r.predictions?.map((p) => `${p.label} ${p.score}`) ?? r.error])).toEqual([
      ['a.jpg', ['cat 0.7', 'dog 0.2']],
      ['b, c.jpg', ['apple 0.5', 'dog 0.4']],
      ['d.jpg', 'Invalid JPEG data'],
      ['e.jpg', 'no prediction: the job ended before predicting this image'],
    ]);
  });

  it('refuses a line that is not JSON or names no image, saying which', () => {
    expect(() => decodeShards([{ name: 'prediction.results-00000-of-00001', text: '{"key":"a.jpg"\n' }], [], labels, 1)).toThrow(
      'line 1 of prediction.results-00000-of-00001 is not JSON; is it a batch prediction output file?',
    );
    expect(() => decodeShards([{ name: 'p', text: '{"prediction":[1]}' }], [], labels, 1)).toThrow('line 1 of p names no image (no "key"); was the job created by tensorsky?');
  });
});

describe('writeResults', () => {
  it('writes JSONL and RFC 4180 CSV, through temporary files', async () => {
    const results = decodeShards([{ name: 'prediction.results-00000-of-00001', text: '{"key":"b, \\"c\\".jpg","prediction":[0.25,0.5,0.25]}\n' }], ['b, "c".jpg', 'x.jpg'], labels, 2);
    const files = await writeResults(results, dir, 2);
    expect(readFileSync(files.csv, 'utf8')).toBe('image,label_1,score_1,label_2,score_2,error\n"b, ""c"".jpg",cat,0.5,apple,0.25,\nx.jpg,,,,,no prediction: the job ended before predicting this image\n');
    expect(readFileSync(files.jsonl, 'utf8').split('\n')[0]).toBe('{"image":"b, \\"c\\".jpg","top":[{"index":1,"id":null,"label":"cat","score":0.5},{"index":0,"id":null,"label":"apple","score":0.25}]}');
    expect(readdirSync(dir).sort()).toEqual(['predictions.csv', 'predictions.jsonl']);
  });
});
