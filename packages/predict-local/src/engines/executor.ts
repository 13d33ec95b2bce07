// Engines 'wasm' and 'cpu': our executor, the signature's frozen graph on tfjs-converter's GraphModel
// with our kernels for the ops it lacks, on that TF.js backend.
import { ASYNC_CUSTOM_OPS, CUSTOM_OPS, registerCustomOps } from '../kernels/index.js';
import { parseTensorName, type FrozenGraph } from '@tensorsky/saved-model';
import { checkInputNames, feedTensors, readOutput, type OutputTensor } from '../io.js';
import type { LocalModel, SignatureInfo } from '../local-model.js';
import * as tf from '../tf.js';
import { toTfjsModel } from '../tfjs-model.js';
import { setWasmThreads } from '../wasm-backend.js';

export type ExecutorBackend = 'wasm' | 'cpu';

// Backend switches are serialised and shared by concurrent loads: while setBackend() is pending,
// tf.getBackend() already names the new backend (or starts initialising another one), so a second
// caller must await the same switch instead of asking TF.js.
let lastSwitch: { name: ExecutorBackend; done: Promise<boolean> } | undefined;

function useTfjsBackend(name: ExecutorBackend, threads: number): Promise<boolean> {
  const previous = lastSwitch;
  const done =
    previous?.name === name
      ? previous.done.then((ok) => (ok && tf.getBackend() === name ? true : switchTfjsBackend(name, threads)))
      : (previous?.done ?? Promise.resolve(true)).then(() => switchTfjsBackend(name, threads));
  lastSwitch = { name, done };
  return done;
}

async function switchTfjsBackend(name: ExecutorBackend, threads: number): Promise<boolean> {
  try {
    if (name === 'wasm') await setWasmThreads(threads);
    else await import('@tensorflow/tfjs-backend-cpu');
  } catch {
    return false;
  }
  try {
    return tf.getBackend() === name || (await tf.setBackend(name));
  } catch {
    return false;
  }
}

/** The first of the executor's TF.js backends for `preferred` that starts ('auto': wasm, then cpu). */
export async function startExecutorBackend(preferred: ExecutorBackend | 'auto', threads: number): Promise<ExecutorBackend | undefined> {
  for (const name of preferred === 'auto' ? (['wasm', 'cpu'] as const) : [preferred]) {
    if (await useTfjsBackend(name, threads)) return name;
  }
  return undefined;
}

/** A frozen graph loaded as a TF.js GraphModel, run in two phases where possible (see asyncBoundary). */
export interface ExecutorGraph {
  /** Outputs in the order of graph.outputs. */
  run(feeds: Record<string, tf.Tensor>): Promise<tf.Tensor[]>;
  dispose(): void;
}

export async function loadExecutorGraph(graph: FrozenGraph): Promise<ExecutorGraph> {
  registerCustomOps();
  const { artifacts, outputNames, split } = toTfjsModel(graph, CUSTOM_OPS, { asyncOps: ASYNC_CUSTOM_OPS });
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  let plan = split;
  const run = async (feeds: Record<string, tf.Tensor>): Promise<tf.Tensor[]> => {
    if (plan) {
      const current = plan;
      const crossing = current.boundary.length > 0 ? [await model.executeAsync(feeds, current.boundaryNames)].flat() : [];
      try {
        const second: Record<string, tf.Tensor> = {};
        current.boundary.forEach((t, i) => (second[t] = crossing[i]));
        for (const t of current.inputs) second[t] = feeds[parseTensorName(t).node];
        return [model.execute(second, current.outputs)].flat();
      } catch (err) {
        // An op the plan took for synchronous is not (tfjs asks for executeAsync): run as a whole from now on.
        if (!/executeAsync/.test((err as Error).message)) throw err;
        plan = undefined;
      } finally {
        tf.dispose(crossing);
      }
    }
    return [await model.executeAsync(feeds, outputNames)].flat();
  };
  return { run, dispose: () => model.dispose() };
}

export async function loadWithExecutor(graph: FrozenGraph, backend: ExecutorBackend, signature: SignatureInfo): Promise<LocalModel> {
  const executor = await loadExecutorGraph(graph);
  return {
    backend,
    signature,
    async predict(inputs) {
      checkInputNames(inputs, graph.inputs);
      const feeds = feedTensors(inputs, graph.inputs, (t) => parseTensorName(t).node);
      try {
        const results = await executor.run(feeds);
        try {
          const out: Record<string, OutputTensor> = {};
          for (const [i, s] of graph.outputs.entries()) out[s.alias] = await readOutput(results[i], s);
          return out;
        } finally {
          results.forEach((t) => t.dispose());
        }
      } finally {
        Object.values(feeds).forEach((t) => t.dispose());
      }
    },
    dispose: () => executor.dispose(),
  };
}
