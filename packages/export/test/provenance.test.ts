// Every export records where its model and weights came from in assets.extra/tensorsky_provenance.json,
// read back with @tensorsky/saved-model's readProvenance: seeded random weights, a weights file, the
// model file's own weights, each file named with its md5.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkProvenance, readProvenance } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs } from '../src/index.js';
import { makeTempDir } from './helpers/fixtures.js';
import { writeKerasModelFile, writeKerasWeightsFile } from './helpers/keras-h5-writer.js';
import { configLayerNames, h5LayersFor, smallClassifierConfig, smallClassifierWeights } from './helpers/keras-models.js';
import { writeTfjsLayersModel } from './helpers/tfjs-layers-writer.js';

const exporterVersion = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const md5 = async (file: string) => createHash('md5').update(await readFile(file)).digest('hex');

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let h5: string;
beforeAll(async () => {
  await initTfjs('wasm');
  temp = await makeTempDir('provenance');
  const config = smallClassifierConfig();
  h5 = join(temp.dir, 'flowers_small.h5');
  await writeKerasModelFile(h5, config, h5LayersFor(configLayerNames(config), smallClassifierWeights()));
});
afterAll(() => temp.cleanup());

describe('the provenance record of an export', () => {
  it('names seeded random weights, the exporter version and the export date, and warns about the labels', async () => {
    const modelDir = join(temp.dir, 'random');
    const before = Date.now();
    const result = await exportSavedModel({ modelDir, model: h5, weights: 'random', seed: 3 });
    const provenance = await readProvenance(modelDir);
    expect(provenance).toEqual({
      schema: 1,
      exporter: { name: '@tensorsky/export', version: exporterVersion },
      exportedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      model: { kind: 'file', name: 'flowers_small', file: 'flowers_small.h5', md5: await md5(h5) },
      weights: { kind: 'random', seed: 3 },
      jpegDct: 'accurate',
    });
    expect(Date.parse(provenance!.exportedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(provenance!.exportedAt)).toBeLessThanOrEqual(Date.now());
    expect(result.provenance).toEqual(provenance);
    expect((await checkProvenance(modelDir)).warnings).toEqual(['this model has random weights (seed 3): its labels mean nothing']);
  });

  it("names a weights file with its md5, or the model file's own weights", async () => {
    const weightsFile = join(temp.dir, 'retrained.h5');
    await writeKerasWeightsFile(weightsFile, h5LayersFor(configLayerNames(smallClassifierConfig()), smallClassifierWeights()));
    const fromFile = join(temp.dir, 'weights-file');
    await exportSavedModel({ modelDir: fromFile, model: h5, weights: weightsFile });
    expect((await readProvenance(fromFile))?.weights).toEqual({ kind: 'file', file: 'retrained.h5', md5: await md5(weightsFile) });
    expect((await checkProvenance(fromFile)).warnings).toEqual([]);

    const own = join(temp.dir, 'model-file');
    await exportSavedModel({ modelDir: own, model: h5 });
    expect((await readProvenance(own))?.weights).toEqual({ kind: 'model-file' });
  });

  it("names a TF.js layers model by its folder, with the md5 of its model.json", async () => {
    const dir = join(temp.dir, 'flowers_tfjs');
    await writeTfjsLayersModel(dir, smallClassifierConfig(), smallClassifierWeights());
    const modelDir = join(temp.dir, 'tfjs');
    await exportSavedModel({ modelDir, model: dir });
    expect((await readProvenance(modelDir))?.model).toEqual({ kind: 'file', name: 'flowers_tfjs', file: 'model.json', md5: await md5(join(dir, 'model.json')) });
  });
});
