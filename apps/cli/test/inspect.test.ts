// `tensorsky inspect` on SavedModels written by TensorFlow; expected values read from the files
// independently (wire-format dump, ls -l) and from TF Serving's half_plus_two documentation.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './support/run-cli.js';
import { SAVED_MODELS_DIR, savedModelDirs } from '@tensorsky/fixtures';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(cliRoot, '..', '..');
const savedModels = SAVED_MODELS_DIR;
const halfPlusTwo = path.join(savedModels, 'tf-serving', 'saved_model_half_plus_two_cpu', '00000123');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-inspect-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));


/** Model directories that are not SavedModels, each with what inspect must say about it. */
function badModels(): { name: string; dir: string; message: RegExp }[] {
  const make = (name: string, pb?: Uint8Array) => {
    const dir = path.join(scratch, name);
    mkdirSync(dir, { recursive: true });
    if (pb) writeFileSync(path.join(dir, 'saved_model.pb'), pb);
    return dir;
  };
  const real = readFileSync(path.join(halfPlusTwo, 'saved_model.pb'));
  // Bytes that are no valid protobuf: a tag with the invalid wire type 7, then filler.
  const garbage = Uint8Array.from({ length: 256 }, (_, i) => (i === 0 ? 0x0f : (i * 37) & 0xff));
  return [
    { name: 'missing', dir: path.join(scratch, 'does-not-exist'), message: /no SavedModel at .*: saved_model\.pb not found/ },
    { name: 'no-pb', dir: make('no-pb'), message: /no SavedModel at .*: saved_model\.pb not found/ },
    { name: 'empty', dir: make('empty', new Uint8Array(0)), message: /is not a SavedModel \(empty file\)/ },
    { name: 'garbage', dir: make('garbage', garbage), message: /is not a SavedModel \(not a valid protobuf/ },
    {
      name: 'truncated',
      dir: make('truncated', real.subarray(0, real.length >> 1)),
      message: /is not a SavedModel \(not a valid protobuf/,
    },
  ];
}

describe('tensorsky inspect (in process)', () => {
  it('prints signatures like saved_model_cli, then graph statistics', async () => {
    const { code, out, err } = await run('inspect', halfPlusTwo);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const at = out.indexOf("signature_def['serving_default']:");
    expect(at).toBeGreaterThan(0);
    expect(out.slice(at, at + 4)).toEqual([
      "signature_def['serving_default']:",
      "  inputs['x'] tensor_info: dtype: DT_FLOAT shape: (-1, 1) name: x:0",
      "  outputs['y'] tensor_info: dtype: DT_FLOAT shape: (-1, 1) name: y:0",
      '  Method name is: tensorflow/serving/predict',
    ]);
    expect(out).toContain("MetaGraphDef with tag-set: 'serve' contains the following SignatureDefs:");
    expect(out).toContain("  inputs['inputs'] tensor_info: dtype: DT_STRING shape: unknown_rank name: tf_example:0");
    expect(out.filter((line) => line.startsWith('signature_def['))).toHaveLength(5);
    expect(out).toContain('TensorFlow version: 1.14.0');
    expect(out).toContain('Nodes: 74 in the graph, 0 in 0 functions');
    expect(out.find((line) => line.startsWith('Ops ('))).toMatch(/^Ops \(17 kinds\): Const 22, Identity 13, Assign 12, /);
    expect(out).toContain('Constants: 22 Const nodes holding 150 B');
    expect(out).toContain('Saver: yes');
    expect(out).toContain('JPEG decoding: none (no decode op in the graph)');
    expect(out).toContain('Variables: variables.data-00000-of-00001 (20 B), variables.index (172 B)');
    expect(out).toContain('Assets: foo.txt');
  });

  it('shows function nodes of a TF2 model and the absence of variables in a frozen one', async () => {
    const tf2 = await run('inspect', path.join(savedModels, 'tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123'));
    expect(tf2.out).toContain('Nodes: 29 in the graph, 122 in 14 functions');
    expect(tf2.out).toContain("  inputs['x'] tensor_info: dtype: DT_FLOAT shape: (1) name: serving_default_x:0");
    const frozen = await run('inspect', path.join(savedModels, 'tf-serving', 'matrix_half_plus_two', '1'));
    expect(frozen.out).toContain('Variables: none (variables/variables.index missing or empty)');
    expect(frozen.out).toContain('Constants: 2 Const nodes holding 8 B');
    expect(frozen.out).toContain('Saver: no');
    const uint8 = await run('inspect', path.join(savedModels, 'tfjs-node', 'uint8_multiply'));
    expect(uint8.out).toContain("  inputs['x'] tensor_info: dtype: DT_UINT8 shape: (1) name: serving_default_x:0");
  });

  it('--json prints the summary', async () => {
    const { code, out, json } = await run('inspect', halfPlusTwo, '--json');
    expect(code).toBe(0);
    expect(out).toEqual([]);
    expect(json).toHaveLength(1);
    const summary = json[0] as {
      metaGraphs: { tags: string[]; signatures: { key: string }[]; nodes: unknown; constants: unknown }[];
      variables: { present: boolean };
    };
    expect(summary.metaGraphs[0].tags).toEqual(['serve']);
    expect(summary.metaGraphs[0].signatures.find((s) => s.key === 'serving_default')).toEqual({
      key: 'serving_default',
      methodName: 'tensorflow/serving/predict',
      inputs: [{ alias: 'x', name: 'x:0', dtype: 'DT_FLOAT', shape: [-1, 1] }],
      outputs: [{ alias: 'y', name: 'y:0', dtype: 'DT_FLOAT', shape: [-1, 1] }],
    });
    expect(summary.metaGraphs[0].nodes).toEqual({ graph: 74, functions: 0, functionNodes: 0 });
    expect(summary.metaGraphs[0].constants).toEqual({ count: 22, bytes: 150 });
    expect(summary.variables.present).toBe(true);
  });

  it('--tag picks a tag-set and names the available ones when it is missing', async () => {
    expect((await run('inspect', halfPlusTwo, '--tag', 'serve')).code).toBe(0);
    const { code, err } = await run('inspect', halfPlusTwo, '--tag', 'serve,gpu');
    expect(code).toBe(1);
    expect(err).toEqual(['tensorsky: no MetaGraphDef with tag-set "serve,gpu" in this SavedModel; available tag-sets: "serve"']);
  });

  it.each(savedModelDirs().map((dir) => [path.relative(savedModels, dir), dir]))(
    'reads fixture %s',
    async (_name, dir) => {
      const text = await run('inspect', dir);
      expect(text.err).toEqual([]);
      expect(text.code).toBe(0);
      expect(text.out.some((line) => line.startsWith('signature_def['))).toBe(true);
      const json = await run('inspect', dir, '--json');
      expect(json.code).toBe(0);
      expect(json.json).toHaveLength(1);
    },
  );

  it('finds all 14 fixture SavedModels', () => {
    expect(savedModelDirs()).toHaveLength(14);
  });

  it.each(badModels())('rejects $name with one line', async ({ dir, message }) => {
    const { code, out, err } = await run('inspect', dir);
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^tensorsky: /);
    expect(err[0]).toMatch(message);
  });
});

describe("tensorsky inspect with saved_model_cli show's flags", () => {
  const signatureLines = [
    "MetaGraphDef with tag-set: 'serve' contains the following SignatureDefs:",
    '',
    "signature_def['regress_x_to_y']:",
    "  inputs['inputs'] tensor_info: dtype: DT_STRING shape: unknown_rank name: tf_example:0",
    "  outputs['outputs'] tensor_info: dtype: DT_FLOAT shape: (-1, 1) name: y:0",
    '  Method name is: tensorflow/serving/regress',
  ];

  it('--dir DIR, --tag_set and --all show what the positional directory and --tag show', async () => {
    const plain = await run('inspect', halfPlusTwo);
    expect(plain.code).toBe(0);
    for (const argv of [['--dir', halfPlusTwo], ['--dir', halfPlusTwo, '--tag_set', 'serve'], [halfPlusTwo, '--tag-set', 'serve', '--all'], ['--all', '--dir', halfPlusTwo]]) {
      expect(await run('inspect', ...argv)).toEqual(plain);
    }
    const missing = await run('inspect', '--dir', halfPlusTwo, '--tag_set', 'serve,gpu');
    expect(missing.code).toBe(1);
    expect(missing.err).toEqual(['tensorsky: no MetaGraphDef with tag-set "serve,gpu" in this SavedModel; available tag-sets: "serve"']);
  });

  it('--signature_def NAME shows that SignatureDef only', async () => {
    const { code, out, err } = await run('inspect', '--dir', halfPlusTwo, '--tag_set', 'serve', '--signature_def', 'regress_x_to_y');
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out).toEqual([`SavedModel ${halfPlusTwo} (saved_model.pb 11.8 KiB)`, '', ...signatureLines]);

    const json = await run('inspect', halfPlusTwo, '--signature-def', 'regress_x_to_y', '--json');
    expect(json.code).toBe(0);
    expect(json.json[0].metaGraphs).toHaveLength(1);
    expect(json.json[0].metaGraphs[0].signatures).toEqual([
      {
        key: 'regress_x_to_y',
        methodName: 'tensorflow/serving/regress',
        inputs: [{ alias: 'inputs', name: 'tf_example:0', dtype: 'DT_STRING', shape: null }],
        outputs: [{ alias: 'outputs', name: 'y:0', dtype: 'DT_FLOAT', shape: [-1, 1] }],
      },
    ]);
  });

  it('names the SignatureDefs there are when --signature_def names none of them', async () => {
    const available = '"classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y", "regress_x_to_y2", "serving_default"';
    const typo = await run('inspect', '--dir', halfPlusTwo, '--signature_def', 'serving_defualt');
    expect(typo.code).toBe(1);
    expect(typo.out).toEqual([]);
    expect(typo.err).toEqual([`tensorsky: no SignatureDef "serving_defualt" in this SavedModel; available SignatureDefs: ${available}; did you mean "serving_default"?`]);
    const other = await run('inspect', '--dir', halfPlusTwo, '--tag_set', 'serve', '--signature_def', 'predict');
    expect(other.code).toBe(1);
    expect(other.err).toEqual([`tensorsky: no SignatureDef "predict" in the MetaGraphDef with tag-set "serve"; available SignatureDefs: ${available}`]);
  });

  it.each([
    [[], 'inspect needs a SavedModel directory: tensorsky inspect DIRECTORY, or --dir DIRECTORY'],
    [['--dir'], '--dir needs a value'],
    [[halfPlusTwo, '--dir', halfPlusTwo], '--dir and a DIRECTORY argument both name the SavedModel: give one of them'],
    [['--dir', halfPlusTwo, '--signature_def'], '--signature_def needs a value'],
    [['--dir', halfPlusTwo, '--all', '--signature_def', 'serving_default'], '--signature_def shows one SignatureDef and --all every one: give one of them'],
  ])('inspect %j is a usage error', async (argv, message) => {
    const { code, out, err } = await run('inspect', ...argv);
    expect(err).toEqual([`tensorsky: ${message} (see tensorsky inspect --help)`]);
    expect(code).toBe(2);
    expect(out).toEqual([]);
  });
});

describe('tensorsky inspect (spawned binary)', () => {
  const bin = path.join(cliRoot, 'bin', 'tensorsky.js');

  beforeAll(() => {
    // bin/tensorsky.js runs the built dist/ (nx's test target builds first); say so instead of testing stale code.
    const pairs = [
      [path.join(cliRoot, 'src', 'commands', 'inspect.ts'), path.join(cliRoot, 'dist', 'commands', 'inspect.js')],
      ...['io', 'summary'].map((name) => [
        path.join(repoRoot, 'packages', 'saved-model', 'src', `${name}.ts`),
        path.join(repoRoot, 'packages', 'saved-model', 'dist', `${name}.js`),
      ]),
    ];
    for (const [source, built] of pairs) {
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
        throw new Error(`${built} is missing or older than its source: run \`npx nx run-many -t build\` first`);
      }
    }
  });

  function spawnCli(...args: string[]) {
    return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TENSORSKY_DEBUG: '' } });
  }

  it('prints a fixture', () => {
    const result = spawnCli('inspect', halfPlusTwo);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      "signature_def['serving_default']:\n  inputs['x'] tensor_info: dtype: DT_FLOAT shape: (-1, 1) name: x:0\n",
    );
  });

  it("takes saved_model_cli's spellings", () => {
    const result = spawnCli('inspect', '--dir', halfPlusTwo, '--tag_set', 'serve', '--signature_def', 'serving_default');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/\n\nsignature_def\['serving_default'\]:\n  inputs\['x'\] tensor_info: dtype: DT_FLOAT shape: \(-1, 1\) name: x:0\n.*\n  Method name is: tensorflow\/serving\/predict\n$/);
  });

  it('prints valid JSON with --json', () => {
    const result = spawnCli('inspect', halfPlusTwo, '--json');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).metaGraphs[0].signatures).toHaveLength(5);
  });

  it.each(badModels())('exits non-zero with one line on stderr for $name', ({ dir, message }) => {
    const result = spawnCli('inspect', dir);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
