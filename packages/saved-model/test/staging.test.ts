// The lock that keeps two writers out of one target, and the sweep of what a killed writer left beside it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lockTarget, stagingPath, TargetLockError, writeSavedModel, type SavedModel } from '../src/index.js';
import { scratchDir } from './io-fixtures.js';

const scratch = scratchDir();
const killedChild = path.join(path.dirname(fileURLToPath(import.meta.url)), 'staging-killed-child.mjs');
let counter = 0;
function freshTarget(): string {
  const parent = path.join(scratch, `case-${counter++}`);
  mkdirSync(parent);
  return path.join(parent, 'model');
}

const tinyModel: SavedModel = { meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: { node: [] } }] };
/** The pid of a process that has exited. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
/** Before this test process started. */
const anHourAgo = new Date(Date.now() - 3600_000);

describe('lockTarget', () => {
  it('keeps a second writer out until the first releases, and leaves nothing behind', async () => {
    const target = freshTarget();
    const lock = await lockTarget(target);
    expect(readdirSync(path.dirname(target))).toEqual(['.tensorsky-lock-model']);
    expect(JSON.parse(readFileSync(lock.file, 'utf8'))).toEqual({ pid: process.pid, host: os.hostname() });

    const refused = await lockTarget(target).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TargetLockError);
    expect((refused as Error).message).toBe(
      `${target} is being written by process ${process.pid} (lock ${lock.file}); wait for it to finish, or remove the lock if that process is gone`,
    );
    // writeSavedModel takes the same lock: nothing is written while someone else holds it.
    await expect(writeSavedModel(target, { savedModel: tinyModel })).rejects.toThrow(TargetLockError);
    expect(readdirSync(path.dirname(target))).toEqual(['.tensorsky-lock-model']);

    await lock.release();
    await writeSavedModel(target, { savedModel: tinyModel });
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
  });

  it('takes over the lock of a process that is gone, but not of a live one', async () => {
    const target = freshTarget();
    const file = path.join(path.dirname(target), '.tensorsky-lock-model');
    writeFileSync(file, JSON.stringify({ pid: process.ppid, host: os.hostname() }));
    await expect(lockTarget(target)).rejects.toThrow(`${target} is being written by process ${process.ppid}`);
    writeFileSync(file, JSON.stringify({ pid: deadPid, host: os.hostname() }));
    const lock = await lockTarget(target);
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
    await lock.release();
    expect(existsSync(file)).toBe(false);
  });
});

describe('sweeping what a killed writer left', () => {
  it('after kill -9 half-way, the next writer removes the stale lock and staging folder', async () => {
    const target = freshTarget();
    const child = spawnSync(process.execPath, [killedChild, target], { env: { ...process.env, NODE_OPTIONS: '' } });
    expect(child.signal).toBe('SIGKILL');
    const left = readdirSync(path.dirname(target)).sort();
    expect(left).toEqual([`.tensorsky-incoming-model-${child.pid}-${left[0].slice(-8)}`, '.tensorsky-lock-model']);
    // As when the next export runs in a process started after the killed one.
    utimesSync(path.join(path.dirname(target), left[0]), anHourAgo, anHourAgo);

    await writeSavedModel(target, { savedModel: tinyModel });
    expect(readdirSync(path.dirname(target))).toEqual(['model']);
  });

  it('removes only our own names, of this target, of dead processes, older than this process', async () => {
    const target = freshTarget();
    const parent = path.dirname(target);
    const make = (name: string, old = true) => {
      mkdirSync(path.join(parent, name));
      if (old) utimesSync(path.join(parent, name), anHourAgo, anHourAgo);
    };
    const stale = [`.tensorsky-incoming-model-${deadPid}-0123abcd`, `.tensorsky-retired-model-${deadPid}-89abcdef`];
    const kept = [
      `.tensorsky-incoming-model-${process.ppid}-0123abcd`, // its process is alive
      `.tensorsky-incoming-other-${deadPid}-0123abcd`, // another target (it has its own lock)
      `.model.tmp-0123456789ab`, // not a name tensorsky writes
      `.tensorsky-incoming-model-${deadPid}-0123abcdef`, // nor this
      'tensorsky-incoming-model-1-0123abcd',
    ];
    mkdirSync(target); // a retired folder is removed only once its target is back
    for (const name of [...stale, ...kept]) make(name);
    make(`.tensorsky-incoming-model-${deadPid}-fedcba98`, false); // newer than this process
    kept.push(`.tensorsky-incoming-model-${deadPid}-fedcba98`);
    writeFileSync(path.join(parent, `.tensorsky-retired-model-${deadPid}-76543210`), 'a file, not a folder');
    kept.push(`.tensorsky-retired-model-${deadPid}-76543210`);

    const lock = await lockTarget(target);
    await lock.release();
    expect(lock.swept.sort()).toEqual(stale.map((name) => path.join(parent, name)).sort());
    expect(readdirSync(parent).sort()).toEqual([...kept, 'model'].sort());
  });

  it('keeps a retired folder while the target is missing: it is then the only copy of the model', async () => {
    const target = freshTarget();
    const retired = path.join(path.dirname(target), `.tensorsky-retired-model-${deadPid}-0123abcd`);
    mkdirSync(retired);
    utimesSync(retired, anHourAgo, anHourAgo);
    await (await lockTarget(target)).release();
    expect(readdirSync(path.dirname(target))).toEqual([path.basename(retired)]);
    await writeSavedModel(target, { savedModel: tinyModel });
    expect(readdirSync(path.dirname(target)).sort()).toEqual([path.basename(retired), 'model']);
    // Once the target is back, the next writer removes it.
    const lock = await lockTarget(target);
    await lock.release();
    expect(lock.swept).toEqual([retired]);
  });

  it('names staging folders after the target and this process', () => {
    expect(path.basename(stagingPath('/x/models/3', 'incoming'))).toMatch(new RegExp(`^\\.tensorsky-incoming-3-${process.pid}-[0-9a-f]{8}$`));
    expect(path.dirname(stagingPath('/x/models/3', 'retired'))).toBe('/x/models');
  });
});
