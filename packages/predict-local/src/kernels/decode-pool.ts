// JPEG decoding on worker threads, for the image front's parallel iterations. TensorFlow runs a map_fn's
// iterations side by side (parallel_iterations, 10 by default) on its inter-op pool, so the images of a
// batch decode in parallel; here libjpeg-turbo (WebAssembly, synchronous) is half of the front, and with
// a spare core the next images decode while this thread resizes the current one. The workers run
// decode-image.ts's decodeImage, the function the kernel runs in this thread, so the pixels and the
// errors are the same. Other formats are decoded by sharp, off this thread already.
// This module is also the workers' entry (see the end).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { classifyImageFormat, type DecodedImage } from '@tensorsky/image';
import { compiledModuleUrl, workerExecArgv } from '../worker-threads.js';
import { decodeImage, type DecodeAttrs, type DecodeOp, type ImageDecoder } from './decode-image.js';
import { OpError } from './kernel.js';

/** workerData's key marking a decode worker (other worker threads, serve's, import this module too). */
const DECODE_WORKER = 'tensorskyDecodeWorker';

interface DecodeRequest {
  id: number;
  op: DecodeOp;
  bytes: Uint8Array;
  attrs: DecodeAttrs;
}

type DecodeReply = { id: number; image: DecodedImage } | { id: number; error: string; opError: boolean };

interface Call {
  resolve: (image: DecodedImage) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  thread: Worker;
  calls: Map<number, Call>;
}

export class DecodePool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private closed = false;

  /** `size` worker threads, started now: a thread takes ~0.1 s to start, which no batch should wait for. */
  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) this.workers.push(this.start());
  }

  /** Decodes as decodeImage does: JPEGs in the least busy worker, other formats in this thread. */
  readonly decode: ImageDecoder = (op, bytes, attrs) => {
    if (this.closed || classifyImageFormat(bytes) !== 'jpeg') return decodeImage(op, bytes, attrs);
    const worker = this.workers.reduce((a, b) => (b.calls.size < a.calls.size ? b : a));
    const id = this.nextId++;
    // The exact bytes in a buffer of their own: posting a view would clone its whole underlying buffer.
    const own = bytes.slice();
    return new Promise<DecodedImage>((resolve, reject) => {
      // A worker with calls keeps the process alive; an idle one does not.
      if (worker.calls.size === 0) worker.thread.ref();
      worker.calls.set(id, { resolve, reject });
      worker.thread.postMessage({ id, op, bytes: own, attrs } satisfies DecodeRequest, [own.buffer]);
    });
  };

  /** Stops the workers; decodes after this run in this thread. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.splice(0).map((w) => w.thread.terminate()));
  }

  private start(): PoolWorker {
    const thread = new Worker(compiledModuleUrl('./decode-pool.js', import.meta.url), { workerData: { [DECODE_WORKER]: true }, execArgv: workerExecArgv() });
    const worker: PoolWorker = { thread, calls: new Map() };
    thread.on('message', (reply: DecodeReply) => {
      const call = worker.calls.get(reply.id);
      worker.calls.delete(reply.id);
      if (worker.calls.size === 0) thread.unref();
      if (!call) return;
      if ('error' in reply) call.reject(reply.opError ? new OpError(reply.error) : new Error(reply.error));
      else call.resolve(reply.image);
    });
    // A worker that fails or exits fails the decodes it had; another takes its place.
    const stopped = (why: string) => {
      const calls = [...worker.calls.values()];
      worker.calls.clear();
      for (const call of calls) call.reject(new Error(`the image decoding thread stopped (${why}); send the request again`));
      const at = this.workers.indexOf(worker);
      if (at >= 0 && !this.closed) this.workers.splice(at, 1, this.start());
    };
    thread.on('error', (err) => stopped(err.message));
    thread.on('exit', (code) => stopped(`exit code ${code}`));
    // After the listeners: adding one refs the thread again.
    thread.unref();
    return worker;
  }
}

/** The worker: decodes each request with decodeImage and hands the pixels back without a copy. */
if (!isMainThread && (workerData as Record<string, unknown> | null)?.[DECODE_WORKER] && parentPort) {
  const port = parentPort;
  port.on('message', async ({ id, op, bytes, attrs }: DecodeRequest) => {
    try {
      const image = await decodeImage(op, bytes, attrs);
      // Transferred when the pixels own their buffer (a view of a larger one is cloned instead).
      const own = image.data.byteOffset === 0 && image.data.byteLength === image.data.buffer.byteLength;
      port.postMessage({ id, image } satisfies DecodeReply, own ? [image.data.buffer as ArrayBuffer] : []);
    } catch (err) {
      port.postMessage({ id, error: (err as Error).message, opError: err instanceof OpError } satisfies DecodeReply);
    }
  });
}
