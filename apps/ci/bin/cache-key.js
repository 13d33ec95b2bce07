#!/usr/bin/env node
// A runtime input of the Nx target export-and-verify: prints what keys the export besides the code, i.e.
// the content of the weights, model and golden images the run will use (they live outside the workspace:
// Keras's cache, the repository's fixture photos). Only Node built-ins, so Nx can hash it before anything is built.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
// Keras's cache file for InceptionV3's ImageNet weights (IMAGENET_WEIGHTS in @tensorsky/export).
const imagenetFile = path.join(process.env.KERAS_HOME ?? path.join(os.homedir(), '.keras'), 'models', 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5');
const env = process.env;

/** sha256 of a file, or of every file under a folder (names and contents); "absent" when missing. */
function digest(target) {
  const hash = createHash('sha256');
  const add = (file, name) => {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(file).sort()) add(path.join(file, entry), `${name}/${entry}`);
      return;
    }
    hash.update(`${name}\0`);
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(1 << 20);
      let n;
      while ((n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  };
  try {
    add(target, '');
  } catch {
    return 'absent';
  }
  return hash.digest('hex');
}

const weights = env.TENSORSKY_WEIGHTS ?? (env.TENSORSKY_MODEL ? undefined : 'imagenet');
const lines = [
  `model ${env.TENSORSKY_MODEL ? digest(path.resolve(env.TENSORSKY_MODEL)) : 'inception_v3'}`,
  `weights ${weights === undefined ? 'model file' : weights === 'random' ? 'random' : weights === 'imagenet' ? `imagenet ${digest(imagenetFile)}` : digest(path.resolve(weights))}`,
  `seed ${env.TENSORSKY_SEED ?? '0'}`,
  ...(env.TENSORSKY_IMAGES ?? path.join(repoRoot, 'packages', 'fixtures', 'images')).split(path.delimiter).map((p) => `images ${digest(path.resolve(p))}`),
];
process.stdout.write(`${lines.join('\n')}\n`);
