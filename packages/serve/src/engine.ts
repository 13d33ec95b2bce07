// The seam between serving and model execution. Each worker thread imports an engine module and calls
// its createEngine(); everything else in serve sees only these interfaces, never a particular runtime.
import { getMetaGraph, int64ToNumber, readSavedModel, dataTypeName, type ImageEncoding, type TensorInfo } from '@tensorsky/saved-model';
import type { Tensor } from './tensor.js';

/** A TensorInfo as TF Serving's metadata endpoint prints it (proto3 JSON with default fields). */
export interface TensorInfoMetadata {
  dtype: string;
  tensor_shape: { dim: { size: string; name: string }[]; unknown_rank: boolean };
  name: string;
}

/** A SignatureDef as TF Serving's metadata endpoint prints it. */
export interface SignatureMetadata {
  inputs: Record<string, TensorInfoMetadata>;
  outputs: Record<string, TensorInfoMetadata>;
  method_name: string;
}

export type SignatureMap = Record<string, SignatureMetadata>;

/** Inputs that take encoded images, by signature then input alias, with how they want the bytes. */
export type ImageInputMap = Record<string, Record<string, ImageEncoding>>;

/** What loading a version gives the main thread: its signatures, and which inputs are images. */
export interface LoadedVersion {
  signatures: SignatureMap;
  imageInputs: ImageInputMap;
}

/** One model version loaded by an engine, ready to run. */
export interface LoadedModel {
  signatures: SignatureMap;
  /** Inputs that reach an image decoder, so that the server checks a request's images before splitting it into jobs. */
  imageInputs?: ImageInputMap;
  /** Runs a signature; inputs and outputs are keyed by the signature's aliases (x, y), not tensor names. */
  predict(signatureName: string, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  dispose?(): void | Promise<void>;
  /** Lines for the server's log about how the version runs (its engine, a fallback from a faster one). */
  notes?: string[];
}

export interface Engine {
  /** Loads the SavedModel in `dir` completely into memory (its files may be deleted afterwards). */
  load(dir: string): Promise<LoadedModel>;
}

/** What an engine module exports; it runs inside a worker thread, once per worker. */
export type CreateEngine = (options: Record<string, unknown>) => Engine | Promise<Engine>;

/**
 * The map with null-prototype objects at every level: requests look signatures and inputs up by name,
 * and "constructor" or "__proto__" must not find Object.prototype's members. A map that crossed from a
 * worker thread (structured clone) has ordinary objects again.
 */
export function withoutPrototypes(map: SignatureMap): SignatureMap {
  const bare = <T>(record: Record<string, T>): Record<string, T> => Object.assign(Object.create(null) as Record<string, T>, record);
  const out = bare<SignatureMetadata>({});
  for (const [key, sig] of Object.entries(map)) out[key] = { ...sig, inputs: bare(sig.inputs), outputs: bare(sig.outputs) };
  return out;
}

/** The serving signatures of the SavedModel in `dir` ("serve" meta graph), shaped as TF Serving prints them. */
export async function readSignatureMetadata(dir: string): Promise<SignatureMap> {
  const { savedModel } = await readSavedModel(dir);
  const signatures: SignatureMap = {};
  for (const [key, def] of Object.entries(getMetaGraph(savedModel, ['serve']).signature_def ?? {})) {
    signatures[key] = {
      inputs: tensorInfoMap(def.inputs),
      outputs: tensorInfoMap(def.outputs),
      method_name: def.method_name ?? '',
    };
  }
  return signatures;
}

function tensorInfoMap(infos: Record<string, TensorInfo> | undefined): Record<string, TensorInfoMetadata> {
  const out: Record<string, TensorInfoMetadata> = {};
  for (const [alias, info] of Object.entries(infos ?? {})) {
    const shape = info.tensor_shape;
    out[alias] = {
      dtype: dataTypeName(info.dtype ?? 0),
      tensor_shape: {
        dim: (shape?.dim ?? []).map((d) => ({ size: String(int64ToNumber(d.size)), name: d.name ?? '' })),
        unknown_rank: shape?.unknown_rank ?? false,
      },
      name: info.name ?? '',
    };
  }
  return out;
}
