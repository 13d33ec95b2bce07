// TF2's object graphs as TensorFlow wrote them (the half_plus_two fixture, tf.saved_model.save): the
// SavedObjectGraph's concrete functions and what they capture, matched to checkpoint keys through the
// bundle's TrackableObjectGraph.
import path from 'node:path';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { describe, expect, it } from 'vitest';
import {
  concreteFunctionMetaGraph,
  decodeSavedObjectGraph,
  decodeTrackableObjectGraph,
  flattenTensorSpecs,
  freezeSignatureGraph,
  getMetaGraph,
  OBJECT_GRAPH_PROTO_KEY,
  readSavedModel,
  readSavedModelVariables,
  variableCheckpointKeys,
} from '../src/index.js';

const dir = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123');

describe('TF2 object graph', async () => {
  const metaGraph = getMetaGraph((await readSavedModel(dir)).savedModel);
  const objects = decodeSavedObjectGraph(metaGraph.object_graph_def!);
  const variables = readSavedModelVariables(dir)!;

  it('reads the variables, functions and concrete functions of the SavedObjectGraph', () => {
    expect(objects.nodes![0]!.children!.slice(0, 3)).toEqual([
      { node_id: 1, local_name: 'a' },
      { node_id: 2, local_name: 'b' },
      { node_id: 3, local_name: 'c' },
    ]);
    expect(objects.nodes![1]!.variable).toMatchObject({ dtype: 1, name: 'a' });
    const predict = objects.concrete_functions!['__inference_predict_235']!;
    expect(predict.bound_inputs).toEqual([1, 2]);
    expect(flattenTensorSpecs(predict.canonicalized_input_signature)).toEqual([{ name: 'x', shape: { dim: [{ size: 1 }] }, dtype: 1 }]);
    expect(flattenTensorSpecs(predict.output_signature).map((s) => s.name)).toEqual(['y']);
  });

  it('finds each variable’s checkpoint key by walking both object graphs by child name', () => {
    const [bytes] = variables.get(OBJECT_GRAPH_PROTO_KEY)!.read() as Uint8Array[];
    const keys = variableCheckpointKeys(objects, decodeTrackableObjectGraph(bytes!));
    expect([...keys]).toEqual([
      [1, 'a/.ATTRIBUTES/VARIABLE_VALUE'],
      [2, 'b/.ATTRIBUTES/VARIABLE_VALUE'],
      [3, 'c/.ATTRIBUTES/VARIABLE_VALUE'],
    ]);
  });

  it('turns a concrete function into a signature that freezes to its captured variables’ values', () => {
    const { metaGraph: synthesized, signature } = concreteFunctionMetaGraph(metaGraph, '__inference_predict_235', variables);
    const frozen = freezeSignatureGraph(synthesized, { signature, variables, dir });
    expect(frozen.inputs.map((t) => [t.alias, t.shape])).toEqual([['x', [1]]]);
    expect(frozen.outputs.map((t) => t.alias)).toEqual(['y']);
    const values = [...frozen.constants.values()].map((load) => Array.from(load().values as Float32Array)).sort();
    expect(values).toEqual([[0.5], [2]]);
    expect(frozen.nodes.map((n) => n.op)).not.toContain('ReadVariableOp');
  });

  it('names the concrete functions there are when asked for one that is not', () => {
    expect(() => concreteFunctionMetaGraph(metaGraph, 'predict', variables)).toThrow(
      /^no concrete function "predict" in the object graph; its concrete functions: __inference_classify_x2y3_215, .*__inference_signature_wrapper_regress_xy_125$/,
    );
  });
});
