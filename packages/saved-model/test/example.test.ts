// tf.Example on the wire: encodeExample (protobufjs) and parseSerializedExample (TensorFlow's fast
// parser's reading, example_proto_fast_parsing.cc). Byte strings written by hand follow the protobuf
// encoding spec: tag = field << 3 | wire type; Example.features = 1, Features.feature = 1 (map entry:
// key 1, value 2), Feature.bytes_list/float_list/int64_list = 1/2/3, each list's value = 1.
import { describe, expect, it } from 'vitest';
import { DataType, encodeExample, parseSerializedExample } from '../src/index.js';

/** An Example holding one feature whose serialized Feature message is `feature`. */
function exampleWith(name: string, feature: number[], keyFirst = true): Uint8Array {
  const key = [0x0a, name.length, ...Buffer.from(name)];
  const value = [0x12, feature.length, ...feature];
  const entry = keyFirst ? [...key, ...value] : [...value, ...key];
  const features = [0x0a, entry.length, ...entry];
  return Uint8Array.from([0x0a, features.length, ...features]);
}

const f32 = (v: number) => Array.from(new Uint8Array(new Float32Array([v]).buffer));

describe('parseSerializedExample', () => {
  it('reads what encodeExample writes: packed floats and int64s, bytes, a feature of no kind', () => {
    const entries = parseSerializedExample(
      encodeExample({ f: { floatList: [1.5, -2] }, i: { int64List: [3, -1n, 2n ** 62n] }, b: { bytesList: [Buffer.from('ab'), new Uint8Array(0)] }, none: {} }),
    )!;
    expect(entries.map((e) => e.name)).toEqual(['f', 'i', 'b', 'none']);
    const [f, i, b, none] = entries.map((e) => e.feature);
    expect([f.dataType(), i.dataType(), b.dataType(), none.dataType()]).toEqual([DataType.DT_FLOAT, DataType.DT_INT64, DataType.DT_STRING, DataType.DT_INVALID]);
    expect(f.floatList()).toEqual([1.5, -2]);
    expect(i.int64List()).toEqual([3n, -1n, 2n ** 62n]);
    expect(b.bytesList()!.map((v) => Buffer.from(v).toString())).toEqual(['ab', '']);
  });

  it('reads unpacked float and int64 lists, and a map entry with its value before its key', () => {
    const floatList = [0x0d, ...f32(0.5), 0x0d, ...f32(4)];
    const unpackedFloats = parseSerializedExample(exampleWith('x', [0x12, floatList.length, ...floatList], false))!;
    expect(unpackedFloats[0].name).toBe('x');
    expect(unpackedFloats[0].feature.floatList()).toEqual([0.5, 4]);
    const intList = [0x08, 0x05, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    expect(parseSerializedExample(exampleWith('n', [0x1a, intList.length, ...intList]))![0].feature.int64List()).toEqual([5n, -1n]);
  });

  it('concatenated Examples are one: entries in wire order (the last of a name wins when read backwards)', () => {
    const merged = Uint8Array.from([...encodeExample({ x: { floatList: [1] }, c: { floatList: [9] } }), ...encodeExample({ x: { floatList: [2] } })]);
    expect(parseSerializedExample(merged)!.map((e) => [e.name, e.feature.floatList()![0]])).toEqual([
      ['x', 1],
      ['c', 9],
      ['x', 2],
    ]);
  });

  it('skips unknown fields of Example; refuses what is no Example', () => {
    const unknownVarint = [0x10, 0x07];
    expect(parseSerializedExample(Uint8Array.from([...unknownVarint, ...encodeExample({ x: { floatList: [1] } })]))!.map((e) => e.name)).toEqual(['x']);
    expect(parseSerializedExample(new Uint8Array(0))).toEqual([]);
    expect(parseSerializedExample(Buffer.from('not a tf.Example'))).toBeUndefined();
    // A map entry with a third field, and a bytes value running past the end.
    expect(parseSerializedExample(Uint8Array.from([0x0a, 0x08, 0x0a, 0x06, 0x0a, 0x01, 0x78, 0x12, 0x00, 0x18]))).toBeUndefined();
    expect(parseSerializedExample(exampleWith('x', [0x0a, 0x05, 0x0a, 0x09, 0x61]))![0].feature.bytesList()).toBeUndefined();
  });

  it('an unknown kind of feature has no data type ("Unsupported datatype.")', () => {
    expect(parseSerializedExample(exampleWith('x', [0x22, 0x00]))![0].feature.dataType()).toBeUndefined();
  });
});
