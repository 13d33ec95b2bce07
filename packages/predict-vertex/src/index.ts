// Vertex AI prediction for image classifiers: online through an endpoint (a PredictBackend for
// @tensorsky/predict-cloud) and batch prediction jobs over images in Cloud Storage. The only prediction
// package that loads Google's libraries (through @tensorsky/deploy).
export { VertexBackend, labelsInput, type VertexTarget } from './vertex-backend.js';
export { BatchPredictError, batchPredict, type BatchEvent, type BatchPollOptions, type BatchPredictOptions, type BatchPredictResult } from './batch-predict.js';
export { KEY_FIELD, decodeShards, writeResults, type BatchImageResult } from './batch-results.js';
