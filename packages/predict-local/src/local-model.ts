// What loadModel gives back, whichever engine runs it: the signature's description and predict().
import type { ImageEncoding } from '@tensorsky/saved-model';
import type { InputValue, OutputTensor } from './io.js';

/**
 * 'tensorflow' = @tensorflow/tfjs-node; 'onnx' = the network on ONNX Runtime (onnxruntime-node), the
 * image front on our executor; 'wasm'/'cpu' = our executor on that TF.js backend; 'auto' picks the
 * first that works, in that order.
 */
export type Backend = 'auto' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';

/** The engine that ran a model. */
export type Engine = Exclude<Backend, 'auto'>;

export interface TensorInfoSummary {
  /** Signature key of the input or output. */
  name: string;
  /** TensorFlow dtype name, e.g. "DT_FLOAT". */
  dtype: string;
  /** -1 for unknown dimensions; null for unknown rank. */
  shape: number[] | null;
  /** For DT_STRING inputs that reach a decoder, how they want the image's bytes (saved-model's imageInputEncoding). */
  encoding?: ImageEncoding;
}

export interface SignatureInfo {
  key: string;
  methodName: string;
  inputs: TensorInfoSummary[];
  outputs: TensorInfoSummary[];
}

/** How engine onnx runs a model: the ONNX model it translated the network into, and what loading took. */
export interface OnnxDetails {
  /**
   * The serialized ModelProto of the network (its inputs: the tensors after the image front, NHWC);
   * undefined when ORT read it from a file: the cache (its optimized network) or export --onnx's model.onnx.
   */
  model?: Uint8Array;
  inputNames: string[];
  outputNames: string[];
  /** Time to translate the network into ONNX. */
  translateMs: number;
  /** Time ONNX Runtime took to create (and optimize) the session; with cache 'written', also to write the entry. */
  sessionMs: number;
  /** Where the network came from: translated now, the SavedModel's assets.extra/model.onnx (export --onnx), or the cache. */
  source: 'translation' | 'export' | 'cache';
  /** The on-disk cache of ORT's optimized network: used ('hit'), filled now ('written'), not filled ('miss'), or turned off. */
  cache: 'hit' | 'written' | 'miss' | 'off';
  /** Why the cache or the exported model.onnx was not used, or the entry not written (one line). */
  note?: string;
  /**
   * How the image front before the network runs: 'direct' (an export's decode/resize loop, image by
   * image, see engines/image-front.ts), on the 'executor', or 'none' when the network takes tensors.
   */
  imageFront: 'direct' | 'executor' | 'none';
}

export interface LocalModel {
  /** What runs the network: 'tensorflow' (tfjs-node), 'onnx' (ONNX Runtime) or the TF.js backend of our executor. */
  backend: Engine;
  /** Why a preferred engine did not run this model (one line), when loadModel fell back from it. */
  fallback?: string;
  /** Set when engine onnx runs the model. */
  onnx?: OnnxDetails;
  signature: SignatureInfo;
  predict(inputs: Record<string, InputValue>): Promise<Record<string, OutputTensor>>;
  /** Frees the model's weights. */
  dispose(): void;
}
