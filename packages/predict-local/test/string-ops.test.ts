// Substr and Equal on string tensors, byte for byte, against TensorFlow's kernels (substr_op.cc with unit
// BYTE; cwise Equal) computed by hand: an export's serving graph tells JPEGs apart with
// Equal(Substr(contents, 0, 3), b"\xff\xd8\xff"), and bytes that are not UTF-8 must compare as bytes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, GraphBuilder, validateGraph, writeSavedModel, type GraphTensor } from '@tensorsky/saved-model';
import { describe, expect, it } from 'vitest';
import { loadModel, type Backend } from '../src/index.js';

async function save(b: GraphBuilder, inputs: Record<string, GraphTensor>, outputs: Record<string, GraphTensor>): Promise<string> {
  const graphDef = b.toGraphDef();
  const signature = b.signature(inputs, outputs);
  expect(validateGraph(graphDef, undefined, { signatures: { serving_default: signature } }).issues).toEqual([]);
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-strings-')), 'model');
  await writeSavedModel(dir, {
    savedModel: { saved_model_schema_version: 1, meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }] },
  });
  return dir;
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const JPEG = bytes(0xff, 0xd8, 0xff);

describe.each(['wasm', 'cpu'] as Backend[])('string ops on %s', (backend) => {
  it('Equal(Substr(x, 0, 3), b"\\xff\\xd8\\xff"): tf.io.is_jpeg, byte for byte', async () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DataType.DT_STRING, [-1]);
    const head = b.apply('Substr', [x, b.constant('pos', new Int32Array([0]), []), b.constant('len', new Int32Array([3]), [])], {}, { name: 'head' });
    const isJpeg = b.apply('Equal', [head, b.constant('magic', JPEG, [], DataType.DT_STRING)], {}, { name: 'is_jpeg' });
    const model = await loadModel(await save(b, { x }, { head, is_jpeg: isJpeg }), { backend });
    const inputs = [
      bytes(0xff, 0xd8, 0xff, 0xe0, 1, 2), // a JPEG
      bytes(0xfe, 0xd8, 0xff, 0xe0), // one byte off: also invalid UTF-8, like the JPEG magic
      bytes(0xff, 0xd8), // shorter than 3: Substr keeps what there is
      bytes(), // empty: pos 0 is in range (0 <= pos <= size)
      bytes(0x89, 0x50, 0x4e, 0x47),
    ];
    const out = await model.predict({ x: inputs });
    expect(out.head.data).toEqual([JPEG, bytes(0xfe, 0xd8, 0xff), bytes(0xff, 0xd8), bytes(), bytes(0x89, 0x50, 0x4e)]);
    expect(out.is_jpeg).toEqual({ dtype: 'DT_BOOL', shape: [5], data: bytes(1, 0, 0, 0, 0) });
    model.dispose();
  });

  it('Substr: a negative pos counts from the end; pos beyond the string is an error', async () => {
    const b = new GraphBuilder();
    const x = b.placeholder('x', DataType.DT_STRING, [-1]);
    const pos = b.placeholder('pos', DataType.DT_INT32, []);
    const len = b.placeholder('len', DataType.DT_INT32, []);
    const y = b.apply('Substr', [x, pos, len], {}, { name: 'y' });
    const model = await loadModel(await save(b, { x, pos, len }, { y }), { backend });
    const text = (s: string) => new TextEncoder().encode(s);
    expect((await model.predict({ x: [text('Hello'), text('abc')], pos: -2, len: 5 })).y.data).toEqual([text('lo'), text('bc')]);
    expect((await model.predict({ x: [text('Hello')], pos: 5, len: 1 })).y.data).toEqual([text('')]);
    await expect(model.predict({ x: [text('Hello'), text('abc')], pos: 4, len: 1 })).rejects.toThrow(/pos 4 out of range for string at index 1/);
    model.dispose();
  });

  it('Equal broadcasts strings, and numbers still go to TF.js', async () => {
    const b = new GraphBuilder();
    const s = b.placeholder('s', DataType.DT_STRING, [2, 1]);
    const t = b.placeholder('t', DataType.DT_STRING, [2]);
    const n = b.placeholder('n', DataType.DT_INT32, [3]);
    const strings = b.apply('Equal', [s, t], {}, { name: 'strings' });
    const numbers = b.apply('Equal', [n, b.constant('two', new Int32Array([2]), [])], {}, { name: 'numbers' });
    const model = await loadModel(await save(b, { s, t, n }, { strings, numbers }), { backend });
    const out = await model.predict({ s: [[bytes(1)], [bytes(2)]], t: [bytes(1), bytes(2)], n: [1, 2, 3] });
    // [[1 == 1, 1 == 2], [2 == 1, 2 == 2]]
    expect(out.strings).toEqual({ dtype: 'DT_BOOL', shape: [2, 2], data: bytes(1, 0, 0, 1) });
    expect(out.numbers).toEqual({ dtype: 'DT_BOOL', shape: [3], data: bytes(0, 1, 0) });
    model.dispose();
  });
});
