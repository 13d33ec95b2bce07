// TF.js's wasm backend with threads under Node. tfjs-backend-wasm turns threads off in Node
// (tensorflow/tfjs#3830: its loader starts Emscripten's pthread workers from blob: URLs, which Node's
// worker_threads cannot run) and caps them at half the logical cores (it assumes hyper-threading), so
// one thread on a 2-core machine. The package also ships its threaded SIMD build as files; started from
// those, Emscripten's own Node support runs the pthreads on worker_threads, and XNNPACK splits every
// convolution across them (InceptionV3 on 2 cores: ~1.7x faster). Results are the same as with one
// thread: each output is still accumulated by one thread in the same order.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import type * as Wasm from '@tensorflow/tfjs-backend-wasm';
import * as tf from './tf.js';

/** tfjs-backend-wasm's Emscripten build starts 8 workers up front; XNNPACK's pool takes at most that many. */
const MAX_THREADS = 8;
/** The priority tfjs-backend-wasm registers its backend with. */
const WASM_PRIORITY = 2;
const PTHREAD_WORKER = fileURLToPath(new URL('../wasm/pthread-worker.cjs', import.meta.url));

/**
 * Threads for the wasm backend when nothing asks for a number: TENSORSKY_WASM_THREADS if set,
 * otherwise one per core (at most 8). A value that is not a whole number >= 1 is an error.
 */
export function defaultWasmThreads(): number {
  const fromEnv = process.env.TENSORSKY_WASM_THREADS?.trim();
  if (!fromEnv) return clampThreads(os.availableParallelism());
  const threads = Number(fromEnv);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`TENSORSKY_WASM_THREADS must be a whole number >= 1 (threads of the wasm backend), got '${fromEnv}'; unset it for one per core`);
  }
  return clampThreads(threads);
}

function clampThreads(threads: number): number {
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(threads)));
}

/** True once this thread's wasm backend has started (its thread count is fixed from then on). */
function wasmBackendStarted(): boolean {
  return 'wasm' in tf.engine().registry;
}

let wasm: typeof Wasm | undefined;
let stockFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;

/** The threads of this thread's started wasm backend (1 for tfjs-backend-wasm's own start). */
export function wasmThreads(): number | undefined {
  return wasm && wasmBackendStarted() ? Math.max(1, wasm.getThreadsCount()) : undefined;
}

/**
 * Registers the wasm backend (imports tfjs-backend-wasm) and chooses how it starts in this thread: with
 * `threads` > 1 the threaded build, started here (falling back to tfjs-backend-wasm's own start if that
 * fails); with 1 tfjs-backend-wasm's own start. The count cannot change once the backend has started.
 */
export async function setWasmThreads(threads: number): Promise<void> {
  wasm ??= await import('@tensorflow/tfjs-backend-wasm');
  if (wasmBackendStarted()) return;
  stockFactory ??= tf.findBackendFactory('wasm') ?? undefined;
  const stock = stockFactory;
  if (!stock) return; // another copy of TF.js registered it: leave it alone
  const count = clampThreads(threads);
  const module = wasm;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', count > 1 ? () => startThreaded(module, count).catch(() => stock()) : stock, WASM_PRIORITY);
}

/** The part of the Emscripten module tfjs-backend-wasm's BackendWasm uses, plus Emscripten's pthread pool. */
interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: { terminate(): unknown }[]; runningWorkers: { unref(): void }[] };
  tfjs?: Record<string, unknown>;
}
type EmscriptenFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;
/** WebAssembly as used here (TypeScript's Node typings leave it out). */
declare const WebAssembly: { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: unknown; module: unknown }> };

/**
 * The threaded build's Emscripten factory, its worker pool cut from 8 to `threads` (XNNPACK takes
 * threads - 1 of them): each worker is a Node isolate loading the module, ~60 ms of CPU that a cold
 * start on two cores pays in full. The build's own text is run as the CommonJS module it is, with that
 * one number changed; another build (no such line) is required unchanged.
 */
function threadedFactory(file: string, threads: number): EmscriptenFactory {
  const require = createRequire(file);
  const source = fs.readFileSync(file, 'utf8');
  const pool = 'var pthreadPoolSize=8;';
  if (source.split(pool).length !== 2) return require(file) as EmscriptenFactory;
  const module = { exports: {} as unknown };
  const wrapped = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${source.replace(pool, `var pthreadPoolSize=${threads};`)}\n})`, { filename: file });
  (wrapped as (...args: unknown[]) => void)(module.exports, require, module, file, path.dirname(file));
  return module.exports as EmscriptenFactory;
}

async function startThreaded(wasm: typeof Wasm, threads: number): Promise<tf.KernelBackend> {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const factory = threadedFactory(path.join(dir, 'tfjs-backend-wasm-threaded-simd.js'), threads);
  const binary = await fs.promises.readFile(path.join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'));
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  // Emscripten makes this object the module (it adds PThread to it).
  const config: Record<string, unknown> & Partial<EmscriptenModule> = {
    locateFile: (file: string) => (file.endsWith('.worker.js') ? PTHREAD_WORKER : path.join(dir, file)),
    instantiateWasm(imports: { env: Record<string, unknown> }, receive: (instance: unknown, module: unknown) => void) {
      // The pool size is capped at emscripten_num_logical_cores() / 2 when the module starts.
      imports.env.emscripten_num_logical_cores = () => 2 * threads;
      WebAssembly.instantiate(binary, imports).then((r) => receive(r.instance, r.module), fail);
      return {};
    },
    onAbort: (what: unknown) => fail(new Error(`the threaded wasm module aborted: ${String(what)}`)),
  };
  let module: EmscriptenModule;
  try {
    module = await Promise.race([factory(config), failed]);
  } catch (err) {
    for (const worker of config.PThread?.unusedWorkers ?? []) worker.terminate();
    throw err;
  }
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasm.setThreadsCount(threads);
  const backend = new wasm.BackendWasm(module as unknown as ConstructorParameters<typeof wasm.BackendWasm>[0]);
  // Emscripten started its pool; XNNPACK's pool has taken threads - 1, the others only hold memory. The
  // pool's workers wait for work for as long as the process lives, and must not keep it alive.
  for (const worker of module.PThread.unusedWorkers.splice(0)) worker.terminate();
  for (const worker of module.PThread.runningWorkers) worker.unref();
  return backend;
}

/** What of BackendWasm the image front uses: its kernels' own way to allocate a tensor and view its values. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function heapBackend(): HeapBackend | undefined {
  const backend = tf.backend() as Partial<HeapBackend>;
  return tf.getBackend() === 'wasm' && typeof backend.makeOutput === 'function' && typeof backend.typedArrayFromHeap === 'function' ? (backend as HeapBackend) : undefined;
}

/**
 * A float32 tensor's values without a copy where the wasm backend holds them (valid until the next op
 * may grow the heap), else a read. Large fresh buffers cost more in page faults than the copy itself.
 */
export function float32Values(t: tf.Tensor): Float32Array {
  return (heapBackend()?.typedArrayFromHeap(t) as Float32Array | undefined) ?? (t.dataSync() as Float32Array);
}

/**
 * An int32 tensor of `samples` (uint8 or uint16, e.g. decoded pixels: TF.js has no narrower integer
 * dtype). On the wasm backend the tensor is allocated as its kernels allocate outputs and the samples
 * widen in one pass straight into its heap memory, which is warm; `new Int32Array(samples)` or tf.zeros
 * take four fresh bytes per sample, whose page faults cost more than libjpeg's IDCT (a 512x512 photo:
 * 0.7 ms here against 6-14 ms). The tensor is new and ours, so filling it breaks no one's immutability.
 */
export function int32Tensor(samples: Uint8Array | Uint16Array, shape: number[]): tf.Tensor {
  const backend = heapBackend();
  if (!backend) return tf.tensor(new Int32Array(samples), shape, 'int32');
  const info = backend.makeOutput(shape, 'int32');
  backend.typedArrayFromHeap(info).set(samples);
  return tf.engine().makeTensorFromTensorInfo(info);
}
