// Feeds: the signature's inputs and outputs as tensors of the inlined graph, and each input a
// Placeholder producing that tensor (as a TensorFlow session feeds it).
import { baseType } from '../dtypes.js';
import { DataType, type NodeDef, type TensorInfo } from '../proto.js';
import { shapeFromProto } from '../tensor.js';
import { canonicalTensorName, parseTensorName, tensorName } from '../tensor-name.js';
import { GraphPreparationError, protoValue, type Pass, type TensorSpec } from './graph.js';

export const feeds: Pass = (state) => {
  const key = state.options.signature;
  const spec = (alias: string, info: TensorInfo): TensorSpec => {
    if (!info.name) throw new GraphPreparationError(`signature "${key}" entry "${alias}" has no tensor name (sparse and composite tensors are not supported)`);
    return {
      alias,
      tensor: state.resolve(info.name),
      dtype: baseType(info.dtype ?? DataType.DT_INVALID),
      shape: shapeFromProto(info.tensor_shape),
    };
  };
  const inputs = Object.entries(state.signature.inputs ?? {}).map(([alias, info]) => {
    const fallback = state.signature.defaults?.[alias];
    return { ...spec(alias, info), ...(fallback ? { defaultValue: protoValue(fallback, `default of signature input "${alias}"`) } : {}) };
  });
  const outputs = Object.entries(state.signature.outputs ?? {}).map(([alias, info]) => spec(alias, info));

  const byName = new Map<string, NodeDef>(state.nodes.map((n) => [n.name, n]));
  const renamed = new Map<string, string>();
  for (const input of inputs) {
    const ref = parseTensorName(input.tensor);
    if (!byName.has(ref.node)) throw new GraphPreparationError(`signature input "${input.alias}" names missing tensor ${input.tensor}`);
    const placeholderName = ref.index === 0 ? ref.node : `${ref.node}/__feed_${ref.index}`;
    // Unknown rank: TensorFlow does not check fed shapes against the signature, so neither do we.
    const attr = { dtype: { type: input.dtype }, shape: { shape: { unknown_rank: true } } };
    byName.set(placeholderName, { name: placeholderName, op: 'Placeholder', input: [], attr });
    if (ref.index !== 0) renamed.set(input.tensor, placeholderName);
    input.tensor = tensorName(placeholderName, 0);
  }
  if (renamed.size > 0) {
    for (const [name, node] of byName) {
      byName.set(name, { ...node, input: (node.input ?? []).map((i) => renamed.get(canonicalTensorName(i)) ?? i) });
    }
    for (const output of outputs) output.tensor = renamed.has(output.tensor) ? tensorName(renamed.get(output.tensor)!, 0) : output.tensor;
  }
  state.nodes = [...byName.values()];
  state.inputs = inputs;
  state.outputs = outputs;
};
