// `tensorsky export`'s preprocessing flags (resize method and pixel grid, crop/pad, custom
// normalization, --preprocess_from) on a small TF.js classifier, and `tensorsky inspect` showing what
// the export does to an image, one line per step; flag mistakes as one-line usage errors (exit 2).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smallClassifierConfig, smallClassifierWeights } from '../../../packages/export/test/helpers/keras-models.js';
import { writeTfjsLayersModel } from '../../../packages/export/test/helpers/tfjs-layers-writer.js';
import { run } from './support/run-cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-export-preprocessing-'));
const model = path.join(scratch, 'classifier');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
beforeAll(async () => {
  // 32x32x3 input, 3 classes.
  await writeTfjsLayersModel(model, smallClassifierConfig(), smallClassifierWeights());
});

describe('tensorsky export preprocessing flags', () => {
  it('builds bicubic TF1 resizing after a 0.875 central crop with BGR mean/std, which inspect lists step by step', async () => {
    const dir = path.join(scratch, 'bicubic', '1');
    const flags = ['--resize', 'bicubic', '--resize_grid', 'legacy', '--central_crop', '0.875', '--channel-order', 'bgr', '--mean', '103.94,116.78,123.68', '--std', '57.4,57.1,58.4'];
    const exported = await run('export', '--model_dir', dir, '--model', model, '--labels', 'none', ...flags);
    expect(exported.code).toBe(0);
    const steps = [
      'decode the web-safe base64 of an image file to RGB (DecodeBase64, DecodeImage, DecodeJpeg), then to float',
      'central crop 0.875 of each side (tf.image.central_crop)',
      'resize to 32x32 with bicubic (ResizeBicubic), TF1 legacy (align_corners=false, half_pixel_centers=false)',
      'reorder channels RGB -> BGR',
      'subtract [103.94, 116.78, 123.68]',
      'divide by [57.4, 57.1, 58.4]',
    ];
    expect(exported.out).toContain('  preprocess: custom');
    expect(exported.out).toEqual(expect.arrayContaining(steps.map((s, i) => `    ${i + 1}. ${s}`)));

    const inspected = await run('inspect', dir);
    expect(inspected.code).toBe(0);
    const at = inspected.out.indexOf('Preprocessing (assets.extra/tensorsky_preprocessing.json, checked against the graph):');
    expect(at).toBeGreaterThan(0);
    expect(inspected.out.slice(at + 1, at + 1 + steps.length)).toEqual(steps.map((s, i) => `  ${i + 1}. ${s}`));
    const [json] = (await run('inspect', dir, '--json')).json;
    expect(json.preprocessing).toEqual({ from: 'record', steps });
  });

  it('without the record, inspect reads the steps from the graph ops', async () => {
    const dir = path.join(scratch, 'bicubic', '1');
    rmSync(path.join(dir, 'assets.extra', 'tensorsky_preprocessing.json'));
    const inspected = await run('inspect', dir);
    const at = inspected.out.indexOf('Preprocessing (read from the graph ops):');
    expect(at).toBeGreaterThan(0);
    expect(inspected.out.slice(at + 1, at + 7)).toEqual([
      '  1. decode (DecodeBase64, DecodeJpeg, DecodeImage)',
      '  2. central crop (Slice; fraction computed in float64)',
      '  3. resize with ResizeBicubic (legacy pixel centers)',
      '  4. reorder channels RGB -> BGR',
      '  5. subtract [103.94000244140625, 116.77999877929688, 123.68000030517578]',
      '  6. divide by [57.400001525878906, 57.099998474121094, 58.400001525878906]',
    ]);
  });

  it('--preprocess_from reads Resizing + CenterCrop + Rescaling from a Keras config', async () => {
    const config = path.join(scratch, 'preprocessing.json');
    const layer = (class_name: string, config: object) => ({ class_name, config });
    writeFileSync(
      config,
      JSON.stringify({
        class_name: 'Sequential',
        config: {
          name: 'training_model',
          layers: [
            layer('InputLayer', { name: 'image', batch_shape: [null, null, null, 3] }),
            layer('Resizing', { name: 'resizing', height: 36, width: 40, interpolation: 'area' }),
            layer('CenterCrop', { name: 'center_crop', height: 32, width: 32 }),
            layer('Rescaling', { name: 'rescaling', scale: 0.00784313725490196, offset: -1 }),
            layer('Conv2D', { name: 'conv' }),
          ],
        },
      }),
    );
    const dir = path.join(scratch, 'from', '1');
    const exported = await run('export', '--model_dir', dir, '--model', model, '--labels', 'none', '--preprocess_from', config, '--json');
    expect(exported.code).toBe(0);
    const [result] = exported.json;
    expect(result.preprocessFrom).toEqual({ source: config, layers: ['resizing (Resizing)', 'center_crop (CenterCrop)', 'rescaling (Rescaling)'] });
    expect(result.preprocessing.slice(1)).toEqual([
      'resize to 36x40 (aspect ratio not kept) with area (ResizeArea), align_corners=false',
      'crop the center 32x32',
      'multiply by 0.00784313725490196',
      'add -1',
    ]);
    expect(result.ops.ResizeArea).toBe(1);

    // A size that is not the network's is refused.
    writeFileSync(config, JSON.stringify([layer('Resizing', { name: 'r', height: 64, width: 64 })]));
    const refused = await run('export', '--model_dir', path.join(scratch, 'wrong', '1'), '--model', model, '--preprocess_from', config);
    expect(refused.code).toBe(1);
    expect(refused.err.filter((l) => l.startsWith('tensorsky: '))).toEqual([
      `tensorsky: --preprocess_from ${config} makes 64x64 images but classifier takes 32x32`,
    ]);
  });

  it.each([
    [['--central-crop', '0.875', '--pad-to-square'], '--pad-to-square and --central-crop both say how to crop: give one of them'],
    [['--central_crop', '1.5'], '--central_crop must be a fraction in (0, 1], got 1.5'],
    [['--short-side', '20.5'], '--short-side must be a positive integer (pixels), got 20.5'],
    [['--mean', '1,x,3'], "--mean must be a number or comma-separated numbers (one per channel), got '1,x,3'"],
    [['--std', '0'], "--std must not be 0, got '0'"],
    [['--preprocess', 'torch', '--mean', '1'], '--preprocess and --mean/--std/--scale/--channel_order both say how to normalize: give one of them'],
  ])('refuses %j with one line, exit 2', async (flags, message) => {
    const result = await run('export', '--model_dir', path.join(scratch, 'refused', '1'), '--model', model, ...flags);
    expect(result.code).toBe(2);
    expect(result.err.filter((l) => l.startsWith('tensorsky'))[0]).toContain(message);
  });
});
