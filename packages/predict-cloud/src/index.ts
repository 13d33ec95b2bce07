// Call image classifiers served remotely over TensorFlow Serving's REST API (tensorsky serve, TF Serving),
// or through any PredictBackend (Vertex AI: @tensorsky/predict-vertex), with request bodies built from the
// model's signature. No Google Cloud dependency.
export {
  PredictTargetError,
  TfServingBackend,
  type ModelInput,
  type PredictBackend,
  type TfServingTarget,
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
  classScores,
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
