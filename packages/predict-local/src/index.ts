// Run TensorFlow SavedModels in Node: TensorFlow itself through @tensorflow/tfjs-node when installed,
// otherwise the network on ONNX Runtime (onnxruntime-node) behind our executor's image front, or our
// executor alone (the signature's frozen graph on tfjs-converter, wasm or cpu backend).
export { loadModel, predictLocal, type LoadModelOptions } from './model.js';
export { PredictLocalError, UnsupportedOpsError } from './errors.js';
export { type Backend, type Engine, type LocalModel, type OnnxDetails, type SignatureInfo, type TensorInfoSummary } from './local-model.js';
export type { FlatTensor, InputValue, OutputTensor } from './io.js';
export { defaultThreads } from './engines/onnxruntime.js';
export { ONNX_MODEL_FILE, ONNX_RECORD_FILE, readOnnxRecord, writeOnnxModel, type OnnxRecord } from './engines/onnx-export.js';
export { OnnxUnavailableError } from './engines/onnx.js';
export { savedModelDigest } from './engines/network-digest.js';
export { GraphPreparationError } from '@tensorsky/saved-model';
export { OpError } from './kernels/index.js';
export { defaultWasmThreads, setWasmThreads, wasmThreads } from './wasm-backend.js';
