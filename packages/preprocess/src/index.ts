export { expandImagePaths, readImageFile, type ImageFile } from './image-files.js';
export { ImageInputGraphError, PREPROCESS_MODES, PREPROCESS_STEPS, type PreprocessMode, type PreprocessStep } from './modes.js';
export { checkPreprocessOptions, preprocessImagesReference, type ReferenceImage } from './preprocessing.js';
export {
  ANTIALIAS_KERNELS,
  centralCropOffset,
  describePreprocessing,
  float32CropMismatches,
  GEOMETRY_KINDS,
  normalizationSteps,
  PIXEL_GRIDS,
  PREPROCESSING_FILE,
  PREPROCESSING_SCHEMA,
  RESIZE_METHODS,
  resizeAttrs,
  resolvePreprocessing,
  shortSideSize,
  type Geometry,
  type NormalizationValues,
  type PixelGrid,
  type PreprocessingRecord,
  type PreprocessOptions,
  type Preprocessing,
  type ResizeMethod,
} from './pipeline.js';
