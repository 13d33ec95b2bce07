// Reader for TensorFlow's tensor bundle (checkpoint V2): `PREFIX.index` is a LevelDB-format SSTable
// mapping tensor names to BundleEntryProto; the bytes live in `PREFIX.data-0000S-of-0000N`.
// Follows tensorflow/core/util/tensor_bundle/tensor_bundle.cc and tensorflow/core/lib/io/{format,block}.cc.
import fs from 'node:fs';
import { dtypeInfo, type TypedArray } from './dtypes.js';
import {
  type BundleEntryProto,
  type BundleHeaderProto,
  DataType,
  dataTypeName,
  decodeMessage,
  int64ToNumber,
} from './proto.js';

export class TensorBundleError extends Error {
  override name = 'TensorBundleError';
}

/** Values of one tensor: a typed array for numeric dtypes (DT_HALF/DT_BFLOAT16 widened to float32), bytes per element for DT_STRING. */
export type BundleValues = TypedArray | Uint8Array[];

export interface BundleTensor {
  name: string;
  dtype: DataType;
  shape: number[];
  /** Reads the tensor from its data shard, verifying TensorFlow's crc32c. */
  read(): BundleValues;
}

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), as in tensorflow/core/lib/hash/crc32c.h, with TF's/LevelDB's masking.

const CRC_TABLES = (() => {
  const tables = Array.from({ length: 4 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 4; t++) tables[t][n] = (tables[t - 1][n] >>> 8) ^ tables[0][tables[t - 1][n] & 0xff];
  }
  return tables;
})();

/** crc32c of `bytes`, continuing from `crc` (0 to start). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3] = CRC_TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const end4 = bytes.length - (bytes.length % 4);
  for (; i < end4; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const MASK_DELTA = 0xa282ead8;

/** TF/LevelDB store masked CRCs so that CRCs of data containing CRCs stay well distributed. */
export function maskCrc32c(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}

export function unmaskCrc32c(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// SSTable (tensorflow/core/lib/io/table.cc, format.cc, block.cc).

const TABLE_MAGIC_LO = 0x8b80fb57; // kTableMagicNumber = 0xdb4775248b80fb57, stored little-endian
const TABLE_MAGIC_HI = 0xdb477524;
const FOOTER_LENGTH = 48; // two BlockHandles padded to 40 bytes + 8-byte magic
const BLOCK_TRAILER_LENGTH = 5; // 1-byte compression type + 4-byte masked crc32c
const NO_COMPRESSION = 0;
const SNAPPY_COMPRESSION = 1;

class ByteReader {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    readonly what = 'data',
  ) {}

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.bytes.length) throw new TensorBundleError(`truncated varint in ${this.what}`);
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * scale;
      if (!(b & 0x80)) {
        if (!Number.isSafeInteger(result)) throw new TensorBundleError(`varint too large in ${this.what}`);
        return result;
      }
      scale *= 128;
    }
    throw new TensorBundleError(`malformed varint in ${this.what}`);
  }

  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new TensorBundleError(`truncated ${this.what}`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

interface BlockHandle {
  offset: number;
  size: number;
}

function readBlockHandle(r: ByteReader): BlockHandle {
  return { offset: r.varint(), size: r.varint() };
}

/** Decompresses a raw snappy block (https://github.com/google/snappy/blob/main/format_description.txt). */
export function snappyUncompress(input: Uint8Array): Uint8Array {
  const r = new ByteReader(input, 0, 'snappy block');
  const out = new Uint8Array(r.varint());
  let o = 0;
  const le = (n: number) => {
    const b = r.take(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
    return v;
  };
  while (r.pos < input.length) {
    const tag = input[r.pos++];
    let length: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        length = tag >>> 2;
        length = (length < 60 ? length : le(length - 59)) + 1;
        if (o + length > out.length) throw new TensorBundleError('corrupt snappy block: literal overruns output');
        out.set(r.take(length), o);
        o += length;
        continue;
      }
      case 1:
        length = 4 + ((tag >>> 2) & 7);
        offset = ((tag >>> 5) << 8) | r.take(1)[0];
        break;
      case 2:
        length = 1 + (tag >>> 2);
        offset = le(2);
        break;
      default:
        length = 1 + (tag >>> 2);
        offset = le(4);
    }
    if (offset === 0 || offset > o || o + length > out.length) {
      throw new TensorBundleError('corrupt snappy block: bad copy');
    }
    // Copies may overlap their own output (run-length style), so copy byte by byte.
    for (let i = 0; i < length; i++, o++) out[o] = out[o - offset];
  }
  if (o !== out.length) throw new TensorBundleError('corrupt snappy block: output shorter than declared');
  return out;
}

function readBlock(file: Uint8Array, handle: BlockHandle, path: string): Uint8Array {
  const end = handle.offset + handle.size;
  if (end + BLOCK_TRAILER_LENGTH > file.length) {
    throw new TensorBundleError(`${path}: block at ${handle.offset} runs past the end of the file`);
  }
  const type = file[end];
  const stored = new DataView(file.buffer, file.byteOffset + end + 1, 4).getUint32(0, true);
  const actual = crc32c(file.subarray(handle.offset, end + 1)); // covers the type byte too
  if (unmaskCrc32c(stored) !== actual) {
    throw new TensorBundleError(`${path}: block checksum mismatch at offset ${handle.offset}; the file is corrupt`);
  }
  const contents = file.subarray(handle.offset, end);
  if (type === NO_COMPRESSION) return contents;
  if (type === SNAPPY_COMPRESSION) return snappyUncompress(contents);
  throw new TensorBundleError(`${path}: unknown block compression type ${type} (expected 0 none or 1 snappy)`);
}

/** All key/value entries of a block, in order (keys are prefix-compressed against the previous key). */
function* blockEntries(block: Uint8Array, path: string): Generator<[Uint8Array, Uint8Array]> {
  if (block.length < 4) throw new TensorBundleError(`${path}: block too short`);
  const view = new DataView(block.buffer, block.byteOffset, block.length);
  const numRestarts = view.getUint32(block.length - 4, true);
  const entriesEnd = block.length - 4 * (numRestarts + 1);
  if (entriesEnd < 0) throw new TensorBundleError(`${path}: bad restart count in block`);
  const r = new ByteReader(block.subarray(0, entriesEnd), 0, `${path} block`);
  let key = new Uint8Array(0);
  while (r.pos < entriesEnd) {
    const shared = r.varint();
    const nonShared = r.varint();
    const valueLength = r.varint();
    if (shared > key.length) throw new TensorBundleError(`${path}: corrupt block entry`);
    const next = new Uint8Array(shared + nonShared);
    next.set(key.subarray(0, shared));
    next.set(r.take(nonShared), shared);
    key = next;
    yield [key, r.take(valueLength)];
  }
}

/** Every key/value of an SSTable file, in key order. */
function readTable(file: Uint8Array, path: string): [string, Uint8Array][] {
  if (file.length < FOOTER_LENGTH) throw new TensorBundleError(`${path}: too short to be a tensor bundle index`);
  const footer = file.subarray(file.length - FOOTER_LENGTH);
  const fv = new DataView(footer.buffer, footer.byteOffset, FOOTER_LENGTH);
  if (fv.getUint32(40, true) !== TABLE_MAGIC_LO || fv.getUint32(44, true) !== TABLE_MAGIC_HI) {
    throw new TensorBundleError(`${path}: not a TensorFlow tensor bundle index (bad table magic number)`);
  }
  const fr = new ByteReader(footer, 0, `${path} footer`);
  readBlockHandle(fr); // metaindex: unused by tensor bundles
  const indexHandle = readBlockHandle(fr);
  const keys = new TextDecoder('utf-8');
  const out: [string, Uint8Array][] = [];
  for (const [, handleBytes] of blockEntries(readBlock(file, indexHandle, path), path)) {
    const handle = readBlockHandle(new ByteReader(handleBytes, 0, `${path} index entry`));
    for (const [key, value] of blockEntries(readBlock(file, handle, path), path)) {
      out.push([keys.decode(key), value.slice()]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tensor bundle.

/** `prefix.data-00000-of-00001`, as DataFilename() in tensor_bundle.cc names shards. */
export function bundleDataFilename(prefix: string, shard: number, numShards: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${prefix}.data-${pad(shard)}-of-${pad(numShards)}`;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Little-endian bytes → typed array of the dtype (copied, so the result is aligned); 16-bit floats widen to float32. */
function fixedWidthValues(dtype: DataType, bytes: Uint8Array): Exclude<BundleValues, Uint8Array[]> {
  const buf = bytes.slice().buffer;
  if (dtype === DataType.DT_HALF) return Float32Array.from(new Uint16Array(buf), halfToFloat);
  if (dtype === DataType.DT_BFLOAT16) {
    const bits = new Uint16Array(buf);
    const wide = new Uint32Array(bits.length);
    for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
    return new Float32Array(wide.buffer);
  }
  return new (dtypeInfo(dtype).array ?? Uint8Array)(buf);
}

/** DT_STRING layout: varint64 lengths, masked crc32c of the lengths (as uint32), then the bytes. */
function stringValues(bytes: Uint8Array, count: number, where: string): { values: Uint8Array[]; crc: number } {
  const r = new ByteReader(bytes, 0, where);
  const lengths: number[] = [];
  let crc = 0;
  const u32 = new Uint8Array(4);
  const u32View = new DataView(u32.buffer);
  const u64 = new Uint8Array(8);
  const u64View = new DataView(u64.buffer);
  for (let i = 0; i < count; i++) {
    const length = r.varint();
    lengths.push(length);
    if (length <= 0xffffffff) {
      u32View.setUint32(0, length, true);
      crc = crc32c(u32, crc);
    } else {
      u64View.setBigUint64(0, BigInt(length), true);
      crc = crc32c(u64, crc);
    }
  }
  const storedLengthCrc = r.take(4);
  if (unmaskCrc32c(new DataView(storedLengthCrc.buffer, storedLengthCrc.byteOffset, 4).getUint32(0, true)) !== crc) {
    throw new TensorBundleError(`${where}: string length checksum mismatch; the checkpoint is corrupt`);
  }
  crc = crc32c(storedLengthCrc, crc);
  const values = lengths.map((n) => r.take(n).slice());
  for (const v of values) crc = crc32c(v, crc);
  return { values, crc };
}

function readAt(path: string, offset: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const fd = fs.openSync(path, 'r');
  try {
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, out, done, size - done, offset + done);
      if (n === 0) throw new TensorBundleError(`${path}: file ends before offset ${offset + size}`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

function entryTensor(name: string, entry: BundleEntryProto, prefix: string, numShards: number): BundleTensor {
  const dtype = entry.dtype ?? DataType.DT_INVALID;
  const shape = (entry.shape?.dim ?? []).map((d) => int64ToNumber(d.size));
  const count = shape.reduce((a, b) => a * b, 1);
  const read = (): BundleValues => {
    if (entry.slices?.length) {
      throw new TensorBundleError(`checkpoint tensor "${name}" is partitioned into slices, which is not supported`);
    }
    const size = int64ToNumber(entry.size);
    const file = bundleDataFilename(prefix, entry.shard_id ?? 0, numShards);
    const where = `${file} (tensor "${name}")`;
    const bytes = size > 0 ? readAt(file, int64ToNumber(entry.offset), size) : new Uint8Array(0);
    let values: BundleValues;
    let crc: number;
    if (dtype === DataType.DT_STRING) {
      ({ values, crc } = size > 0 ? stringValues(bytes, count, where) : { values: [], crc: 0 });
    } else {
      const width = dtypeInfo(dtype).size;
      if (width === undefined) {
        throw new TensorBundleError(`checkpoint tensor "${name}" has dtype ${dataTypeName(dtype)}, which cannot be read`);
      }
      if (size !== width * count) {
        throw new TensorBundleError(`${where}: stored size ${size} does not match shape [${shape}] of ${dataTypeName(dtype)}`);
      }
      values = fixedWidthValues(dtype, bytes);
      crc = crc32c(bytes);
    }
    if (unmaskCrc32c(entry.crc32c ?? 0) !== crc) {
      throw new TensorBundleError(`${where}: checksum mismatch; the checkpoint is corrupt`);
    }
    return values;
  };
  return { name, dtype, shape, read };
}

/**
 * Opens the tensor bundle at `prefix` (e.g. `<saved_model>/variables/variables`): reads and checks its
 * index, returning every tensor by name. Tensor data is read lazily by `read()`.
 */
export function readTensorBundle(prefix: string): Map<string, BundleTensor> {
  const indexPath = `${prefix}.index`;
  let indexBytes: Uint8Array;
  try {
    indexBytes = fs.readFileSync(indexPath);
  } catch (err) {
    throw new TensorBundleError(`cannot read checkpoint index ${indexPath}: ${(err as Error).message}`);
  }
  const entries = readTable(indexBytes, indexPath);
  const headerEntry = entries.find(([key]) => key === '');
  if (!headerEntry) throw new TensorBundleError(`${indexPath}: no bundle header entry; not a tensor bundle`);
  const header: BundleHeaderProto = decodeMessage('BundleHeaderProto', headerEntry[1]);
  if ((header.endianness ?? 0) !== 0) {
    throw new TensorBundleError(`${indexPath}: big-endian checkpoints are not supported`);
  }
  const numShards = header.num_shards ?? 1;
  const tensors = new Map<string, BundleTensor>();
  for (const [key, value] of entries) {
    if (key === '') continue;
    let entry: BundleEntryProto;
    try {
      entry = decodeMessage('BundleEntryProto', value);
    } catch (err) {
      throw new TensorBundleError(`${indexPath}: entry "${key}" is not a BundleEntryProto: ${(err as Error).message}`);
    }
    tensors.set(key, entryTensor(key, entry, prefix, numShards));
  }
  return tensors;
}

/** The checkpoint of the SavedModel in `dir` (variables/variables), or undefined when it has none (a frozen graph). */
export function readSavedModelVariables(dir: string): Map<string, BundleTensor> | undefined {
  const prefix = `${dir}/variables/variables`;
  return fs.existsSync(`${prefix}.index`) ? readTensorBundle(prefix) : undefined;
}
