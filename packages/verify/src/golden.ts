// One golden image through both models: the SavedModel (the file fed as its graph decodes it, through
// predict-local) and the reference model (the source on the same file decoded in TypeScript), compared
// by compareScores; and how the result reads in the log and in the report's problems.
import path from 'node:path';
import { decodeTopK, type Labels } from '@tensorsky/decode';
import type { JpegDctMethod } from '@tensorsky/image';
import type { LocalModel } from '@tensorsky/predict-local';
import { readImageFile } from '@tensorsky/preprocess';
import { imageFeed } from '@tensorsky/saved-model';
import { compareScores } from './compare.js';
import type { ReferenceModel } from './reference-model.js';
import type { ClassScore, ImageResult } from './report/types.js';
import { errorLine, type ImageTensor } from './run.js';

export interface GoldenModels {
  exported: LocalModel;
  input: ImageTensor;
  /** The scores output's signature key. */
  output: string;
  reference: ReferenceModel;
  /** The IDCT the SavedModel decodes JPEGs with, which the reference decodes them with too. */
  jpegDct: JpegDctMethod;
  labels: Labels;
  tolerance: number;
  topK: number;
}

/** Compares one image; with `warmUp`, first times one call apart (kernels compile, memory is allocated). */
export async function compareImage(models: GoldenModels, image: string, warmUp: boolean): Promise<{ image: ImageResult; warmupMs?: number }> {
  let bytes: Uint8Array;
  try {
    ({ bytes } = await readImageFile(image));
  } catch (err) {
    return { image: { image, bytes: 0, passed: false, error: errorLine(err) } };
  }
  const result: ImageResult = { image, bytes: bytes.length, passed: false };
  let warmupMs: number | undefined;
  let exportedScores: Float32Array;
  try {
    const feed = { [models.input.name]: [imageFeed(bytes, models.input.encoding)] };
    if (warmUp) {
      const t = performance.now();
      await models.exported.predict(feed);
      warmupMs = performance.now() - t;
    }
    const t = performance.now();
    const out = (await models.exported.predict(feed))[models.output];
    result.latencyMs = performance.now() - t;
    exportedScores = out.data as Float32Array;
  } catch (err) {
    return { image: { ...result, error: `the SavedModel failed on it: ${errorLine(err)}` }, warmupMs };
  }
  let referenceScores: Float32Array;
  try {
    const t = performance.now();
    [referenceScores] = await models.reference.scores([await models.reference.decode(bytes, image, models.jpegDct)]);
    result.referenceMs = performance.now() - t;
  } catch (err) {
    return { image: { ...result, error: `the source model failed on it: ${errorLine(err)}` }, warmupMs };
  }
  const cmp = compareScores(referenceScores, exportedScores, models.topK, models.tolerance);
  const top1 = (scores: Float32Array): ClassScore => {
    const [best] = decodeTopK(scores, models.labels, 1);
    return { index: best.index, label: best.label, score: best.score };
  };
  Object.assign(result, {
    maxAbsDiff: cmp.maxAbsDiff,
    top1Agree: cmp.top1Agree,
    topKAgree: cmp.topKAgree,
    topKOverlap: cmp.topKOverlap,
    reference: top1(referenceScores),
    exported: top1(exportedScores),
  });
  result.passed = cmp.maxAbsDiff <= models.tolerance && cmp.top1Agree && cmp.topKAgree;
  return { image: result, warmupMs };
}

/** Why an image failed, for the golden check's problems. */
export function imageProblem(im: ImageResult, tolerance: number, k: number): string {
  const name = path.basename(im.image);
  if (im.error) return `${name}: ${im.error}`;
  const why: string[] = [];
  if (!(im.maxAbsDiff! <= tolerance)) why.push(`max abs diff ${im.maxAbsDiff} > tolerance ${tolerance}`);
  if (!im.top1Agree) why.push(`top-1 differs (source ${im.reference!.label} ${im.reference!.score.toFixed(4)}, exported ${im.exported!.label} ${im.exported!.score.toFixed(4)})`);
  else if (!im.topKAgree) why.push(`top-${k} differs (${im.topKOverlap} of ${k} classes shared)`);
  return `${name}: ${why.join('; ')}`;
}

/** One progress line per image. */
export function describeImage(im: ImageResult, k: number): string {
  const name = path.basename(im.image);
  if (im.error) return `${name}: ERROR ${im.error}`;
  return `${name}: ${im.passed ? 'ok' : 'MISMATCH'}, max abs diff ${im.maxAbsDiff!.toExponential(2)}, top-1 ${im.top1Agree ? 'agrees' : 'differs'} (${im.exported!.label} ${im.exported!.score.toFixed(3)}), top-${k} overlap ${im.topKOverlap}/${k}, ${Math.round(im.latencyMs!)} ms`;
}
