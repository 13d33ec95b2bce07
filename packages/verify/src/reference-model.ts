// The reference model: the source model (a TF.js LayersModel) on the reference decoding and
// preprocessing, so image files -> class scores the way the export must reproduce them. verify compares
// exports with it, `tensorsky predict` runs it when no SavedModel is given, and the benchmark times it.
import type * as tfjs from '@tensorflow/tfjs';
import { initTfjs, loadModelSource, type ModelSource, type ModelSourceOptions } from '@tensorsky/export';
import { decodeImageToRgb, type JpegDctMethod, type RgbImage } from '@tensorsky/image';
import { PREPROCESS_STEPS, preprocessImagesReference, type PreprocessMode, type PreprocessOptions } from '@tensorsky/preprocess';
import { scoreRows } from './compare.js';

export interface ReferenceModel {
  readonly source: ModelSource;
  /** The pixel scaling applied before the model. */
  readonly preprocess: PreprocessMode;
  /** The TF.js backend it runs on ('tensorflow', 'wasm' or 'cpu'). */
  readonly backend: string;
  /**
   * An image file's pixels as the reference sees them: decoded to RGB in TypeScript, not by a graph;
   * JPEGs with `dctMethod` (default 'accurate', as PIL and sharp decode and exports do by default).
   */
  decode(bytes: Uint8Array, name?: string, dctMethod?: JpegDctMethod): Promise<RgbImage>;
  /** The model's input for decoded images: resized and scaled, [n, height, width, 3]; the caller disposes it. */
  input(images: readonly RgbImage[]): tfjs.Tensor4D;
  /** Class scores of decoded images, one row per image. */
  scores(images: readonly RgbImage[]): Promise<Float32Array[]>;
  /** Frees the source model's weights. */
  dispose(): void;
}

export class ReferenceModelError extends Error {
  override name = 'ReferenceModelError';
}

/**
 * The reference for an already loaded source model; `preprocess` defaults to the source's own, else
 * inception, or none for a model file whose own preprocessing layers the export took into its serving
 * graph: the reference then resizes, crops and normalizes as those layers did, after `preprocess`.
 */
export function referenceModel(tf: typeof tfjs, source: ModelSource, preprocess?: PreprocessMode): ReferenceModel {
  const [height, width] = source.inputShape;
  const carried = source.kind === 'layers' ? source.inputPreprocessing : undefined;
  const scaling = preprocess ?? source.preprocess ?? (carried ? 'none' : 'inception');
  const options: PreprocessOptions = carried
    ? {
        height,
        width,
        preprocess: scaling,
        resize: carried.resize,
        antialias: carried.antialias,
        geometry: carried.geometry,
        normalize: [...PREPROCESS_STEPS[scaling], ...carried.normalize],
      }
    : { height, width, preprocess: scaling };
  const input = (images: readonly RgbImage[]) => preprocessImagesReference(tf, images, options);
  return {
    source,
    preprocess: scaling,
    // TF.js has one active backend per process; the source model runs on whichever it is.
    get backend() {
      return tf.getBackend();
    },
    decode: (bytes, name, dctMethod = 'accurate') => decodeImageToRgb(bytes, { name, dctMethod }),
    input,
    async scores(images) {
      const x = input(images);
      try {
        const y = source.model.predict(x) as tfjs.Tensor;
        try {
          return scoreRows((await y.data()) as Float32Array, y.shape, images.length, source.name);
        } finally {
          y.dispose();
        }
      } finally {
        x.dispose();
      }
    },
    dispose: () => source.model.dispose(),
  };
}

export interface LoadReferenceModelOptions extends Omit<ModelSourceOptions, 'backend'> {
  /**
   * TF.js backend: wasm or cpu; 'tensorflow' insists on tfjs-node (checked before the model loads);
   * default tfjs-node when it loads, else wasm.
   */
  backend?: 'tensorflow' | 'wasm' | 'cpu';
  /** Threads of the wasm backend; default one per core, as predict-local runs exports. */
  threads?: number;
  /** Pixel scaling; default the source's own, else inception. */
  preprocess?: PreprocessMode;
  /** One-line notices of TF.js's start (e.g. falling back to cpu); default stderr. */
  onNotice?: (message: string) => void;
}

/**
 * Starts TF.js the way predict-local starts it for exports (so that both run on one backend, like with
 * like), then loads the source model (ModelSourceOptions: model, weights, seed, ImageNet download).
 */
export async function loadReferenceModel(options: LoadReferenceModelOptions = {}): Promise<ReferenceModel> {
  const tf = await import('@tensorflow/tfjs');
  const { defaultWasmThreads, setWasmThreads } = await import('@tensorsky/predict-local');
  const { backend: requested, threads, preprocess, onNotice, ...sourceOptions } = options;
  const backend = requested === 'wasm' || requested === 'cpu' ? requested : undefined;
  await setWasmThreads(threads ?? defaultWasmThreads());
  const active = await initTfjs(backend, { onNotice });
  if (requested === 'tensorflow' && active !== 'tensorflow') {
    throw new ReferenceModelError("backend 'tensorflow' needs @tensorflow/tfjs-node, which is not installed or cannot load; install it, or use backend wasm or cpu");
  }
  const source = await loadModelSource({ ...sourceOptions, backend });
  return referenceModel(tf, source, preprocess);
}
