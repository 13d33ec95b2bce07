// Shape and data movement: ConcatV2/Concat, Pack/Unpack, Reshape, Squeeze, ExpandDims, Pad/PadV2/
// MirrorPad, Transpose, Slice/StridedSlice (constant parameters), Shape/Size/Rank, GatherV2, Tile,
// Fill, BroadcastTo. Layout-aware where it is cheap: ConcatV2 on NCHW inputs concatenates on the mapped
// axis, Pad permutes its paddings, Squeeze maps its axes, Transpose composes its permutation with NCHW's;
// the rest works on TensorFlow's layout. Ops on constants are evaluated here (shape arithmetic in graphs
// Keras writes: Shape → StridedSlice → Pack → Reshape), as TensorFlow's grappler would fold them.
import { DataType, dataTypeName } from '@tensorsky/saved-model';
import { attr } from '../builder.js';
import {
  arrayFor,
  attrInt,
  attrInts,
  attrString,
  constInts,
  fail,
  isConst,
  isStatic,
  requireOnnxType,
  runtimeValue,
  size,
  type ConstTensor,
  type OpContext,
  type OpTable,
  type Translator,
  type Value,
} from '../context.js';
import { isIdentityPerm, TO_NCHW, TO_NHWC, transposeData } from '../layout.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** ±Infinity (open slice bounds) as ONNX's int64 extremes. */
function int64Bound(v: number): bigint {
  return v === Infinity ? INT64_MAX : v === -Infinity ? INT64_MIN : BigInt(v);
}

function normalizeAxis(axis: number, rank: number | undefined, extra = 0): number {
  if (rank === undefined) {
    if (axis < 0) fail('negative axis on a tensor of unknown rank');
    return axis;
  }
  const r = rank + extra;
  if (axis < -r || axis >= r) fail(`axis ${axis} out of range`);
  return axis < 0 ? axis + r : axis;
}

/** A constant with new shape, same data (reshapes of constants move no data). */
function reshapedConst(v: Value, shape: number[]): Value {
  const c = v.constant!;
  const constant: ConstTensor = { dtype: c.dtype, shape, strings: c.strings, view: c.view };
  // Still lazy: reading the data is left to whoever needs it.
  Object.defineProperty(constant, 'data', { enumerable: true, get: () => c.data });
  return { dtype: v.dtype, shape, nchw: false, constant };
}

function constData(v: Value): boolean {
  return isConst(v) && v.constant.data !== undefined;
}

// ---------------------------------------------------------------------------------------------

/** Concatenation of constants along `axis` (any rank, row-major blocks). */
function concatConst(values: readonly Value[], axis: number): Value {
  const shapes = values.map((v) => v.shape!);
  const outer = size(shapes[0].slice(0, axis));
  const blocks = shapes.map((s) => size(s.slice(axis)));
  const shape = [...shapes[0]];
  shape[axis] = shapes.reduce((n, s) => n + s[axis], 0);
  const out = arrayFor(values[0].dtype, size(shape)) as unknown as { set(a: ArrayLike<unknown>, at: number): void };
  let at = 0;
  for (let o = 0; o < outer; o++) {
    values.forEach((v, i) => {
      const data = v.constant!.data!;
      out.set((data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> }).subarray(o * blocks[i], (o + 1) * blocks[i]), at);
      at += blocks[i];
    });
  }
  const data = out as unknown as NonNullable<Value['constant']>['data'];
  return { dtype: values[0].dtype, shape, nchw: false, constant: { dtype: values[0].dtype, shape, data } };
}

function concat(ctx: OpContext, values: readonly Value[], axisValue: Value): Value[] {
  const dtype = values[0].dtype;
  requireOnnxType(dtype);
  const [rawAxis] = constInts(axisValue, 'axis');
  const rank = values.find((v) => v.shape)?.shape?.length;
  const axis = normalizeAxis(rawAxis, rank);
  if (values.length === 1) return [values[0]];
  const shapes = values.map((v) => v.shape);
  let shape: number[] | undefined;
  if (shapes.every((s) => s !== undefined)) {
    shape = [...shapes[0]!];
    shape[axis] = shapes.some((s) => s![axis] < 0) ? -1 : shapes.reduce((n, s) => n + s![axis], 0);
    for (let k = 0; k < shape.length; k++) if (k !== axis && shape[k] < 0) shape[k] = shapes.find((s) => s![k] >= 0)?.[k] ?? -1;
  }
  if (values.every(constData)) return [concatConst(values, axis)];
  const nchw = values.some((v) => v.nchw) && shapes.every((s) => s?.length === 4);
  const names = values.map((v) => (nchw ? ctx.nchw(v) : ctx.tf(v)));
  const [y] = ctx.emit('Concat', names, [ctx.outName()], { axis: attr.int(nchw ? TO_NHWC[axis] : axis) });
  return [runtimeValue(y, dtype, shape, nchw)];
}

const concatV2: Translator = (ctx) => concat(ctx, ctx.inputs.slice(0, -1), ctx.inputs[ctx.inputs.length - 1]);
const concatV1: Translator = (ctx) => concat(ctx, ctx.inputs.slice(1), ctx.inputs[0]);

const pack: Translator = (ctx) => {
  const values = ctx.inputs;
  const dtype = values[0].dtype;
  requireOnnxType(dtype);
  const rank = values.find((v) => v.shape)?.shape?.length;
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), rank, 1);
  const inner = values.find((v) => v.shape)?.shape;
  const unsqueezed = (v: Value): Value => {
    const shape = v.shape && [...v.shape.slice(0, axis), 1, ...v.shape.slice(axis)];
    return constData(v) ? reshapedConst(v, shape!) : v;
  };
  if (values.every(constData)) return [concatConst(values.map(unsqueezed), axis)];
  const names = values.map((v) => ctx.emit('Unsqueeze', [ctx.tf(v), ctx.b.int64s([axis])], [`${ctx.outName()}/${v.label ?? 'value'}/unsqueezed`])[0]);
  const shape = inner && [...inner.slice(0, axis), values.length, ...inner.slice(axis)];
  const [y] = values.length === 1 ? ctx.emit('Identity', names, [ctx.outName()]) : ctx.emit('Concat', names, [ctx.outName()], { axis: attr.int(axis) });
  return [runtimeValue(y, dtype, shape)];
};

const unpack: Translator = (ctx) => {
  const x = ctx.inputs[0];
  requireOnnxType(x.dtype);
  const num = attrInt(ctx.node, 'num');
  const axis = normalizeAxis(attrInt(ctx.node, 'axis', 0), x.shape?.length);
  const parts = ctx.emit(
    'Split',
    [ctx.tf(x), ctx.b.int64s(new Array(num).fill(1))],
    Array.from({ length: num }, (_, i) => `${ctx.outName(i)}/split`),
    { axis: attr.int(axis) },
  );
  const shape = x.shape && x.shape.filter((_, i) => i !== axis);
  return parts.map((part, i) =>
    ctx.usedOutputs.has(i) ? runtimeValue(ctx.emit('Squeeze', [part, ctx.b.int64s([axis])], [ctx.outName(i)])[0], x.dtype, shape) : undefined,
  );
};

// ---------------------------------------------------------------------------------------------

const reshape: Translator = (ctx) => {
  const [x, shapeValue] = ctx.inputs;
  requireOnnxType(x.dtype);
  if (constData(shapeValue)) {
    const target = constInts(shapeValue, 'shape');
    if (target.includes(0) && target.includes(-1)) fail('shape with both 0 and -1');
    let shape = target;
    if (isStatic(x.shape) && target.filter((d) => d === -1).length === 1) {
      const known = target.reduce((n, d) => (d === -1 ? n : n * d), 1);
      shape = target.map((d) => (d === -1 ? (known === 0 ? 0 : size(x.shape!) / known) : d));
    }
    if (constData(x) && isStatic(shape)) return [reshapedConst(x, shape)];
    // A 0 in TensorFlow's shape is a size; in ONNX it means "copy the input's" unless allowzero.
    const [y] = ctx.emit('Reshape', [ctx.tf(x), ctx.b.int64s(target)], [ctx.outName()], { allowzero: target.includes(0) ? attr.int(1) : undefined });
    return [runtimeValue(y, x.dtype, shape)];
  }
  const rank = shapeValue.shape?.[0];
  const [y] = ctx.emit('Reshape', [ctx.tf(x), int64Input(ctx, shapeValue)], [ctx.outName()], { allowzero: attr.int(1) });
  return [runtimeValue(y, x.dtype, rank !== undefined && rank >= 0 ? new Array(rank).fill(-1) : undefined)];
};

/** A runtime int32/int64 tensor as int64 (ONNX's shape-like inputs). */
function int64Input(ctx: OpContext, v: Value): string {
  if (v.dtype === DataType.DT_INT64) return ctx.tf(v);
  if (v.dtype !== DataType.DT_INT32) fail(`shape of ${dataTypeName(v.dtype)}`);
  return ctx.emit('Cast', [ctx.tf(v)], [`${v.label ?? ctx.outName()}/int64`], { to: attr.int(7) })[0];
}

const squeeze: Translator = (ctx) => {
  const x = ctx.inputs[0];
  requireOnnxType(x.dtype);
  const rank = x.shape?.length;
  let axes = attrInts(ctx.node, 'squeeze_dims', []).map((a) => normalizeAxis(a, rank));
  if (axes.length === 0 && x.shape && isStatic(x.shape)) axes = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (axes.length === 0) {
    // Every size-1 dimension, decided at run time in both frameworks.
    if (x.shape && x.shape.every((d) => d !== 1 && d !== -1)) return [x];
    const [y] = ctx.emit('Squeeze', [ctx.tf(x)], [ctx.outName()]);
    return [runtimeValue(y, x.dtype, undefined)];
  }
  const shape = x.shape && x.shape.filter((_, i) => !axes.includes(i));
  if (constData(x)) return [reshapedConst(x, shape!)];
  // On NCHW, as for a reduction: the result is in TF order when the remaining axes keep their order.
  const remaining = TO_NCHW.filter((a) => !axes.includes(a));
  if (x.nchw && remaining.every((a, i) => i === 0 || remaining[i - 1] < a)) {
    const held = axes.map((a) => TO_NHWC[a]).sort((a, b) => a - b);
    return [runtimeValue(ctx.emit('Squeeze', [ctx.name(x), ctx.b.int64s(held)], [ctx.outName()])[0], x.dtype, shape)];
  }
  return [runtimeValue(ctx.emit('Squeeze', [ctx.tf(x), ctx.b.int64s(axes)], [ctx.outName()])[0], x.dtype, shape)];
};

const expandDims: Translator = (ctx) => {
  const [x, dim] = ctx.inputs;
  requireOnnxType(x.dtype);
  const axes = constInts(dim, 'dim');
  if (axes.length !== 1) fail('several axes');
  const axis = normalizeAxis(axes[0], x.shape?.length, 1);
  const shape = x.shape && [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  if (constData(x)) return [reshapedConst(x, shape!)];
  const [y] = ctx.emit('Unsqueeze', [ctx.tf(x), ctx.b.int64s([axis])], [ctx.outName()]);
  return [runtimeValue(y, x.dtype, shape)];
};

// ---------------------------------------------------------------------------------------------

function pad(mode: 'constant' | 'mirror'): Translator {
  return (ctx) => {
    const [x, paddingsValue, constantValue] = ctx.inputs;
    requireOnnxType(x.dtype);
    let onnxMode = 'constant';
    if (mode === 'mirror') {
      const m = attrString(ctx.node, 'mode');
      // REFLECT leaves out the edge, as ONNX's reflect does; SYMMETRIC repeats it (ONNX has no such mode).
      if (m !== 'REFLECT') fail(`mode=${m}`);
      onnxMode = 'reflect';
    }
    const flat = constInts(paddingsValue, 'paddings');
    const rows = Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]] as const);
    if (x.shape && x.shape.length !== rows.length) fail('paddings of another rank');
    const shape = x.shape ? x.shape.map((d, i) => (d < 0 ? -1 : d + rows[i][0] + rows[i][1])) : rows.map(() => -1);
    if (rows.every(([b, e]) => b === 0 && e === 0)) return [x];
    const nchw = x.nchw;
    const held = nchw ? TO_NCHW.map((a) => rows[a]) : rows;
    const pads = ctx.b.int64s([...held.map((r) => r[0]), ...held.map((r) => r[1])]);
    const inputs = [nchw ? ctx.name(x) : ctx.tf(x), pads];
    if (constantValue) inputs.push(ctx.tf(constantValue));
    const [y] = ctx.emit('Pad', inputs, [ctx.outName()], { mode: attr.string(onnxMode) });
    return [runtimeValue(y, x.dtype, shape, nchw)];
  };
}

const transpose: Translator = (ctx) => {
  const [x, permValue] = ctx.inputs;
  requireOnnxType(x.dtype);
  const perm = constInts(permValue, 'perm');
  if (x.shape && x.shape.length !== perm.length) fail('perm of another rank');
  const shape = x.shape && perm.map((p) => x.shape![p]);
  if (constData(x) && isStatic(x.shape)) {
    const data = transposeData(x.constant!.data!, x.shape!, perm);
    return [{ dtype: x.dtype, shape, nchw: false, constant: { dtype: x.dtype, shape: shape!, data } }];
  }
  // Held NCHW, TF axis a is held axis TO_NHWC[a]: the composed permutation reads the held tensor.
  const held = x.nchw ? perm.map((p) => TO_NHWC[p]) : perm;
  const input = ctx.name(x);
  if (isIdentityPerm(held)) return [runtimeValue(input, x.dtype, shape)];
  const [y] = ctx.emit('Transpose', [input], [ctx.outName()], { perm: attr.ints(held) });
  return [runtimeValue(y, x.dtype, shape)];
};

// ---------------------------------------------------------------------------------------------
// Slices.

interface SliceSpec {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
  /** Input axes removed (shrink_axis_mask). */
  shrink: number[];
  /** Output positions of inserted size-1 axes (new_axis_mask). */
  newAxes: number[];
}

/** Elements a slice takes of a dimension, with ONNX's (= Python's) clamping. */
function sliceLength(dim: number, start: number, end: number, step: number): number {
  if (dim < 0) return -1;
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = Math.min(Math.max(s, -1), dim - 1);
  e = Math.min(Math.max(e, -1), dim - 1);
  return Math.max(0, Math.ceil((s - e) / -step));
}

/** TensorFlow's StridedSlice sparse spec (masks, one ellipsis) as per-axis slices (BuildDenseSpec). */
function stridedSliceSpec(ctx: OpContext, begin: number[], end: number[], strides: number[], rank: number | undefined): SliceSpec {
  const mask = (name: string) => attrInt(ctx.node, name, 0);
  const [beginMask, endMask, ellipsisMask, newAxisMask, shrinkMask] = ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map(mask);
  const n = begin.length;
  if (end.length !== n || strides.length !== n) fail('begin, end and strides of different lengths');
  const bit = (m: number, i: number) => (m & (1 << i)) !== 0;
  if ([...Array(n).keys()].filter((i) => bit(ellipsisMask, i)).length > 1) fail('several ellipses');
  const spec: SliceSpec = { starts: [], ends: [], axes: [], steps: [], shrink: [], newAxes: [] };
  let inAxis = 0;
  let outAxis = 0;
  for (let i = 0; i < n; i++) {
    if (bit(ellipsisMask, i)) {
      if (rank === undefined) fail('ellipsis on a tensor of unknown rank');
      let realAfter = 0;
      for (let j = i + 1; j < n; j++) if (!bit(newAxisMask, j)) realAfter++;
      const count = rank - inAxis - realAfter;
      inAxis += count;
      outAxis += count;
    } else if (bit(newAxisMask, i)) {
      spec.newAxes.push(outAxis++);
    } else {
      const axis = inAxis++;
      if (bit(shrinkMask, i)) {
        const b = begin[i];
        spec.starts.push(b);
        spec.ends.push(b === -1 ? Infinity : b + 1);
        spec.steps.push(1);
        spec.axes.push(axis);
        spec.shrink.push(axis);
        continue;
      }
      const step = strides[i];
      if (step === 0) fail('stride 0');
      const start = bit(beginMask, i) ? (step > 0 ? 0 : Infinity) : begin[i];
      const stop = bit(endMask, i) ? (step > 0 ? Infinity : -Infinity) : end[i];
      outAxis++;
      if (start === 0 && stop === Infinity && step === 1) continue;
      spec.starts.push(start);
      spec.ends.push(stop);
      spec.steps.push(step);
      spec.axes.push(axis);
    }
  }
  if (rank !== undefined && inAxis > rank) fail('more slice dimensions than the input has');
  return spec;
}

function slicedShape(shape: number[] | undefined, spec: SliceSpec): number[] | undefined {
  if (!shape) return undefined;
  const dims = [...shape];
  spec.axes.forEach((axis, k) => (dims[axis] = sliceLength(shape[axis], spec.starts[k], spec.ends[k], spec.steps[k])));
  const kept = dims.filter((_, i) => !spec.shrink.includes(i));
  for (const at of spec.newAxes) kept.splice(at, 0, 1);
  return kept;
}

/** Slicing a 1-D constant (shape vectors), evaluated here. */
function sliceConst1D(x: Value, spec: SliceSpec): Value | undefined {
  if (x.shape?.length !== 1 || spec.newAxes.length > 0) return undefined;
  const data = x.constant!.data!;
  const dim = x.shape[0];
  const picked: number[] = [];
  if (spec.axes.length === 0) {
    for (let i = 0; i < dim; i++) picked.push(i);
  } else {
    const [start, end, step] = [spec.starts[0], spec.ends[0], spec.steps[0]];
    const count = sliceLength(dim, start, end, step);
    let s = start < 0 ? start + dim : start;
    s = step > 0 ? Math.min(Math.max(s, 0), dim) : Math.min(Math.max(s, -1), dim - 1);
    for (let k = 0; k < count; k++) picked.push(s + k * step);
  }
  const shape = spec.shrink.length ? [] : [picked.length];
  if (spec.shrink.length && picked.length !== 1) fail('shrunk index out of range');
  const out = arrayFor(x.dtype, picked.length);
  picked.forEach((p, k) => ((out as unknown as unknown[])[k] = (data as unknown as unknown[])[p]));
  return { dtype: x.dtype, shape, nchw: false, constant: { dtype: x.dtype, shape, data: out } };
}

function emitSlice(ctx: OpContext, x: Value, spec: SliceSpec): Value[] {
  const shape = slicedShape(x.shape, spec);
  if (constData(x)) {
    const folded = sliceConst1D(x, spec);
    if (folded) return [folded];
  }
  if (spec.axes.length === 0 && spec.shrink.length === 0 && spec.newAxes.length === 0) return [x];
  let current = ctx.tf(x);
  const last = () => spec.shrink.length === 0 && spec.newAxes.length === 0;
  if (spec.axes.length > 0) {
    const b = ctx.b;
    const target = last() ? ctx.outName() : `${ctx.outName()}/slice`;
    [current] = ctx.emit(
      'Slice',
      [current, b.int64s(spec.starts.map(int64Bound)), b.int64s(spec.ends.map(int64Bound)), b.int64s(spec.axes), b.int64s(spec.steps)],
      [target],
    );
  }
  if (spec.shrink.length > 0) {
    const target = spec.newAxes.length === 0 ? ctx.outName() : `${ctx.outName()}/shrunk`;
    [current] = ctx.emit('Squeeze', [current, ctx.b.int64s(spec.shrink)], [target]);
  }
  if (spec.newAxes.length > 0) [current] = ctx.emit('Unsqueeze', [current, ctx.b.int64s(spec.newAxes)], [ctx.outName()]);
  return [runtimeValue(current, x.dtype, shape)];
}

const stridedSlice: Translator = (ctx) => {
  const [x, begin, end, strides] = ctx.inputs;
  requireOnnxType(x.dtype);
  const spec = stridedSliceSpec(ctx, constInts(begin, 'begin'), constInts(end, 'end'), constInts(strides, 'strides'), x.shape?.length);
  return emitSlice(ctx, x, spec);
};

const slice: Translator = (ctx) => {
  const [x, beginValue, sizeValue] = ctx.inputs;
  requireOnnxType(x.dtype);
  const begin = constInts(beginValue, 'begin');
  const sizes = constInts(sizeValue, 'size');
  if (begin.length !== sizes.length || (x.shape && x.shape.length !== begin.length)) fail('begin and size of another rank');
  const spec: SliceSpec = { starts: [], ends: [], axes: [], steps: [], shrink: [], newAxes: [] };
  begin.forEach((b, axis) => {
    const stop = sizes[axis] === -1 ? Infinity : b + sizes[axis];
    if (b === 0 && (stop === Infinity || stop === x.shape?.[axis])) return;
    spec.starts.push(b);
    spec.ends.push(stop);
    spec.axes.push(axis);
    spec.steps.push(1);
  });
  return emitSlice(ctx, x, spec);
};

// ---------------------------------------------------------------------------------------------
// Shapes as values.

function intConst(dtype: DataType, values: number[], shape = [values.length]): Value {
  if (dtype !== DataType.DT_INT32 && dtype !== DataType.DT_INT64) fail(`out_type=${dataTypeName(dtype)}`);
  const data = dtype === DataType.DT_INT64 ? BigInt64Array.from(values, (v) => BigInt(v)) : Int32Array.from(values);
  return { dtype, shape, nchw: false, constant: { dtype, shape, data } };
}

function castToInt32(ctx: OpContext, name: string, outType: DataType): string {
  if (outType === DataType.DT_INT64) return name;
  return ctx.emit('Cast', [name], [ctx.outName()], { to: attr.int(6) })[0];
}

const shapeOp: Translator = (ctx) => {
  const x = ctx.inputs[0];
  const outType = ctx.node.attr?.out_type?.type ?? DataType.DT_INT32;
  if (outType !== DataType.DT_INT32 && outType !== DataType.DT_INT64) fail(`out_type=${dataTypeName(outType)}`);
  if (isStatic(x.shape)) return [intConst(outType, x.shape!)];
  const int64 = outType === DataType.DT_INT64;
  let [s] = ctx.emit('Shape', [ctx.name(x)], [x.nchw || !int64 ? `${ctx.outName()}/shape` : ctx.outName()]);
  // Held NCHW, TF's shape is the held one gathered back into NHWC order.
  if (x.nchw) [s] = ctx.emit('Gather', [s, ctx.b.int64s(TO_NHWC)], [int64 ? ctx.outName() : `${ctx.outName()}/nhwc`], { axis: attr.int(0) });
  return [runtimeValue(castToInt32(ctx, s, outType), outType, x.shape ? [x.shape.length] : [-1])];
};

const sizeOp: Translator = (ctx) => {
  const x = ctx.inputs[0];
  const outType = ctx.node.attr?.out_type?.type ?? DataType.DT_INT32;
  if (outType !== DataType.DT_INT32 && outType !== DataType.DT_INT64) fail(`out_type=${dataTypeName(outType)}`);
  if (isStatic(x.shape)) return [intConst(outType, [size(x.shape!)], [])];
  const [s] = ctx.emit('Size', [ctx.name(x)], [outType === DataType.DT_INT64 ? ctx.outName() : `${ctx.outName()}/int64`]);
  return [runtimeValue(castToInt32(ctx, s, outType), outType, [])];
};

const rank: Translator = (ctx) => {
  const x = ctx.inputs[0];
  if (!x.shape) fail('unknown rank');
  return [intConst(DataType.DT_INT32, [x.shape.length], [])];
};

const gather: Translator = (ctx) => {
  const [params, indices, axisValue] = ctx.inputs;
  requireOnnxType(params.dtype);
  if (attrInt(ctx.node, 'batch_dims', 0) !== 0) fail('batch_dims');
  const [rawAxis] = axisValue ? constInts(axisValue, 'axis') : [0];
  const axis = normalizeAxis(rawAxis, params.shape?.length);
  const shape = params.shape && indices.shape && [...params.shape.slice(0, axis), ...indices.shape, ...params.shape.slice(axis + 1)];
  if (constData(params) && constData(indices) && params.shape?.length === 1) {
    const picks = constInts(indices, 'indices');
    const dim = params.shape[0];
    if (picks.some((p) => p < 0 || p >= dim)) fail('index out of range');
    const out = arrayFor(params.dtype, picks.length);
    picks.forEach((p, k) => ((out as unknown as unknown[])[k] = (params.constant!.data as unknown as unknown[])[p]));
    return [{ dtype: params.dtype, shape, nchw: false, constant: { dtype: params.dtype, shape: shape!, data: out } }];
  }
  const [y] = ctx.emit('Gather', [ctx.tf(params), ctx.tf(indices)], [ctx.outName()], { axis: attr.int(axis) });
  return [runtimeValue(y, params.dtype, shape)];
};

const tile: Translator = (ctx) => {
  const [x, multiples] = ctx.inputs;
  requireOnnxType(x.dtype);
  let shape: number[] | undefined;
  let reps: string;
  if (constData(multiples)) {
    const m = constInts(multiples, 'multiples');
    shape = x.shape && x.shape.map((d, i) => (d < 0 ? -1 : d * m[i]));
    reps = ctx.b.int64s(m);
  } else {
    reps = int64Input(ctx, multiples);
    shape = x.shape && x.shape.map(() => -1);
  }
  const [y] = ctx.emit('Tile', [ctx.tf(x), reps], [ctx.outName()]);
  return [runtimeValue(y, x.dtype, shape)];
};

/** Fill(dims, value) and BroadcastTo(x, shape) are both ONNX Expand (numpy broadcasting to a shape). */
function expand(valueIndex: number, shapeIndex: number): Translator {
  return (ctx) => {
    const x = ctx.inputs[valueIndex];
    const target = ctx.inputs[shapeIndex];
    requireOnnxType(x.dtype);
    const known = constData(target) ? constInts(target, 'shape') : undefined;
    const [y] = ctx.emit('Expand', [ctx.tf(x), known ? ctx.b.int64s(known) : int64Input(ctx, target)], [ctx.outName()]);
    return [runtimeValue(y, x.dtype, known ?? (target.shape?.[0] !== undefined && target.shape[0] >= 0 ? new Array(target.shape[0]).fill(-1) : undefined))];
  };
}

export const shapeOps: OpTable = {
  ConcatV2: concatV2,
  Concat: concatV1,
  Pack: pack,
  Unpack: unpack,
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  Pad: pad('constant'),
  PadV2: pad('constant'),
  MirrorPad: pad('mirror'),
  Transpose: transpose,
  StridedSlice: stridedSlice,
  Slice: slice,
  Shape: shapeOp,
  Size: sizeOp,
  Rank: rank,
  GatherV2: gather,
  Gather: gather,
  Tile: tile,
  Fill: expand(1, 0),
  BroadcastTo: expand(0, 1),
};
