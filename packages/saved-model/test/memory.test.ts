// Peak memory of writing and reading a ~100 MB SavedModel, each measured in a fresh node process.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { scratchDir } from './io-fixtures.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'io-memory-child.mjs');
const MIB = 1024 * 1024;

interface Report {
  baselineBytes: number;
  peakBytes: number;
  pbBytes?: number;
  nodes?: number;
  firstBytes?: number[];
  contentBytes?: number;
  viewsIntoFile?: boolean;
}

async function runChild(...args: string[]): Promise<Report> {
  const { stdout } = await promisify(execFile)(process.execPath, [child, ...args], {
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: MIB,
  });
  return JSON.parse(stdout) as Report;
}

describe('memory', () => {
  const dir = path.join(scratchDir(), 'big');

  it('writes a 100 MB model with peak RSS under 3x its size', async () => {
    const report = await runChild('write', dir, '100');
    const fileBytes = statSync(path.join(dir, 'saved_model.pb')).size;
    expect(fileBytes).toBeGreaterThan(100 * MIB);
    expect(fileBytes).toBeLessThan(100 * MIB + 4096);
    // The model in memory (1x) plus one encoded buffer (1x).
    expect(report.peakBytes - report.baselineBytes).toBeLessThan(3 * fileBytes);
  });

  it('reads it back holding one copy of the file: bytes fields are views, not copies', async () => {
    const report = await runChild('read', dir);
    expect(report.nodes).toBe(10);
    expect(report.firstBytes).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(report.contentBytes).toBe(100 * MIB);
    expect(report.viewsIntoFile).toBe(true);
    // 3x is the budget; one copy of the file is what reading takes, so a second copy (2x) would show.
    expect(report.peakBytes - report.baselineBytes).toBeLessThan(1.5 * report.pbBytes!);
  });
});
