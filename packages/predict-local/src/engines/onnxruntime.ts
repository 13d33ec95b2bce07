// ONNX Runtime for Node (onnxruntime-node, an optional dependency): importing it, and the session
// settings the onnx engine uses.
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';

export type OnnxRuntime = typeof Ort;

/**
 * onnxruntime-node, or why it cannot be loaded (not installed, no binary for this platform, a broken
 * install). TENSORSKY_ONNXRUNTIME names another module to load instead (a path or package name).
 */
export async function importOnnxRuntime(): Promise<OnnxRuntime | Error> {
  const name = process.env.TENSORSKY_ONNXRUNTIME?.trim() || 'onnxruntime-node';
  try {
    const module = (await import(name)) as OnnxRuntime & { default?: OnnxRuntime };
    const ort = module.InferenceSession ? module : module.default;
    if (!ort?.InferenceSession || !ort.Tensor) return new Error(`${name} has no InferenceSession`);
    return ort;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export interface OnnxSessionSettings {
  /** Intra-op threads (ORT's pool splits each convolution across them). */
  threads: number;
  /** Let idle pool threads spin between ops (faster alone on the machine, costly when sharing cores). */
  spinning: boolean;
}

export function sessionOptions(settings: OnnxSessionSettings): Ort.InferenceSession.SessionOptions {
  return {
    // 'all' lets ORT rewrite convolutions and pools into its blocked NCHWc kernels (the whole speed-up).
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: settings.spinning && settings.threads > 1 ? '1' : '0' } } },
  };
}

/**
 * Threads when nothing asks for a number: TENSORSKY_THREADS if set, otherwise one per core. A value that
 * is not a whole number >= 1 is an error.
 */
export function defaultThreads(): number {
  const fromEnv = process.env.TENSORSKY_THREADS?.trim();
  if (!fromEnv) return Math.max(1, os.availableParallelism());
  const threads = Number(fromEnv);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`TENSORSKY_THREADS must be a whole number >= 1 (threads per model), got '${fromEnv}'; unset it for one per core`);
  }
  return threads;
}
