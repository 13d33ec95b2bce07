// TensorFlow's TensorProto (gRPC's tensors) to and from the Tensor that travels to the engine workers.
// The encodings themselves (typed *_val fields with TensorFlow's fill rule, tensor_content, string_val)
// are @tensorsky/saved-model's; this only adapts its arrays to the Tensor layout of tensor.ts.
import {
  TensorConversionError,
  dataTypeName,
  parseDataType,
  shapeFromProto,
  tensorProto,
  tensorProtoToArray,
  type TensorProto,
} from '@tensorsky/saved-model';
import { invalidArgument } from './errors.js';
import { INTEGER_RANGES, numericArrayFor, type DType, type Tensor } from './tensor.js';

/** A request's TensorProto for input `alias`, which the signature declares as `dtype`. */
export function tensorFromProto(proto: TensorProto, alias: string, dtype: DType): Tensor {
  const sent = dataTypeName(proto.dtype ?? 0);
  if (sent !== dtype) throw invalidArgument(`input '${alias}' is a ${sent} tensor; the signature expects ${dtype}`);
  let values;
  try {
    values = tensorProtoToArray(proto);
  } catch (err) {
    if (err instanceof TensorConversionError) throw invalidArgument(`input '${alias}': ${err.message}`);
    throw err;
  }
  const shape = shapeFromProto(proto.tensor_shape)!;
  // Copies: decoded bytes are views into the request buffer, which would otherwise be cloned whole to the workers.
  if (dtype === 'DT_STRING') return { dtype, shape, values: (values as Uint8Array[]).map((v) => new Uint8Array(v)) };
  const out = numericArrayFor(dtype, values.length);
  const range = INTEGER_RANGES[dtype];
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    // 64-bit integers travel as doubles (tensor.ts); refuse those a double would round.
    if (range && (v < range[0] || v > range[1])) {
      throw invalidArgument(`input '${alias}' holds ${String(values[i])}, outside [${range[0]}, ${range[1]}] that this server carries for ${dtype}`);
    }
    out[i] = v;
  }
  return { dtype, shape, values: out };
}

/** An output as TF Serving's Predict answers it: typed *_val fields (Tensor::AsProtoField). */
export function tensorToProto(t: Tensor): TensorProto {
  const dtype = parseDataType(t.dtype)!;
  const values = t.dtype === 'DT_BOOL' ? Array.from(t.values as Uint8Array, (v) => v !== 0) : t.values;
  return tensorProto(dtype, t.shape, values, { fields: true });
}
