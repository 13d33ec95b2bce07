// Paths of the TensorFlow-written fixtures and scratch directories for the io tests.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { SAVED_MODELS_DIR, savedModelDirs } from '@tensorsky/fixtures';

export const savedModelsDir = SAVED_MODELS_DIR;

/** A fixture SavedModel directory, e.g. fixture('tf-serving/saved_model_half_plus_two_cpu/00000123'). */
export function fixture(relative: string): string {
  return path.join(savedModelsDir, relative);
}

/** Every fixture folder holding a saved_model.pb, relative to savedModelsDir and sorted. */
export function allFixtureDirs(): string[] {
  return savedModelDirs().map((dir) => path.relative(savedModelsDir, dir));
}

/** A fresh directory in os.tmpdir(), removed after the test file finishes. */
export function scratchDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-io-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
