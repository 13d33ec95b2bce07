import { describe, expect, it } from 'vitest';
import { BatchingQueue } from '../src/batching.js';
import type { Tensor } from '../src/index.js';
import type { PoolJob } from '../src/workers.js';

const x = (...values: number[]): Tensor => ({ dtype: 'DT_FLOAT', shape: [values.length], values: new Float32Array(values) });
const task = (...values: number[]) => ({ key: 'm@1', signature: 'serving_default', inputs: { x: x(...values) } });

/** Runs y = 2x like a model would, recording every job; refuses any batch containing 13. */
function doubler() {
  const jobs: number[][] = [];
  const run = async (job: PoolJob) => {
    job.onStart?.();
    const values = Array.from(job.inputs.x.values as Float32Array);
    jobs.push(values);
    if (values.includes(13)) throw new Error('13 is refused');
    return { y: { dtype: 'DT_FLOAT' as const, shape: [values.length], values: new Float32Array(values.map((v) => 2 * v)) } };
  };
  return { jobs, run };
}

const ys = (outputs: Record<string, Tensor>) => Array.from(outputs.y.values as Float32Array);

describe('BatchingQueue', () => {
  it('gathers requests until the timeout and splits the outputs back', async () => {
    const { jobs, run } = doubler();
    const sizes: number[] = [];
    const queue = new BatchingQueue({ maxBatchSize: 8, batchTimeoutMicros: 20_000, maxQueuedRequests: 100 }, run, (_key, n) => sizes.push(n));
    const results = await Promise.all([queue.submit(task(1)), queue.submit(task(2, 3)), queue.submit(task(4))]);
    expect(results.map(ys)).toEqual([[2], [4, 6], [8]]);
    expect(jobs).toEqual([[1, 2, 3, 4]]);
    expect(sizes).toEqual([4]);
    expect(queue.queuedRequests).toBe(0);
  });

  it('splits a closing batch across the idle workers, in order and by examples', async () => {
    const { jobs, run } = doubler();
    let idle = 2;
    const queue = new BatchingQueue({ maxBatchSize: 8, batchTimeoutMicros: 20_000, maxQueuedRequests: 100, idleWorkers: () => idle }, run);
    const four = await Promise.all([queue.submit(task(1)), queue.submit(task(2)), queue.submit(task(3)), queue.submit(task(4))]);
    expect(four.map(ys)).toEqual([[2], [4], [6], [8]]);
    expect(jobs).toEqual([[1, 2], [3, 4]]);

    // Uneven requests: about half the examples each side; never more parts than requests.
    jobs.length = 0;
    idle = 3;
    const uneven = await Promise.all([queue.submit(task(1, 2, 3)), queue.submit(task(4)), queue.submit(task(5))]);
    expect(uneven.map(ys)).toEqual([[2, 4, 6], [8], [10]]);
    expect(jobs).toEqual([[1, 2, 3], [4], [5]]);
    jobs.length = 0;
    idle = 2;
    await Promise.all([queue.submit(task(1)), queue.submit(task(2)), queue.submit(task(3, 4, 5, 6))]);
    expect(jobs).toEqual([[1, 2], [3, 4, 5, 6]]);

    // No idle worker: one batch, which waits for the first worker to free up.
    jobs.length = 0;
    idle = 0;
    await Promise.all([queue.submit(task(1)), queue.submit(task(2))]);
    expect(jobs).toEqual([[1, 2]]);
  });

  it('runs a full batch at once and never exceeds max_batch_size', async () => {
    const { jobs, run } = doubler();
    const queue = new BatchingQueue({ maxBatchSize: 3, batchTimeoutMicros: 60_000_000, maxQueuedRequests: 100 }, run);
    const started = Date.now();
    const results = await Promise.all([queue.submit(task(1, 2)), queue.submit(task(3, 4)), queue.submit(task(5)), queue.submit(task(6, 7, 8, 9))]);
    expect(Date.now() - started).toBeLessThan(5_000); // did not wait for the minute-long timeout
    expect(results.map(ys)).toEqual([[2, 4], [6, 8], [10], [12, 14, 16, 18]]);
    // [1,2] cannot take [3,4] (4 > 3) so it goes alone; [3,4]+[5] fill a batch; the oversize request is split.
    expect(jobs).toContainEqual([1, 2]);
    expect(jobs).toContainEqual([3, 4, 5]);
    expect(jobs).toContainEqual([6, 7, 8]);
    expect(jobs).toContainEqual([9]);
    expect(jobs).toHaveLength(4);
  });

  it('runs an oversize request whole when its outputs are not one row per example', async () => {
    const jobs: number[][] = [];
    const queue = new BatchingQueue({ maxBatchSize: 2, batchTimeoutMicros: 0, maxQueuedRequests: 100 }, async (job) => {
      job.onStart?.();
      const values = Array.from(job.inputs.x.values as Float32Array);
      jobs.push(values);
      return { sum: { dtype: 'DT_FLOAT', shape: [], values: new Float32Array([values.reduce((a, b) => a + b, 0)]) } };
    });
    const { sum } = await queue.submit(task(1, 2, 3, 4, 5));
    expect(Array.from(sum.values as Float32Array)).toEqual([15]);
    expect(jobs.at(-1)).toEqual([1, 2, 3, 4, 5]);
    expect(queue.queuedRequests).toBe(0);
  });

  it('keeps different per-example shapes and signatures apart', async () => {
    const shapes: number[][] = [];
    const queue = new BatchingQueue({ maxBatchSize: 8, batchTimeoutMicros: 10_000, maxQueuedRequests: 100 }, async (job) => {
      shapes.push(job.inputs.x.shape);
      return { y: job.inputs.x };
    });
    const matrix: Tensor = { dtype: 'DT_FLOAT', shape: [1, 2], values: new Float32Array([1, 2]) };
    await Promise.all([
      queue.submit(task(1)),
      queue.submit({ key: 'm@1', signature: 'serving_default', inputs: { x: matrix } }),
      queue.submit({ key: 'm@1', signature: 'other', inputs: { x: x(5) } }),
      queue.submit(task(2)),
    ]);
    expect(shapes.map((s) => s.join('x')).sort()).toEqual(['1', '1x2', '2']);
  });

  it('a bad request fails alone: the rest of its batch is retried one by one', async () => {
    const { jobs, run } = doubler();
    const queue = new BatchingQueue({ maxBatchSize: 8, batchTimeoutMicros: 10_000, maxQueuedRequests: 100 }, run);
    const results = await Promise.allSettled([queue.submit(task(1)), queue.submit(task(13)), queue.submit(task(3))]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: { y: expect.anything() } });
    expect(ys((results[0] as PromiseFulfilledResult<Record<string, Tensor>>).value)).toEqual([2]);
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { message: '13 is refused' } });
    expect(ys((results[2] as PromiseFulfilledResult<Record<string, Tensor>>).value)).toEqual([6]);
    expect(jobs).toEqual([[1, 13, 3], [1], [13], [3]]);
  });

  it('runs requests alone when the model output cannot be split by example', async () => {
    const jobs: number[] = [];
    const queue = new BatchingQueue({ maxBatchSize: 8, batchTimeoutMicros: 10_000, maxQueuedRequests: 100 }, async (job) => {
      const values = job.inputs.x.values as Float32Array;
      jobs.push(values.length);
      // A sum over the batch: one value whatever the batch size.
      return { total: { dtype: 'DT_FLOAT', shape: [1], values: new Float32Array([values.reduce((a, b) => a + b, 0)]) } };
    });
    const [a, b] = await Promise.all([queue.submit(task(1, 2)), queue.submit(task(10, 20))]);
    expect(Array.from(a.total.values as Float32Array)).toEqual([3]);
    expect(Array.from(b.total.values as Float32Array)).toEqual([30]);
    expect(jobs).toEqual([4, 2, 2]);
  });

  it('refuses requests with 503 once the queue is full', async () => {
    const pending: (() => void)[] = [];
    const queue = new BatchingQueue({ maxBatchSize: 1, batchTimeoutMicros: 0, maxQueuedRequests: 2 }, (job) => {
      // Nothing ever starts: the pool is busy.
      return new Promise((resolve) => pending.push(() => (job.onStart?.(), resolve({ y: job.inputs.x }))));
    });
    const accepted = [queue.submit(task(1)), queue.submit(task(2))];
    await expect(queue.submit(task(3))).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/overloaded \(2 requests queued\)/) });
    pending.forEach((start) => start());
    await Promise.all(accepted);
    expect(queue.queuedRequests).toBe(0);
    const next = queue.submit(task(4));
    pending.at(-1)!();
    expect(ys(await next)).toEqual([4]);
  });
});
