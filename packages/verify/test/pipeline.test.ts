// The pipeline end to end on InceptionV3 with seeded random weights and two fixture photos: a faithful
// export passes (including the local deployment smoke test) and warns that its labels mean nothing;
// exports broken on purpose (wrong normalisation, a corrupted weight tensor) fail, and the report says
// which check failed and why; without ImageNet weights the default run fails instead of going random.
import fs from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { exportSavedModel } from '@tensorsky/export';
import { getMetaGraph, readProvenance, readSavedModel, writeSavedModel } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAndVerify } from '../src/pipeline.js';
import type { ExportAndVerifyResult, VerifyReport } from '../src/report/types.js';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const fixtureImages = IMAGES_DIR;
const IMAGES = [path.join(fixtureImages, 'cat.jpg'), path.join(fixtureImages, 'image_png_test.png')];

let work: string;
let good: ExportAndVerifyResult;
let progress: string[];

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'tensorsky-ci-test-'));
  progress = [];
  good = await exportAndVerify({
    images: IMAGES,
    weights: 'random',
    outDir: path.join(work, 'out'),
    reportDir: path.join(work, 'reports'),
    backend: 'wasm',
    deploy: 'local',
    // Test suites share 2 cores, so one prediction may take seconds here: the budget only has to be
    // generous. The latency check failing is tested with an impossible budget (apps/cli/test/verify.test.ts).
    latencyBudgetMs: 120_000,
    onProgress: (line) => progress.push(line),
  });
}, 420_000);

afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

function check(report: VerifyReport, name: string) {
  return report.checks.find((c) => c.name === name);
}

describe('a faithful export', () => {
  it('passes every check, with random weights and a warning that its labels mean nothing', () => {
    const { report } = good;
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['export', 'passed'],
      ['graph', 'passed'],
      ['signature', 'passed'],
      ['golden', 'passed'],
      ['latency', 'passed'],
      ['deploy', 'passed'],
    ]);
    expect(report.passed).toBe(true);
    expect(report.model).toMatchObject({ name: 'inception_v3', weights: 'random (seed 0)', preprocess: 'inception', inputShape: [299, 299, 3], classes: 1000 });
    expect(report.warnings).toEqual(['this model has random weights (seed 0): its labels mean nothing']);
    expect(progress).toContain('loading InceptionV3 (weights: random)');
  });

  it('writes a TF Serving repository version and compares every image', async () => {
    const { report } = good;
    expect(report.savedModel.dir).toBe(path.join(work, 'out', 'inception_v3', '1'));
    await expect(fs.stat(path.join(report.savedModel.dir, 'saved_model.pb'))).resolves.toBeTruthy();
    expect(await readProvenance(report.savedModel.dir)).toMatchObject({ model: { kind: 'built-in', name: 'inception_v3' }, weights: { kind: 'random', seed: 0 } });
    expect(report.images.map((im) => path.basename(im.image))).toEqual(['cat.jpg', 'image_png_test.png']);
    for (const im of report.images) {
      expect(im.bytes).toBe((await fs.stat(im.image)).size);
      expect(im.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(im.exported!.index).toBe(im.reference!.index);
      expect(im.latencyMs).toBeGreaterThan(0);
    }
    expect(report.latency).toMatchObject({ count: 2, budgetMs: 120_000 });
    expect(report.deploy).toMatchObject({ target: 'local', version: '1', image: IMAGES[0], top1Agree: true });
    expect(report.deploy!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/models\/inception_v3:predict$/);
  });

  it('writes the report as JSON, Markdown and a valid SVG chart', async () => {
    const { files, report } = good;
    expect(JSON.parse(await fs.readFile(files.json, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
    const markdown = await fs.readFile(files.markdown, 'utf8');
    expect(markdown).toMatch(/^# Export and verify: PASSED/);
    expect(markdown).toContain('> **Warning:** this model has random weights (seed 0): its labels mean nothing');
    expect(markdown).toContain('| cat.jpg |');
    expect(markdown).toContain('![per-image agreement and latency](export-and-verify.svg)');
    // librsvg (through sharp) parses the SVG as XML and renders it at its declared size.
    const svg = await fs.readFile(files.chart);
    const meta = await sharp(svg).metadata();
    expect(meta.format).toBe('svg');
    expect(meta.width).toBeGreaterThan(600);
    await sharp(svg).png().toBuffer();
    expect(await fs.readdir(path.dirname(files.json))).toEqual(['export-and-verify.json', 'export-and-verify.md', 'export-and-verify.svg']);
  });
});

describe('a broken export', () => {
  const verify = (savedModel: string, reportDir: string) =>
    exportAndVerify({ savedModel, images: IMAGES, outDir: path.join(work, 'unused'), reportDir, weights: 'random', seed: 0, backend: 'wasm' });

  it('fails the golden check when the export normalises pixels wrongly', async () => {
    const dir = path.join(work, 'wrong-preprocess');
    // x / 255 instead of InceptionV3's x / 127.5 - 1: a valid graph that computes something else.
    await exportSavedModel({ modelDir: dir, weights: 'random', seed: 0, preprocess: 'unit', backend: 'wasm' });
    const { report, files } = await verify(dir, path.join(work, 'reports-preprocess'));
    expect(report.passed).toBe(false);
    expect(check(report, 'export')?.status).toBe('skipped');
    expect(check(report, 'graph')?.status).toBe('passed');
    const golden = check(report, 'golden')!;
    expect(golden.status).toBe('failed');
    expect(golden.problems).toHaveLength(2);
    expect(golden.problems[0]).toMatch(/^cat\.jpg: max abs diff [\d.e-]+ > tolerance 0\.0001/);
    for (const im of report.images) expect(im.maxAbsDiff).toBeGreaterThan(1e-3);
    const markdown = await fs.readFile(files.markdown, 'utf8');
    expect(markdown).toMatch(/^# Export and verify: FAILED/);
    expect(markdown).toMatch(/## Why it failed\n\n- golden: cat\.jpg: max abs diff/);
  }, 120_000);

  it('fails the golden check when a weight tensor in saved_model.pb is corrupted', async () => {
    const { savedModel } = await readSavedModel(good.report.savedModel.dir);
    const kernel = getMetaGraph(savedModel).graph_def!.node!.find((n) => n.name === 'conv2d_1/kernel')!;
    const tensor = kernel.attr!.value!.tensor!;
    // Zero the first half of the stem convolution's kernel, as a truncated or overwritten file would.
    const content = Uint8Array.from(tensor.tensor_content!);
    content.fill(0, 0, content.length / 2);
    tensor.tensor_content = content;
    const dir = path.join(work, 'corrupted');
    const labels = await fs.readFile(path.join(good.report.savedModel.dir, 'assets', 'labels.txt'));
    await writeSavedModel(dir, { savedModel, assets: { 'labels.txt': labels } });

    const { report } = await verify(dir, path.join(work, 'reports-corrupted'));
    expect(report.passed).toBe(false);
    // Still a valid graph: only the numbers are wrong, which only the golden images reveal.
    expect(check(report, 'graph')?.status).toBe('passed');
    expect(check(report, 'signature')?.status).toBe('passed');
    expect(check(report, 'golden')?.status).toBe('failed');
    expect(check(report, 'golden')?.problems.join('\n')).toMatch(/cat\.jpg: max abs diff/);
  }, 120_000);

  it('fails the graph check when a node breaks its op definition', async () => {
    const { savedModel } = await readSavedModel(good.report.savedModel.dir);
    const graph = getMetaGraph(savedModel).graph_def!;
    // Conv2D has no attr "dilation" (it is "dilations"); TensorFlow refuses unknown attrs at load time.
    const conv = graph.node!.find((n) => n.op === 'Conv2D')!;
    conv.attr!.dilation = { i: 2 };
    const dir = path.join(work, 'invalid-graph');
    await writeSavedModel(dir, { savedModel });
    const { report } = await verify(dir, path.join(work, 'reports-graph'));
    const graphCheck = check(report, 'graph')!;
    expect(graphCheck.status).toBe('failed');
    expect(graphCheck.problems.join('\n')).toContain(conv.name);
    expect(graphCheck.problems.join('\n')).toMatch(/dilation/);
    expect(report.passed).toBe(false);
  }, 120_000);
});

describe('without ImageNet weights', () => {
  it('fails like export when they were not asked for otherwise, saying what to do', async () => {
    // An empty Keras cache and a port nothing listens on: as offline, without touching the network.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/weights.h5`;
    await new Promise((resolve) => probe.close(resolve));
    const cacheDir = path.join(work, 'empty-keras-cache');
    const { report } = await exportAndVerify({ images: IMAGES, outDir: path.join(work, 'offline'), reportDir: path.join(work, 'reports-offline'), imagenet: { cacheDir, url } });
    expect(report.passed).toBe(false);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['export', 'failed'],
      ['graph', 'skipped'],
      ['signature', 'skipped'],
      ['golden', 'skipped'],
      ['latency', 'skipped'],
    ]);
    expect(check(report, 'export')!.summary).toBe(
      `cannot load the source model: ImageNet weights are not available offline (cannot reach ${new URL(url).host}): put inception_v3_weights_tf_dim_ordering_tf_kernels.h5 in ${cacheDir}, pass --weights FILE.h5, or --weights random for a run whose labels mean nothing`,
    );
    expect(report.warnings).toEqual([]);
  });
});
