import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aspiredVersions, listVersionDirs } from '../src/index.js';
import { TWO_VERSIONS, tempDir } from './support/harness.js';

describe('model repository scanning', () => {
  let base: string;
  beforeAll(async () => {
    base = await tempDir('serve-repo-');
    for (const name of ['1', '0010', '7', 'not-a-version', '.staging-9', '12']) {
      await fs.mkdir(path.join(base, name));
      if (name !== '12') await fs.writeFile(path.join(base, name, 'saved_model.pb'), '');
    }
    await fs.writeFile(path.join(base, '99'), 'a file, not a directory');
  });
  afterAll(() => fs.rm(base, { recursive: true, force: true }));

  it('finds numbered directories that hold a saved_model.pb, ascending', async () => {
    // 12 has no saved_model.pb yet (still being copied); names are parsed as numbers (0010 is 10).
    expect((await listVersionDirs(base)).map((v) => [v.version, path.basename(v.dir)])).toEqual([
      [1, '1'],
      [7, '7'],
      [10, '0010'],
    ]);
    expect((await listVersionDirs(TWO_VERSIONS)).map((v) => v.version)).toEqual([123, 124]);
  });

  it('applies the latest, all and specific version policies', async () => {
    const present = await listVersionDirs(base);
    const versions = (policy: Parameters<typeof aspiredVersions>[1]) => aspiredVersions(present, policy).map((v) => v.version);
    expect(versions({ kind: 'latest', numVersions: 1 })).toEqual([10]);
    expect(versions({ kind: 'latest', numVersions: 2 })).toEqual([7, 10]);
    expect(versions({ kind: 'all' })).toEqual([1, 7, 10]);
    expect(versions({ kind: 'specific', versions: [7, 8, 1] })).toEqual([1, 7]);
  });
});
