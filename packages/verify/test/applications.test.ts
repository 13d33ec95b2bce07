// `verify --model mobilenet_v2|resnet50|xception|efficientnet_b0 --weights random`: each built-in Keras application
// exported and checked against its in-memory model on two fixture images (graph validity, the signature,
// golden scores within verify's default tolerance, same top-5), with the application's own size and
// preprocess_input mode (ResNet50: caffe, BGR minus ImageNet means; EfficientNetB0: none, it scales
// the [0, 255] pixels itself with Rescaling and Normalization layers).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IMAGES_DIR } from '@tensorsky/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAndVerify } from '../src/pipeline.js';

const IMAGES = [path.join(IMAGES_DIR, 'cat.jpg'), path.join(IMAGES_DIR, 'image_png_test.png')];

let work: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'tensorsky-verify-applications-'));
});
afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('verify on the built-in Keras applications', () => {
  it.each([
    ['mobilenet_v2', 'inception', [224, 224, 3]],
    ['resnet50', 'caffe', [224, 224, 3]],
    ['xception', 'inception', [299, 299, 3]],
    ['efficientnet_b0', 'none', [224, 224, 3]],
  ] as const)(
    '%s passes with its own preprocessing (%s) and input size',
    async (model, preprocess, inputShape) => {
      const { report } = await exportAndVerify({
        model,
        weights: 'random',
        seed: 2,
        images: IMAGES,
        outDir: path.join(work, 'out'),
        reportDir: path.join(work, `reports-${model}`),
        backend: 'wasm',
        latencyBudgetMs: 120_000,
      });
      expect(report.checks.filter((c) => c.status !== 'passed' && c.status !== 'skipped')).toEqual([]);
      expect(report.passed).toBe(true);
      expect(report.model).toMatchObject({ name: model, preprocess, inputShape: [...inputShape], classes: 1000 });
      expect(report.savedModel.dir).toBe(path.join(work, 'out', model, '1'));
      for (const image of report.images) expect(image.exported!.index).toBe(image.reference!.index);
    },
    600_000,
  );
});
