// `tensorsky export --onnx`: the network also written as assets.extra/model.onnx, shown by export and
// inspect; a network with an op that has no ONNX translation refuses the flag in one line and writes nothing.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { smallClassifierConfig, smallClassifierWeights } from '../../../packages/export/test/helpers/keras-models.js';
import { writeTfjsLayersModel } from '../../../packages/export/test/helpers/tfjs-layers-writer.js';
import { run } from './support/run-cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-export-onnx-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A TF.js layers model folder (model.json + weights.bin) of `model`, as tfjs's own save writes it. */
async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const manifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }];
      writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest: manifest }));
      writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

describe('tensorsky export --onnx', () => {
  it('writes assets.extra/model.onnx and says what feeds it; inspect shows it', async () => {
    const folder = path.join(scratch, 'tfjs');
    await writeTfjsLayersModel(folder, smallClassifierConfig(), smallClassifierWeights());
    const modelDir = path.join(scratch, 'with-onnx', '1');
    const result = await run('export', '--model_dir', modelDir, '--model', folder, '--onnx');
    expect(result.err.filter((l) => !l.startsWith('tensorsky export: '))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.err).toContain('tensorsky export: translating the network to ONNX (assets.extra/model.onnx)');
    expect(result.out.find((l) => l.startsWith('  ONNX: assets.extra/model.onnx ('))).toMatch(/MiB, ONNX opset 17\), the network after the image front, signature serving_default$/);
    expect(result.out.some((l) => /^ {4}input \S+ float32 \[-1, \d+, \d+, 3\] NHWC = the image front's output: each image decoded and resized, pixels 0-255/.test(l))).toBe(true);
    expect(readdirSync(path.join(modelDir, 'assets.extra')).sort()).toEqual(['model.onnx', 'tensorsky_onnx.json', 'tensorsky_preprocessing.json', 'tensorsky_provenance.json']);

    const inspected = await run('inspect', modelDir);
    expect(inspected.code).toBe(0);
    expect(inspected.out.some((l) => l.startsWith('ONNX: assets.extra/model.onnx ('))).toBe(true);
    expect(inspected.out.some((l) => l.startsWith('  stale:'))).toBe(false);
    const json = await run('inspect', modelDir, '--json');
    expect(json.json[0]).toMatchObject({ onnx: { file: 'model.onnx', opset: 17, matchesSavedModel: true } });
  });

  it('refuses a network with an op that has no ONNX translation: exit 1, one line, nothing written', async () => {
    // UpSampling2D is ResizeNearestNeighbor inside the network: exportable, but not translatable.
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, name: 'conv' }),
        L.upSampling2d({ size: [2, 2], name: 'up' }),
        L.globalAveragePooling2d({ name: 'gap' }),
        L.dense({ units: 3, activation: 'softmax', name: 'predictions' }),
      ],
    });
    const folder = path.join(scratch, 'upsampling');
    await saveLayersModel(model, folder);
    model.dispose();
    const result = await run('export', '--model_dir', path.join(scratch, 'refused'), '--model', folder, '--onnx');
    expect(result.code).toBe(1);
    const errors = result.err.filter((l) => !l.startsWith('tensorsky export: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^tensorsky: --onnx: the network cannot be written as ONNX: .*ResizeNearestNeighbor.*; nothing was written \(export without --onnx\)$/);
    // Neither the model nor a staging folder or lock is left beside it.
    expect(readdirSync(scratch).filter((f) => f.includes('refused'))).toEqual([]);
  });
});
