// The CLI around the commands: usage errors (exit 2, one line, the flag as typed, "did you mean"),
// --version, --help and shell completion; in process, then through the built bin.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imagePath } from '@tensorsky/fixtures';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from './support/run-cli.js';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(path.join(cliRoot, 'package.json'), 'utf8')) as { version: string };
const cat = imagePath('cat.jpg');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-main-'));
// Export targets that no test may create: every usage error is reported before any work.
const neverCreated = path.join(scratch, 'never-created');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
  expect(existsSync(neverCreated)).toBe(false);
});

describe('tensorsky usage errors', () => {
  it.each([
    // A flag without its value (yargs alone would read '' or silently keep the default).
    [['export', '--model_dir'], '--model_dir needs a value (see tensorsky export --help)'],
    [['export', '--model-dir', '--force'], '--model-dir needs a value (see tensorsky export --help)'],
    [['predict', '--image', cat, '--top'], '--top needs a value (see tensorsky predict --help)'],
    [['predict', '--image', cat, '--top='], '--top needs a value (see tensorsky predict --help)'],
    // Numbers: not a number at all (yargs makes it NaN), then out of the command's range.
    [['predict', '--image', cat, '--top', 'abc'], '--top must be a number, got "abc" (see tensorsky predict --help)'],
    [['predict', '--image', cat, '--top', '0'], '--top must be a positive integer, got 0 (see tensorsky predict --help)'],
    [['predict', '--image', cat, '--batch_size', '0'], '--batch_size must be a positive integer, got 0 (see tensorsky predict --help)'],
    [['predict', '--image', cat, '--batchSize', '65'], '--batchSize must be at most 64, got 65 (see tensorsky predict --help)'],
    [['predict-cloud', '--image', cat, '--top', '0'], '--top must be a whole number of at least 1, got 0 (see tensorsky predict-cloud --help)'],
    [['export', '--model_dir', neverCreated, '--seed', '1.5'], '--seed must be an integer, got 1.5 (see tensorsky export --help)'],
    // yargs' own checks, reworded: choices, required flags, unknown flags and arguments.
    [['export', '--model_dir', neverCreated, '--input_format', 'jpeg'], '--input_format must be one of b64, bytes, tensor, got "jpeg" (see tensorsky export --help)'],
    [['export'], 'missing --model_dir (see tensorsky export --help)'],
    [['deploy', '--model-dir', neverCreated], 'missing --model_name, --model_version (see tensorsky deploy --help)'],
    [['export', '--model_dir', neverCreated, '--bogus_flag', '1'], 'unknown flag --bogus_flag (see tensorsky export --help)'],
    [['export', '--model_dir', neverCreated, '--a-b', '--c'], 'unknown flags --a-b, --c (see tensorsky export --help)'],
    [['export', '--model_dir', neverCreated, 'extra'], 'unexpected argument "extra" (see tensorsky export --help)'],
    [[], 'no command given (see tensorsky --help)'],
  ])('%j exits 2 with one line naming the flag as typed', async (argv, message) => {
    const { code, out, err } = await run(...argv);
    expect(err).toEqual([`tensorsky: ${message}`]);
    expect(code).toBe(2);
    expect(out).toEqual([]);
  });

  it('adds the stack trace with TENSORSKY_DEBUG=1', async () => {
    vi.stubEnv('TENSORSKY_DEBUG', '1');
    const { code, err } = await run('predict', '--image', cat, '--top', '0');
    expect(code).toBe(2);
    expect(err[0]).toBe('tensorsky: --top must be a positive integer, got 0 (see tensorsky predict --help)');
    expect(err[1]).toMatch(/^FlagError: .*\n\s+at /);
  });

  it('does not carry one run\'s failure into the next', async () => {
    process.exitCode = 1;
    const { code, out } = await run('--help');
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/^tensorsky <command> \[options\]/);
  });
});

describe('tensorsky did you mean', () => {
  it.each([
    [['exprot'], 'unknown command "exprot"; did you mean export? (see tensorsky --help)'],
    [['predict-clod', '--image', cat], 'unknown command "predict-clod"; did you mean predict-cloud? (see tensorsky --help)'],
    [['completon'], 'unknown command "completon"; did you mean completion? (see tensorsky --help)'],
    [['export', '--model_dir', neverCreated, '--fold_batch_norm'], 'unknown flag --fold_batch_norm; did you mean --fold_batch_norms? (see tensorsky export --help)'],
    [['export', '--model_dir', neverCreated, '--preprocess', 'inceptoin'], '--preprocess must be one of inception, unit, caffe, torch, none, got "inceptoin"; did you mean inception? (see tensorsky export --help)'],
    [['export', '--model_dir', neverCreated, '--input-format', 'byte'], '--input-format must be one of b64, bytes, tensor, got "byte"; did you mean bytes? (see tensorsky export --help)'],
    [['predict', '--image', cat, '--backend', 'wsam'], '--backend must be one of auto, tensorflow, onnx, wasm, cpu, got "wsam"; did you mean wasm? (see tensorsky predict --help)'],
    [['predict', '--image', cat, '--decode_preds_fn', 'inceptoin'], '--decode_preds_fn "inceptoin" is not inception, imagenet, transfert, none or an existing file; did you mean inception? (see tensorsky predict --help)'],
    [['predict', '--image', cat, '--weights', 'imagenett'], '--weights "imagenett" is not imagenet, random or an existing file; did you mean imagenet? (see tensorsky predict --help)'],
    [['export', '--model_dir', neverCreated, '--weights', 'Random'], '--weights "Random" is not imagenet, random or an existing file; did you mean random? (see tensorsky export --help)'],
    [['export', '--model_dir', neverCreated, '--labels', 'imagnet'], '--labels "imagnet" is not inception, imagenet, transfert, none or an existing file; did you mean imagenet? (see tensorsky export --help)'],
  ])('%j', async (argv, message) => {
    const { code, err } = await run(...argv);
    expect(err).toEqual([`tensorsky: ${message}`]);
    expect(code).toBe(2);
  });

  it('says nothing more for a command that is no near miss', async () => {
    const { code, err } = await run('frobnicate');
    expect(err).toEqual(['tensorsky: unknown command "frobnicate" (see tensorsky --help)']);
    expect(code).toBe(2);
  });

  it('leaves --weights files to the command: one that exists, or a name far from imagenet and random', async () => {
    // The export stops at its target (a path under a regular file) before it reads the weights.
    writeFileSync(path.join(scratch, 'blocker'), 'not a directory');
    const target = path.join(scratch, 'blocker', '1');
    const cwd = process.cwd();
    process.chdir(scratch);
    try {
      writeFileSync('randon', 'a weights file whose name is one letter from random');
      for (const weights of ['randon', 'my-weights.h5']) {
        const { code, err } = await run('export', '--model_dir', target, '--weights', weights);
        expect(err).toEqual([`tensorsky: cannot export to ${target}: ${path.join(scratch, 'blocker')} is a file, not a directory`]);
        expect(code).toBe(1);
      }
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('tensorsky --version and completion', () => {
  it('--version prints the version in package.json', async () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await run('--version')).toMatchObject({ code: 0, out: [version], err: [] });
  });

  it('--help lists completion and --version', async () => {
    const help = (await run('--help')).out.join('\n');
    expect(help).toMatch(/^ {2}tensorsky completion +Print a shell completion script/m);
    expect(help).toMatch(/^ +--version +Print the version of tensorsky/m);
  });

  it('completion prints a bash completion script', async () => {
    vi.stubEnv('SHELL', '/bin/bash');
    const { code, out } = await run('completion');
    expect(code).toBe(0);
    const script = out.join('\n');
    expect(script).toMatch(/^###-begin-tensorsky-completions-###$/m);
    expect(script).toContain('tensorsky --get-yargs-completions "${args[@]}"');
    expect(script).toMatch(/^complete -o bashdefault -o default -F _tensorsky_yargs_completions tensorsky$/m);
  });

  it('answers the script: commands, then the flags of a command', async () => {
    expect((await run('--get-yargs-completions', 'tensorsky', 'ins')).out.join('\n').split('\n')).toContain('inspect');
    const flags = (await run('--get-yargs-completions', 'tensorsky', 'inspect', '--')).out.join('\n').split('\n');
    expect(flags).toEqual(expect.arrayContaining(['--dir', '--tag_set', '--signature_def', '--all']));
  });
});

describe('tensorsky (spawned binary)', () => {
  const bin = path.join(cliRoot, 'bin', 'tensorsky.js');

  beforeAll(() => {
    // bin/tensorsky.js runs the built dist/; say so instead of testing stale code.
    for (const name of ['main', 'usage', 'command-line', 'did-you-mean', 'commands/inspect']) {
      const [source, built] = [path.join(cliRoot, 'src', `${name}.ts`), path.join(cliRoot, 'dist', `${name}.js`)];
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
        throw new Error(`${built} is missing or older than its source: run \`npx nx run @tensorsky/cli:build\` first`);
      }
    }
  });

  function spawnCli(args: string[], env: Record<string, string> = {}) {
    return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TENSORSKY_DEBUG: '', ...env } });
  }

  it('--version prints the version and exits 0', () => {
    const result = spawnCli(['--version']);
    expect(result).toMatchObject({ status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('a usage error is one line on stderr and exit code 2; TENSORSKY_DEBUG=1 adds the stack', () => {
    const result = spawnCli(['export', '--model_dir']);
    expect(result).toMatchObject({ status: 2, stdout: '', stderr: 'tensorsky: --model_dir needs a value (see tensorsky export --help)\n' });
    const debug = spawnCli(['export', '--model_dir'], { TENSORSKY_DEBUG: '1' });
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(/^tensorsky: --model_dir needs a value .*\nFlagError: .*\n\s+at /);
  });

  it('completes commands and flags in bash', () => {
    // `tensorsky` on PATH, as npm installs it, for the script to call back.
    const pathDir = path.join(scratch, 'path');
    mkdirSync(pathDir, { recursive: true });
    writeFileSync(path.join(pathDir, 'tensorsky'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
    chmodSync(path.join(pathDir, 'tensorsky'), 0o755);
    const complete = (...words: string[]) => {
      const script = `source <(tensorsky completion); COMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; _tensorsky_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const result = spawnSync('bash', ['-c', script], {
        encoding: 'utf8',
        env: { ...process.env, SHELL: '/bin/bash', PATH: `${pathDir}${path.delimiter}${process.env.PATH}` },
      });
      expect(result.stderr).toBe('');
      return result.stdout.trimEnd().split('\n');
    };
    expect(complete('tensorsky', 'insp')).toEqual(['inspect']);
    expect(complete('tensorsky', 'predict-c')).toEqual(['predict-cloud']);
    expect(complete('tensorsky', 'inspect', '--signature_')).toEqual(['--signature_def']);
  });
});
