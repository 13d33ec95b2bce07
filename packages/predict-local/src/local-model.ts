// What loadModel gives back, whichever engine runs it: the signature's description and predict().
import type { InputValue, OutputTensor } from './io.js';

export class PredictLocalError extends Error {
  override name = 'PredictLocalError';
}

/** The signature uses ops neither tfjs-converter nor our kernels implement. */
export class UnsupportedOpsError extends PredictLocalError {
  override name = 'UnsupportedOpsError';
  constructor(readonly ops: string[]) {
    super(
      `the local executor cannot run ops ${ops.join(', ')}; install @tensorflow/tfjs-node to run this model with TensorFlow itself (backend 'tensorflow')`,
    );
  }
}

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
  /**
   * For DT_STRING inputs, what the graph does with the string first: 'base64' when it reaches a
   * DecodeBase64 (feed web-safe base64 text), 'bytes' when it reaches an image decoder directly (feed
   * the file's bytes); absent when neither is found.
   */
  encoding?: 'base64' | 'bytes';
}

export interface SignatureInfo {
  key: string;
  methodName: string;
  inputs: TensorInfoSummary[];
  outputs: TensorInfoSummary[];
}

/** How engine onnx runs a model: the ONNX model it translated the network into, and what loading took. */
export interface OnnxDetails {
  /** The serialized ModelProto of the network (its inputs: the tensors after the image front, NHWC). */
  model: Uint8Array;
  inputNames: string[];
  outputNames: string[];
  /** Time to translate the network into ONNX. */
  translateMs: number;
  /** Time ONNX Runtime took to create (and optimize) the session. */
  sessionMs: number;
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
