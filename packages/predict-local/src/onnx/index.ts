// TensorFlow → ONNX: translateToOnnx turns the numeric part of a frozen signature graph into an
// in-memory ONNX model for ONNX Runtime (see translate.ts; one translator table per op family in ops/).
export { translateToOnnx, ONNX_TRANSLATORS, type OnnxFeed, type OnnxFetch, type OnnxModel } from './translate.js';
export { UntranslatableGraphError } from './context.js';
