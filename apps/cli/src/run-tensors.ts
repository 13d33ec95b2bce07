// `tensorsky run`'s tensors: saved_model_cli's three ways of giving inputs (--inputs KEY=FILE.npy,
// --input_exprs KEY=LITERAL, and our --input_images KEY=IMAGE,...), checked against the signature before
// anything runs, and the outputs as .npy files (read with npyjs) or numpy-style text.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'npyjs';
import type { FlatTensor, InputValue, OutputTensor } from '@tensorsky/predict-local';
import { DataType, dtypeInfo, imageFeed, type NumberArrayConstructor, type TensorSummary } from '@tensorsky/saved-model';
import { FlagError } from './usage.js';

/** A value given on the command line, before it is checked against its signature input. */
interface GivenTensor {
  /** Which flag gave it, for messages. */
  flag: 'inputs' | 'input-exprs' | 'input-images';
  kind: 'float' | 'int' | 'bool' | 'string';
  shape: number[];
  /** Flat values, row-major. */
  values: (number | boolean | string | Uint8Array)[];
}

export interface RunInputFlags {
  inputs?: string;
  'input-exprs'?: string;
  'input-images'?: string;
}

/**
 * The signature's inputs from the three flags (each `KEY=VALUE`, several separated by `;` as in
 * saved_model_cli). Every problem (a missing file, an unknown key, a dtype or shape the signature does
 * not take) is a FlagError naming the flag and the key.
 */
export async function readRunInputs(flags: RunInputFlags, inputs: readonly TensorSummary[]): Promise<Record<string, InputValue>> {
  const given = new Map<string, GivenTensor>();
  const add = (flag: GivenTensor['flag'], key: string, tensor: GivenTensor) => {
    if (given.has(key)) throw new FlagError(flag, `gives input "${key}" again: give each input once`);
    given.set(key, tensor);
  };
  for (const [key, file] of assignments('inputs', flags.inputs)) add('inputs', key, await readNpyInput(key, file));
  for (const [key, expr] of assignments('input-exprs', flags['input-exprs'])) add('input-exprs', key, parseLiteral(key, expr));
  for (const [key, list] of assignments('input-images', flags['input-images'])) {
    add('input-images', key, await readImages(key, list, inputs.find((i) => i.alias === key)));
  }

  const byName = new Map(inputs.map((i) => [i.alias, i]));
  const result: Record<string, InputValue> = {};
  for (const [key, tensor] of given) {
    const spec = byName.get(key);
    if (!spec) {
      throw new FlagError(tensor.flag, `names input "${key}", which the signature does not have; its inputs: ${inputList(inputs)}`);
    }
    checkAgainstSpec(key, tensor, spec);
    result[key] = flatInput(tensor, spec);
  }
  const missing = inputs.filter((i) => !given.has(i.alias)).map((i) => i.alias);
  if (missing.length > 0) {
    throw new FlagError('inputs', `or --input_exprs / --input_images must give every input; missing: ${missing.join(', ')} (the signature's inputs: ${inputList(inputs)})`);
  }
  return result;
}

function inputList(inputs: readonly TensorSummary[]): string {
  return inputs.map((i) => `${i.alias} (${i.dtype} ${formatShape(i.shape)})`).join(', ') || 'none';
}

/** `a=x.npy;b=y.npy` → [['a', 'x.npy'], ['b', 'y.npy']]. */
function assignments(flag: GivenTensor['flag'], text: string | undefined): [string, string][] {
  if (text === undefined) return [];
  return splitTopLevel(text, ';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const at = part.indexOf('=');
      const key = part.slice(0, at).trim();
      if (at <= 0 || !key) throw new FlagError(flag, `takes KEY=VALUE (several separated by ";"), got ${JSON.stringify(part)}`);
      return [key, part.slice(at + 1).trim()];
    });
}

/** Splits on `sep` outside brackets and quotes, so literals may hold it. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth--;
    else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// .npy files (numpy's format, read and written by npyjs).

async function readNpyInput(key: string, file: string): Promise<GivenTensor> {
  const bracket = /\[[^\]]*\]$/.exec(file);
  if (bracket) {
    throw new FlagError('inputs', `${key}=${file}: a variable inside a .npz or pickle file is not supported; save the array alone with numpy.save as a .npy file`);
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new FlagError('inputs', `${key}=${file}: cannot read the file (${why})`);
  }
  const bad = (why: string) => new FlagError('inputs', `${key}=${file}: ${why}`);
  if (bytes.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw bad('not a .npy file (numpy.save writes one)');
  const header = npyHeader(bytes);
  if (/'descr'\s*:\s*'>/.test(header)) throw bad('big-endian arrays are not supported; save it with a little-endian dtype (arr.astype("<f4"))');
  if (/'fortran_order'\s*:\s*True/.test(header)) throw bad('Fortran-order arrays are not supported; save numpy.ascontiguousarray(arr)');
  let array: ReturnType<typeof parse>;
  try {
    // A copy: typed-array views need the data at an aligned offset of their own buffer.
    array = parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  } catch (err) {
    throw bad(`not a .npy array this reader supports (${(err as Error).message})`);
  }
  const kind = npyKind(array.dtype);
  if (!kind) throw bad(`dtype ${array.dtype} is not supported (numbers, booleans and unicode strings are)`);
  const count = array.shape.reduce((a, b) => a * b, 1);
  const data = array.data as unknown as ArrayLike<number | bigint | boolean | string>;
  if (data.length < count) throw bad(`holds ${data.length} values where its shape (${array.shape.join(', ')}) needs ${count}: the file is truncated`);
  const values = Array.from({ length: count }, (_, i) => {
    const v = data[i];
    return typeof v === 'bigint' ? Number(v) : v;
  });
  return { flag: 'inputs', kind, shape: array.shape, values };
}

function npyHeader(bytes: Buffer): string {
  const major = bytes[6];
  const length = major <= 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major <= 1 ? 10 : 12;
  return bytes.subarray(start, start + length).toString('latin1');
}

function npyKind(dtype: string): GivenTensor['kind'] | undefined {
  if (/^f[248]$/.test(dtype)) return 'float';
  if (/^[iu][1248]$/.test(dtype)) return 'int';
  if (dtype === 'b1') return 'bool';
  if (/^U\d+$/.test(dtype)) return 'string';
  return undefined;
}

/** numpy's dtype code for each DataType an output can be written as. */
const NPY_CODES: Readonly<Record<string, string>> = {
  float32: 'f4',
  float64: 'f8',
  int8: 'i1',
  int16: 'i2',
  int32: 'i4',
  int64: 'i8',
  uint8: 'u1',
  uint16: 'u2',
  uint32: 'u4',
  uint64: 'u8',
  bool: 'b1',
};

/**
 * Writes each output as OUTDIR/KEY.npy, in the signature's dtype. Refuses files that exist unless
 * `overwrite` (saved_model_cli's rule); each file is written to a temp name and renamed into place.
 */
export async function writeNpyOutputs(outdir: string, outputs: Record<string, OutputTensor>, overwrite: boolean): Promise<string[]> {
  const files = Object.keys(outputs).map((key) => {
    if (!/^[\w.-]+$/.test(key) || key.startsWith('.')) throw new FlagError('outdir', `cannot hold output "${key}": its name is not a plain file name`);
    return path.join(outdir, `${key}.npy`);
  });
  const existing = files.filter((f) => existsSync(f));
  if (existing.length > 0 && !overwrite) {
    throw new FlagError('outdir', `already has ${existing.join(', ')}; add --overwrite to replace the output files`);
  }
  const encoded = Object.entries(outputs).map(([key, t]) => npyOutput(key, t));
  await fs.mkdir(outdir, { recursive: true });
  for (const [i, file] of files.entries()) {
    const temp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await fs.writeFile(temp, encoded[i]);
      await fs.rename(temp, file);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }
  return files;
}

function npyOutput(key: string, t: OutputTensor): Uint8Array {
  const info = dtypeInfo(DataType[t.dtype as keyof typeof DataType]);
  const code = NPY_CODES[info.name];
  if (!code || !info.array || Array.isArray(t.data)) {
    throw new FlagError('outdir', `cannot write output "${key}" (${t.dtype}) as .npy: only numeric and boolean outputs are written; run without --outdir to print it`);
  }
  const data = t.data as ArrayLike<number>;
  // 64-bit integers come back from the engine as numbers; numpy wants them as 8-byte integers.
  const values =
    code === 'i8' ? BigInt64Array.from(data, (v) => BigInt(Math.trunc(v)))
    : code === 'u8' ? BigUint64Array.from(data, (v) => BigInt(Math.trunc(v)))
    : (info.array as NumberArrayConstructor).from(data);
  return npyBytes(code, t.shape, values);
}

/**
 * A .npy file, format version 1.0 (numpy/lib/format.py): magic, version, header length, then the header
 * dict padded with spaces to a multiple of 64 bytes, then the data, C order, little-endian. (npyjs's
 * dump pads to 8, which numpy reads but never writes.)
 */
function npyBytes(code: string, shape: readonly number[], values: ArrayBufferView): Uint8Array {
  const descr = `${code.endsWith('1') ? '|' : '<'}${code}`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix.writeUInt8(1, 6);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
}

// ---------------------------------------------------------------------------------------------
// --input_exprs: Python literals (nested lists and tuples of numbers, booleans and strings).

function parseLiteral(key: string, text: string): GivenTensor {
  const bad = (why: string) =>
    new FlagError('input-exprs', `${key}=${text}: ${why}; give a Python literal such as [[1.0], [2.0]] (numpy expressions cannot run here: save the array with numpy.save and pass it with --inputs)`);
  let pos = 0;
  const skip = () => {
    while (pos < text.length && /\s/.test(text[pos])) pos++;
  };
  const value = (): unknown => {
    skip();
    const c = text[pos];
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      pos++;
      const items: unknown[] = [];
      skip();
      while (text[pos] !== close) {
        items.push(value());
        skip();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== close) throw bad(`expected "," or "${close}" at character ${pos + 1}`);
        skip();
      }
      pos++;
      return items;
    }
    if (c === '"' || c === "'") {
      let end = pos + 1;
      let out = '';
      while (end < text.length && text[end] !== c) {
        if (text[end] === '\\') end++;
        out += text[end++] ?? '';
      }
      if (end >= text.length) throw bad('a string is not closed');
      pos = end + 1;
      return out;
    }
    const word = /^(True|False|[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan))/.exec(text.slice(pos));
    if (!word) throw bad(`cannot read ${JSON.stringify(text.slice(pos, pos + 12))}`);
    pos += word[0].length;
    if (word[0] === 'True' || word[0] === 'False') return word[0] === 'True';
    const n = Number(word[0].replace(/inf$/, 'Infinity').replace(/nan$/, 'NaN'));
    return /[.eEn]/.test(word[0]) || /inf$/.test(word[0]) ? { float: n } : n;
  };
  const literal = value();
  skip();
  if (pos < text.length) throw bad(`unexpected ${JSON.stringify(text.slice(pos, pos + 12))}`);

  const shape: number[] = [];
  const values: GivenTensor['values'] = [];
  const kinds = new Set<GivenTensor['kind']>();
  const walk = (v: unknown, depth: number) => {
    if (Array.isArray(v)) {
      if (shape.length === depth) shape.push(v.length);
      else if (shape.length < depth || shape[depth] !== v.length) throw bad('the nested lists are ragged (not every row has the same length)');
      for (const item of v) walk(item, depth + 1);
      return;
    }
    if (shape.length !== depth) throw bad('the nested lists are ragged (values and lists at the same depth)');
    if (typeof v === 'boolean') kinds.add('bool');
    else if (typeof v === 'string') kinds.add('string');
    else if (typeof v === 'number') kinds.add('int');
    else kinds.add('float');
    values.push(typeof v === 'object' && v !== null ? (v as { float: number }).float : (v as number | boolean | string));
  };
  walk(literal, 0);
  if (kinds.size > 1 && !(kinds.size === 2 && kinds.has('int') && kinds.has('float'))) throw bad('it mixes numbers, booleans and strings');
  const kind = kinds.has('float') ? 'float' : ([...kinds][0] ?? 'float');
  return { flag: 'input-exprs', kind, shape, values };
}

// ---------------------------------------------------------------------------------------------
// --input_images: encoded image files for a DT_STRING image input, as the graph wants their bytes.

async function readImages(key: string, list: string, spec: TensorSummary | undefined): Promise<GivenTensor> {
  const files = list.split(',').map((f) => f.trim()).filter(Boolean);
  if (files.length === 0) throw new FlagError('input-images', `${key}=: name at least one image file`);
  if (spec && (spec.dtype !== 'DT_STRING' || !spec.encoding)) {
    throw new FlagError('input-images', `${key}: input "${key}" is ${spec.dtype} ${formatShape(spec.shape)}, not encoded images (a DT_STRING input that reaches an image decoder); give its values with --inputs or --input_exprs`);
  }
  const values: Uint8Array[] = [];
  for (const file of files) {
    try {
      values.push(await fs.readFile(file));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FlagError('input-images', `${key}=${file}: cannot read the image (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`);
    }
  }
  const encoding = spec?.encoding ?? 'bytes';
  const feeds = values.map((bytes) => imageFeed(bytes, encoding));
  // A scalar image input takes one image; otherwise a batch of them.
  const scalar = spec?.shape?.length === 0;
  if (scalar && files.length > 1) throw new FlagError('input-images', `${key}: input "${key}" takes one image (a scalar), got ${files.length}`);
  return { flag: 'input-images', kind: 'string', shape: scalar ? [] : [files.length], values: feeds };
}

// ---------------------------------------------------------------------------------------------
// Checks against the signature, and the values in the form predict-local takes.

const KIND_OF_DTYPE: Readonly<Record<string, GivenTensor['kind']>> = {
  DT_FLOAT: 'float',
  DT_DOUBLE: 'float',
  DT_HALF: 'float',
  DT_BFLOAT16: 'float',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
};

function checkAgainstSpec(key: string, tensor: GivenTensor, spec: TensorSummary): void {
  const wanted = KIND_OF_DTYPE[spec.dtype] ?? (/^DT_U?INT\d+$/.test(spec.dtype) ? 'int' : undefined);
  if (!wanted) throw new FlagError(tensor.flag, `${key}: input "${key}" has dtype ${spec.dtype}, which tensorsky run cannot feed`);
  // Integers widen to floats, as numpy does when TensorFlow converts a feed; nothing else converts.
  const fits = tensor.kind === wanted || (wanted === 'float' && tensor.kind === 'int');
  if (!fits) throw new FlagError(tensor.flag, `${key}: input "${key}" takes ${spec.dtype}, got ${tensor.kind === 'int' ? 'integers' : tensor.kind === 'float' ? 'floats' : tensor.kind === 'bool' ? 'booleans' : 'strings'}`);
  const shape = spec.shape;
  if (shape === null) return;
  const matches = shape.length === tensor.shape.length && shape.every((d, i) => d < 0 || d === tensor.shape[i]);
  if (!matches) {
    throw new FlagError(tensor.flag, `${key}: input "${key}" takes shape ${formatShape(shape)}, got ${formatShape(tensor.shape)}`);
  }
}

/** The given values as predict-local takes them: flat with their shape; strings as UTF-8 bytes, booleans as 0/1. */
function flatInput(tensor: GivenTensor, spec: TensorSummary): FlatTensor {
  if (spec.dtype === 'DT_STRING') return { shape: tensor.shape, values: tensor.values.map((v) => (typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array))) };
  return { shape: tensor.shape, values: tensor.values.map(Number) };
}

/** Row-major flat values as nested arrays of `shape`; a scalar (shape []) is its value. */
export function nested<T>(flat: ArrayLike<T>, shape: readonly number[]): unknown {
  let at = 0;
  const build = (depth: number): unknown => (depth === shape.length ? flat[at++] : Array.from({ length: shape[depth] }, () => build(depth + 1)));
  return build(0);
}

// ---------------------------------------------------------------------------------------------
// Output as numpy prints it (np.array2string's defaults: 8 significant digits, summarised beyond 1000 values).

const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;

export function formatShape(shape: readonly number[] | null): string {
  if (shape === null) return 'unknown_rank';
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

export function formatNumpy(t: OutputTensor): string {
  const count = t.shape.reduce((a, b) => a * b, 1);
  const summarise = count > SUMMARY_THRESHOLD;
  const isFloat = /^DT_(FLOAT|DOUBLE|HALF|BFLOAT16)$/.test(t.dtype);
  const isBool = t.dtype === 'DT_BOOL';
  const element = (i: number): string => {
    const v = t.data[i];
    if (v instanceof Uint8Array) return bytesRepr(v);
    if (isBool) return v ? ' True' : 'False';
    return isFloat ? floatText(v as number) : String(v);
  };
  // Shown indices along each axis (summarised axes keep their first and last EDGE_ITEMS).
  const shown = (n: number): (number | '...')[] =>
    summarise && n > 2 * EDGE_ITEMS ? [...range(0, EDGE_ITEMS), '...', ...range(n - EDGE_ITEMS, n)] : range(0, n);
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const texts = new Map<number, string>();
  const collect = (axis: number, offset: number) => {
    if (axis === t.shape.length) {
      texts.set(offset, element(offset));
      return;
    }
    for (const i of shown(t.shape[axis])) if (i !== '...') collect(axis + 1, offset + i * strides[axis]);
  };
  collect(0, 0);
  if (t.shape.length === 0) return texts.get(0) ?? '';
  const aligned = isFloat ? alignFloats(texts) : alignRight(texts);
  const render = (axis: number, offset: number, indent: string): string => {
    const last = axis === t.shape.length - 1;
    const parts = shown(t.shape[axis]).map((i) => (i === '...' ? '...' : last ? aligned.get(offset + i * strides[axis])! : render(axis + 1, offset + i * strides[axis], `${indent} `)));
    const gap = last ? ' ' : `\n${'\n'.repeat(Math.max(0, t.shape.length - axis - 2))}${indent} `;
    return `[${parts.join(gap)}]`;
  };
  return render(0, 0, '');
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** The shortest text that reads back as the same float32, numpy style: `3.` for whole numbers. */
function floatText(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  let text = String(v);
  for (let p = 1; p <= 9; p++) {
    const candidate = v.toPrecision(p);
    if (Math.fround(Number(candidate)) === Math.fround(v)) {
      text = String(Number(candidate));
      break;
    }
  }
  if (/e/.test(text)) return text.replace(/e([-+])(\d)$/, 'e$10$2');
  return text.includes('.') ? text : `${text}.`;
}

/** numpy aligns floats on the decimal point (or, in scientific notation, pads on the right). */
function alignFloats(texts: Map<number, string>): Map<number, string> {
  const values = [...texts.values()];
  const finite = values.filter((s) => /^-?\d/.test(s));
  const scientific = finite.some((s) => s.includes('e'));
  if (scientific) return alignRight(texts);
  const intWidth = Math.max(0, ...values.map((s) => (s.includes('.') ? s.indexOf('.') : s.length)));
  const fracWidth = Math.max(0, ...values.map((s) => (s.includes('.') ? s.length - s.indexOf('.') - 1 : 0)));
  const out = new Map<number, string>();
  for (const [i, s] of texts) {
    const dot = s.includes('.') ? s.indexOf('.') : s.length;
    const frac = s.includes('.') ? s.length - dot - 1 : -1;
    out.set(i, `${' '.repeat(intWidth - dot)}${s}${' '.repeat(fracWidth - Math.max(0, frac) - (frac < 0 ? 1 : 0))}`);
  }
  return out;
}

function alignRight(texts: Map<number, string>): Map<number, string> {
  const width = Math.max(0, ...[...texts.values()].map((s) => s.length));
  return new Map([...texts].map(([i, s]) => [i, s.padStart(width)]));
}

/** Python's repr of bytes: b'...' with \xNN escapes. */
function bytesRepr(bytes: Uint8Array): string {
  let out = "b'";
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x27) out += "\\'";
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `${out}'`;
}
