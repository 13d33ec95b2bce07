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
import type { SignatureMetadata } from './engine.js';
import { INTEGER_RANGES, isBigIntValues, isDType, numericArrayFor, type DType, type Tensor } from './tensor.js';

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
  // int64 and uint64 arrive as BigInt arrays of their type and travel as they are (tensor.ts).
  if (isBigIntValues(out)) {
    out.set(values as BigInt64Array & BigUint64Array);
    return { dtype, shape, values: out };
  }
  const range = INTEGER_RANGES[dtype];
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (range && (v < range[0] || v > range[1])) {
      throw invalidArgument(`input '${alias}' holds ${String(values[i])}, outside [${range[0]}, ${range[1]}] for ${dtype}`);
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

/** A PredictRequest's inputs as tensors, checked against the signature as TF Serving's Predict checks them. */
export function signatureInputTensors(sent: Record<string, TensorProto>, signature: SignatureMetadata): Record<string, Tensor> {
  const wanted = Object.keys(signature.inputs).sort();
  const given = Object.keys(sent).sort();
  if (given.length !== wanted.length || given.some((alias, i) => alias !== wanted[i])) {
    const extra = given.filter((a) => !(a in signature.inputs));
    const missing = wanted.filter((a) => !(a in sent));
    throw invalidArgument(
      `input size does not match signature: ${given.length}!=${wanted.length} len({${given.join(',')}}) != len({${wanted.join(',')}}). ` +
        `Sent extra: {${extra.join(',')}}. Missing but required: {${missing.join(',')}}.`,
    );
  }
  const tensors: Record<string, Tensor> = {};
  for (const alias of wanted) {
    const dtype = signature.inputs[alias].dtype;
    if (!isDType(dtype)) throw invalidArgument(`input '${alias}' has dtype ${dtype}, which this server cannot carry`);
    tensors[alias] = tensorFromProto(sent[alias], alias, dtype);
  }
  return tensors;
}
