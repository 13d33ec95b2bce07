// The provenance record: written with the rest of the SavedModel (atomically, under assets.extra/),
// read back exactly, absent from TensorFlow's own models, and refused with a clear message when damaged.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ASSETS_EXTRA_DIR,
  checkProvenance,
  DataType,
  parseProvenance,
  PROVENANCE_FILE,
  readProvenance,
  readSavedModel,
  serializeProvenance,
  weightsWarning,
  writeSavedModel,
  type Provenance,
  type SavedModel,
} from '../src/index.js';
import { fixture, scratchDir } from './io-fixtures.js';

const scratch = scratchDir();

const tinyModel: SavedModel = {
  meta_graphs: [
    {
      meta_info_def: { tags: ['serve'] },
      graph_def: { node: [{ name: 'c', op: 'Const', attr: { dtype: { type: DataType.DT_FLOAT }, value: { tensor: { dtype: DataType.DT_FLOAT, float_val: [1] } } } }] },
    },
  ],
};

const randomProvenance: Provenance = {
  schema: 1,
  exporter: { name: '@tensorsky/export', version: '0.1.0' },
  exportedAt: '2025-01-02T03:04:05.678Z',
  model: { kind: 'built-in', name: 'inception_v3' },
  weights: { kind: 'random', seed: 3 },
};

describe('provenance', () => {
  it('is written under assets.extra/ with the SavedModel and read back as written', async () => {
    const dir = path.join(scratch, 'random');
    await writeSavedModel(dir, { savedModel: tinyModel, assetsExtra: { [PROVENANCE_FILE]: serializeProvenance(randomProvenance) } });
    expect(readdirSync(dir).sort()).toEqual([ASSETS_EXTRA_DIR, 'saved_model.pb', 'variables']);
    expect(readdirSync(path.join(dir, ASSETS_EXTRA_DIR))).toEqual([PROVENANCE_FILE]);
    // Not an asset TensorFlow loads: assets/ is not even created.
    expect((await readSavedModel(dir)).assetFiles).toEqual([]);
    expect(await readProvenance(dir)).toEqual(randomProvenance);
    expect(await checkProvenance(dir)).toEqual({
      provenance: randomProvenance,
      warnings: ['this model has random weights (seed 3): its labels mean nothing'],
    });
  });

  it('is part of the atomic write: a bad file name there fails before anything is created', async () => {
    const dir = path.join(scratch, 'bad-name', 'model');
    await expect(writeSavedModel(dir, { savedModel: tinyModel, assetsExtra: { '../provenance.json': '{}' } })).rejects.toThrow(
      /^invalid file name "..\/provenance.json" for assets.extra\//,
    );
    expect(readdirSync(path.dirname(path.dirname(dir)))).not.toContain('bad-name');
  });

  it('warns only about random weights', () => {
    expect(weightsWarning({ kind: 'random', seed: 0 })).toBe('this model has random weights (seed 0): its labels mean nothing');
    expect(weightsWarning({ kind: 'imagenet', file: 'w.h5', md5: '9a0d58056eeedaa3f26cb7ebd46da564' })).toBeUndefined();
    expect(weightsWarning({ kind: 'file', file: 'w.h5', md5: 'abc' })).toBeUndefined();
    expect(weightsWarning({ kind: 'model-file' })).toBeUndefined();
  });

  it("is absent from TensorFlow's own SavedModels", async () => {
    const halfPlusTwo = fixture('tf-serving/saved_model_half_plus_two_cpu/00000123');
    expect(await readProvenance(halfPlusTwo)).toBeUndefined();
    expect(await checkProvenance(halfPlusTwo)).toEqual({ provenance: undefined, warnings: [] });
  });

  it('refuses a damaged record, naming the file and the problem; checkProvenance turns that into a warning', async () => {
    const dir = path.join(scratch, 'damaged');
    mkdirSync(path.join(dir, ASSETS_EXTRA_DIR), { recursive: true });
    const file = path.join(dir, ASSETS_EXTRA_DIR, PROVENANCE_FILE);
    writeFileSync(file, '{"schema": 1, "exporter": ');
    await expect(readProvenance(dir)).rejects.toThrow(`${file} is not JSON`);
    writeFileSync(file, serializeProvenance({ ...randomProvenance, weights: { kind: 'random' } as never }));
    await expect(readProvenance(dir)).rejects.toThrow(`${file} is not a tensorsky provenance record: random weights need an integer seed`);
    const check = await checkProvenance(dir);
    expect(check.provenance).toBeUndefined();
    expect(check.warnings).toEqual([`where this model's weights came from is unknown: ${file} is not a tensorsky provenance record: random weights need an integer seed`]);
  });

  it('checks every field, and refuses a newer schema instead of guessing', () => {
    const parse = (value: unknown) => () => parseProvenance(JSON.stringify(value), 'p.json');
    expect(parse({ ...randomProvenance, schema: 2 })).toThrow("schema 2 is newer than this reader's (1); update tensorsky");
    expect(parse({ ...randomProvenance, exportedAt: 'yesterday' })).toThrow('exportedAt must be an ISO date');
    expect(parse({ ...randomProvenance, exporter: { name: '@tensorsky/export' } })).toThrow('exporter must be {name, version}');
    expect(parse({ ...randomProvenance, model: { kind: 'file', name: 'm' } })).toThrow("model must be {kind: 'built-in', name} or {kind: 'file', name, file, md5}");
    expect(parse({ ...randomProvenance, weights: { kind: 'imagenet', file: 'w.h5' } })).toThrow('weights of kind imagenet need file and md5');
    expect(parse({ ...randomProvenance, weights: { kind: 'pretrained' } })).toThrow('unknown weights kind "pretrained"');
    expect(parse({ ...randomProvenance, jpegDct: 'slow' })).toThrow("jpegDct must be 'accurate' or 'fast'");
    expect(parseProvenance(JSON.stringify({ ...randomProvenance, jpegDct: 'fast' }), 'p.json').jpegDct).toBe('fast');
    const fromFiles: Provenance = {
      ...randomProvenance,
      model: { kind: 'file', name: 'flowers', file: 'flowers.h5', md5: 'd41d8cd98f00b204e9800998ecf8427e' },
      weights: { kind: 'model-file' },
    };
    expect(parseProvenance(serializeProvenance(fromFiles), 'p.json')).toEqual(fromFiles);
  });
});
