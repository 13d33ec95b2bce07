// Dynamic batching, after TF Serving's basic batch scheduler: requests for the same model version,
// signature and per-example input shapes are concatenated along dimension 0 until the batch holds
// max_batch_size examples or batch_timeout_micros have passed, then run as one job. Outputs are split
// back per request. A request larger than max_batch_size runs as several jobs (TF Serving's large batch
// splitting). The queue is bounded: beyond max_queued_requests a request is refused with 503. A request
// whose signal aborts (client gone, deadline passed) is rejected at once, and its jobs not yet taken by
// a worker are dropped. Unlike TF Serving, a closing batch is split across the workers that are idle at
// that moment: on CPU a batch of n costs about n single predictions, so one worker with the whole batch
// would leave cores idle.
import { ServeError, unavailable } from './errors.js';
import { batchDim, concatTensors, sliceRows, type Tensor } from './tensor.js';
import type { PoolJob } from './workers.js';

export interface BatchingOptions {
  /** Examples per batch; 1 disables batching. */
  maxBatchSize: number;
  /** How long the first request of a batch waits for others; 0 disables batching. */
  batchTimeoutMicros: number;
  /** Requests waiting for a worker (queued or in an open batch) before new ones get 503. */
  maxQueuedRequests: number;
  /** How many workers holding a version could start a job now; default 1 (never split). */
  idleWorkers?: (key: string) => number;
}

/** One request's share of work: inputs keyed by signature alias, for one model version. */
export interface BatchTask {
  key: string;
  signature: string;
  inputs: Record<string, Tensor>;
}

type Outputs = Record<string, Tensor>;
type Runner = (job: PoolJob) => Promise<Outputs>;

interface Item {
  task: BatchTask;
  /** Examples in the request (dimension 0 of every input). */
  size: number;
  started: boolean;
  signal?: AbortSignal;
  resolve: (outputs: Outputs) => void;
  reject: (err: Error) => void;
}

interface OpenBatch {
  group: string;
  items: Item[];
  size: number;
  timer: NodeJS.Timeout;
}

export class BatchingQueue {
  private readonly open = new Map<string, OpenBatch>();
  private waiting = 0;

  constructor(
    private readonly options: BatchingOptions,
    private readonly run: Runner,
    /** Called with the version key and number of examples of every job a worker takes. */
    private readonly onBatch: (key: string, examples: number) => void = () => {},
  ) {}

  /** Requests accepted but not yet taken by a worker. */
  get queuedRequests(): number {
    return this.waiting;
  }

  submit(task: BatchTask, signal?: AbortSignal): Promise<Outputs> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting >= this.options.maxQueuedRequests) {
      return Promise.reject(unavailable(`the server is overloaded (${this.waiting} requests queued); retry later`));
    }
    this.waiting++;
    return new Promise<Outputs>((resolve, reject) => {
      const size = requestBatchSize(task.inputs);
      const item: Item = { task, size: size ?? 0, started: false, resolve, reject, signal };
      signal?.addEventListener('abort', () => this.cancel(item), { once: true });
      const { maxBatchSize, batchTimeoutMicros } = this.options;
      if (size !== undefined && size > maxBatchSize) {
        void this.executeSplit(item);
        return;
      }
      if (size === undefined || size === 0 || size === maxBatchSize || batchTimeoutMicros <= 0) {
        this.execute([item]);
        return;
      }
      const group = groupKey(task);
      let batch = this.open.get(group);
      if (batch && batch.size + size > maxBatchSize) {
        this.close(batch);
        batch = undefined;
      }
      if (!batch) {
        const created: OpenBatch = { group, items: [], size: 0, timer: setTimeout(() => this.close(created), batchTimeoutMicros / 1000) };
        batch = created;
        this.open.set(group, batch);
      }
      batch.items.push(item);
      batch.size += size;
      if (batch.size >= maxBatchSize) this.close(batch);
    });
  }

  private close(batch: OpenBatch): void {
    clearTimeout(batch.timer);
    if (this.open.get(batch.group) === batch) this.open.delete(batch.group);
    const idle = this.options.idleWorkers?.(batch.items[0].task.key) ?? 1;
    for (const part of splitItems(batch.items, batch.size, Math.min(idle, batch.items.length))) this.execute(part);
  }

  /** Marks items as no longer waiting; `examples` when a worker took a job of that many (counted as a batch). */
  private start(items: Item[], examples?: number): void {
    for (const item of items) {
      if (item.started) continue;
      item.started = true;
      this.waiting--;
    }
    if (examples !== undefined) this.onBatch(items[0].task.key, examples || 1);
  }

  /** A request nobody waits for any more: out of its open batch, no longer waiting, rejected with the reason. */
  private cancel(item: Item): void {
    for (const batch of this.open.values()) {
      const index = batch.items.indexOf(item);
      if (index < 0) continue;
      batch.items.splice(index, 1);
      batch.size -= item.size;
      if (batch.items.length === 0) {
        clearTimeout(batch.timer);
        this.open.delete(batch.group);
      }
    }
    this.start([item]);
    item.reject(item.signal!.reason);
  }

  private execute(items: Item[]): void {
    const [first] = items;
    if (items.length === 1) {
      this.run({ ...first.task, signal: first.signal, onStart: () => this.start(items, first.size) }).then(first.resolve, (err) => {
        this.start(items); // the job may fail before a worker took it (shutdown, cancelled)
        first.reject(err);
      });
      return;
    }
    const inputs: Record<string, Tensor> = {};
    for (const name of Object.keys(first.task.inputs)) inputs[name] = concatTensors(items.map((item) => item.task.inputs[name]));
    const total = items.reduce((n, item) => n + item.size, 0);
    // No signal: the batch runs for whichever of its requests still wait (a request that went away is
    // rejected already, and a batch holds at most max_batch_size examples).
    this.run({ key: first.task.key, signature: first.task.signature, inputs, onStart: () => this.start(items, total) }).then(
      (outputs) => {
        const splittable = Object.values(outputs).every((t) => batchDim(t) === total);
        if (!splittable) {
          // The model does not keep examples independent along dimension 0: run requests one by one.
          for (const item of items) this.execute([item]);
          return;
        }
        let offset = 0;
        for (const item of items) {
          const part: Outputs = {};
          for (const [name, t] of Object.entries(outputs)) part[name] = sliceRows(t, offset, offset + item.size);
          offset += item.size;
          item.resolve(part);
        }
      },
      (err) => {
        this.start(items);
        if (err instanceof ServeError && err.status === 503) {
          for (const item of items) item.reject(err);
          return;
        }
        // One bad request (say, an undecodable image) must not fail the others: retry them one by one.
        for (const item of items) this.execute([item]);
      },
    );
  }

  /**
   * Runs a request larger than max_batch_size as jobs of at most that many examples, as many at a time
   * as workers are idle when it starts: it shares the workers with other requests, and once its signal
   * aborts, no further job starts. A model whose outputs do not follow the inputs' dimension 0 gets the
   * whole request in one job.
   */
  private async executeSplit(item: Item): Promise<void> {
    const { maxBatchSize } = this.options;
    const count = Math.ceil(item.size / maxBatchSize);
    const parts: Outputs[] = [];
    let next = 0;
    let stopped = false;
    const lane = async () => {
      while (next < count && !stopped) {
        item.signal?.throwIfAborted();
        const start = next++ * maxBatchSize;
        const end = Math.min(item.size, start + maxBatchSize);
        const inputs = Object.fromEntries(Object.entries(item.task.inputs).map(([name, t]) => [name, sliceRows(t, start, end)]));
        const outputs = await this.run({ ...item.task, inputs, signal: item.signal, onStart: () => this.start([item], end - start) }).catch((err: unknown) => {
          throw fromInstance(err, start);
        });
        if (!Object.values(outputs).every((t) => batchDim(t) === end - start)) throw NOT_SPLITTABLE;
        parts[start / maxBatchSize] = outputs;
      }
    };
    const lanes = Math.min(count, Math.max(1, this.options.idleWorkers?.(item.task.key) ?? 1));
    try {
      await Promise.all(
        Array.from({ length: lanes }, () =>
          lane().catch((err) => {
            stopped = true;
            throw err;
          }),
        ),
      );
      item.resolve(Object.fromEntries(Object.keys(parts[0]).map((name) => [name, concatTensors(parts.map((p) => p[name]))])));
    } catch (err) {
      if (err === NOT_SPLITTABLE) this.execute([item]);
      else {
        this.start([item]);
        item.reject(err as Error);
      }
    }
  }
}

/** An error about "instance k" of a job that starts at example `start` of its request, renumbered for the request. */
function fromInstance(err: unknown, start: number): unknown {
  if (!(err instanceof ServeError) || start === 0) return err;
  const renumbered = err.message.replace(/^instance (\d+)/, (_, k: string) => `instance ${Number(k) + start}`);
  return renumbered === err.message ? err : new ServeError(err.status, renumbered);
}

/** Thrown when a part of a split request has outputs that are not one row per example. */
const NOT_SPLITTABLE = new Error('the outputs do not follow the inputs along dimension 0');

/** `items` in order as `parts` runs of about equal example counts (one run when parts <= 1). */
function splitItems(items: Item[], examples: number, parts: number): Item[][] {
  if (parts <= 1) return [items];
  const runs: Item[][] = [];
  let run: Item[] = [];
  let inRun = 0;
  let left = examples;
  for (const [i, item] of items.entries()) {
    const runsLeft = parts - runs.length;
    const share = left / runsLeft;
    // Start a new run before this item when stopping here lands closer to this run's share, or when
    // every later run needs an item of its own.
    const stop = Math.abs(inRun + item.size - share) >= Math.abs(inRun - share) || items.length - i <= runsLeft - 1;
    if (run.length > 0 && runsLeft > 1 && stop) {
      runs.push(run);
      left -= inRun;
      run = [];
      inRun = 0;
    }
    run.push(item);
    inRun += item.size;
  }
  runs.push(run);
  return runs;
}

/** Dimension 0 shared by every input, or undefined when the request cannot be batched. */
function requestBatchSize(inputs: Record<string, Tensor>): number | undefined {
  let size: number | undefined;
  for (const t of Object.values(inputs)) {
    const d = batchDim(t);
    if (d === undefined || (size !== undefined && d !== size)) return undefined;
    size = d;
  }
  return size;
}

/** Requests batch together when they hit the same version and signature with the same per-example shapes. */
function groupKey(task: BatchTask): string {
  const parts = Object.keys(task.inputs)
    .sort()
    .map((name) => {
      const t = task.inputs[name];
      return `${name}:${t.dtype}:${t.shape.slice(1).join('x')}`;
    });
  return [task.key, task.signature, ...parts].join('|');
}
