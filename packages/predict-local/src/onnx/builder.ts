// An ONNX graph under construction: unique value names, initializers (kept as typed arrays, so a
// translator may still rewrite them, e.g. fold a batch norm into convolution weights, until the model is
// encoded), nodes in topological order, graph inputs and outputs; encoded once into one buffer.
import type { TypedArray } from '@tensorsky/saved-model';
import { AttributeType, onnxMessageType, OnnxDataType, type AttributeProto, type DimensionProto, type ModelProto, type NodeProto, type ValueInfoProto } from './proto.js';

/** Opset of the default ONNX domain the translators target (ORT 1.30 runs up to 23). */
export const OPSET = 17;
/** IR version 8 is the one that came with opset 17. */
const IR_VERSION = 8;

/** An attribute value, tagged with its ONNX type. */
export type Attr =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string };

export const attr = {
  int: (v: number | boolean): Attr => ({ int: Number(v) }),
  float: (v: number): Attr => ({ float: v }),
  ints: (v: readonly number[]): Attr => ({ ints: v }),
  floats: (v: readonly number[]): Attr => ({ floats: v }),
  string: (v: string): Attr => ({ string: v }),
};

export interface Initializer {
  readonly name: string;
  readonly dataType: OnnxDataType;
  readonly dims: readonly number[];
  /** Row-major values (BOOL as one byte each); may be replaced until the model is encoded. */
  data?: TypedArray;
  /**
   * FLOAT data computed while encoding, written into `out` (length = element count): large permuted
   * weights go straight from the TensorFlow constant into the model bytes, without a copy in between.
   */
  fill?: (out: Float32Array) => void;
}

const utf8 = new TextEncoder();
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function attributeProto(name: string, value: Attr): AttributeProto {
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: AttributeType.INTS, ints: [...value.ints] };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  return { name, type: AttributeType.STRING, s: utf8.encode(value.string) };
}

/** raw_data: fixed-width little-endian bytes (the typed array's own bytes on little-endian hosts). */
function rawBytes(data: TypedArray): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return bytes;
  const swapped = bytes.slice();
  for (let i = 0; i < swapped.length; i += data.BYTES_PER_ELEMENT) swapped.subarray(i, i + data.BYTES_PER_ELEMENT).reverse();
  return swapped;
}

export class OnnxGraphBuilder {
  private readonly names = new Set<string>();
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  /** Small constants by content, so e.g. every Squeeze over [2, 3] shares one axes tensor. */
  private readonly smallConstants = new Map<string, string>();

  /** `base` if no value or node has that name yet, else base_1, base_2, ... */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** A named initializer; returns it so its data can still be rewritten. */
  initializer(base: string, dataType: OnnxDataType, dims: readonly number[], data: TypedArray): Initializer {
    const init: Initializer = { name: this.unique(base), dataType, dims: [...dims], data };
    this.initializers.push(init);
    return init;
  }

  /** A FLOAT initializer whose values `fill` writes when the model is encoded. */
  deferredInitializer(base: string, dims: readonly number[], fill: (out: Float32Array) => void): Initializer {
    const init: Initializer = { name: this.unique(base), dataType: OnnxDataType.FLOAT, dims: [...dims], fill };
    this.initializers.push(init);
    return init;
  }

  /** A constant of at most 16 elements, shared with every other one of the same type, shape and values. */
  smallConstant(base: string, dataType: OnnxDataType, dims: readonly number[], data: TypedArray): string {
    if (data.length > 16) return this.initializer(base, dataType, dims, data).name;
    const key = `${dataType}|${dims.join(',')}|${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    let name = this.smallConstants.get(key);
    if (name === undefined) {
      name = this.initializer(base, dataType, dims, data).name;
      this.smallConstants.set(key, name);
    }
    return name;
  }

  /** An int64 1-D constant (axes, pads, shapes, starts/ends), the type ONNX wants for those. */
  int64s(values: readonly (number | bigint)[], base = 'const/int64'): string {
    return this.smallConstant(base, OnnxDataType.INT64, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /**
   * Adds a node. `outputs` are value names to create (made unique); returns the names given to them.
   * Inputs are existing value names ('' for a missing optional input).
   */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Readonly<Record<string, Attr | undefined>> = {}): string[] {
    const out = outputs.map((o) => this.unique(o));
    const attribute = Object.entries(attrs)
      .filter((entry): entry is [string, Attr] => entry[1] !== undefined)
      .map(([key, value]) => attributeProto(key, value));
    this.nodes.push({ name: this.unique(`${out[0] ?? opType}/${opType}`), op_type: opType, input: [...inputs], output: out, attribute });
    return out;
  }

  /** The last node added whose output is `value`, to amend (fusions). */
  producerOf(value: string): NodeProto | undefined {
    for (let i = this.nodes.length - 1; i >= 0; i--) if (this.nodes[i].output.includes(value)) return this.nodes[i];
    return undefined;
  }

  /** A graph input named `base` (made unique); dims are sizes or symbolic names, undefined for unknown rank. */
  input(base: string, dataType: OnnxDataType, dims: readonly (number | string)[] | undefined): string {
    const name = this.unique(base);
    this.inputs.push(valueInfo(name, dataType, dims));
    return name;
  }

  /** Declares an existing value as a graph output. */
  output(name: string, dataType: OnnxDataType, dims: readonly (number | string)[] | undefined): void {
    this.outputs.push(valueInfo(name, dataType, dims));
  }

  isGraphInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  isInitializer(name: string): boolean {
    return this.initializers.some((i) => i.name === name);
  }

  /**
   * The serialized ModelProto. protobufjs encodes everything but the initializers' raw_data; those bytes
   * are copied once into the final buffer after their TensorProto headers (protobuf fields may come in any
   * order, and a repeated field's entries may be anywhere in the message). Encoding the whole model
   * through one protobufjs Writer would move every weight again for each enclosing length prefix.
   */
  encode(meta: { producerName: string; producerVersion: string; graphName: string; docString?: string }): Uint8Array {
    const graphRest = onnxMessageType('GraphProto')
      .encode({ name: meta.graphName, node: this.nodes, input: this.inputs, output: this.outputs })
      .finish();
    const tensorType = onnxMessageType('TensorProto');
    const tensors = this.initializers.map((init) => {
      const count = init.dims.reduce((n, d) => n * d, 1);
      const rawLength = init.data ? init.data.byteLength : 4 * count;
      const header = tensorType.encode({ name: init.name, dims: [...init.dims], data_type: init.dataType }).finish();
      return { init, count, header, rawLength, length: header.length + 1 + varintSize(rawLength) + rawLength };
    });
    const graphLength = tensors.reduce((n, t) => n + 1 + varintSize(t.length) + t.length, graphRest.length);
    const model: Omit<ModelProto, 'graph'> = {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: meta.producerName,
      producer_version: meta.producerVersion,
      doc_string: meta.docString,
    };
    const head = onnxMessageType('ModelProto').encode(model).finish();
    const out = new Uint8Array(head.length + 1 + varintSize(graphLength) + graphLength);
    let at = 0;
    const put = (bytes: Uint8Array) => {
      out.set(bytes, at);
      at += bytes.length;
    };
    const varint = (v: number) => {
      for (; v >= 0x80; v = Math.floor(v / 0x80)) out[at++] = (v % 0x80) | 0x80;
      out[at++] = v;
    };
    put(head);
    out[at++] = FIELD_MODEL_GRAPH;
    varint(graphLength);
    put(graphRest);
    // One scratch array (touched once) for deferred data: fresh memory is what costs most here.
    const scratch = new Float32Array(Math.max(0, ...tensors.map((t) => (t.init.fill ? t.count : 0))));
    for (const t of tensors) {
      out[at++] = FIELD_GRAPH_INITIALIZER;
      varint(t.length);
      put(t.header);
      out[at++] = FIELD_TENSOR_RAW_DATA;
      varint(t.rawLength);
      if (t.init.data) {
        put(rawBytes(t.init.data));
      } else {
        const values = scratch.subarray(0, t.count);
        t.init.fill!(values);
        put(rawBytes(values));
      }
    }
    if (at !== out.length) throw new Error(`ONNX encoding wrote ${at} of ${out.length} bytes`);
    return out;
  }
}

// Length-delimited field keys (field number << 3 | wire type 2) of onnx.proto.
const FIELD_MODEL_GRAPH = (7 << 3) | 2;
const FIELD_GRAPH_INITIALIZER = (5 << 3) | 2;
const FIELD_TENSOR_RAW_DATA = (9 << 3) | 2;

function varintSize(v: number): number {
  let n = 1;
  for (; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

function valueInfo(name: string, elemType: OnnxDataType, dims: readonly (number | string)[] | undefined): ValueInfoProto {
  const shape = dims && { dim: dims.map((d): DimensionProto => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  return { name, type: { tensor_type: { elem_type: elemType, ...(shape ? { shape } : {}) } } };
}
