// The fixture photos (@tensorsky/fixtures) as model inputs, and temp folders for tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { IMAGES_DIR, PHOTOS } from '@tensorsky/fixtures';
import { loadModelSource, type LayersModelSource, type ModelSourceOptions } from '../../src/index.js';

export { IMAGES_DIR as imagesDir, PHOTOS, SAVED_MODELS_DIR } from '@tensorsky/fixtures';

/** A photo resized to size x size and scaled as Keras's inception preprocess_input: x / 127.5 - 1. */
export async function loadPhoto(file: string, size = 299): Promise<tf.Tensor4D> {
  const rgb = await sharp(join(IMAGES_DIR, file)).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer();
  return tf.tidy(() => tf.tensor4d(Float32Array.from(rgb, (v) => v / 127.5 - 1), [1, size, size, 3]));
}

/** A fresh temp folder; call the returned cleanup in afterAll. */
export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `tensorsky-export-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** loadModelSource for a source that must be a layers model (Keras or TF.js layers). */
export async function loadLayersSource(options: ModelSourceOptions): Promise<LayersModelSource> {
  const source = await loadModelSource(options);
  if (source.kind !== 'layers') throw new Error(`expected a layers model, got a ${source.kind} model`);
  return source;
}
