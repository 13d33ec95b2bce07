// export --jpeg_dct end to end: a small seeded classifier exported with each IDCT, run by predict-local's
// executor on the fixture JPEGs, against the source model run on the pixels djpeg (libjpeg-turbo's own
// tool, written by nobody here) gives with the same IDCT, resized and scaled by the TF.js reference.
// The two exports must also differ from each other: the IDCT changes what the model sees.
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { djpeg, djpegSuiteTitle, HAS_DJPEG, IMAGES_DIR, jpegFiles } from '@tensorsky/fixtures';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { readSavedModel, servedJpegIdct, validateGraph, tfOpDefs } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, randomWeights, type ExportResult, type LayersModelSource } from '../src/index.js';
import { maxAbsDiff, predictExported, smallClassifier } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';

const SIZE = 40;
const CLASSES = 10;

/** conv → pool → conv → global pool → softmax: small, but every pixel reaches the probabilities. */
describe.skipIf(!HAS_DJPEG)(djpegSuiteTitle('export --jpeg_dct: probabilities on the pixels djpeg gives for that IDCT'), () => {
  const files = jpegFiles(IMAGES_DIR);
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let source: LayersModelSource;
  const exports: Partial<Record<'fast' | 'accurate', ExportResult>> = {};

  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('jpeg-dct');
    const model = smallClassifier(SIZE, CLASSES, 'small');
    await randomWeights(model, 14);
    source = {
      kind: 'layers',
      model,
      name: 'small',
      inputShape: [SIZE, SIZE, 3],
      classes: CLASSES,
      preprocess: undefined,
      labels: undefined,
      weights: 'random (seed 14)',
      provenance: { model: { kind: 'built-in', name: 'small' }, weights: { kind: 'random', seed: 14 } },
    };
    for (const jpegDct of ['fast', 'accurate'] as const) {
      exports[jpegDct] = await exportSavedModel({ modelDir: join(temp.dir, jpegDct), source, jpegDct, preprocess: 'inception', labels: 'none' });
    }
  });
  afterAll(async () => {
    source?.model.dispose();
    await temp?.cleanup();
  });

  /** The source model on djpeg's pixels (-dct fast or int), forced to RGB as channels=3 asks. */
  async function referenceProbabilities(dct: 'fast' | 'int'): Promise<Float32Array> {
    const images = files.map((file) => {
      const pnm = djpeg(file, ['-dct', dct, '-rgb']);
      expect(pnm.channels).toBe(3);
      return { data: pnm.data, height: pnm.height, width: pnm.width };
    });
    const x = preprocessImagesReference(tf, images, { height: SIZE, width: SIZE, preprocess: 'inception' });
    const y = source.model.predict(x) as tf.Tensor;
    const data = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    return data;
  }

  async function exportedProbabilities(jpegDct: 'fast' | 'accurate'): Promise<Float32Array> {
    const bytes = await Promise.all(files.map((f) => readFile(f)));
    const out = await predictExported(exports[jpegDct]!.modelDir, bytes.map((b) => b.toString('base64url')));
    expect(out.shape).toEqual([files.length, CLASSES]);
    return out.data;
  }

  it('covers the fixture photos', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
  });

  it('records the IDCT in the result, the provenance and the graph; every node is valid', async () => {
    for (const jpegDct of ['fast', 'accurate'] as const) {
      const result = exports[jpegDct]!;
      expect(result.jpegDct).toBe(jpegDct);
      expect(result.provenance.jpegDct).toBe(jpegDct);
      const { savedModel } = await readSavedModel(result.modelDir);
      const metaGraph = savedModel.meta_graphs![0];
      const nodes = metaGraph.graph_def!.node!;
      expect(servedJpegIdct(nodes)).toBe(jpegDct);
      expect(validateGraph(metaGraph.graph_def!, tfOpDefs(), { signatures: metaGraph.signature_def! }).issues).toEqual([]);
      const ops = new Set(nodes.map((n) => n.op));
      expect(['DecodeJpeg', 'Substr', 'Equal'].map((op) => ops.has(op))).toEqual([jpegDct === 'accurate', jpegDct === 'accurate', jpegDct === 'accurate']);
    }
  });

  it.each([
    ['fast', 'fast'],
    ['accurate', 'int'],
  ] as const)('--jpeg_dct %s gives the source model on `djpeg -dct %s` pixels within 1e-5', async (jpegDct, dct) => {
    const exported = await exportedProbabilities(jpegDct);
    const reference = await referenceProbabilities(dct);
    expect(maxAbsDiff(exported, reference)).toBeLessThanOrEqual(1e-5);
  });

  it('the two exports differ: each is further than 1e-5 from the other IDCT’s reference', async () => {
    const [fast, accurate] = [await exportedProbabilities('fast'), await exportedProbabilities('accurate')];
    const [fastReference, accurateReference] = [await referenceProbabilities('fast'), await referenceProbabilities('int')];
    const between = maxAbsDiff(fast, accurate);
    console.log(`jpeg_dct: max |fast - accurate| over ${files.length} JPEGs x ${CLASSES} classes = ${between.toExponential(2)}`);
    expect(between).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(fast, accurateReference)).toBeGreaterThan(1e-5);
    expect(maxAbsDiff(accurate, fastReference)).toBeGreaterThan(1e-5);
  });
});
