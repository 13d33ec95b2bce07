// TensorFlow's OpDefs (data/tf_opdefs.json, vendored from tensorflow/core/ops) and the OpDef rules the
// graph builder and the validator share: attr value kinds, allowed values, minimums, and the dtypes an
// op's inputs and outputs have for given attrs.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DataType,
  REF_OFFSET,
  dataTypeName,
  int64ToNumber,
  parseDataType,
  type ArgDef,
  type AttrDef,
  type AttrValue,
  type NodeDef,
  type OpDef,
  type TensorShapeProto,
} from './proto.js';

/** Op name → OpDef. */
export type OpDefs = ReadonlyMap<string, OpDef>;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

let vendored: OpDefs | undefined;

/** TensorFlow's OpDefs for the ops an image-classifier export uses (cached after the first call). */
export function tfOpDefs(): OpDefs {
  if (!vendored) {
    // Relative to this module so it resolves from both src/ and dist/.
    const path = fileURLToPath(new URL('../data/tf_opdefs.json', import.meta.url));
    vendored = parseOpDefs(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
  }
  return vendored;
}

/**
 * Converts OpDefs in TensorFlow's JSON form ({"Conv2D": {name, input_arg, attr: [{default_value: {"s": "NHWC"}}]}})
 * to proto-shaped OpDefs (DataType numbers, Uint8Array strings). "_"-prefixed keys (provenance) are ignored.
 */
export function parseOpDefs(json: Record<string, unknown>): Map<string, OpDef> {
  const defs = new Map<string, OpDef>();
  for (const [name, raw] of Object.entries(json)) {
    if (name.startsWith('_')) continue;
    const op = raw as JsonOpDef;
    try {
      defs.set(name, {
        name: op.name ?? name,
        input_arg: (op.input_arg ?? []).map(parseArgDef),
        output_arg: (op.output_arg ?? []).map(parseArgDef),
        attr: (op.attr ?? []).map(parseAttrDef),
        ...(op.is_stateful ? { is_stateful: true } : {}),
        ...(op.is_commutative ? { is_commutative: true } : {}),
        ...(op.is_aggregate ? { is_aggregate: true } : {}),
        ...(op.allows_uninitialized_input ? { allows_uninitialized_input: true } : {}),
      });
    } catch (err) {
      throw new Error(`OpDef "${name}" is malformed: ${(err as Error).message}`);
    }
  }
  return defs;
}

interface JsonOpDef {
  name?: string;
  input_arg?: JsonArgDef[];
  output_arg?: JsonArgDef[];
  attr?: JsonAttrDef[];
  is_stateful?: boolean;
  is_commutative?: boolean;
  is_aggregate?: boolean;
  allows_uninitialized_input?: boolean;
}
interface JsonArgDef {
  name: string;
  type?: string;
  type_attr?: string;
  number_attr?: string;
  type_list_attr?: string;
  is_ref?: boolean;
}
interface JsonAttrDef {
  name: string;
  type: string;
  default_value?: JsonAttrValue;
  has_minimum?: boolean;
  minimum?: number | string;
  allowed_values?: JsonAttrValue;
}
type JsonShape = { dim?: { size?: number | string; name?: string }[]; unknown_rank?: boolean };
interface JsonAttrValue {
  s?: string;
  i?: number | string;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: JsonShape;
  list?: { s?: string[]; i?: (number | string)[]; f?: number[]; b?: boolean[]; type?: string[]; shape?: JsonShape[] };
  func?: { name?: string };
}

function jsonDataType(name: string): DataType {
  const t = parseDataType(name);
  if (t === undefined) throw new Error(`unknown data type "${name}"`);
  return t;
}

function parseArgDef(arg: JsonArgDef): ArgDef {
  return {
    name: arg.name,
    ...(arg.type !== undefined ? { type: jsonDataType(arg.type) } : {}),
    ...(arg.type_attr ? { type_attr: arg.type_attr } : {}),
    ...(arg.number_attr ? { number_attr: arg.number_attr } : {}),
    ...(arg.type_list_attr ? { type_list_attr: arg.type_list_attr } : {}),
    ...(arg.is_ref ? { is_ref: true } : {}),
  };
}

function parseAttrDef(attr: JsonAttrDef): AttrDef {
  return {
    name: attr.name,
    type: attr.type,
    ...(attr.default_value !== undefined ? { default_value: parseAttrValue(attr.default_value) } : {}),
    ...(attr.has_minimum ? { has_minimum: true, minimum: Number(attr.minimum ?? 0) } : {}),
    ...(attr.allowed_values !== undefined ? { allowed_values: parseAttrValue(attr.allowed_values) } : {}),
  };
}

function parseShape(shape: JsonShape): TensorShapeProto {
  if (shape.unknown_rank) return { unknown_rank: true };
  return { dim: (shape.dim ?? []).map((d) => ({ size: Number(d.size ?? 0) })) };
}

function parseAttrValue(v: JsonAttrValue): AttrValue {
  if (v.s !== undefined) return { s: utf8.encode(v.s) };
  if (v.i !== undefined) return { i: Number(v.i) };
  if (v.f !== undefined) return { f: v.f };
  if (v.b !== undefined) return { b: v.b };
  if (v.type !== undefined) return { type: jsonDataType(v.type) };
  if (v.shape !== undefined) return { shape: parseShape(v.shape) };
  if (v.func !== undefined) return { func: { name: v.func.name ?? '' } };
  if (v.list !== undefined) {
    const l = v.list;
    return {
      list: {
        ...(l.s ? { s: l.s.map((s) => utf8.encode(s)) } : {}),
        ...(l.i ? { i: l.i.map(Number) } : {}),
        ...(l.f ? { f: [...l.f] } : {}),
        ...(l.b ? { b: [...l.b] } : {}),
        ...(l.type ? { type: l.type.map(jsonDataType) } : {}),
        ...(l.shape ? { shape: l.shape.map(parseShape) } : {}),
      },
    };
  }
  throw new Error(`unsupported attr value ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------
// Attr values

/** The AttrValue oneof cases. */
export type AttrValueCase = 's' | 'i' | 'f' | 'b' | 'type' | 'shape' | 'tensor' | 'list' | 'func' | 'placeholder';
const attrValueCases: readonly AttrValueCase[] = ['s', 'i', 'f', 'b', 'type', 'shape', 'tensor', 'list', 'func', 'placeholder'];
type ListField = 's' | 'i' | 'f' | 'b' | 'type' | 'shape' | 'tensor' | 'func';
const listFields: readonly ListField[] = ['s', 'i', 'f', 'b', 'type', 'shape', 'tensor', 'func'];

// Decoded protobufjs messages carry every field's default on their prototype, so only own properties
// tell which oneof case is set.
function hasOwnValue(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key) && (o as Record<string, unknown>)[key] != null;
}

/** Which case of the AttrValue oneof is set; undefined for an empty AttrValue. */
export function attrValueCase(v: AttrValue): AttrValueCase | undefined {
  return attrValueCases.find((c) => hasOwnValue(v, c));
}

/** Non-empty fields of an AttrValue list. */
function listFieldsSet(v: AttrValue): ListField[] {
  const list = v.list ?? {};
  return listFields.filter((f) => hasOwnValue(list, f) && ((list as Record<string, unknown[]>)[f]?.length ?? 0) > 0);
}

const caseForAttrType: Record<string, AttrValueCase> = {
  string: 's',
  int: 'i',
  float: 'f',
  bool: 'b',
  type: 'type',
  shape: 'shape',
  tensor: 'tensor',
  func: 'func',
};

function listLength(v: AttrValue): number {
  const fields = listFieldsSet(v);
  return fields.length ? ((v.list as Record<string, unknown[]>)[fields[0]!]?.length ?? 0) : 0;
}

function bytesText(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}

/** Human-readable form of an attr value for messages ("DT_FLOAT", "\"SAME\"", "[1, 2]"). */
export function formatAttrValue(v: AttrValue): string {
  switch (attrValueCase(v)) {
    case 's':
      return JSON.stringify(bytesText(v.s!));
    case 'i':
      return String(int64ToNumber(v.i));
    case 'f':
      return String(v.f);
    case 'b':
      return String(v.b);
    case 'type':
      return dataTypeName(v.type!);
    case 'shape':
      return formatShape(v.shape!);
    case 'tensor':
      return `tensor<${dataTypeName(v.tensor!.dtype ?? 0)}>`;
    case 'func':
      return `func ${JSON.stringify(v.func!.name ?? '')}`;
    case 'placeholder':
      return `placeholder ${JSON.stringify(v.placeholder)}`;
    case 'list': {
      const field = listFieldsSet(v)[0];
      if (!field) return '[]';
      const items = (v.list as Record<string, unknown[]>)[field]!;
      return `[${items.map((item) => formatAttrValue({ [field]: item } as AttrValue)).join(', ')}]`;
    }
    default:
      return '<no value>';
  }
}

function formatShape(s: TensorShapeProto): string {
  if (s.unknown_rank) return '<unknown rank>';
  return `[${(s.dim ?? []).map((d) => int64ToNumber(d.size)).join(', ')}]`;
}

/**
 * Why an attr value does not satisfy its AttrDef (kind, allowed_values, minimum), or undefined when it does.
 * Mirrors TensorFlow's ValidateAttrValue.
 */
export function attrValueProblem(def: AttrDef, value: AttrValue): string | undefined {
  const actual = attrValueCase(value);
  const isList = def.type.startsWith('list(');
  const itemType = isList ? def.type.slice(5, -1) : def.type;
  const expected = caseForAttrType[itemType];
  if (expected === undefined) return undefined; // "any" and future kinds: nothing to check
  if (isList) {
    if (actual !== 'list') return `attr "${def.name}" must be a ${def.type} but is ${describeCase(actual)}`;
    const wrong = listFieldsSet(value).find((f) => f !== expected);
    if (wrong) return `attr "${def.name}" must be a ${def.type} but holds ${describeCase(wrong)} values`;
  } else if (actual !== expected) {
    return `attr "${def.name}" must be a ${def.type} but is ${describeCase(actual)}`;
  }

  const items: unknown[] = isList ? ((value.list as Record<string, unknown[]>)[expected] ?? []) : [value[expected]];
  if (itemType === 'type') {
    for (const t of items as DataType[]) {
      if (!DataType[t] || t === DataType.DT_INVALID) return `attr "${def.name}" has invalid data type ${dataTypeName(t)}`;
    }
  }
  const allowed = def.allowed_values;
  if (allowed && (itemType === 'type' || itemType === 'string')) {
    const allowedItems = (allowed.list as Record<string, unknown[]> | undefined)?.[expected] ?? [];
    const key = (item: unknown) => (itemType === 'string' ? bytesText(item as Uint8Array) : (item as number));
    const allowedKeys = new Set(allowedItems.map(key));
    for (const item of items) {
      if (!allowedKeys.has(key(item))) {
        const shown = formatAttrValue({ [expected]: item } as AttrValue);
        const allowedShown = allowedItems.map((a) => formatAttrValue({ [expected]: a } as AttrValue)).join(', ');
        return `attr "${def.name}" = ${shown} is not allowed (allowed: ${allowedShown})`;
      }
    }
  }
  if (def.has_minimum) {
    const minimum = int64ToNumber(def.minimum);
    if (isList) {
      const n = listLength(value);
      if (n < minimum) return `attr "${def.name}" has ${n} values, fewer than the minimum ${minimum}`;
    } else if (itemType === 'int') {
      const n = int64ToNumber(value.i);
      if (n < minimum) return `attr "${def.name}" = ${n} is less than the minimum ${minimum}`;
    }
  }
  return undefined;
}

function describeCase(c: AttrValueCase | ListField | undefined): string {
  const names: Record<string, string> = {
    s: 'a string',
    i: 'an int',
    f: 'a float',
    b: 'a bool',
    type: 'a type',
    shape: 'a shape',
    tensor: 'a tensor',
    list: 'a list',
    func: 'a func',
    placeholder: 'a placeholder',
  };
  return c ? names[c]! : 'empty';
}

// ---------------------------------------------------------------------------------------------
// Arg dtypes

/**
 * The dtypes an input or output arg stands for under the given attrs: one per tensor (number_attr
 * repeats, type_list_attr expands), refs as base type + 100. Undefined when a needed attr is missing.
 */
export function argDtypes(arg: ArgDef, attrs: Readonly<Record<string, AttrValue>>): DataType[] | undefined {
  const ref = arg.is_ref ? REF_OFFSET : 0;
  if (arg.type_list_attr) {
    const v = attrs[arg.type_list_attr];
    if (!v || attrValueCase(v) !== 'list') return undefined;
    return (v.list!.type ?? []).map((t) => t + ref);
  }
  let dtype: DataType | undefined;
  if (arg.type_attr) {
    const v = attrs[arg.type_attr];
    if (!v || attrValueCase(v) !== 'type') return undefined;
    dtype = v.type!;
  } else {
    dtype = arg.type;
  }
  if (dtype === undefined || dtype === DataType.DT_INVALID) return undefined;
  let count = 1;
  if (arg.number_attr) {
    const v = attrs[arg.number_attr];
    if (!v || attrValueCase(v) !== 'i') return undefined;
    count = int64ToNumber(v.i);
  }
  return Array.from({ length: Math.max(count, 0) }, () => dtype + ref);
}

/** Dtypes of all outputs of an op with these attrs, or undefined when an attr they depend on is missing. */
export function outputDtypes(op: OpDef, attrs: Readonly<Record<string, AttrValue>>): DataType[] | undefined {
  return flatDtypes(op.output_arg ?? [], attrs);
}

/** Dtypes of all data inputs of an op with these attrs, or undefined when an attr they depend on is missing. */
export function inputDtypes(op: OpDef, attrs: Readonly<Record<string, AttrValue>>): DataType[] | undefined {
  return flatDtypes(op.input_arg ?? [], attrs);
}

function flatDtypes(args: readonly ArgDef[], attrs: Readonly<Record<string, AttrValue>>): DataType[] | undefined {
  const out: DataType[] = [];
  for (const arg of args) {
    const dts = argDtypes(arg, attrs);
    if (!dts) return undefined;
    out.push(...dts);
  }
  return out;
}

/** Whether a tensor of dtype `actual` may feed an input declared as `expected` (a ref may feed a non-ref). */
export function dtypeFits(expected: DataType, actual: DataType): boolean {
  if (expected === actual) return true;
  return expected < REF_OFFSET && actual === expected + REF_OFFSET;
}

/** The node's attrs plus the OpDef's defaults for attrs it leaves out (what TensorFlow sees at load time). */
export function attrsWithDefaults(op: OpDef, node: Pick<NodeDef, 'attr'>): Record<string, AttrValue> {
  const attrs: Record<string, AttrValue> = { ...(node.attr ?? {}) };
  for (const def of op.attr ?? []) {
    if (attrs[def.name] === undefined && def.default_value) attrs[def.name] = def.default_value;
  }
  return attrs;
}
