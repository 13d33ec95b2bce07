export {
  LABEL_PRESETS,
  LabelsError,
  isLabelPreset,
  labelsFromList,
  loadLabels,
  parseLabels,
  type ClassLabel,
  type LabelPreset,
  type Labels,
} from './labels.js';
export {
  PredictionError,
  decodeTopK,
  decodeTopKBatch,
  type Prediction,
  type Scores,
  type ScoresBatch,
} from './top-k.js';
export {
  formatPredictionsTable,
  formatPredictionsText,
  predictionsToJson,
  type PredictionJson,
} from './format.js';
