// `tensorsky verify` in-process: InceptionV3 with seeded random weights exported and checked against
// the source model on one fixture photo (passes, report written, warns that its labels mean nothing), the
// same SavedModel re-checked with an impossible latency budget (fails: exit 1, one line saying which
// check and where the report is), the default ImageNet weights unavailable (fails, saying what to do),
// and flag mistakes reported before any work.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMAGENET_WEIGHTS } from '@tensorsky/export';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { run } from './support/run-cli.js';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const cat = path.join(IMAGES_DIR, 'cat.jpg');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-verify-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('tensorsky verify', () => {
  const outDir = path.join(scratch, 'out');
  const modelDir = path.join(outDir, 'inception_v3', '1');

  it('exports, checks and reports; snake_case flags work', async () => {
    const reportDir = path.join(scratch, 'reports');
    // A generous budget: test suites share 2 cores, so one prediction may take seconds here. The
    // failing side of the latency check is the impossible budget below.
    const result = await run('verify', '--images', cat, '--weights', 'random', '--seed', '2', '--out_dir', outDir, '--report_dir', reportDir, '--backend', 'wasm', '--latency_budget_ms', '120000');
    expect(result.err.filter((l) => !l.startsWith('tensorsky verify: '))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe(`export-and-verify PASSED: inception_v3, weights random (seed 2), SavedModel ${modelDir}`);
    expect(result.out.slice(1, 6).map((l) => l.split(':')[0])).toEqual(['  ok   export', '  ok   graph', '  ok   signature', '  ok   golden', '  ok   latency']);
    expect(result.out[4]).toMatch(/^ {2}ok {3}golden: 1 of 1 images within 0.0001 /);
    expect(result.out.at(-1)).toBe(
      `Report: ${path.join(reportDir, 'export-and-verify.md')}, ${path.join(reportDir, 'export-and-verify.json')}, ${path.join(reportDir, 'export-and-verify.svg')}`,
    );
    expect(result.err.at(-1)).toBe('tensorsky verify: warning: this model has random weights (seed 2): its labels mean nothing');
    const report = JSON.parse(readFileSync(path.join(reportDir, 'export-and-verify.json'), 'utf8'));
    expect(report.passed).toBe(true);
    expect(report.warnings).toEqual(['this model has random weights (seed 2): its labels mean nothing']);
    expect(report.images.map((im: { image: string }) => im.image)).toEqual([cat]);
  }, 120_000);

  it('exits 1 naming the failed check and the report when a check fails', async () => {
    const reportDir = path.join(scratch, 'reports-failed');
    // No prediction takes under a microsecond, so this budget always fails.
    const result = await run('verify', '--saved_model', modelDir, '--images', cat, '--weights', 'random', '--seed', '2', '--latency_budget_ms', '0.001', '--report_dir', reportDir, '--json');
    expect(result.code).toBe(1);
    expect(result.json).toHaveLength(1);
    const report = result.json[0] as { passed: boolean; checks: { name: string; status: string }[] };
    expect(report.passed).toBe(false);
    expect(report.checks.map((c) => `${c.name} ${c.status}`)).toEqual(['export skipped', 'graph passed', 'signature passed', 'golden passed', 'latency failed']);
    expect(result.err.at(-1)).toMatch(
      new RegExp(`^tensorsky: verification failed: latency: p95 \\d+ ms is over the budget of 0.001 ms; slowest: cat.jpg: \\d+ ms; see ${path.join(reportDir, 'export-and-verify.md')}$`),
    );
  }, 120_000);

  describe('without ImageNet weights', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
      vi.unstubAllGlobals();
    });

    it('fails, saying what to do, when no weights were asked for', async () => {
      // Nothing cached (an empty KERAS_HOME, whatever HOME holds) and no network: fetch fails as offline.
      const kerasHome = path.join(scratch, 'keras-home');
      vi.stubEnv('KERAS_HOME', kerasHome);
      const offline = vi.fn(async () => {
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND storage.googleapis.com'), { code: 'ENOTFOUND' }) });
      });
      vi.stubGlobal('fetch', offline);
      const reportDir = path.join(scratch, 'reports-offline');
      const result = await run('verify', '--images', cat, '--out_dir', path.join(scratch, 'out-offline'), '--report_dir', reportDir);
      expect(result.code).toBe(1);
      expect(offline).toHaveBeenCalledExactlyOnceWith(IMAGENET_WEIGHTS.url);
      expect(result.out[0]).toMatch(/^export-and-verify FAILED: inception_v3/);
      expect(result.err.at(-1)).toBe(
        `tensorsky: verification failed: export: cannot load the source model: ImageNet weights are not available offline (cannot reach storage.googleapis.com): put ${IMAGENET_WEIGHTS.fileName} in ${path.join(kerasHome, 'models')}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing; see ${path.join(reportDir, 'export-and-verify.md')}`,
      );
    });
  });

  it('reports flag mistakes before doing any work', async () => {
    const missing = await run('verify', '--weights', 'random');
    expect(missing.code).toBe(2);
    expect(missing.err).toEqual(['tensorsky: missing --images (see tensorsky verify --help)']);
    const bad = await run('verify', '--images', cat, '--top_k', '0');
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual(['tensorsky: --top_k must be a positive integer, got 0 (see tensorsky verify --help)']);
    const kebab = await run('verify', '--images', cat, '--tolerance', '-1');
    expect(kebab.code).toBe(2);
    expect(kebab.err).toEqual(['tensorsky: --tolerance must be a number >= 0, got -1 (see tensorsky verify --help)']);
    const combination = await run('verify', '--images', cat, '--deploy', 'vertex', '--project_id', 'p');
    expect(combination.code).toBe(2);
    expect(combination.err[0]).toMatch(/^tensorsky: --deploy vertex needs --project_id and --bucket/);
  });
});
