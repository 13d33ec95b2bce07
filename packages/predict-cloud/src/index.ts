// Call image classifiers served remotely: TensorFlow Serving's REST API (tensorsky serve, TF Serving)
// or Vertex AI endpoints, with request bodies built from the model's signature.
export {
  createBackend,
  PredictTargetError,
  TfServingBackend,
  VertexBackend,
  type ModelInput,
  type PredictBackend,
  type PredictTarget,
  type TfServingTarget,
  type VertexTarget,
} from './backends.js';
export {
  DEFAULT_INPUT_NAME,
  MAX_REQUEST_BYTES,
  PayloadTooLargeError,
  imageInstance,
  splitIntoRequests,
  type ImageInstance,
} from './request.js';
export {
  predictCloud,
  predictImages,
  withRetries,
  type CloudPredictOptions,
  type CloudPredictResult,
  type ImageScores,
  type PredictImagesOptions,
  type PredictImagesResult,
  type RetryOptions,
} from './predict.js';
