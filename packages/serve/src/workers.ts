// The engine worker pool: one worker_thread per core, each with its own engine and its own copy of every
// loaded model version, running one batch at a time. A worker that dies, or whose engine failed in a
// way that may have left broken state behind (a WebAssembly trap), fails only the batch it was running
// and takes no other; a replacement is started and reloads the versions being served.
import { Worker } from 'node:worker_threads';
import { compiledModuleUrl as compiledModule, workerExecArgv } from '@tensorsky/predict-local/worker-threads';
import type { LoadedVersion } from './engine.js';
import { ServeError, errorMessage, unavailable } from './errors.js';
import type { VersionLoader } from './manager.js';
import type { Tensor } from './tensor.js';
import type { WorkerData, WorkerReply, WorkerRequest } from './worker.js';

export interface WorkerPoolOptions {
  size: number;
  /** URL (href) of the engine module each worker imports; it exports createEngine(options). */
  engineModule: string;
  engineOptions?: Record<string, unknown>;
  /** Replay each version's warmup requests (assets.extra/tf_serving_warmup_requests) in every worker before it serves it; default true. */
  modelWarmup?: boolean;
  log?: (line: string) => void;
}

/** One batch for one model version and signature. */
export interface PoolJob {
  key: string;
  signature: string;
  inputs: Record<string, Tensor>;
  /** Called when a worker takes the job off the queue. */
  onStart?: () => void;
  /** Aborted when nobody waits for the result any more: a job still queued is dropped (rejected with the reason). */
  signal?: AbortSignal;
}

type Outputs = Record<string, Tensor>;

interface PoolWorker {
  id: number;
  thread: Worker;
  loaded: Set<string>;
  busy: boolean;
  /** Loads in progress: the worker takes no new predictions meanwhile (see load()). */
  loading: number;
  /** Out of the pool (died, or its engine failed): its results no longer count. */
  retired: boolean;
  calls: Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>;
}

interface QueuedJob extends PoolJob {
  resolve: (outputs: Outputs) => void;
  reject: (err: Error) => void;
}

/** How long close() waits for a worker to finish its job and free its models before terminating it. */
const CLOSE_GRACE_MS = 30_000;

/** The pool key of a model version. */
export function versionKey(model: string, version: number): string {
  return `${model}@${version}`;
}

/** Where a compiled module of this package lives (dist/ when this module runs from its sources). */
export function compiledModuleUrl(file: string): URL {
  return compiledModule(`./${file}`, import.meta.url);
}

export class WorkerPool implements VersionLoader {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: QueuedJob[] = [];
  /** Versions every worker should hold (loaded or loading), for replacement workers. */
  private readonly wanted = new Map<string, string>();
  private nextCallId = 1;
  private nextWorkerId = 1;
  private replacing = 0;
  private closing = false;
  private readonly log: (line: string) => void;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.log = options.log ?? (() => {});
  }

  /** Starts `size` workers and waits until each has created its engine. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`the worker count must be a positive integer, got ${options.size}`);
    const pool = new WorkerPool(options);
    const started = await Promise.allSettled(Array.from({ length: options.size }, () => pool.spawn()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    for (const r of started) pool.workers.push((r as PromiseFulfilledResult<PoolWorker>).value);
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Workers being started (or loading versions) in place of ones that died or failed. */
  get replacements(): number {
    return this.replacing;
  }

  /** Whether some worker holds the version and can run it (none, while its only holders are replaced). */
  isServing(model: string, version: number): boolean {
    const key = versionKey(model, version);
    return this.workers.some((w) => w.loaded.has(key));
  }

  /**
   * Loads a version into every worker; resolves with its signatures and image inputs once all have it. A worker runs one
   * thing at a time, so predictions sent to it while it loads would stretch a one-second load over
   * minutes under traffic: a loading worker takes no predictions. When other versions are being served,
   * workers load one after another, so the rest keep serving meanwhile.
   */
  async load(model: string, version: number, dir: string): Promise<LoadedVersion> {
    const key = versionKey(model, version);
    const serving = this.wanted.size > 0;
    this.wanted.set(key, dir);
    const workers = [...this.workers];
    let results: PromiseSettledResult<LoadedVersion>[];
    if (serving) {
      results = [];
      for (const w of workers) results.push((await Promise.allSettled([this.loadInto(w, key, dir)]))[0]);
    } else {
      results = await Promise.allSettled(workers.map((w) => this.loadInto(w, key, dir)));
    }
    // A worker retired meanwhile does not fail the load: its replacement loads the version.
    const failed = results.find((r, i): r is PromiseRejectedResult => r.status === 'rejected' && !workers[i].retired);
    const loaded = results.find((r): r is PromiseFulfilledResult<LoadedVersion> => r.status === 'fulfilled');
    if (failed || !loaded) {
      this.wanted.delete(key);
      await Promise.allSettled(this.workers.filter((w) => w.loaded.has(key)).map((w) => this.unloadFrom(w, key)));
      throw failed ? failed.reason : unavailable('no engine worker could load the version: every one was being replaced; it is retried on the next scan');
    }
    return loaded.value;
  }

  async unload(model: string, version: number): Promise<void> {
    const key = versionKey(model, version);
    this.wanted.delete(key);
    await Promise.allSettled(this.workers.filter((w) => w.loaded.has(key)).map((w) => this.unloadFrom(w, key)));
  }

  /** Workers that hold the version and would start a job for it now (none while jobs are queued). */
  idleWorkers(key: string): number {
    return Math.max(0, this.workers.filter((w) => !w.busy && w.loading === 0 && w.loaded.has(key)).length - this.queue.length);
  }

  /** Queues a batch; it runs on the first idle worker that holds its version. */
  run(job: PoolJob): Promise<Outputs> {
    if (this.closing) return Promise.reject(unavailable('the server is shutting down'));
    if (job.signal?.aborted) return Promise.reject(job.signal.reason);
    return new Promise((resolve, reject) => {
      const queued: QueuedJob = { ...job, resolve, reject };
      this.queue.push(queued);
      job.signal?.addEventListener('abort', () => this.drop(queued), { once: true });
      this.dispatch();
    });
  }

  /** Removes a job nobody waits for from the queue; once a worker has it, it runs to the end. */
  private drop(job: QueuedJob): void {
    const index = this.queue.indexOf(job);
    if (index < 0) return;
    this.queue.splice(index, 1);
    job.reject(job.signal!.reason);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.queue.splice(0)) job.reject(unavailable('the server is shutting down'));
    const workers = this.workers.splice(0);
    for (const call of workers.flatMap((w) => [...w.calls.values()])) call.reject(unavailable('the server is shutting down'));
    await Promise.allSettled(workers.map((w) => this.stopWorker(w)));
  }

  /**
   * Lets the worker finish its running job and free its models, then terminates it (after at most
   * CLOSE_GRACE_MS): terminating a thread while ONNX Runtime computes in it aborts the process.
   */
  private async stopWorker(worker: PoolWorker): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([this.call(worker, { id: 0, type: 'close' }).catch(() => {}), grace]);
    clearTimeout(timer);
    await worker.thread.terminate();
    for (const call of worker.calls.values()) call.reject(unavailable('the engine worker was stopped before it answered'));
  }

  private dispatch(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const job = this.queue[i];
      const worker = this.workers.find((w) => !w.busy && w.loading === 0 && w.loaded.has(job.key));
      if (!worker) continue;
      this.queue.splice(i--, 1);
      worker.busy = true;
      job.onStart?.();
      this.call<Outputs>(worker, { id: 0, type: 'predict', key: job.key, signature: job.signature, inputs: job.inputs })
        .then(job.resolve, job.reject)
        .finally(() => {
          worker.busy = false;
          this.dispatch();
        });
    }
  }

  private async loadInto(worker: PoolWorker, key: string, dir: string): Promise<LoadedVersion> {
    worker.loading++;
    try {
      const { signatures, imageInputs, notes } = await this.call<LoadedVersion & { notes: string[] }>(worker, {
        id: 0,
        type: 'load',
        key,
        dir,
        warmup: this.options.modelWarmup ?? true,
      });
      worker.loaded.add(key);
      // Every worker loads the same way: one worker's notes say it for all.
      if (worker === this.workers[0]) for (const note of notes) this.log(`${key}: ${note}`);
      return { signatures, imageInputs };
    } finally {
      worker.loading--;
      this.dispatch();
    }
  }

  private async unloadFrom(worker: PoolWorker, key: string): Promise<void> {
    worker.loaded.delete(key);
    await this.call(worker, { id: 0, type: 'unload', key });
  }

  private call<T>(worker: PoolWorker, request: WorkerRequest): Promise<T> {
    const id = this.nextCallId++;
    return new Promise<T>((resolve, reject) => {
      worker.calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.thread.postMessage({ ...request, id });
    });
  }

  /** Starts a worker and resolves once its engine is ready. */
  private spawn(): Promise<PoolWorker> {
    const workerData: WorkerData = { engineModule: this.options.engineModule, engineOptions: this.options.engineOptions ?? {} };
    const thread = new Worker(compiledModuleUrl('worker.js'), { workerData, execArgv: workerExecArgv() });
    const worker: PoolWorker = { id: this.nextWorkerId++, thread, loaded: new Set(), busy: false, loading: 0, retired: false, calls: new Map() };
    return new Promise((resolve, reject) => {
      let ready = false;
      thread.on('message', (reply: WorkerReply) => {
        if ('type' in reply) {
          ready = true;
          resolve(worker);
          return;
        }
        const call = worker.calls.get(reply.id);
        worker.calls.delete(reply.id);
        if (reply.ok) call?.resolve(reply.value);
        else if (reply.fatal) {
          // Retired before this call settles, so that the worker takes no other job.
          this.retire(worker, reply.message);
          call?.reject(
            new ServeError(500, `the engine failed on this request (${errorMessage(reply.message)}) and its worker is being replaced; if the request was large, send fewer or smaller instances`),
          );
        } else call?.reject(new ServeError(reply.status ?? 400, reply.message));
      });
      let failure: Error | undefined;
      thread.on('error', (err) => {
        failure = err;
      });
      thread.on('exit', (code) => {
        const why = failure ? errorMessage(failure) : `exit code ${code}`;
        if (!ready) {
          reject(new Error(`engine worker failed to start: ${why}`));
          return;
        }
        this.onWorkerExit(worker, why);
      });
    });
  }

  /** Takes a worker whose engine failed out of the pool, stops it once its other calls are done, and replaces it. */
  private retire(worker: PoolWorker, why: string): void {
    const index = this.workers.indexOf(worker);
    if (index < 0) return;
    this.workers.splice(index, 1);
    worker.retired = true;
    this.log(`engine worker ${worker.id} failed (${errorMessage(why)}); replacing it`);
    void this.stopWorker(worker);
    void this.replace();
  }

  private onWorkerExit(worker: PoolWorker, why: string): void {
    const index = this.workers.indexOf(worker);
    if (index < 0) return; // terminated by close() or retire()
    this.workers.splice(index, 1);
    worker.retired = true;
    for (const call of worker.calls.values()) {
      call.reject(new ServeError(500, `the engine worker stopped while running this request (${why}); the server goes on with a new worker`));
    }
    this.log(`engine worker ${worker.id} stopped (${why}); starting a replacement`);
    void this.replace();
  }

  private async replace(): Promise<void> {
    this.replacing++;
    try {
      await this.startReplacement();
    } finally {
      this.replacing--;
    }
  }

  private async startReplacement(): Promise<void> {
    while (!this.closing) {
      try {
        const worker = await this.spawn();
        if (this.closing) {
          await worker.thread.terminate();
          return;
        }
        this.workers.push(worker);
        for (const [key, dir] of this.wanted) {
          await this.loadInto(worker, key, dir).catch((err) =>
            this.log(`replacement worker ${worker.id} could not load ${key}: ${errorMessage(err)}`),
          );
        }
        return;
      } catch (err) {
        this.log(`${errorMessage(err)}; retrying in 1 s`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}
