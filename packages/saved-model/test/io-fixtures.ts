// Paths of the TensorFlow-written fixtures and scratch directories for the io tests.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const savedModelsDir = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'saved_models');

/** A fixture SavedModel directory, e.g. fixture('tf-serving/saved_model_half_plus_two_cpu/00000123'). */
export function fixture(relative: string): string {
  return path.join(savedModelsDir, relative);
}

/** Every directory under shared/fixtures/saved_models holding a saved_model.pb, relative and sorted. */
export function allFixtureDirs(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(path.join(dir, 'saved_model.pb'))) found.push(path.relative(savedModelsDir, dir));
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name));
    }
  };
  walk(savedModelsDir);
  return found.sort();
}

/** A fresh directory in os.tmpdir(), removed after the test file finishes. */
export function scratchDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-io-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
