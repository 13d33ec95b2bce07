import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DataType,
  getMetaGraph,
  readSavedModel,
  SavedModelError,
  writeSavedModel,
  type SavedModel,
} from '../src/index.js';
import { fixture, scratchDir } from './io-fixtures.js';

const scratch = scratchDir();
let counter = 0;
/** A path that does not exist yet, in its own parent directory (so parent listings are this test's only). */
function freshTarget(): string {
  const parent = path.join(scratch, `case-${counter++}`);
  mkdirSync(parent);
  return path.join(parent, 'model');
}

const halfPlusTwo = fixture('tf-serving/saved_model_half_plus_two_cpu/00000123');

/** Hand-assembled wire bytes: SavedModel{meta_graphs: [MetaGraphDef{meta_info_def: {tags: ["serve"]}}]}. */
const metaGraphWithoutGraphDef = Uint8Array.from([
  0x12, 0x09, // field 2 (meta_graphs), 9 bytes
  0x0a, 0x07, // field 1 (meta_info_def), 7 bytes
  0x22, 0x05, ...Buffer.from('serve'), // field 4 (tags)
]);

function tinyModel(value = 2): SavedModel {
  return {
    saved_model_schema_version: 1,
    meta_graphs: [
      {
        meta_info_def: { tags: ['serve'] },
        graph_def: {
          node: [
            {
              name: 'c',
              op: 'Const',
              attr: {
                dtype: { type: DataType.DT_FLOAT },
                value: { tensor: { dtype: DataType.DT_FLOAT, tensor_shape: {}, float_val: [value] } },
              },
            },
          ],
          versions: { producer: 1087 },
        },
      },
    ],
  };
}

async function expectReadError(location: string, pattern: RegExp): Promise<void> {
  const err = await readSavedModel(location).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SavedModelError);
  const message = (err as Error).message;
  expect(message).toMatch(pattern);
  expect(message).not.toContain('\n');
}

/** Deterministic "random" bytes (xorshift32), so a failure can be reproduced. */
function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('readSavedModel', () => {
  it('reads a TF Serving model directory with its variables and assets', async () => {
    const loaded = await readSavedModel(halfPlusTwo);
    expect(loaded.dir).toBe(halfPlusTwo);
    expect(loaded.pbBytes).toBe(12107); // ls -l
    expect(loaded.assetFiles).toEqual(['foo.txt']);
    expect(loaded.variableFiles).toEqual(['variables.data-00000-of-00001', 'variables.index']);
    expect(loaded.savedModel.meta_graphs).toHaveLength(1);
    expect(loaded.savedModel.meta_graphs![0].meta_info_def!.tensorflow_version).toBe('1.14.0');
  });

  it('accepts the path of saved_model.pb itself', async () => {
    const loaded = await readSavedModel(path.join(halfPlusTwo, 'saved_model.pb'));
    expect(loaded.dir).toBe(halfPlusTwo);
    expect(loaded.variableFiles).toHaveLength(2);
  });

  it('lists nothing for a frozen model without variables/ or assets/', async () => {
    const loaded = await readSavedModel(fixture('tf-serving/matrix_half_plus_two/1'));
    expect(loaded.variableFiles).toEqual([]);
    expect(loaded.assetFiles).toEqual([]);
    expect(loaded.pbBytes).toBe(856);
  });

  it('rejects a missing directory', async () => {
    await expectReadError(path.join(scratch, 'does-not-exist'), /^no SavedModel at .*does-not-exist: saved_model\.pb not found/);
  });

  it('rejects a directory without saved_model.pb', async () => {
    const dir = freshTarget();
    mkdirSync(dir);
    await expectReadError(dir, /^no SavedModel at .*: saved_model\.pb not found$/);
  });

  it('rejects the text format, as a directory or as a file', async () => {
    const dir = freshTarget();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'saved_model.pbtxt'), 'saved_model_schema_version: 1\n');
    await expectReadError(dir, /text format \(saved_model\.pbtxt\) is not supported/);
    await expectReadError(path.join(dir, 'saved_model.pbtxt'), /text format \(saved_model\.pbtxt\) is not supported/);
  });

  it('rejects saved_model.pb that is a directory', async () => {
    const dir = freshTarget();
    mkdirSync(path.join(dir, 'saved_model.pb'), { recursive: true });
    await expectReadError(dir, /saved_model\.pb is a directory/);
  });

  it('rejects an empty saved_model.pb', async () => {
    const dir = freshTarget();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'saved_model.pb'), '');
    await expectReadError(dir, /saved_model\.pb is not a SavedModel \(empty file\)$/);
  });

  it('rejects random bytes', async () => {
    for (const seed of [1, 2, 3, 42, 12345]) {
      const dir = freshTarget();
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'saved_model.pb'), pseudoRandomBytes(4096, seed));
      await expectReadError(dir, /saved_model\.pb is not a SavedModel \(/);
    }
  });

  it('rejects a truncated real saved_model.pb', async () => {
    const bytes = readFileSync(path.join(halfPlusTwo, 'saved_model.pb'));
    for (const length of [1, 100, bytes.length >> 1, bytes.length - 1]) {
      const dir = freshTarget();
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'saved_model.pb'), bytes.subarray(0, length));
      await expectReadError(dir, /saved_model\.pb is not a SavedModel \(not a valid protobuf: /);
    }
  });

  it('rejects valid protobuf that is not a SavedModel', async () => {
    const schemaVersionOnly = freshTarget();
    mkdirSync(schemaVersionOnly);
    writeFileSync(path.join(schemaVersionOnly, 'saved_model.pb'), Uint8Array.from([0x08, 0x01]));
    await expectReadError(schemaVersionOnly, /is not a SavedModel \(no meta graphs\)$/);

    const noGraph = freshTarget();
    mkdirSync(noGraph);
    writeFileSync(path.join(noGraph, 'saved_model.pb'), metaGraphWithoutGraphDef);
    await expectReadError(noGraph, /is not a SavedModel \(meta graph 0 has no graph_def\)$/);
  });
});

describe('getMetaGraph', () => {
  const twoGraphs: SavedModel = {
    meta_graphs: [
      { meta_info_def: { tags: ['serve'] }, graph_def: { node: [{ name: 'a', op: 'NoOp' }] } },
      { meta_info_def: { tags: ['serve', 'gpu'] }, graph_def: { node: [{ name: 'b', op: 'NoOp' }] } },
    ],
  };

  it('picks the meta graph whose tag-set matches, in any order', () => {
    expect(getMetaGraph(twoGraphs).graph_def!.node![0].name).toBe('a');
    expect(getMetaGraph(twoGraphs, ['gpu', 'serve']).graph_def!.node![0].name).toBe('b');
  });

  it('does not match a subset or superset of tags', () => {
    expect(() => getMetaGraph(twoGraphs, ['gpu'])).toThrow(SavedModelError);
    expect(() => getMetaGraph({ meta_graphs: [twoGraphs.meta_graphs![1]] })).toThrow(SavedModelError);
  });

  it('lists the available tag-sets when none matches', () => {
    expect(() => getMetaGraph(twoGraphs, ['train'])).toThrow(
      'no MetaGraphDef with tag-set "train" in this SavedModel; available tag-sets: "serve", "serve,gpu"',
    );
  });

  it('finds the serve graph of a TensorFlow-written model', async () => {
    const { savedModel } = await readSavedModel(halfPlusTwo);
    expect(Object.keys(getMetaGraph(savedModel).signature_def!)).toContain('serving_default');
  });
});

describe('writeSavedModel', () => {
  it('writes saved_model.pb and an empty variables/ for a frozen graph, creating the parent', async () => {
    const target = path.join(freshTarget(), 'nested', '1');
    await writeSavedModel(target, { savedModel: tinyModel() });
    expect(readdirSync(target).sort()).toEqual(['saved_model.pb', 'variables']);
    expect(readdirSync(path.join(target, 'variables'))).toEqual([]);
    const loaded = await readSavedModel(target);
    const node = loaded.savedModel.meta_graphs![0].graph_def!.node![0];
    expect(node.attr!.value.tensor!.float_val).toEqual([2]);
  });

  it('writes variables and assets byte for byte; string assets as UTF-8', async () => {
    const target = freshTarget();
    const data = Uint8Array.from([0, 1, 2, 255]);
    await writeSavedModel(target, {
      savedModel: tinyModel(),
      variables: { 'variables.index': Uint8Array.from([9]), 'variables.data-00000-of-00001': data },
      assets: { 'labels.txt': 'chat\nchien\n', 'vocab.bin': Uint8Array.from([7, 7]) },
    });
    expect(readFileSync(path.join(target, 'variables', 'variables.data-00000-of-00001'))).toEqual(Buffer.from(data));
    expect(readFileSync(path.join(target, 'assets', 'labels.txt'), 'utf8')).toBe('chat\nchien\n');
    expect([...readFileSync(path.join(target, 'assets', 'vocab.bin'))]).toEqual([7, 7]);
    const loaded = await readSavedModel(target);
    expect(loaded.assetFiles).toEqual(['labels.txt', 'vocab.bin']);
    expect(loaded.variableFiles).toEqual(['variables.data-00000-of-00001', 'variables.index']);
  });

  it('refuses a non-empty directory and leaves it untouched', async () => {
    const target = freshTarget();
    mkdirSync(target);
    writeFileSync(path.join(target, 'notes.txt'), 'keep me');
    await expect(writeSavedModel(target, { savedModel: tinyModel() })).rejects.toThrow(
      /^refusing to overwrite .*model: the directory is not empty/,
    );
    expect(readdirSync(target)).toEqual(['notes.txt']);
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
  });

  it('replaces an empty directory', async () => {
    const target = freshTarget();
    mkdirSync(target);
    await writeSavedModel(target, { savedModel: tinyModel() });
    expect(existsSync(path.join(target, 'saved_model.pb'))).toBe(true);
  });

  it('replaces a model with overwrite, dropping the old files', async () => {
    const target = freshTarget();
    await writeSavedModel(target, { savedModel: tinyModel(1), assets: { 'old.txt': 'old' } });
    await writeSavedModel(target, { savedModel: tinyModel(3) }, { overwrite: true });
    const loaded = await readSavedModel(target);
    expect(loaded.savedModel.meta_graphs![0].graph_def!.node![0].attr!.value.tensor!.float_val).toEqual([3]);
    expect(loaded.assetFiles).toEqual([]);
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
  });

  it('rejects file names that are not plain names, before creating anything', async () => {
    for (const name of ['', '.', '..', '../escape', 'a/b', 'a\\b', 'nul\0byte']) {
      const target = freshTarget();
      await expect(writeSavedModel(target, { savedModel: tinyModel(), assets: { [name]: 'x' } })).rejects.toThrow(
        /^invalid file name .* for assets\//,
      );
      await expect(
        writeSavedModel(target, { savedModel: tinyModel(), variables: { [name]: Uint8Array.of(1) } }),
      ).rejects.toThrow(/for variables\//);
      expect(readdirSync(path.dirname(target))).toEqual([]);
    }
  });

  it('a write failing half-way leaves the existing model intact and no temp directory', async () => {
    const target = freshTarget();
    await writeSavedModel(target, { savedModel: tinyModel(1), variables: { 'variables.index': Uint8Array.of(5) } });
    const before = readFileSync(path.join(target, 'saved_model.pb'));
    // saved_model.pb and variables/ are written before the asset whose content is not bytes fails.
    const badAsset = 42 as unknown as string;
    await expect(
      writeSavedModel(target, { savedModel: tinyModel(3), assets: { 'bad.txt': badAsset } }, { overwrite: true }),
    ).rejects.toThrow(/^cannot write SavedModel to .*model: /);
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
    expect(readFileSync(path.join(target, 'saved_model.pb'))).toEqual(before);
    expect(readdirSync(path.join(target, 'variables'))).toEqual(['variables.index']);
  });

  it('fails cleanly when the parent path is a regular file', async () => {
    const target = freshTarget();
    const blocker = path.join(path.dirname(target), 'file');
    writeFileSync(blocker, 'not a directory');
    const err = await writeSavedModel(path.join(blocker, 'model'), { savedModel: tinyModel() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SavedModelError);
    expect((err as Error).message).toMatch(/^cannot write SavedModel to .*file\/model: /);
    expect(readdirSync(path.dirname(target))).toEqual(['file']);
  });

  it('refuses to write a message TensorFlow could not load as a SavedModel', async () => {
    const target = freshTarget();
    await expect(writeSavedModel(target, { savedModel: { saved_model_schema_version: 1 } })).rejects.toThrow(
      /^refusing to write .*model: not a SavedModel \(no meta graphs\)$/,
    );
    await expect(
      writeSavedModel(target, { savedModel: { meta_graphs: [{ meta_info_def: { tags: ['serve'] } }] } }),
    ).rejects.toThrow(/\(meta graph 0 has no graph_def\)$/);
    expect(readdirSync(path.dirname(target))).toEqual([]);
  });

  it('refuses a target that is a regular file, even with overwrite', async () => {
    const target = freshTarget();
    writeFileSync(target, 'a file');
    await expect(writeSavedModel(target, { savedModel: tinyModel() }, { overwrite: true })).rejects.toThrow(
      /exists and is not a directory/,
    );
    expect(readFileSync(target, 'utf8')).toBe('a file');
  });
});
