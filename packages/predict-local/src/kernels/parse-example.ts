// ParseExample and ParseExampleV2 (tensorflow/core/kernels/example_parsing_ops.cc, with the parsing of
// tensorflow/core/util/example_proto_fast_parsing.cc): serialized tf.Examples to dense, sparse and
// ragged tensors, with TensorFlow's checks and messages. A vector of examples follows FastParseExample,
// a scalar (ParseExampleV2 only) FastParseSingleExample; their messages differ and are kept apart.
// int64 features come out as int32 (TF.js has no int64): a value outside int32 is refused, not wrapped.
import { DataType, dataTypeName, parseSerializedExample, type SerializedFeature } from '@tensorsky/saved-model';
import * as tf from '../tf.js';
import { OpError, numberAttr, type GraphNode, type Kernel } from './kernel.js';

/** The dtypes a feature can have, by the TF.js dtype its attr arrives as (int64 arrives as int32). */
const FEATURE_DTYPES: Readonly<Record<string, DataType>> = { float32: DataType.DT_FLOAT, int32: DataType.DT_INT64, string: DataType.DT_STRING };

/** DataTypeString: "float", "int64", "string". */
const typeString = (t: DataType) => dataTypeName(t).slice(3).toLowerCase();

type Value = number | Uint8Array;

interface DenseConfig {
  key: string;
  dtype: DataType;
  /** dense_shapes[d]; -1 for the unknown first dimension of a variable-length feature. */
  shape: number[];
  variableLength: boolean;
  /** Elements per row: the product of the shape's known dimensions. */
  stride: number;
  defaultValue: Value[];
}

interface ListConfig {
  key: string;
  dtype: DataType;
}

interface Config {
  dense: DenseConfig[];
  sparse: ListConfig[];
  ragged: ListConfig[];
}

/** TensorShape::DebugString ("[2,3]") and PartialTensorShape's ("[?,3]", "<unknown>"). */
function shapeString(shape: readonly number[] | undefined): string {
  return shape === undefined ? '<unknown>' : `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(',')}]`;
}

/** Bytes in a message: printable ASCII as is, the rest escaped, at most 256 of them. */
function bytesString(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes.subarray(0, 256)) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return bytes.length > 256 ? `${out}...` : out;
}

async function strings(t: tf.Tensor): Promise<Uint8Array[]> {
  return (await t.bytes()) as Uint8Array[];
}

const utf8 = new TextDecoder();

async function values(t: tf.Tensor): Promise<Value[]> {
  return t.dtype === 'string' ? strings(t) : Array.from(await t.data());
}

function listAttr<T>(node: GraphNode, name: string): T[] {
  const v = node.attrs[name];
  return Array.isArray(v) ? (v as T[]) : [];
}

function featureDtype(tfjs: string, attr: string): DataType {
  const t = FEATURE_DTYPES[tfjs];
  if (t === undefined) throw new OpError(`${attr}: features are float, int64 or string, got ${tfjs}`);
  return t;
}

/** Reads the node's inputs and attrs into the parsing config, with the kernel's checks (CheckInputShapes, GetDenseShapes). */
async function readConfig(node: GraphNode, v2: boolean): Promise<{ serialized: tf.Tensor; names: tf.Tensor; config: Config }> {
  const [serialized, names] = node.inputs;
  const denseTypes = listAttr<string>(node, 'Tdense').map((t) => featureDtype(t, 'Tdense'));
  const sparseTypes = listAttr<string>(node, 'sparse_types').map((t) => featureDtype(t, 'sparse_types'));
  const raggedTypes = v2 ? listAttr<string>(node, 'ragged_value_types').map((t) => featureDtype(t, 'ragged_value_types')) : [];
  const denseShapes = listAttr<number[] | undefined>(node, 'dense_shapes');
  const numSparse = numberAttr(node, v2 ? 'num_sparse' : 'Nsparse') ?? 0;
  const numDense = denseTypes.length;

  denseShapes.forEach((shape, i) => {
    if (shape === undefined || shape.slice(1).some((d) => d < 0)) {
      throw new OpError(`dense_shapes[${i}] has unknown rank or unknown inner dimensions: ${shapeString(shape)}`);
    }
  });
  let sparseKeys: string[];
  let denseKeys: string[];
  let raggedKeys: string[] = [];
  let defaults: tf.Tensor[];
  if (v2) {
    [sparseKeys, denseKeys, raggedKeys] = await Promise.all(node.inputs.slice(2, 5).map(async (t) => (await strings(t)).map((k) => utf8.decode(k))));
    defaults = node.inputs.slice(5, 5 + numDense);
  } else {
    const keys = await Promise.all(node.inputs.slice(2, 2 + numSparse + numDense).map(async (t) => utf8.decode((await strings(t))[0])));
    sparseKeys = keys.slice(0, numSparse);
    denseKeys = keys.slice(numSparse);
    defaults = node.inputs.slice(2 + numSparse + numDense, 2 + numSparse + 2 * numDense);
  }

  if (v2 ? serialized.rank > 1 : serialized.rank !== 1) {
    throw new OpError(`Expected serialized to be a ${v2 ? 'scalar or vector' : 'vector'}, got shape: ${shapeString(serialized.shape)}`);
  }
  if (names.size > 0 && shapeString(names.shape) !== shapeString(serialized.shape)) {
    throw new OpError(`Expected names have the same shape as serialized: name.shape=${shapeString(names.shape)}, serialized.shape=${shapeString(serialized.shape)}`);
  }
  if (v2) {
    if (denseKeys.length !== numDense) throw new OpError(`Expected len(dense_keys) == len(dense_types) but got: ${denseKeys.length} vs. ${numDense}`);
    if (sparseKeys.length !== numSparse) throw new OpError(`Expected len(sparse_keys) == num_sparse but got: ${sparseKeys.length} vs. ${numSparse}`);
    if (raggedKeys.length !== raggedTypes.length) {
      throw new OpError(`Expected len(ragged_keys) == len(ragged_value_types) but got: ${raggedKeys.length} vs. ${raggedTypes.length}`);
    }
  }
  if (defaults.length !== numDense) throw new OpError(`Expected len(dense_defaults) == len(dense_keys) but got: ${defaults.length} vs. ${numDense}`);

  const dense: DenseConfig[] = [];
  for (let d = 0; d < numDense; d++) {
    const shape = denseShapes[d] ?? [];
    const variableLength = shape.length > 0 && shape[0] < 0;
    const def = defaults[d];
    if (variableLength) {
      if (def.size !== 1) {
        throw new OpError(
          `dense_shape[${d}] is a variable length shape: ${shapeString(shape)}, therefore def_value[${d}] must contain a single element (the padding element).  But its shape is: ${shapeString(def.shape)}`,
        );
      }
    } else if (def.size > 0 && (def.rank !== shape.length || def.shape.some((n, i) => shape[i] >= 0 && n !== shape[i]))) {
      throw new OpError(`def_value[${d}].shape() == ${shapeString(def.shape)} is not compatible with dense_shapes_[${d}] == ${shapeString(shape)}`);
    }
    const defType = FEATURE_DTYPES[def.dtype];
    if (defType !== denseTypes[d]) {
      throw new OpError(`dense_defaults[${d}].dtype() == ${defType === undefined ? def.dtype : typeString(defType)} != dense_types_[${d}] == ${typeString(denseTypes[d])}`);
    }
    const stride = (variableLength ? shape.slice(1) : shape).reduce((n, s) => n * s, 1);
    dense.push({ key: denseKeys[d], dtype: denseTypes[d], shape, variableLength, stride, defaultValue: await values(def) });
  }
  const list = (keys: string[], types: DataType[]) => keys.map((key, i) => ({ key, dtype: types[i] }));
  return { serialized, names, config: { dense, sparse: list(sparseKeys, sparseTypes), ragged: list(raggedKeys, raggedTypes) } };
}

type Kind = 'dense' | 'sparse' | 'ragged';

/** One example's values of each configured feature; undefined where the example lacks it. */
interface ParsedExample {
  dense: (Value[] | undefined)[];
  sparse: Value[][];
  ragged: Value[][];
}

/** The values of a feature of type `dtype`, or undefined when its list does not parse. */
function readList(feature: SerializedFeature, dtype: DataType, where: () => string): Value[] | undefined {
  if (dtype === DataType.DT_FLOAT) return feature.floatList();
  if (dtype === DataType.DT_STRING) return feature.bytesList();
  const ints = feature.int64List();
  return ints?.map((v) => {
    if (v < -2147483648n || v > 2147483647n) throw new OpError(`${where()}int64 value ${v} is outside the int32 range this engine computes in`);
    return Number(v);
  });
}

/**
 * Parses one serialized example against the config. `name`/`index` place it in a batch; `single` is
 * FastParseSingleExample (a scalar input), whose messages name only the key.
 */
function parseOne(serialized: Uint8Array, name: string, index: number, config: Config, single: boolean, lookup: Map<string, [Kind, number]>): ParsedExample {
  const entries = parseSerializedExample(serialized);
  if (!entries) throw new OpError(`Could not parse example input, value: '${bytesString(serialized)}'`);
  const out: ParsedExample = { dense: config.dense.map(() => undefined), sparse: config.sparse.map(() => []), ragged: config.ragged.map(() => []) };
  const seen = { dense: new Set<number>(), sparse: new Set<number>(), ragged: new Set<number>() };
  // The last entry of a name wins: walk backwards and skip names already seen.
  for (let i = entries.length - 1; i >= 0; i--) {
    const { name: key, feature } = entries[i];
    const found = lookup.get(key);
    if (!found) continue;
    const [kind, d] = found;
    const prefix = single ? `Key: ${key}.  ` : `Name: ${name}, Key: ${key}, Index: ${index}.  `;
    const fail = (suffix: string) => new OpError(prefix + suffix);
    const exampleType = feature.dataType();
    if (exampleType === undefined) throw new OpError('Unsupported datatype.');
    if (exampleType === DataType.DT_INVALID && (kind === 'dense' || single)) continue;
    if (seen[kind].has(d)) continue;
    seen[kind].add(d);
    const cfg = kind === 'dense' ? config.dense[d] : config[kind][d];
    if (exampleType !== DataType.DT_INVALID && exampleType !== cfg.dtype) {
      if (kind === 'dense') throw fail(`Data types don't match. Data type: ${typeString(exampleType)} but expected type: ${typeString(cfg.dtype)}`);
      throw fail(`Data types don't match. Expected type: ${typeString(cfg.dtype)}, Actual type: ${typeString(exampleType)}`);
    }
    const listName = `${typeString(cfg.dtype).replace('string', 'bytes')}_list`;
    const list = exampleType === DataType.DT_INVALID ? [] : readList(feature, cfg.dtype, () => prefix);
    // A single example's variable-length bytes are counted before they are read.
    const unreadable = () =>
      fail(!single ? "Can't parse serialized Example." : cfg.dtype === DataType.DT_STRING ? "Can't parse serialized Example: Could not get num elements in bytes_list." : `Can't parse serialized Example: Parsing ${listName} failed.`);
    if (kind !== 'dense') {
      if (!list) throw unreadable();
      out[kind][d] = list;
      continue;
    }
    const dense = cfg as DenseConfig;
    if (!dense.variableLength) {
      // A bytes list longer than the row does not parse (TensorFlow fills a fixed-size slice).
      const overflow = cfg.dtype === DataType.DT_STRING && list !== undefined && list.length > dense.stride;
      if (!list || overflow) throw fail(single ? `Can't parse serialized Example: Parsing ${listName} failed.` : "Can't parse serialized Example.");
      if (list.length !== dense.stride) {
        if (single) throw fail(`Can't parse serialized Example: Some ${listName} slice was not parsed.`);
        throw fail(`Number of ${typeString(cfg.dtype).replace('string', 'bytes')} values != expected.  Values size: ${list.length} but output shape: ${shapeString(dense.shape)}`);
      }
    } else {
      if (!list) throw unreadable();
      if (list.length % dense.stride !== 0) {
        if (single) throw new OpError(`Error while parsing feature with key ${key}: number of elements should be divisible by ${dense.stride}, found ${list.length} instead`);
        throw fail(
          `Number of ${typeString(cfg.dtype).replace('string', 'bytes')} values is not a multiple of stride length. Saw ${list.length} values but output shape is: ${shapeString(dense.shape)}`,
        );
      }
    }
    out.dense[d] = list;
  }
  config.dense.forEach((dense, d) => {
    if (out.dense[d] !== undefined || dense.variableLength) return;
    if (dense.defaultValue.length === 0) {
      throw new OpError(`${single ? '' : `Name: ${name}, `}Feature: ${dense.key} (data type: ${typeString(dense.dtype)}) is required but could not be found.`);
    }
    out.dense[d] = dense.defaultValue;
  });
  return out;
}

function tensorOf(dtype: DataType, shape: number[], data: Value[]): tf.Tensor {
  if (dtype === DataType.DT_STRING) return tf.tensor(data as Uint8Array[], shape, 'string');
  return dtype === DataType.DT_FLOAT ? tf.tensor(Float32Array.from(data as number[]), shape, 'float32') : tf.tensor(Int32Array.from(data as number[]), shape, 'int32');
}

/** The outputs in the op's order: sparse indices, values, shapes; dense values; (V2) ragged values, row splits. */
function outputs(examples: ParsedExample[], config: Config, single: boolean, v2: boolean): tf.Tensor[] {
  const batch = examples.length;
  const indices: tf.Tensor[] = [];
  const sparseValues: tf.Tensor[] = [];
  const shapes: tf.Tensor[] = [];
  config.sparse.forEach((s, d) => {
    const lists = examples.map((e) => e.sparse[d]);
    const all = lists.flat();
    const ix: number[] = [];
    lists.forEach((list, e) => list.forEach((_, j) => (single ? ix.push(j) : ix.push(e, j))));
    indices.push(tf.tensor(Int32Array.from(ix), single ? [all.length, 1] : [all.length, 2], 'int32'));
    sparseValues.push(tensorOf(s.dtype, [all.length], all));
    const max = Math.max(0, ...lists.map((l) => l.length));
    shapes.push(tf.tensor(Int32Array.from(single ? [all.length] : [batch, max]), [single ? 1 : 2], 'int32'));
  });
  const dense = config.dense.map((c, d) => {
    const rows = examples.map((e) => e.dense[d] ?? []);
    if (!c.variableLength) return tensorOf(c.dtype, single ? c.shape : [batch, ...c.shape], rows.flat());
    const inner = c.shape.slice(1);
    if (single) return tensorOf(c.dtype, [rows[0].length / c.stride, ...inner], rows[0]);
    // Rows padded with the default (its single element) to the longest.
    const longest = Math.max(0, ...rows.map((r) => r.length));
    const padded = rows.flatMap((r) => [...r, ...new Array<Value>(longest - r.length).fill(c.defaultValue[0])]);
    return tensorOf(c.dtype, [batch, longest / c.stride, ...inner], padded);
  });
  const ragged = config.ragged.map((r, d) => tensorOf(r.dtype, [examples.reduce((n, e) => n + e.ragged[d].length, 0)], examples.flatMap((e) => e.ragged[d])));
  const splits = config.ragged.map((_, d) => {
    if (single) return tf.tensor(new Int32Array(0), [0], 'int32');
    const ends = [0];
    for (const e of examples) ends.push(ends[ends.length - 1] + e.ragged[d].length);
    return tf.tensor(Int32Array.from(ends), [batch + 1], 'int32');
  });
  return [...indices, ...sparseValues, ...shapes, ...dense, ...(v2 ? [...ragged, ...splits] : [])];
}

async function parseExample(node: GraphNode, v2: boolean): Promise<tf.Tensor[]> {
  const { serialized, names, config } = await readConfig(node, v2);
  const lookup = new Map<string, [Kind, number]>();
  config.dense.forEach((c, d) => lookup.set(c.key, ['dense', d]));
  config.sparse.forEach((c, d) => lookup.set(c.key, ['sparse', d]));
  config.ragged.forEach((c, d) => lookup.set(c.key, ['ragged', d]));
  const examples = await strings(serialized);
  const exampleNames = names.size > 0 ? (await strings(names)).map((n) => utf8.decode(n)) : [];
  const single = serialized.rank === 0;
  const parsed = examples.map((bytes, e) => parseOne(bytes, exampleNames[e] ?? '<unknown>', e, config, single, lookup));
  return outputs(parsed, config, single, v2);
}

export const PARSE_EXAMPLE_KERNELS: readonly Kernel[] = [
  { op: 'ParseExample', async: true, run: (node) => parseExample(node, false) },
  { op: 'ParseExampleV2', async: true, run: (node) => parseExample(node, true) },
];
