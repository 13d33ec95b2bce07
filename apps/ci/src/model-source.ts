// Which weights the pipeline uses when none are named: the ImageNet weights when Keras's cache already
// holds a good copy (CI must not depend on downloading 92 MB), otherwise seeded random weights, with a
// notice, because the model's labels mean nothing then. The fidelity checks hold either way.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { defaultKerasCacheDir, IMAGENET_WEIGHTS } from '@tensorsky/export';

export interface WeightsChoice {
  /** What to pass to loadModelSource: 'imagenet', 'random', a file, or undefined for a model file's own weights. */
  weights: string | undefined;
  /** Set when the choice needs explaining (random weights in place of ImageNet's). */
  notice?: string;
}

export async function chooseWeights(options: { model?: string; weights?: string; kerasCacheDir?: string }): Promise<WeightsChoice> {
  if (options.weights !== undefined || options.model !== undefined) return { weights: options.weights };
  const cacheDir = options.kerasCacheDir ?? defaultKerasCacheDir();
  if (await imagenetWeightsCached(cacheDir)) return { weights: 'imagenet' };
  return {
    weights: 'random',
    notice: `ImageNet weights are not cached in ${cacheDir}, so InceptionV3 gets seeded random weights: the checks are as strict, but its predicted labels are meaningless`,
  };
}

/** True when the cache folder holds the ImageNet weights file with the right md5 (as Keras checks it). */
export async function imagenetWeightsCached(cacheDir: string): Promise<boolean> {
  const hash = createHash('md5');
  try {
    await pipeline(createReadStream(path.join(cacheDir, IMAGENET_WEIGHTS.fileName)), hash);
  } catch {
    return false;
  }
  return hash.digest('hex') === IMAGENET_WEIGHTS.md5;
}
