// What translators see: TensorFlow tensors translated so far (Value), the node being translated with its
// attrs (OpContext), and the errors that say an op cannot be translated exactly.
import { DataType, dataTypeName, dtypeInfo, int64ToNumber, shapeSize, typedArrayFor, type AttrValue, type NodeDef, type TypedArray } from '@tensorsky/saved-model';
import type { Attr, OnnxGraphBuilder } from './builder.js';
import { OnnxDataType } from './proto.js';

/** Thrown when some op (or attr value) has no translator; `ops` lists them, e.g. ['Cumsum', 'Conv2D(data_format=NCHW)']. */
export class UntranslatableGraphError extends Error {
  override name = 'UntranslatableGraphError';
  constructor(readonly ops: string[]) {
    super(`cannot translate to ONNX: ${ops.join(', ')}`);
  }
}

/** A translator's refusal of one node; `detail` goes in parentheses after the op name. */
export class Untranslatable extends Error {
  constructor(readonly detail?: string) {
    super(detail ?? 'untranslatable');
  }
}

/** A value known at translation time (a Const, or folded from constants). */
export interface ConstTensor {
  dtype: DataType;
  shape: number[];
  /** Row-major values; DT_BOOL as 0/1 bytes. Undefined for DT_STRING (see strings). */
  data?: TypedArray;
  strings?: Uint8Array[];
  /**
   * DT_FLOAT values without a copy where possible: a view of the TensorProto's bytes, or (unaligned)
   * a copy into a shared scratch array, valid until the next view() of any constant.
   */
  view?: () => Float32Array;
}

/** A FLOAT constant's values for reading right away (see ConstTensor.view). */
export function floats(c: ConstTensor): Float32Array {
  return c.view ? c.view() : (c.data as Float32Array);
}

/**
 * A batch norm or bias a convolution or Gemm can absorb: the node computing `tensor` (a TF tensor
 * with one reader) takes a per-output-channel bias and, for convolutions, a per-channel scale.
 */
export interface Fusible {
  tensor: string;
  channels: number;
  addBias(bias: ArrayLike<number>): void;
  /** Multiplies weights and bias of output channel c by scale[c]; undefined when not possible. */
  scale?: (scale: ArrayLike<number>) => void;
  /** Renames the node's output (it now computes a later TF tensor). */
  rename(name: string): string;
}

/** One translated TensorFlow tensor. */
export interface Value {
  /** ONNX value holding it; for constants, set when first used as a runtime input. */
  name?: string;
  dtype: DataType;
  /** TensorFlow's shape (NHWC order), -1 for unknown sizes; undefined for unknown rank. */
  shape: number[] | undefined;
  /** Held as NCHW: a 4-D NHWC tensor permuted by [0, 3, 1, 2]. */
  nchw: boolean;
  constant?: ConstTensor;
  /** The same tensor in the other layout, once made. */
  other?: Value;
  fusible?: Fusible;
  /** Set on outputs of untranslatable nodes: later nodes reading it are not translated. */
  poisoned?: boolean;
  /** A name to derive ONNX names from (the TF tensor), for constants and layout copies. */
  label?: string;
}

export interface OpContext {
  readonly node: NodeDef;
  /** Data inputs, in order. */
  readonly inputs: readonly Value[];
  /** TF tensor names of the data inputs ("node:0"). */
  readonly inputTensors: readonly string[];
  readonly b: OnnxGraphBuilder;
  /** Output indices something reads. */
  readonly usedOutputs: ReadonlySet<number>;
  /** How many nodes or fetches read a TF tensor. */
  readers(tensor: string): number;
  /** TF name of output i: "node:i". */
  outName(i?: number): string;
  /** ONNX name of a value as held (constants become initializers). */
  name(v: Value): string;
  /** ONNX name of the value in TensorFlow's layout (a Transpose back from NCHW, once). */
  tf(v: Value): string;
  /** ONNX name of a 4-D value in NCHW (a Transpose from NHWC once, or permuted constant data). */
  nchw(v: Value): string;
  /** Adds an ONNX node; returns its output names. */
  emit(op: string, inputs: readonly string[], outputs: readonly string[], attrs?: Readonly<Record<string, Attr | undefined>>): string[];
}

export type Translator = (ctx: OpContext) => (Value | undefined)[];
/** TF op name → translator: one table per op family (ops/*.ts), merged in translate.ts. */
export type OpTable = Readonly<Record<string, Translator>>;

export function fail(detail?: string): never {
  throw new Untranslatable(detail);
}

// ---------------------------------------------------------------------------------------------
// Attrs, with TensorFlow's OpDef defaults where the frozen graph lacks them.

const utf8 = new TextDecoder();

function attrOf(node: NodeDef, name: string): AttrValue | undefined {
  return node.attr?.[name];
}

export function attrInt(node: NodeDef, name: string, fallback?: number): number {
  const v = attrOf(node, name);
  if (v?.i !== undefined && v.i !== null) return int64ToNumber(v.i);
  if (fallback === undefined) fail(`no ${name}`);
  return fallback;
}

export function attrInts(node: NodeDef, name: string, fallback?: number[]): number[] {
  const v = attrOf(node, name);
  if (v?.list) return (v.list.i ?? []).map(int64ToNumber);
  if (fallback === undefined) fail(`no ${name}`);
  return fallback;
}

export function attrFloat(node: NodeDef, name: string, fallback: number): number {
  const v = attrOf(node, name);
  return v?.f !== undefined && v.f !== null ? v.f : fallback;
}

export function attrBool(node: NodeDef, name: string, fallback: boolean): boolean {
  const v = attrOf(node, name);
  return v?.b !== undefined && v.b !== null ? v.b : fallback;
}

export function attrString(node: NodeDef, name: string, fallback?: string): string {
  const v = attrOf(node, name);
  if (v?.s) return utf8.decode(v.s);
  if (fallback === undefined) fail(`no ${name}`);
  return fallback;
}

export function attrType(node: NodeDef, name: string): DataType | undefined {
  return attrOf(node, name)?.type ?? undefined;
}

/** data_format must be NHWC (the only layout TensorFlow's CPU kernels run for most ops). */
export function requireNhwc(node: NodeDef): void {
  const format = attrString(node, 'data_format', 'NHWC');
  if (format !== 'NHWC') fail(`data_format=${format}`);
}

// ---------------------------------------------------------------------------------------------
// Types.

/** The ONNX element type for a TF dtype; undefined when ONNX Runtime has no such tensors here. */
export function onnxType(dtype: DataType): OnnxDataType | undefined {
  return dtypeInfo(dtype).onnx as OnnxDataType | undefined;
}

export function requireOnnxType(dtype: DataType): OnnxDataType {
  return onnxType(dtype) ?? fail(`dtype=${dataTypeName(dtype)}`);
}

export const FLOAT_TYPES: ReadonlySet<DataType> = new Set([DataType.DT_FLOAT]);
/** Types ONNX Runtime's CPU arithmetic kernels (Add, Sub, Mul, Max, Min...) all take. */
export const NUMBER_TYPES: ReadonlySet<DataType> = new Set([DataType.DT_FLOAT, DataType.DT_DOUBLE, DataType.DT_INT32, DataType.DT_INT64]);

/** Checks the node's type attr (or the first input's dtype) is in `allowed`. */
export function requireType(ctx: OpContext, allowed: ReadonlySet<DataType>, attr = 'T'): DataType {
  const dtype = attrType(ctx.node, attr) ?? ctx.inputs[0]?.dtype ?? DataType.DT_INVALID;
  if (!allowed.has(dtype)) fail(`${attr}=${dataTypeName(dtype)}`);
  return dtype;
}

// ---------------------------------------------------------------------------------------------
// Constants.

export function isConst(v: Value): v is Value & { constant: ConstTensor } {
  return v.constant !== undefined;
}

/** Integer values of a constant input (axes, shapes, paddings); fails for a runtime value. */
export function constInts(v: Value, what: string): number[] {
  const data = v.constant?.data;
  if (!data || v.constant!.dtype === DataType.DT_FLOAT || v.constant!.dtype === DataType.DT_DOUBLE) fail(`non-constant ${what}`);
  return Array.from(data as ArrayLike<number | bigint>, (x) => Number(x));
}

/** A runtime value computed by a node. */
export function runtimeValue(name: string, dtype: DataType, shape: number[] | undefined, nchw = false): Value {
  return { name, dtype, shape, nchw };
}

/** Elements of a static shape (saved-model's shapeSize). */
export const size = shapeSize;

export function isStatic(shape: readonly number[] | undefined): boolean {
  return shape !== undefined && shape.every((d) => d >= 0);
}

/** A zero-filled typed array for a TF dtype's values (DT_BOOL as 0/1 bytes); fails for dtypes ONNX values cannot hold. */
export function arrayFor(dtype: DataType, length: number): TypedArray {
  return (onnxType(dtype) !== undefined ? typedArrayFor(dtype, length) : undefined) ?? fail(`dtype=${dataTypeName(dtype)}`);
}
