// tf.Example (../proto/tensorflow/core/example/*.proto): writing one from plain values with protobufjs,
// and reading serialized ones the way TensorFlow's ParseExample kernels do
// (tensorflow/core/util/example_proto_fast_parsing.cc): straight from the wire, where several Examples
// concatenated are one Example (TF Serving prepends a context that way), the last entry of a feature
// name wins, and each feature is read only when a parser asks for it.
import protobuf from 'protobufjs';
import { DataType, TENSORFLOW_PROTO_DIR } from './proto.js';

/** The folder holding tensorflow/core/example/{example,feature}.proto (tensorflow.proto's), for schemas that import them. */
export const EXAMPLE_PROTO_DIR = TENSORFLOW_PROTO_DIR;

/** One feature's values: exactly one kind, as tensorflow.Feature's oneof; `{}` is a feature of no kind. */
export type FeatureValues =
  | { bytesList: Uint8Array[] }
  | { floatList: ArrayLike<number> }
  | { int64List: (number | bigint)[] }
  | Record<string, never>;

let exampleType: protobuf.Type | undefined;
function example(): protobuf.Type {
  if (!exampleType) {
    const root = new protobuf.Root();
    // Imports name paths from the proto folder ("tensorflow/core/example/feature.proto"), as protoc's -I does.
    root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : EXAMPLE_PROTO_DIR + target);
    exampleType = root.loadSync('tensorflow/core/example/example.proto', { keepCase: true }).lookupType('tensorflow.Example');
  }
  return exampleType;
}

/** Serializes a tensorflow.Example with these features (in this order). */
export function encodeExample(features: Record<string, FeatureValues>): Uint8Array {
  const feature: Record<string, object> = {};
  for (const [name, values] of Object.entries(features)) {
    if ('bytesList' in values) feature[name] = { bytes_list: { value: values.bytesList } };
    else if ('floatList' in values) feature[name] = { float_list: { value: Array.from(values.floatList) } };
    // int64 as decimal strings: protobufjs writes them exactly (no 2^53 limit).
    else if ('int64List' in values) feature[name] = { int64_list: { value: values.int64List.map((v) => String(v)) } };
    else feature[name] = {};
  }
  return example().encode({ features: { feature } }).finish();
}

// ---------------------------------------------------------------------------------------------
// Reading, as example_proto_fast_parsing.cc reads (its CodedInputStream calls, one for one).

const DELIMITED = 2;
const tag = (field: number, wireType: number) => (field << 3) | wireType;

/** A cursor over a byte range with protobuf's nested length limits; every read returns undefined past the end. */
class WireReader {
  pos: number;
  limit: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.limit = end;
  }

  atEnd(): boolean {
    return this.pos === this.limit;
  }

  /** The byte range ends the limit, or the data when the limit lies beyond it. */
  private get end(): number {
    return Math.min(this.limit, this.bytes.length);
  }

  peek(): number | undefined {
    return this.pos < this.end ? this.bytes[this.pos] : undefined;
  }

  expectTag(value: number): boolean {
    if (this.peek() !== value) return false;
    this.pos++;
    return true;
  }

  /** Up to 10 bytes; the low 32 bits (CodedInputStream::ReadVarint32 truncates too). */
  varint32(): number | undefined {
    const v = this.varint64();
    return v === undefined ? undefined : Number(v & 0xffffffffn);
  }

  varint64(): bigint | undefined {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.peek();
      if (b === undefined) return undefined;
      this.pos++;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    return undefined;
  }

  fixed32(): number | undefined {
    if (this.pos + 4 > this.end) return undefined;
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getUint32(0, true);
    this.pos += 4;
    return v;
  }

  raw(length: number): Uint8Array | undefined {
    if (this.pos + length > this.end) return undefined;
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(length: number): boolean {
    const ok = this.pos + length <= this.end;
    this.pos = Math.min(this.pos + length, this.end);
    return ok;
  }

  /** Narrows the limit to `length` more bytes (never widens it); returns the old limit for popLimit. */
  pushLimit(length: number): number {
    const old = this.limit;
    this.limit = Math.min(old, this.pos + length);
    return old;
  }

  popLimit(old: number): void {
    this.limit = old;
  }
}

/** A feature as found in a serialized Example: its kind and its list, read on demand. */
export class SerializedFeature {
  constructor(private readonly serialized: Uint8Array) {}

  /** DT_INVALID for a feature of no kind; undefined for an unknown kind ("Unsupported datatype."). */
  dataType(): DataType | undefined {
    if (this.serialized.length === 0) return DataType.DT_INVALID;
    switch (this.serialized[0]) {
      case tag(1, DELIMITED):
        return DataType.DT_STRING;
      case tag(2, DELIMITED):
        return DataType.DT_FLOAT;
      case tag(3, DELIMITED):
        return DataType.DT_INT64;
      default:
        return undefined;
    }
  }

  /** The list's reader (after the kind's tag), limited to the list's length. */
  private list(): { r: WireReader; limit: number } | undefined {
    const r = new WireReader(this.serialized, 1);
    const length = r.varint32();
    if (length === undefined) return undefined;
    return { r, limit: r.pushLimit(length) };
  }

  /** The values of a bytes_list, or undefined when it does not parse. */
  bytesList(): Uint8Array[] | undefined {
    const list = this.list();
    if (!list) return undefined;
    const { r } = list;
    const out: Uint8Array[] = [];
    while (!r.atEnd()) {
      if (!r.expectTag(tag(1, DELIMITED))) return undefined;
      const length = r.varint32();
      const value = length === undefined ? undefined : r.raw(length);
      if (!value) return undefined;
      out.push(value);
    }
    return out;
  }

  /**
   * The values of a float_list. A packed list is one chunk (its bytes beyond a multiple of 4, and fields
   * after it, are not read: TensorFlow's parser stops there too).
   */
  floatList(): number[] | undefined {
    const list = this.list();
    if (!list) return undefined;
    const { r } = list;
    const out: number[] = [];
    if (r.atEnd()) return out;
    const view = new DataView(new ArrayBuffer(4));
    const float = (bits: number) => (view.setUint32(0, bits), view.getFloat32(0));
    if (r.expectTag(tag(1, DELIMITED))) {
      const length = r.varint32();
      if (length === undefined) return undefined;
      const count = Math.floor(length / 4);
      for (let i = 0; i < count; i++) {
        const bits = r.fixed32();
        if (bits === undefined) return undefined;
        out.push(float(bits));
      }
      return out;
    }
    if (r.peek() !== tag(1, 5)) return undefined;
    while (!r.atEnd()) {
      if (!r.expectTag(tag(1, 5))) return undefined;
      const bits = r.fixed32();
      if (bits === undefined) return undefined;
      out.push(float(bits));
    }
    return out;
  }

  /** The values of an int64_list (two's complement of the varint, as TensorFlow casts it). */
  int64List(): bigint[] | undefined {
    const list = this.list();
    if (!list) return undefined;
    const { r } = list;
    const out: bigint[] = [];
    if (r.atEnd()) return out;
    const packed = r.peek() === tag(1, DELIMITED);
    if (!packed && r.peek() !== tag(1, 0)) return undefined;
    if (packed) {
      r.pos++;
      const length = r.varint32();
      if (length === undefined) return undefined;
      const outer = r.pushLimit(length);
      while (!r.atEnd()) {
        const v = r.varint64();
        if (v === undefined) return undefined;
        out.push(BigInt.asIntN(64, v));
      }
      r.popLimit(outer);
      return out;
    }
    while (!r.atEnd()) {
      if (!r.expectTag(tag(1, 0))) return undefined;
      const v = r.varint64();
      if (v === undefined) return undefined;
      out.push(BigInt.asIntN(64, v));
    }
    return out;
  }
}

/** A feature map entry in wire order: later entries of the same name override earlier ones. */
export interface SerializedFeatureEntry {
  name: string;
  feature: SerializedFeature;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Skips a field of an unknown number (SkipExtraneousTag); groups and unknown wire types fail. */
function skipField(r: WireReader): boolean {
  const key = r.varint32();
  if (key === undefined) return false;
  switch (key & 7) {
    case 0:
      return r.varint32() !== undefined;
    case 1:
      return r.skip(8);
    case 2: {
      const length = r.varint32();
      if (length === undefined) return false;
      r.skip(length); // TensorFlow ignores whether the skip went past the end
      return true;
    }
    case 5:
      return r.fixed32() !== undefined;
    default:
      return false;
  }
}

function readString(r: WireReader): Uint8Array | undefined {
  const length = r.varint32();
  return length === undefined ? undefined : r.raw(length);
}

/**
 * The feature map entries of a serialized Example (or of several concatenated), in wire order, or
 * undefined when the bytes are not an Example ("Could not parse example input").
 */
export function parseSerializedExample(serialized: Uint8Array): SerializedFeatureEntry[] | undefined {
  const r = new WireReader(serialized);
  const entries: SerializedFeatureEntry[] = [];
  while (!r.atEnd()) {
    if (!r.expectTag(tag(1, DELIMITED))) {
      if (!skipField(r)) return undefined;
      continue;
    }
    // Features: map entries, each a key (1) and a Feature (2) in either order.
    const length = r.varint32();
    if (length === undefined) return undefined;
    const features = r.pushLimit(length);
    while (!r.atEnd()) {
      if (!r.expectTag(tag(1, DELIMITED))) return undefined;
      const entryLength = r.varint32();
      if (entryLength === undefined) return undefined;
      const entry = r.pushLimit(entryLength);
      let name: Uint8Array = new Uint8Array(0);
      let feature: Uint8Array = new Uint8Array(0);
      for (let n = 0; n < 2; n++) {
        const field = r.peek();
        r.pos++;
        const value = field === tag(1, DELIMITED) || field === tag(2, DELIMITED) ? readString(r) : undefined;
        if (!value) return undefined;
        if (field === tag(1, DELIMITED)) name = value;
        else feature = value;
      }
      if (!r.atEnd()) return undefined;
      r.popLimit(entry);
      entries.push({ name: utf8.decode(name), feature: new SerializedFeature(feature) });
    }
    r.popLimit(features);
  }
  return entries;
}
