export { initTfjs, TfjsEngineError, type InitTfjsOptions, type TfjsBackend } from './tfjs-engine.js';
export { buildInceptionV3, INCEPTION_V3_INPUT_SHAPE, InceptionV3Error, type InceptionV3Options } from './inception-v3.js';
export { randomWeights, RandomWeightsError, SeededRandom } from './weights.js';
export {
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
  type ModelSource,
  type ModelSourceOptions,
  type PreprocessMode,
} from './source.js';
