import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli, type CliContext } from '../src/cli.js';

const binDir = path.resolve(import.meta.dirname, '..', 'bin');

function context(env: NodeJS.ProcessEnv = {}): CliContext & { lines: { out: string[]; err: string[] } } {
  const lines = { out: [] as string[], err: [] as string[] };
  return { cwd: os.tmpdir(), env, out: (l) => lines.out.push(l), err: (l) => lines.err.push(l), lines };
}

describe('runCli (apps/ci/bin/export-and-verify.js)', () => {
  it('prints the flags for --help', async () => {
    const ctx = context();
    expect(await runCli(['--help'], ctx)).toBe(0);
    const help = ctx.lines.out.join('\n');
    expect(help).toMatch(/--weights VALUE\n\s+imagenet, random/);
    expect(help).toContain('env TENSORSKY_WEIGHTS');
    expect(help).toContain('--images VALUE...');
  });

  it('exits 2 on an unknown flag and 1 on a bad value, before any work', async () => {
    const unknown = context();
    expect(await runCli(['--tolerence', '1'], unknown)).toBe(2);
    expect(unknown.lines.err).toEqual([expect.stringMatching(/^export-and-verify: Unknown option '--tolerence'.*; see --help$/)]);
    const bad = context();
    expect(await runCli(['--images', 'x.jpg', '--tolerance', 'tiny'], bad)).toBe(1);
    expect(bad.lines.err).toEqual(['export-and-verify: --tolerance must be a number >= 0, got tiny']);
  });

  it('takes the inputs that key the Nx cache from the environment, flags first', async () => {
    // A bad seed from the environment shows it was read; the flag overrides it.
    const fromEnv = context({ TENSORSKY_SEED: 'x', TENSORSKY_IMAGES: 'a.jpg' });
    expect(await runCli([], fromEnv)).toBe(1);
    expect(fromEnv.lines.err).toEqual(['export-and-verify: --seed must be an integer, got x']);
    const flagWins = context({ TENSORSKY_SEED: '3', TENSORSKY_IMAGES: 'a.jpg' });
    expect(await runCli(['--seed', '1.5'], flagWins)).toBe(1);
    expect(flagWins.lines.err).toEqual(['export-and-verify: --seed must be an integer, got 1.5']);
  });

  it('fails with a one-line message when the images folder holds no images', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'no-images-'));
    try {
      const ctx = context();
      expect(await runCli(['--images', empty], ctx)).toBe(1);
      expect(ctx.lines.err.at(-1)).toMatch(/^export-and-verify: .*no-images-\w+ holds no JPEG, PNG, GIF or BMP images$/);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });
});

describe('bin/cache-key.js (runtime input of the Nx target)', () => {
  const key = async (env: NodeJS.ProcessEnv) =>
    (await promisify(execFile)(process.execPath, [path.join(binDir, 'cache-key.js')], { env: { PATH: process.env.PATH, HOME: os.tmpdir(), ...env } })).stdout;

  it('changes when the content of the golden images or the weights choice changes, not otherwise', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-key-'));
    try {
      const images = path.join(dir, 'images');
      await fs.mkdir(images);
      await fs.writeFile(path.join(images, 'a.jpg'), 'first');
      const env = { TENSORSKY_IMAGES: images, KERAS_HOME: path.join(dir, 'keras') };
      const first = await key(env);
      expect(first).toMatch(/^model inception_v3\nweights imagenet absent\nseed 0\nimages [0-9a-f]{64}\n$/);
      expect(await key(env)).toBe(first);
      await fs.writeFile(path.join(images, 'a.jpg'), 'second');
      const changed = await key(env);
      expect(changed).not.toBe(first);
      // Once the ImageNet weights are in the Keras cache (a run downloads them there), the key changes.
      await fs.mkdir(path.join(dir, 'keras', 'models'), { recursive: true });
      await fs.writeFile(path.join(dir, 'keras', 'models', 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5'), 'weights');
      expect(await key(env)).not.toBe(changed);
      expect(await key({ ...env, TENSORSKY_WEIGHTS: 'random', TENSORSKY_SEED: '4' })).toMatch(/\nweights random\nseed 4\n/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
