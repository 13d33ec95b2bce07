// `tensorsky run`, like saved_model_cli run: TF Serving's half_plus_two (y = 0.5x + 2, from its docs)
// fed by --input_exprs and by .npy files written here byte by byte from numpy's format description
// (numpy/lib/format.py: magic, version 1.0, a header dict padded to 64 bytes); outputs printed as numpy
// prints them, as JSON, and as .npy files read back here the same way. A decode-only graph shows the
// pixels the graph sees, compared with sharp's decoding of the same lossless PNG.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImageToRgb } from '@tensorsky/image';
import { DataType, GraphBuilder, writeSavedModel } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imagePath, tfServingModel } from '@tensorsky/fixtures';
import { run } from './support/run-cli.js';

const halfPlusTwo = path.join(tfServingModel('saved_model_half_plus_two_cpu'), '00000123');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-run-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A .npy file (format version 1.0) holding `data` with numpy dtype `descr` and `shape`. */
function npyFile(name: string, descr: string, shape: number[], data: ArrayBufferView): string {
  const shapeText = `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const file = path.join(scratch, name);
  writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  return file;
}

/** Reads a .npy file of version 1.0: its header text and its data bytes. */
function readNpy(file: string): { header: string; data: Buffer } {
  const bytes = readFileSync(file);
  expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
  const length = bytes.readUInt16LE(8);
  expect((10 + length) % 64).toBe(0);
  return { header: bytes.subarray(10, 10 + length).toString('latin1'), data: bytes.subarray(10 + length) };
}

const base = ['run', '--dir', halfPlusTwo, '--tag_set', 'serve', '--signature_def', 'serving_default'];

describe('tensorsky run on half_plus_two', () => {
  it('prints y = 0.5x + 2 for --input_exprs, as numpy prints the array', async () => {
    const { code, out, err } = await run(...base, '--input_exprs', 'x=[[1.0],[2.0]]');
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out).toEqual(['Result for output key y:\n[[2.5]\n [3. ]]']);
  });

  it('reads --inputs from a .npy file and prints JSON', async () => {
    const x = npyFile('x.npy', '<f4', [3, 1], Float32Array.from([1, 2, 5]));
    const { code, json, err } = await run(...base, '--inputs', `x=${x}`, '--json', '--backend', 'cpu');
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(json[0]).toMatchObject({ signature: 'serving_default', backend: 'cpu', outputs: { y: { dtype: 'DT_FLOAT', shape: [3, 1], values: [[2.5], [3], [4.5]] } } });
  });

  it('widens integer arrays for a float input, as numpy does when TensorFlow converts a feed', async () => {
    const x = npyFile('x-int.npy', '<i8', [2, 1], BigInt64Array.from([4n, 6n]));
    const { code, json } = await run(...base, '--inputs', `x=${x}`, '--json');
    expect(code).toBe(0);
    expect(json[0].outputs.y.values).toEqual([[4], [5]]);
  });

  it('runs the signature named by --signature_def (regress_x2_to_y3: y3 = 0.5 x2 + 3)', async () => {
    const { code, out } = await run('run', '--dir', halfPlusTwo, '--signature_def', 'regress_x2_to_y3', '--input_exprs', 'inputs=[[2.0]]');
    expect(code).toBe(0);
    expect(out).toEqual(['Result for output key outputs:\n[[4.]]']);
  });

  it('checks the inputs against the signature before running it', async () => {
    // classify_x_to_y takes serialized tf.Examples (DT_STRING), so a float literal is refused.
    const { code, out, err } = await run('run', '--dir', halfPlusTwo, '--signature_def', 'classify_x_to_y', '--input_exprs', 'inputs=[[2.0]]');
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/--input_exprs inputs: input "inputs" takes DT_STRING, got floats/);
  });

  it('writes each output as OUTDIR/KEY.npy, and replaces it only with --overwrite', async () => {
    const outdir = path.join(scratch, 'out');
    const first = await run(...base, '--input_exprs', 'x=[[1.0],[2.0],[3.0]]', '--outdir', outdir);
    expect(first.code).toBe(0);
    expect(first.out).toEqual([`Output written to ${path.join(outdir, 'y.npy')}`]);
    const { header, data } = readNpy(path.join(outdir, 'y.npy'));
    expect(header).toMatch(/'descr':\s*'<f4'/);
    expect(header).toMatch(/'shape':\s*\(3,\s*1\)/);
    expect([0, 4, 8].map((at) => data.readFloatLE(at))).toEqual([2.5, 3, 3.5]);
    expect(data.length).toBe(12);

    const again = await run(...base, '--input_exprs', 'x=[[8.0]]', '--outdir', outdir);
    expect(again.code).toBe(2);
    expect(again.err).toHaveLength(1);
    expect(again.err[0]).toMatch(/--outdir already has .*y\.npy; add --overwrite to replace the output files/);

    const replaced = await run(...base, '--input_exprs', 'x=[[8.0]]', '--outdir', outdir, '--overwrite');
    expect(replaced.code).toBe(0);
    expect(readNpy(path.join(outdir, 'y.npy')).data.readFloatLE(0)).toBe(6);
  });

  it.each([
    ['a missing .npy file', () => ['--inputs', `x=${path.join(scratch, 'nope.npy')}`], /^tensorsky: --inputs x=.*nope\.npy: cannot read the file \(no such file\)/],
    ['a file that is not .npy', () => ['--inputs', `x=${imagePath('cat.jpg')}`], /^tensorsky: --inputs x=.*cat\.jpg: not a \.npy file/],
    ['a wrong dtype (strings for DT_FLOAT)', () => ['--input_exprs', "x=[['a'],['b']]"], /^tensorsky: --input_exprs x: input "x" takes DT_FLOAT, got strings/],
    ['a wrong dtype (booleans in a .npy)', () => ['--inputs', `x=${npyFile('b.npy', '|b1', [1, 1], Uint8Array.from([1]))}`], /^tensorsky: --inputs x: input "x" takes DT_FLOAT, got booleans/],
    ['a wrong shape', () => ['--input_exprs', 'x=[1.0, 2.0]'], /^tensorsky: --input_exprs x: input "x" takes shape \(-1, 1\), got \(2,\)/],
    ['a ragged literal', () => ['--input_exprs', 'x=[[1.0],[2.0, 3.0]]'], /ragged/],
    ['numpy code', () => ['--input_exprs', 'x=np.ones((2,1))'], /numpy expressions cannot run here/],
    ['an input the signature does not have', () => ['--input_exprs', 'z=[[1.0]]'], /names input "z", which the signature does not have; its inputs: x \(DT_FLOAT \(-1, 1\)\)/],
    ['no input at all', () => [], /--inputs or --input_exprs or --input_images is needed/],
    ['a truncated .npy', () => ['--inputs', `x=${npyFile('short.npy', '<f4', [4, 1], Float32Array.from([1, 2]))}`], /holds 2 values where its shape \(4, 1\) needs 4/],
  ])('%s: one line, exit 2', async (_name, flags, message) => {
    const { code, out, err } = await run(...base, ...flags());
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(message);
  });
});

describe('tensorsky run on an image-decoding graph', () => {
  let dir: string;
  beforeAll(async () => {
    // image_b64 (web-safe base64, as exports take it) -> the decoded RGB pixels and their mean.
    const g = new GraphBuilder();
    const image = g.placeholder('image_b64', DataType.DT_STRING, []);
    const pixels = g.decodeImage(g.decodeBase64(image), { channels: 3, name: 'pixels' });
    const mean = g.mean(g.cast(pixels, DataType.DT_FLOAT), [0, 1], { name: 'mean_rgb' });
    dir = path.join(scratch, 'decode', '1');
    await writeSavedModel(dir, {
      savedModel: {
        saved_model_schema_version: 1,
        meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: g.signature({ image_b64: image }, { pixels, mean_rgb: mean }) } }],
      },
    });
  });

  it('feeds --input_images as the graph wants them and writes the pixels it decoded', async () => {
    const png = imagePath('image_png_test.png');
    const outdir = path.join(scratch, 'pixels');
    const { code, err } = await run('run', '--dir', dir, '--input_images', `image_b64=${png}`, '--outdir', outdir);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const expected = await decodeImageToRgb(readFileSync(png));
    const { header, data } = readNpy(path.join(outdir, 'pixels.npy'));
    expect(header).toMatch(/'descr':\s*'\|u1'/);
    expect(header).toMatch(new RegExp(`'shape':\\s*\\(${expected.height},\\s*${expected.width},\\s*3\\)`));
    expect(Buffer.compare(data, Buffer.from(expected.data))).toBe(0);
    expect(existsSync(path.join(outdir, 'mean_rgb.npy'))).toBe(true);
  });

  it('refuses images for an input that is not encoded images, and several images for a scalar input', async () => {
    const numeric = await run(...base, '--input_images', `x=${imagePath('cat.jpg')}`);
    expect(numeric.code).toBe(2);
    expect(numeric.err[0]).toMatch(/--input_images x: input "x" is DT_FLOAT \(-1, 1\), not encoded images/);
    const two = await run('run', '--dir', dir, '--input_images', `image_b64=${imagePath('cat.jpg')},${imagePath('image_png_test.png')}`);
    expect(two.code).toBe(2);
    expect(two.err[0]).toMatch(/takes one image \(a scalar\), got 2/);
  });
});

// numpy itself, where python3 has it (Debian's python3-numpy): it reads what run writes, writes what run
// reads, and prints the same text for the same array.
const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
describe.skipIf(!numpy)('tensorsky run against numpy', () => {
  const python = (code: string) => {
    const r = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return r.stdout;
  };

  it.each([
    ['small', 'np.array([[1.0], [2.0], [0.1], [-7.25], [1000.5], [3e-3]])'],
    ['summarised beyond 1000 values', '(np.arange(1200) / 7).reshape(1200, 1)'],
    ['whole numbers', 'np.array([[2.0], [-6.0], [40.0]])'],
  ])('%s: reads numpy.save files, writes files numpy.load reads, prints arrays as numpy does', async (name, array) => {
    const x = path.join(scratch, `np-x-${name.length}.npy`);
    python(`import numpy as np; np.save(${JSON.stringify(x)}, (${array}).astype(np.float32))`);
    const outdir = path.join(scratch, `np-out-${name.length}`);
    const printed = await run(...base, '--inputs', `x=${x}`);
    expect(printed.code).toBe(0);
    expect((await run(...base, '--inputs', `x=${x}`, '--outdir', outdir)).code).toBe(0);
    const y = path.join(outdir, 'y.npy');
    expect(python(`import numpy as np; a = np.load(${JSON.stringify(y)}); print(a.dtype); print(a)`)).toBe(
      `float32\n${printed.out[0].replace('Result for output key y:\n', '')}\n`,
    );
  });
});
