// Entry point of one engine worker thread: imports the engine module, loads model versions into its own
// engine and runs predictions one message at a time. The main thread never runs a model.
import { parentPort, workerData } from 'node:worker_threads';
import type { CreateEngine, LoadedModel } from './engine.js';
import type { Tensor } from './tensor.js';

/** Messages from the pool to a worker. */
export type WorkerRequest =
  /** `warmup`: replay the version's warmup requests (warmup.ts) before answering. */
  | { id: number; type: 'load'; key: string; dir: string; warmup?: boolean }
  | { id: number; type: 'unload'; key: string }
  | { id: number; type: 'predict'; key: string; signature: string; inputs: Record<string, Tensor> }
  /** Finish what runs, free every model, then reply: the pool terminates the thread after that. */
  | { id: number; type: 'close' };

/** Messages from a worker to the pool. */
export type WorkerReply =
  | { type: 'ready' }
  | { id: number; ok: true; value: unknown }
  /** `fatal`: the engine failed in a way that may have left broken state behind; retire this worker. */
  | { id: number; ok: false; message: string; status?: number; fatal?: boolean };

export interface WorkerData {
  engineModule: string;
  engineOptions: Record<string, unknown>;
}

const port = parentPort!;
const { engineModule, engineOptions } = workerData as WorkerData;
const engineExports = (await import(engineModule)) as { createEngine?: CreateEngine };
if (typeof engineExports.createEngine !== 'function') {
  throw new Error(`engine module ${engineModule} does not export createEngine()`);
}
const engine = await engineExports.createEngine(engineOptions);
const models = new Map<string, LoadedModel>();
// Loads run one after another: engines may set up global state (a TF.js backend) on first load, and
// two large versions loading at once would need both their peak memory together.
let loads: Promise<unknown> = Promise.resolve();

// Requests being handled. A thread terminated while a native engine (ONNX Runtime) computes aborts the
// whole process, so 'close' waits for them and frees the models first.
const running = new Set<Promise<void>>();
// Set by an engine failure: the pool retires this worker, and nothing more runs on its broken engine.
let failure: string | undefined;

port.on('message', (request: WorkerRequest) => {
  const handled = request.type === 'close' ? close(request.id, [...running]) : handle(request);
  running.add(handled);
  void handled.finally(() => running.delete(handled));
});
port.postMessage({ type: 'ready' } satisfies WorkerReply);

async function close(id: number, others: Promise<void>[]): Promise<void> {
  await Promise.allSettled(others);
  await loads;
  for (const model of models.values()) await Promise.resolve(model.dispose?.()).catch(() => {});
  models.clear();
  reply(id, null);
}

async function handle(request: Exclude<WorkerRequest, { type: 'close' }>): Promise<void> {
  try {
    if (request.type === 'load') {
      const loading = loads.then(async () => {
        const model = await engine.load(request.dir);
        return { model, warmup: request.warmup ? await warmUp(model, request.dir) : undefined };
      });
      loads = loading.catch(() => {});
      const { model, warmup } = await loading;
      models.set(request.key, model);
      const notes = [...(model.notes ?? []), ...(warmup ? [warmup] : [])];
      reply(request.id, { signatures: model.signatures, imageInputs: model.imageInputs ?? {}, notes });
    } else if (request.type === 'unload') {
      const model = models.get(request.key);
      models.delete(request.key);
      await model?.dispose?.();
      reply(request.id, null);
    } else {
      if (failure !== undefined) throw new Error(`this worker's engine failed earlier (${failure})`);
      const model = models.get(request.key);
      if (!model) throw new Error(`model version ${request.key} is not loaded in this worker`);
      const outputs = await model.predict(request.signature, request.inputs);
      reply(request.id, outputs, ownedBuffers(outputs));
    }
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    const message = err instanceof Error ? err.message : String(err);
    const fatal = request.type === 'predict' && (failure !== undefined || isEngineFailure(err));
    if (fatal) failure ??= message;
    port.postMessage({
      id: request.id,
      ok: false,
      message,
      ...(typeof status === 'number' ? { status } : {}),
      ...(fatal ? { fatal } : {}),
    } satisfies WorkerReply);
  }
}

/**
 * Replays the version's warmup requests on this worker's copy (a version with none: undefined); a
 * failure fails the load, as in TF Serving, and frees what was loaded. Resolves with a line for the log.
 */
async function warmUp(model: LoadedModel, dir: string): Promise<string | undefined> {
  const started = performance.now();
  try {
    const { WARMUP_ITERATIONS, replayWarmupRequests } = await import('./warmup.js');
    const report = await replayWarmupRequests(model, dir);
    if (!report) return undefined;
    const skipped = report.skipped > 0 ? `; ${report.skipped} classify/regress/multi-inference logs skipped (not replayed by this server)` : '';
    return `warmup: ${report.replayed} requests replayed in ${Math.round(performance.now() - started)} ms (${WARMUP_ITERATIONS} times each)${skipped}`;
  } catch (err) {
    await Promise.resolve(model.dispose?.()).catch(() => {});
    throw err;
  }
}

/**
 * Whether an engine error may have left broken state behind, so that this worker must run nothing
 * more: a WebAssembly trap (out-of-bounds access, unreachable, memory exhausted), a failed allocation,
 * a programming error. Input errors (an undecodable image, a wrong shape: plain Errors, or errors
 * carrying a status) leave the engine as it was.
 */
function isEngineFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (typeof (err as { status?: unknown }).status === 'number') return false;
  // WebAssembly.RuntimeError (a trap) is known by its name: this package compiles without the DOM types.
  if (err.name === 'RuntimeError' || err instanceof RangeError || err instanceof TypeError || err instanceof ReferenceError) return true;
  return /memory access out of bounds|unreachable|out of memory|Cannot enlarge memory|allocation failed|failed to allocate|Aborted\(/i.test(err.message);
}

function reply(id: number, value: unknown, transfer: ArrayBuffer[] = []): void {
  port.postMessage({ id, ok: true, value } satisfies WorkerReply, transfer);
}

/** Buffers the outputs own entirely (not views into engine memory), which can be moved instead of copied. */
function ownedBuffers(outputs: Record<string, Tensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const { values } of Object.values(outputs)) {
    if (!ArrayBuffer.isView(values)) continue;
    const { buffer } = values;
    if (buffer instanceof ArrayBuffer && values.byteOffset === 0 && values.byteLength === buffer.byteLength) buffers.add(buffer);
  }
  return [...buffers];
}
