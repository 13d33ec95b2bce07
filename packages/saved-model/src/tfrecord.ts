// TFRecord files (tensorflow/core/lib/io/record_reader.cc, record_writer.cc), uncompressed: each record
// is its length as a little-endian uint64, the masked crc32c of those 8 bytes, the data, and the masked
// crc32c of the data. TF Serving's warmup requests (assets.extra/tf_serving_warmup_requests) are one.
import { crc32c, maskCrc32c, unmaskCrc32c } from './bundle.js';

/** A file that is not a well-formed TFRecord file: TensorFlow's DATA_LOSS. */
export class TfRecordError extends Error {
  override name = 'TfRecordError';
}

const HEADER_SIZE = 12; // uint64 length + masked crc32c of it
const FOOTER_SIZE = 4; // masked crc32c of the data

/**
 * The records of a TFRecord file, with RecordReader's checks: a file may end only between records
 * (else "truncated record at <offset>"), and both checksums must match ("corrupted record at <offset>").
 */
export function readTfRecords(file: Uint8Array): Uint8Array[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset < file.length) {
    if (file.length - offset < HEADER_SIZE) throw new TfRecordError(`truncated record at ${offset}`);
    if (!checksumMatches(file, view, offset, 8)) throw new TfRecordError(`corrupted record at ${offset}`);
    const length = view.getBigUint64(offset, true);
    const end = BigInt(offset + HEADER_SIZE) + length + BigInt(FOOTER_SIZE);
    if (end > BigInt(file.length)) throw new TfRecordError(`truncated record at ${offset}`);
    const start = offset + HEADER_SIZE;
    if (!checksumMatches(file, view, start, Number(length))) throw new TfRecordError(`corrupted record at ${offset}`);
    records.push(file.subarray(start, start + Number(length)));
    offset = Number(end);
  }
  return records;
}

/** A TFRecord file holding `records`, as TensorFlow's RecordWriter writes it (no compression). */
export function writeTfRecords(records: readonly Uint8Array[]): Uint8Array {
  const size = records.reduce((n, r) => n + HEADER_SIZE + r.length + FOOTER_SIZE, 0);
  const file = new Uint8Array(size);
  const view = new DataView(file.buffer);
  let offset = 0;
  for (const record of records) {
    view.setBigUint64(offset, BigInt(record.length), true);
    view.setUint32(offset + 8, maskCrc32c(crc32c(file.subarray(offset, offset + 8))), true);
    file.set(record, offset + HEADER_SIZE);
    view.setUint32(offset + HEADER_SIZE + record.length, maskCrc32c(crc32c(record)), true);
    offset += HEADER_SIZE + record.length + FOOTER_SIZE;
  }
  return file;
}

/** Whether the `length` bytes at `start` are followed by their masked crc32c. */
function checksumMatches(file: Uint8Array, view: DataView, start: number, length: number): boolean {
  return unmaskCrc32c(view.getUint32(start + length, true)) === crc32c(file.subarray(start, start + length));
}
