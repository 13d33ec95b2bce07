import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DataType,
  crc32c,
  encodeMessage,
  maskCrc32c,
  readTensorBundle,
  snappyUncompress,
  unmaskCrc32c,
} from '../src/index.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const models = SAVED_MODELS_DIR;
const variables = (...parts: string[]) => path.join(models, ...parts, 'variables', 'variables');

function scalars(prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, t] of readTensorBundle(prefix)) {
    if (t.dtype !== DataType.DT_STRING) out[name] = Array.from(t.read() as ArrayLike<unknown>);
  }
  return out;
}

function tempCopy(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
  for (const f of fs.readdirSync(path.dirname(prefix))) fs.copyFileSync(path.join(path.dirname(prefix), f), path.join(dir, f));
  return path.join(dir, path.basename(prefix));
}

describe('crc32c', () => {
  it('matches the published CRC-32C check values', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    // RFC 3720 (iSCSI) B.4 test vectors.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('extends incrementally and masks like TensorFlow', () => {
    const bytes = new TextEncoder().encode('hello world, tensor bundle');
    expect(crc32c(bytes.subarray(7), crc32c(bytes.subarray(0, 7)))).toBe(crc32c(bytes));
    const crc = crc32c(bytes);
    expect(maskCrc32c(crc)).not.toBe(crc);
    expect(unmaskCrc32c(maskCrc32c(crc))).toBe(crc);
    expect(maskCrc32c(0)).toBe(0xa282ead8);
  });
});

describe('snappyUncompress', () => {
  it('decodes literals and overlapping copies per the snappy format description', () => {
    // length 13; literal "abc"; copy (1-byte offset) length 9 from offset 3; literal "X"
    const block = Uint8Array.from([13, 0x08, 97, 98, 99, 0x15, 3, 0x00, 88]);
    expect(new TextDecoder().decode(snappyUncompress(block))).toBe('abcabcabcabcX');
  });

  it('rejects a copy that reaches before the start of the output', () => {
    expect(() => snappyUncompress(Uint8Array.from([4, 0x01, 5]))).toThrow(/snappy/);
  });
});

describe('readTensorBundle on TensorFlow-written checkpoints', () => {
  it('reads half_plus_two (TF1): a=0.5, b=2, c=3', () => {
    const bundle = readTensorBundle(variables('tf-serving', 'saved_model_half_plus_two_cpu', '00000123'));
    expect([...bundle.keys()]).toEqual(['a', 'a2', 'b', 'c', 'c2']);
    const a = bundle.get('a')!;
    expect(a.dtype).toBe(DataType.DT_FLOAT);
    expect(a.shape).toEqual([]);
    expect(a.read()).toBeInstanceOf(Float32Array);
    expect(scalars(variables('tf-serving', 'saved_model_half_plus_two_cpu', '00000123'))).toEqual({
      a: [0.5],
      a2: [0.5],
      b: [2],
      c: [3],
      c2: [3],
    });
  });

  it('reads half_plus_three (a=0.5, b=3) and counter (0)', () => {
    expect(scalars(variables('tf-serving', 'saved_model_half_plus_three', '00000123'))).toMatchObject({ a: [0.5], b: [3] });
    expect(scalars(variables('tf-serving', 'saved_model_counter', '00000123'))).toEqual({ counter: [0] });
  });

  it('reads both versions of the two-version repository', () => {
    for (const v of ['00000123', '00000124']) {
      expect(scalars(variables('tf-serving', 'saved_model_half_plus_two_2_versions', v))).toMatchObject({ a: [0.5], b: [2] });
    }
  });

  it('reads TF2 object-graph checkpoints, including the string-typed object graph', () => {
    const bundle = readTensorBundle(variables('tfjs-node', 'int64_multiply'));
    expect([...bundle.keys()].sort()).toEqual([
      '_CHECKPOINTABLE_OBJECT_GRAPH',
      'v1/.ATTRIBUTES/VARIABLE_VALUE',
      'v2/.ATTRIBUTES/VARIABLE_VALUE',
    ]);
    const v1 = bundle.get('v1/.ATTRIBUTES/VARIABLE_VALUE')!;
    expect(v1.dtype).toBe(DataType.DT_INT64);
    expect(Array.from(v1.read() as BigInt64Array)).toEqual([3n]);
    const graph = bundle.get('_CHECKPOINTABLE_OBJECT_GRAPH')!;
    expect(graph.dtype).toBe(DataType.DT_STRING);
    const [bytes] = graph.read() as Uint8Array[];
    // The TrackableObjectGraph names the checkpoint keys of its variables.
    const text = Buffer.from(bytes).toString('latin1');
    expect(text).toContain('v1/.ATTRIBUTES/VARIABLE_VALUE');
    expect(text).toContain('v2/.ATTRIBUTES/VARIABLE_VALUE');

    const tf2 = readTensorBundle(variables('tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123'));
    expect(Array.from(tf2.get('b/.ATTRIBUTES/VARIABLE_VALUE')!.read() as Float32Array)).toEqual([2]);
    expect(scalars(variables('tfjs-node', 'model_multi_output'))).toEqual({
      'two/.ATTRIBUTES/VARIABLE_VALUE': [2],
      'v/.ATTRIBUTES/VARIABLE_VALUE': [3],
    });
    expect(readTensorBundle(variables('tfjs-node', 'model_multi_output')).get('two/.ATTRIBUTES/VARIABLE_VALUE')!.dtype).toBe(
      DataType.DT_INT32,
    );
  });
});

describe('readTensorBundle integrity checks', () => {
  const source = variables('tf-serving', 'saved_model_half_plus_two_cpu', '00000123');

  it('detects corrupted tensor data', () => {
    const prefix = tempCopy(source);
    const data = `${prefix}.data-00000-of-00001`;
    const bytes = fs.readFileSync(data);
    bytes[0] ^= 0x01; // first byte of "a"
    fs.writeFileSync(data, bytes);
    const bundle = readTensorBundle(prefix);
    expect(() => bundle.get('a')!.read()).toThrow(/checksum mismatch/);
    expect(Array.from(bundle.get('b')!.read() as Float32Array)).toEqual([2]);
  });

  it('detects a corrupted index block and a wrong magic number', () => {
    const prefix = tempCopy(source);
    const index = fs.readFileSync(`${prefix}.index`);
    const flipped = Buffer.from(index);
    flipped[10] ^= 0x40;
    fs.writeFileSync(`${prefix}.index`, flipped);
    expect(() => readTensorBundle(prefix)).toThrow(/checksum mismatch/);
    const badMagic = Buffer.from(index);
    badMagic[badMagic.length - 1] ^= 0xff;
    fs.writeFileSync(`${prefix}.index`, badMagic);
    expect(() => readTensorBundle(prefix)).toThrow(/magic/);
  });

  it('names the missing file', () => {
    expect(() => readTensorBundle(path.join(os.tmpdir(), 'no-such-bundle', 'variables'))).toThrow(/variables\.index/);
  });

  it('reads snappy-compressed table blocks (written by TensorFlow releases before 1.2)', () => {
    // A minimal SSTable written by hand per tensorflow/core/lib/io/format.cc: one data block holding
    // the header and one entry, stored as a snappy literal, then the index block and the footer.
    const value = new Float32Array([0.25, -4]);
    const dataBytes = new Uint8Array(value.buffer);
    const entries: [string, Uint8Array][] = [
      ['', encodeMessage('BundleHeaderProto', { num_shards: 1, version: { producer: 1 } })],
      [
        'w',
        encodeMessage('BundleEntryProto', {
          dtype: DataType.DT_FLOAT,
          shape: { dim: [{ size: 2 }] },
          offset: 0,
          size: dataBytes.length,
          crc32c: maskCrc32c(crc32c(dataBytes)),
        }),
      ],
    ];
    const varint = (n: number) => {
      const out: number[] = [];
      for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
      out.push(n);
      return out;
    };
    const block = (kvs: [string, Uint8Array][]) => {
      const out: number[] = [];
      for (const [k, v] of kvs) out.push(...varint(0), ...varint(k.length), ...varint(v.length), ...Buffer.from(k), ...v);
      out.push(0, 0, 0, 0, 1, 0, 0, 0); // one restart point at offset 0, then num_restarts = 1
      return Uint8Array.from(out);
    };
    const trailer = (contents: Uint8Array, type: number) => {
      const t = Buffer.alloc(5);
      t[0] = type;
      t.writeUInt32LE(maskCrc32c(crc32c(Uint8Array.from([...contents, type]))), 1);
      return t;
    };
    const raw = block(entries);
    const literal = Uint8Array.from([...varint(raw.length), 61 << 2, (raw.length - 1) & 0xff, (raw.length - 1) >> 8, ...raw]);
    const indexBlock = block([['w', Uint8Array.from([...varint(0), ...varint(literal.length)])]]);
    const indexOffset = literal.length + 5;
    const footer = Buffer.alloc(48);
    Buffer.from([...varint(0), ...varint(0), ...varint(indexOffset), ...varint(indexBlock.length)]).copy(footer);
    footer.writeUInt32LE(0x8b80fb57, 40);
    footer.writeUInt32LE(0xdb477524, 44);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-snappy-'));
    const prefix = path.join(dir, 'variables');
    fs.writeFileSync(`${prefix}.index`, Buffer.concat([literal, trailer(literal, 1), indexBlock, trailer(indexBlock, 0), footer]));
    fs.writeFileSync(`${prefix}.data-00000-of-00001`, dataBytes);
    const bundle = readTensorBundle(prefix);
    expect([...bundle.keys()]).toEqual(['w']);
    expect(bundle.get('w')!.shape).toEqual([2]);
    expect(Array.from(bundle.get('w')!.read() as Float32Array)).toEqual([0.25, -4]);
  });
});
