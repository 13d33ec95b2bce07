import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TfRecordError, readTfRecords, writeTfRecords } from '../src/index.js';

const records = [new TextEncoder().encode('hello'), new Uint8Array(0), Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff)];

// The framing of record_writer.cc written independently: a bitwise CRC-32C (the table-free textbook
// form, not the table-driven one under test), LevelDB's mask, struct's little-endian fields.
const PYTHON_WRITER = `
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff
def masked(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xffffffff) + 0xa282ead8) & 0xffffffff
out = b''
for hexed in sys.argv[1:]:
    data = bytes.fromhex(hexed)
    header = struct.pack('<Q', len(data))
    out += header + struct.pack('<I', masked(header)) + data + struct.pack('<I', masked(data))
sys.stdout.write(out.hex())
`;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const python = spawnSync('python3', ['-c', 'pass']).status === 0;

describe('TFRecord files', () => {
  it.skipIf(!python)('are written byte for byte as an independent writer of record_writer.cc framing writes them (python3)', () => {
    const result = spawnSync('python3', ['-c', PYTHON_WRITER, ...records.map((r) => hex(r) || '')], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(hex(writeTfRecords(records))).toBe(result.stdout);
  });

  it('read back the records written', () => {
    expect(readTfRecords(writeTfRecords(records))).toEqual(records);
    expect(readTfRecords(new Uint8Array(0))).toEqual([]);
  });

  it("refuse truncated and corrupted files with RecordReader's messages and offsets", () => {
    const file = writeTfRecords(records);
    const second = 12 + 5 + 4;
    expect(() => readTfRecords(file.subarray(0, second + 5))).toThrow(new TfRecordError(`truncated record at ${second}`));
    expect(() => readTfRecords(file.subarray(0, file.length - 1))).toThrow(new TfRecordError(`truncated record at ${second + 16}`));
    const data = file.slice();
    data[12] ^= 1; // a bit of "hello"
    expect(() => readTfRecords(data)).toThrow(new TfRecordError('corrupted record at 0'));
    const header = file.slice();
    header[second] ^= 1; // the second record's length
    expect(() => readTfRecords(header)).toThrow(new TfRecordError(`corrupted record at ${second}`));
  });
});
