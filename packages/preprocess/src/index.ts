export { expandImagePaths, readImageFile, type ImageFile } from './image-files.js';
export {
  checkPreprocessOptions,
  ImageInputGraphError,
  PREPROCESS_MODES,
  PREPROCESS_STEPS,
  preprocessImagesReference,
  type PreprocessMode,
  type PreprocessOptions,
  type PreprocessStep,
  type ReferenceImage,
} from './preprocessing.js';
