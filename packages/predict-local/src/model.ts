// loadModel: runs a SavedModel signature in Node on the first engine that can: TensorFlow itself
// (@tensorflow/tfjs-node, when installed), the network on ONNX Runtime (onnxruntime-node) behind our
// executor's image front, or our executor alone (the frozen graph on tfjs-converter, wasm or cpu).
import fs from 'node:fs';
import path from 'node:path';
import {
  ASSETS_EXTRA_DIR,
  describeSignature,
  getMetaGraph,
  readSavedModel,
  SignatureError,
  type MetaGraphDef,
  type SignatureSummary,
  type TensorSummary,
} from '@tensorsky/saved-model';
import { imageLimits, type ImageLimits } from '@tensorsky/image';
import { blameInstance, checkImageLimits, readImageInputs } from './image-inputs.js';
import { CUSTOM_OPS, withDecodeLimits } from './kernels/index.js';
import { loadWithExecutor, startExecutorBackend } from './engines/executor.js';
import { loadWithOnnx } from './engines/onnx.js';
import { savedModelDigest } from './engines/network-digest.js';
import { digestMemoDir, onnxCacheEnabled, onnxCacheSlot, readCachedNetwork } from './engines/onnx-cache.js';
import { ONNX_MODEL_FILE, readExportedOnnx } from './engines/onnx-export.js';
import { defaultThreads, importOnnxRuntime, sessionOptions } from './engines/onnxruntime.js';
import { importTfjsNode, loadWithTfjsNode } from './engines/tfjs-node.js';
import type { InputValue, OutputTensor } from './io.js';
import { PredictLocalError, UnsupportedOpsError } from './errors.js';
import type { Backend, LocalModel, SignatureInfo, TensorInfoSummary } from './local-model.js';
import { frozenSignatureGraph } from './signature-graph.js';
import { unsupportedOps } from './tfjs-model.js';
import { defaultWasmThreads } from './wasm-backend.js';

export interface LoadModelOptions {
  backend?: Backend;
  /** MetaGraphDef tag-set; default ["serve"]. */
  tags?: string[];
  /** Signature key; default "serving_default". */
  signature?: string;
  /**
   * Threads per model: ONNX Runtime's intra-op pool, and the wasm backend's (XNNPACK's) pool, which is
   * fixed when this thread first starts it. Default TENSORSKY_THREADS, else (wasm) TENSORSKY_WASM_THREADS,
   * else one per core. Give 1 where threads already run models side by side.
   */
  threads?: number;
  /** Let ONNX Runtime's idle threads spin between ops; default true. Turn off when sharing the cores. */
  spinning?: boolean;
  /** What the images of one predict() may decode to; the rest from DEFAULT_IMAGE_LIMITS. */
  imageLimits?: Partial<ImageLimits>;
}

const DEFAULT_SIGNATURE = 'serving_default';

/** The signature as loadModel's callers see it: tensors by their signature key. */
function summarize(metaGraph: MetaGraphDef, key: string): SignatureInfo {
  let sig: SignatureSummary;
  try {
    sig = describeSignature(metaGraph, key);
  } catch (e) {
    throw e instanceof SignatureError ? new PredictLocalError(e.message) : e;
  }
  const info = (ts: TensorSummary[]): TensorInfoSummary[] => ts.map(({ alias, name: _, ...rest }) => ({ name: alias, ...rest }));
  return { key, methodName: sig.methodName, inputs: info(sig.inputs), outputs: info(sig.outputs) };
}

/**
 * savedModelDigest of a SavedModel directory, when engine onnx has a use for it (the cache is on, or
 * export --onnx wrote a model.onnx to check); undefined otherwise, and for anything but a directory
 * (readSavedModel then says what is wrong).
 */
async function digestOrUndefined(dir: string): Promise<string | undefined> {
  try {
    if (!fs.statSync(dir).isDirectory()) return undefined;
    if (!onnxCacheEnabled() && !fs.existsSync(path.join(dir, ASSETS_EXTRA_DIR, ONNX_MODEL_FILE))) return undefined;
    return await savedModelDigest(dir, digestMemoDir());
  } catch {
    return undefined;
  }
}

/**
 * Loads one signature of the SavedModel in `dir` for prediction. With backend 'auto' (default): TensorFlow
 * through @tensorflow/tfjs-node when that is installed; otherwise the network on ONNX Runtime when
 * onnxruntime-node loads and every op of the network translates; otherwise our executor on wasm (cpu if
 * wasm cannot start). When it falls back from onnx, the model's `fallback` says why in one line. predict()
 * checks the images of its inputs against `imageLimits` before any engine runs (the decode kernels check
 * each image they decode too), and names the instance of a batch whose image fails to decode. The executor (also the image front of the onnx engine) sets TF.js's
 * global backend.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<LocalModel> {
  const limits = imageLimits(options.imageLimits);
  const model = await loadOnEngine(dir, options, limits);
  const predict = model.predict.bind(model);
  return {
    ...model,
    async predict(inputs) {
      const images = await readImageInputs(inputs, model.signature.inputs);
      checkImageLimits(images, limits);
      try {
        return await predict(inputs);
      } catch (err) {
        throw await blameInstance(images, limits, err);
      }
    },
  };
}

/** loadModel on the first engine that can, its decode kernels held to `limits`. */
async function loadOnEngine(dir: string, options: LoadModelOptions, limits: ImageLimits): Promise<LocalModel> {
  const backend = options.backend ?? 'auto';
  const tags = options.tags ?? ['serve'];
  const key = options.signature ?? DEFAULT_SIGNATURE;
  const tfnode = backend === 'tensorflow' || backend === 'auto' ? await importTfjsNode() : undefined;
  if (backend === 'tensorflow' && tfnode instanceof Error) {
    throw new PredictLocalError(
      `backend 'tensorflow' needs @tensorflow/tfjs-node, which is not installed or cannot load (${firstLine(tfnode)}); install it, or use backend 'onnx', 'wasm' or 'cpu'`,
    );
  }
  const withTfjsNode = tfnode !== undefined && !(tfnode instanceof Error);
  // Without tfjs-node, ONNX Runtime loads and the executor's TF.js backend starts (the threaded wasm build
  // starts its worker threads) while this thread reads the model.
  const ortImport = !withTfjsNode && (backend === 'auto' || backend === 'onnx') ? importOnnxRuntime() : undefined;
  const threads = options.threads ?? (process.env.TENSORSKY_THREADS?.trim() ? defaultThreads() : undefined);
  const executorBackend = withTfjsNode ? undefined : startExecutorBackend(backend === 'wasm' || backend === 'cpu' ? backend : 'auto', threads ?? defaultWasmThreads());
  const settings = { threads: threads ?? defaultThreads(), spinning: options.spinning ?? true };
  const ort = await ortImport;
  // Engine onnx from the cache: the SavedModel is hashed, not read (see onnx-cache.ts).
  const digest = ort && !(ort instanceof Error) ? await digestOrUndefined(dir) : undefined;
  const slot = digest && ort && !(ort instanceof Error) ? await onnxCacheSlot(ort, digest, tags, key) : undefined;
  let onnxNote: string | undefined;
  if (slot && ort && !(ort instanceof Error)) {
    const cached = await readCachedNetwork(ort, slot, sessionOptions(settings));
    if (cached instanceof Error) onnxNote = cached.message;
    else if (cached) {
      const name = await executorBackend;
      if (!name) throw new PredictLocalError(`the TF.js ${backend === 'cpu' ? 'cpu' : 'wasm'} backend could not be initialized`);
      const fullGraph = async () => withDecodeLimits(frozenSignatureGraph(await readSavedModel(dir), tags, key), limits);
      try {
        return await loadWithOnnx(ort, withDecodeLimits(cached.graph, limits), cached.signature, settings, { cached, fullGraph });
      } catch (err) {
        await cached.session.release().catch(() => {});
        onnxNote = `the cached ONNX network did not load (${firstLine(err as Error)}); translated the model again`;
      }
    }
  }

  const loaded = await readSavedModel(dir);
  const metaGraph = getMetaGraph(loaded.savedModel, tags);
  const signature = summarize(metaGraph, key);
  if (withTfjsNode) return loadWithTfjsNode(tfnode, loaded.dir, tags, signature);

  const graph = withDecodeLimits(frozenSignatureGraph(loaded, tags, key), limits);
  const name = await executorBackend;
  if (!name) throw new PredictLocalError(`the TF.js ${backend === 'cpu' ? 'cpu' : 'wasm'} backend could not be initialized`);
  let fallback: string | undefined;
  if (ort) {
    if (ort instanceof Error) fallback = `engine onnx: onnxruntime-node cannot load (${firstLine(ort)}); running on ${name}`;
    else {
      try {
        const exported = digest ? await readExportedOnnx(loaded.dir, digest, tags, key, graph) : undefined;
        if (exported instanceof Error) onnxNote = onnxNote ? `${onnxNote}; ${exported.message}` : exported.message;
        return await loadWithOnnx(ort, graph, signature, settings, {
          cacheSlot: slot,
          exported: exported instanceof Error ? undefined : exported,
          note: onnxNote,
        });
      } catch (err) {
        fallback = `engine onnx: ONNX Runtime cannot run this signature (${firstLine(err as Error)}); running on ${name}`;
      }
    }
  }
  const unsupported = unsupportedOps(graph, CUSTOM_OPS);
  if (unsupported.length > 0) throw new UnsupportedOpsError(unsupported);
  const model = await loadWithExecutor(graph, name, signature);
  return fallback ? { ...model, fallback } : model;
}

function firstLine(err: Error): string {
  return err.message.split('\n')[0];
}

/** Loads, predicts once, and frees the model. */
export async function predictLocal(dir: string, inputs: Record<string, InputValue>, options: LoadModelOptions = {}): Promise<Record<string, OutputTensor>> {
  const model = await loadModel(dir, options);
  try {
    return await model.predict(inputs);
  } finally {
    model.dispose();
  }
}
