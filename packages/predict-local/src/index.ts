// Run TensorFlow SavedModels in Node: TensorFlow itself through @tensorflow/tfjs-node when installed,
// otherwise our executor (the signature's frozen graph on tfjs-converter, wasm or cpu backend).
export {
  loadModel,
  predictLocal,
  PredictLocalError,
  UnsupportedOpsError,
  type Backend,
  type InputValue,
  type LoadModelOptions,
  type LocalModel,
  type OutputTensor,
  type SignatureInfo,
  type TensorInfoSummary,
} from './model.js';
export { GraphPreparationError } from './graph.js';
export { OpError } from './kernels.js';
export { defaultWasmThreads, setWasmThreads, wasmThreads } from './wasm-backend.js';
