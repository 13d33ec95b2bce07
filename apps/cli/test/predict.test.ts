// `tensorsky predict`: an exported InceptionV3 (seeded random weights) and the in-memory reference
// model agree on the fixture photos, and both say that their labels mean nothing; tiny image classifiers built here check the input encodings against
// the same math done directly in TF.js; bad images fail one by one while the others are still predicted.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { exportSavedModel } from '@tensorsky/export';
import { buildImageInputGraph } from '@tensorsky/export';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { DataType, GraphBuilder, writeSavedModel, type ImageEncoding } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGES_DIR, photoPaths, tfServingModel } from '@tensorsky/fixtures';
import { run } from './support/run-cli.js';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const images = IMAGES_DIR;
const PHOTOS = photoPaths();
// Keras's class index, as vendored in @tensorsky/decode (its tests pin the file's checksum).
const classIndex = JSON.parse(readFileSync(path.resolve(cliRoot, '..', '..', 'packages', 'decode', 'data', 'imagenet_class_index.json'), 'utf8')) as Record<string, [string, string]>;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-predict-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface TopJson {
  index: number;
  id: string | null;
  label: string;
  score: number;
}
interface PredictJson {
  model: string;
  backend: string;
  warnings: string[];
  predictions: ({ image: string; top: TopJson[] } | { image: string; error: string })[];
}

const inception = path.join(scratch, 'inception_v3');
/** What predict prints on stderr before the predictions of this test's export. */
const randomWeightsWarning = 'tensorsky: warning: this model has random weights (seed 1): its labels mean nothing';

/** Files that must each fail on their own, with what the message must say. */
function badImages(): { file: string; message: RegExp }[] {
  const dir = path.join(scratch, 'bad');
  mkdirSync(dir, { recursive: true });
  const write = (name: string, bytes: Uint8Array | string) => {
    writeFileSync(path.join(dir, name), bytes);
    return path.join(dir, name);
  };
  const cat = readFileSync(PHOTOS[0]);
  // SOI, then a baseline frame header (SOF0) claiming 30000x30000 with 3 components, then EOI.
  const bomb = Uint8Array.from([
    0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x75, 0x30, 0x75, 0x30, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9,
  ]);
  return [
    { file: path.join(dir, 'missing.jpg'), message: /missing\.jpg: no such file/ },
    { file: write('empty.jpg', new Uint8Array(0)), message: /empty\.jpg is empty \(0 bytes\)/ },
    { file: write('notes.jpg', 'hello, not an image\n'), message: /notes\.jpg is not a JPEG, PNG, GIF or BMP image/ },
    { file: write('truncated.jpg', cat.subarray(0, Math.floor(cat.length * 0.6))), message: /truncated\.jpg: .*(truncat|premature|end of)/i },
    { file: write('bomb.jpg', bomb), message: /bomb\.jpg is 30000x30000 = 900,000,000 pixels, more than the limit/ },
  ];
}

describe('tensorsky predict with InceptionV3', () => {
  beforeAll(async () => {
    await exportSavedModel({ modelDir: inception, weights: 'random', seed: 1, backend: 'wasm' });
  });

  it('gives the same top-5 with the exported SavedModel and the reference model on every photo', async () => {
    const glob = path.join(images, '*.jpg');
    const exported = await run('predict', '--image', glob, '--model_path', inception, '--decode_preds_fn', 'inception', '--json', '--backend', 'wasm');
    const reference = await run('predict', '--image', glob, '--weights', 'random', '--seed', '1', '--json', '--backend', 'wasm', '--batch_size', '3');
    for (const r of [exported, reference]) {
      expect(r.err).toEqual([]);
      expect(r.code).toBe(0);
    }
    const a = exported.json[0] as PredictJson;
    const b = reference.json[0] as PredictJson;
    expect(Object.keys(a)).toEqual(['model', 'backend', 'warnings', 'predictions']);
    const warnings = ['this model has random weights (seed 1): its labels mean nothing'];
    expect(a).toMatchObject({ model: inception, backend: 'wasm', warnings });
    expect(b).toMatchObject({ model: 'inception_v3', backend: 'wasm', warnings });
    // A glob expands in file-name order.
    expect(a.predictions.map((p) => p.image)).toEqual([...PHOTOS].sort());
    expect(b.predictions.map((p) => p.image)).toEqual([...PHOTOS].sort());
    for (const [i, p] of a.predictions.entries()) {
      const q = b.predictions[i];
      if (!('top' in p) || !('top' in q)) throw new Error(`no prediction for ${p.image}`);
      expect(p.top.map((t) => t.index)).toEqual(q.top.map((t) => t.index));
      for (const [k, t] of p.top.entries()) {
        expect(Object.keys(t)).toEqual(['index', 'id', 'label', 'score']);
        expect(Math.abs(t.score - q.top[k].score)).toBeLessThan(1e-4);
        expect([t.id, t.label]).toEqual(classIndex[String(t.index)]);
        if (k > 0) expect(t.score).toBeLessThanOrEqual(p.top[k - 1].score);
      }
    }
    // The photos do not all get the same answer (the comparison would be weak otherwise).
    expect(new Set(a.predictions.map((p) => ('top' in p ? p.top.map((t) => t.index).join() : ''))).size).toBeGreaterThan(1);
  });

  it('says which engine ran: onnx by default; wasm with a one-line note when ONNX Runtime cannot load', async () => {
    const cat = path.join(images, 'cat.jpg');
    const onnx = await run('predict', '--image', cat, '--model_path', inception, '--json', '--threads', '1');
    expect(onnx.code).toBe(0);
    expect(onnx.json[0]).toMatchObject({ backend: 'onnx' });
    expect(onnx.json[0].fallback).toBeUndefined();
    process.env.TENSORSKY_ONNXRUNTIME = path.join(scratch, 'no-such-onnxruntime.mjs');
    try {
      const text = await run('predict', '--image', cat, '--model_path', inception);
      expect(text.code).toBe(0);
      expect(text.err).toContainEqual(expect.stringMatching(/^tensorsky: note: engine onnx: onnxruntime-node cannot load \(.*no-such-onnxruntime\.mjs.*\); running on wasm$/));
      const json = await run('predict', '--image', cat, '--model_path', inception, '--json');
      expect(json.json[0]).toMatchObject({ backend: 'wasm', fallback: expect.stringMatching(/^engine onnx: onnxruntime-node cannot load/) });
      // Same top-5 on both engines.
      const top = (r: PredictJson) => (r.predictions[0] as { top: TopJson[] }).top.map((t) => t.index);
      expect(top(json.json[0])).toEqual(top(onnx.json[0]));
    } finally {
      delete process.env.TENSORSKY_ONNXRUNTIME;
    }
  });

  it("prints the tutorial's text, or a table, with labels from the SavedModel's assets/labels.txt", async () => {
    const text = await run('predict', '--image', PHOTOS[0], '--image', PHOTOS[1], '--model_path', inception, '--top', '3');
    expect(text.code).toBe(0);
    // The export recorded its random weights (assets.extra/tensorsky_provenance.json): one line on stderr.
    expect(text.err).toEqual([randomWeightsWarning]);
    const lines = text.out;
    expect(lines).toHaveLength(11);
    expect(lines.slice(0, 2)).toEqual([PHOTOS[0], 'Predicted:']);
    expect(lines[5]).toBe('');
    expect(lines.slice(6, 8)).toEqual([PHOTOS[1], 'Predicted:']);
    const labels = new Set(Object.values(classIndex).map(([, label]) => label));
    for (const line of [...lines.slice(2, 5), ...lines.slice(8, 11)]) {
      const m = /^Score (\d\.\d{4}), Label (\S+)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(labels.has(m![2])).toBe(true);
    }

    const table = await run('predict', '--image', PHOTOS[0], '--model_path', inception, '--table', '--top', '2');
    expect(table.code).toBe(0);
    const rows = table.out;
    expect(rows[0]).toBe(PHOTOS[0]);
    expect(rows[1]).toMatch(/^rank {2}score {3}label/);
    expect(rows.slice(2)).toHaveLength(2);
  });

  it('reports each bad image on its own, still predicts the others and exits non-zero', async () => {
    const bad = badImages();
    const files = [PHOTOS[0], ...bad.map((b) => b.file), PHOTOS[1]];
    for (const batch of ['1', '4']) {
      const r = await run('predict', ...files.flatMap((f) => ['--image', f]), '--model_path', inception, '--json', '--batch_size', batch);
      expect(r.code).toBe(1);
      expect(r.err).toEqual(['tensorsky: 5 of 7 images could not be predicted']);
      const { predictions } = r.json[0] as PredictJson;
      expect(predictions.map((p) => p.image)).toEqual(files);
      for (const p of [predictions[0], predictions[6]]) {
        expect(Object.keys(p)).toEqual(['image', 'top']);
        expect('top' in p && p.top).toHaveLength(5);
      }
      bad.forEach((b, i) => {
        const p = predictions[i + 1];
        expect(Object.keys(p)).toEqual(['image', 'error']);
        expect('error' in p && p.error).toMatch(b.message);
      });
    }

    const text = await run('predict', '--image', bad[3].file, '--image', PHOTOS[0], '--model_path', inception);
    expect(text.code).toBe(1);
    expect(text.out[0]).toBe(PHOTOS[0]);
    expect(text.err).toEqual([randomWeightsWarning, expect.stringMatching(/^tensorsky: .*truncated\.jpg: /), 'tensorsky: 1 of 2 images could not be predicted']);
  });

  it('reports bad images on the reference path too', async () => {
    const bad = badImages();
    const r = await run('predict', '--image', PHOTOS[2], ...bad.flatMap((b) => ['--image', b.file]), '--weights', 'random', '--json', '--batch_size', '2');
    expect(r.code).toBe(1);
    const { predictions } = r.json[0] as PredictJson;
    expect('top' in predictions[0] && predictions[0].top).toHaveLength(5);
    bad.forEach((b, i) => expect('error' in predictions[i + 1] && (predictions[i + 1] as { error: string }).error).toMatch(b.message));
  });

  it('rejects labels that do not match the model, --weights with --model_path, and models without an image input', async () => {
    const labels = await run('predict', '--image', PHOTOS[0], '--model_path', inception, '--decode_preds_fn', 'transfert');
    expect(labels.code).toBe(1);
    expect(labels.err).toEqual([
      randomWeightsWarning,
      'tensorsky: the model outputs 1000 classes but the labels (transfert) have 9; pass matching labels with --decode_preds_fn',
    ]);
    const weights = await run('predict', '--image', PHOTOS[0], '--model_path', inception, '--weights', 'random');
    expect(weights.code).toBe(1);
    expect(weights.err[0]).toMatch(/--weights and --seed choose the reference model/);
    // TF Serving's half_plus_two takes floats, not images.
    const halfPlusTwo = path.join(tfServingModel('saved_model_half_plus_two_cpu'), '00000123');
    const numeric = await run('predict', '--image', PHOTOS[0], '--model_path', halfPlusTwo);
    expect(numeric.code).toBe(1);
    expect(numeric.err).toEqual([
      `tensorsky: ${halfPlusTwo}: predict needs a model whose serving signature takes encoded images as one DT_STRING input; its inputs are x (DT_FLOAT)`,
    ]);
  });
});

describe('tensorsky predict feeds the encoding the graph decodes', () => {
  const SIZE = 8;
  const CLASSES = 4;
  const weights = Float32Array.from({ length: 3 * CLASSES }, (_, i) => ((i * 7) % 11) / 5 - 1);

  /** Image input graph → mean over pixels [n, 3] → MatMul [3, 4] → Softmax. */
  async function tinyClassifier(format: ImageEncoding): Promise<string> {
    const g = new GraphBuilder();
    const { input, images: pixels } = buildImageInputGraph(g, { inputFormat: format, height: SIZE, width: SIZE, preprocess: 'unit' });
    const mean = g.mean(pixels, [1, 2], { name: 'mean' });
    const logits = g.matMul(mean, g.constant('w', weights, [3, CLASSES]), { name: 'logits' });
    const scores = g.softmax(logits, { name: 'scores' });
    const dir = path.join(scratch, `tiny-${format}`);
    await writeSavedModel(dir, {
      savedModel: {
        saved_model_schema_version: 1,
        meta_graphs: [
          { meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: g.signature({ image: input }, { scores }) } },
        ],
      },
    });
    return dir;
  }

  /** The same computation in TF.js on the reference preprocessing. */
  async function expectedScores(file: string): Promise<Float32Array> {
    const x = preprocessImagesReference(tf, [await decodeImageToRgb(readFileSync(file), { dctMethod: 'accurate' })], { height: SIZE, width: SIZE, preprocess: 'unit' });
    const y = tf.tidy(() => tf.softmax(tf.matMul(tf.mean(x, [1, 2]), tf.tensor2d(weights, [3, CLASSES]))));
    const out = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    return out;
  }

  it.each(['b64', 'bytes'] as const)('%s input: scores match TF.js on the same pixels, labels are class indices', async (format) => {
    const dir = await tinyClassifier(format);
    const files = [PHOTOS[0], path.join(images, 'image_png_test.png')];
    const r = await run('predict', ...files.flatMap((f) => ['--image', f]), '--model_path', dir, '--json', '--top', '10', '--batch_size', '2');
    expect(r.err).toEqual([]);
    const { predictions } = r.json[0] as PredictJson;
    for (const [i, p] of predictions.entries()) {
      if (!('top' in p)) throw new Error(p.error);
      const expected = await expectedScores(files[i]);
      expect(p.top).toHaveLength(CLASSES);
      for (const t of p.top) {
        expect(t.label).toBe(String(t.index));
        expect(t.id).toBeNull();
        expect(Math.abs(t.score - expected[t.index])).toBeLessThan(1e-5);
      }
    }
  });
});
