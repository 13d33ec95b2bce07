// Engine 'tensorflow': TensorFlow itself through @tensorflow/tfjs-node, when it is installed.
import { DataType, type TensorSpec } from '@tensorsky/saved-model';
import { checkInputNames, readOutput, toTensor, type MakeTensor, type OutputTensor } from '../io.js';
import type { LocalModel, SignatureInfo, TensorInfoSummary } from '../local-model.js';
import * as tf from '../tf.js';

/** The part of @tensorflow/tfjs-node's API used here. */
export interface TfjsNode {
  tensor: MakeTensor;
  node: {
    loadSavedModel(dir: string, tags: string[], signature: string): Promise<{
      predict(inputs: Record<string, tf.Tensor>): tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;
      dispose(): void;
    }>;
  };
}

/** @tensorflow/tfjs-node, or why it cannot be loaded (not installed, or its native library is missing). */
export async function importTfjsNode(): Promise<TfjsNode | Error> {
  const name = '@tensorflow/tfjs-node';
  try {
    return (await import(name)) as TfjsNode;
  } catch (err) {
    return err as Error;
  }
}

export async function loadWithTfjsNode(tfnode: TfjsNode, dir: string, tags: string[], signature: SignatureInfo): Promise<LocalModel> {
  const specs = signatureSpecs(signature);
  const model = await tfnode.node.loadSavedModel(dir, tags, signature.key);
  return {
    backend: 'tensorflow',
    signature,
    async predict(inputs) {
      checkInputNames(inputs, specs.inputs);
      const feeds = Object.fromEntries(specs.inputs.map((s) => [s.alias, toTensor(inputs[s.alias], s, tfnode.tensor)]));
      try {
        const result = model.predict(feeds);
        const named: Record<string, tf.Tensor> =
          result instanceof tf.Tensor || Array.isArray(result)
            ? Object.fromEntries([result].flat().map((t, i) => [specs.outputs[i].alias, t]))
            : (result as Record<string, tf.Tensor>);
        const out: Record<string, OutputTensor> = {};
        for (const s of specs.outputs) out[s.alias] = await readOutput(named[s.alias], s);
        Object.values(named).forEach((t) => t.dispose());
        return out;
      } finally {
        Object.values(feeds).forEach((t) => t.dispose());
      }
    },
    dispose: () => model.dispose(),
  };
}

/** Input and output specs of a signature for this engine (which feeds by signature key). */
function signatureSpecs(signature: SignatureInfo): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const spec = (t: TensorInfoSummary): TensorSpec => ({
    alias: t.name,
    tensor: t.name,
    dtype: (DataType as unknown as Record<string, DataType>)[t.dtype] ?? DataType.DT_INVALID,
    shape: t.shape ?? undefined,
  });
  return { inputs: signature.inputs.map(spec), outputs: signature.outputs.map(spec) };
}
