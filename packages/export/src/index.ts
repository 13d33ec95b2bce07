export { initTfjs, TfjsEngineError, type InitTfjsOptions, type TfjsBackend } from './tfjs-engine.js';
export { buildInceptionV3, INCEPTION_V3_INPUT_SHAPE } from './applications/inception-v3.js';
export { ApplicationError, type ApplicationOptions } from './applications/layers.js';
export {
  APPLICATION_NAMES,
  isApplicationName,
  KERAS_APPLICATIONS,
  type ApplicationName,
  type ImagenetWeightsFile,
  type KerasApplication,
} from './applications/registry.js';
export { randomWeights, RandomWeightsError, SeededRandom } from './weights.js';
export {
  cachedImagenetWeights,
  defaultKerasCacheDir,
  fetchImagenetWeights,
  IMAGENET_WEIGHTS,
  ImagenetWeightsError,
  type ImagenetWeightsOptions,
} from './imagenet-weights.js';
export {
  inspectKerasH5,
  KerasH5Error,
  loadKerasModel,
  loadKerasWeights,
  type KerasH5Info,
  type KerasModelConfig,
} from './keras-h5.js';
export { KerasArchiveError, loadKerasArchive } from './keras-archive.js';
export { GraphModelError, graphModelToGraph, loadTfjsGraphModel, type TfjsGraphModel } from './graph-model.js';
export { TfjsModelError } from './tfjs-weights.js';
export {
  checkSupportedLayers,
  LayersModelError,
  loadTfjsLayersModel,
  SUPPORTED_ACTIVATIONS,
  SUPPORTED_LAYER_CLASSES,
  UnsupportedLayerError,
} from './layers-model.js';
export {
  loadModelSource,
  ModelSourceError,
  type GraphModelSource,
  type LayersModelSource,
  type ModelSource,
  type ModelSourceOptions,
} from './source.js';
export { CONVERTED_LAYER_CLASSES, LayerConversionError, layersModelToGraph, type ConvertedModel, type ConvertOptions } from './convert/layers.js';
export {
  exportSavedModel,
  ExportError,
  LABELS_FILE,
  ORIGINAL_SERVING_DEFAULT,
  SIGNATURE_KEY,
  TENSOR_INPUT,
  type ExportedTensor,
  type ExportOptions,
  type ExportProgress,
  type ExportResult,
  type ExportStep,
} from './export.js';
export {
  loadSavedModelSource,
  SavedModelSourceError,
  type FrozenSignature,
  type SavedModelSource,
  type SavedModelSourceOptions,
} from './saved-model-source.js';
export { PREPROCESS_MODES, type PreprocessMode } from '@tensorsky/preprocess';
export { readModelPreprocessing } from './preprocess-from.js';
export { inputPreprocessingOf, PreprocessFromError, preprocessingFromLayers, type ModelPreprocessing } from './preprocessing-layers.js';
export { buildImageInputGraph, type ImageInputOptions } from './serving-input.js';
export { preprocessingSteps, type PreprocessingSteps } from './preprocessing-record.js';
export { JPEG_DCT_METHODS, type JpegDct } from './jpeg-dct.js';
