// Freezing, as TensorFlow's convert_variables_to_constants does it: variables and their reads become
// constants holding the values TensorFlow's loader would give them (restored from the checkpoint, then
// the init op's constant assignments), and asset paths become string constants.
import path from 'node:path';
import type { BundleTensor } from '../bundle.js';
import { baseType } from '../dtypes.js';
import { DataType, dataTypeName, type MetaGraphDef, type NodeDef } from '../proto.js';
import { dataInputs, parseTensorName } from '../tensor-name.js';
import { constNode, GraphIndex, GraphPreparationError, protoValue, type ConstValue, type Pass } from './graph.js';

const REF_VARIABLE_OPS = new Set(['VariableV2', 'Variable']);
const ASSIGN_OPS = new Set(['Assign', 'AssignVariableOp']);

type VariableValue = { load: () => ConstValue } | { problem: string };

/**
 * What each variable holds once TensorFlow's loader has run the restore op and then the init op:
 * assignments fed by RestoreV2 map variables to checkpoint keys; constant assignments in the init op
 * (run after restoring) win over them. TF1 graphs whose restore op is missing fall back to the TF1
 * convention that a variable's checkpoint key is its node name.
 */
function variableValues(
  index: GraphIndex,
  nodes: readonly NodeDef[],
  metaGraph: MetaGraphDef,
  initRoots: readonly string[],
  bundle: Map<string, BundleTensor> | undefined,
): Map<string, VariableValue> {
  const values = new Map<string, VariableValue>();
  const fromBundle = (key: string, variable: NodeDef): VariableValue => {
    const tensor = bundle?.get(key);
    if (!tensor) return { problem: `its checkpoint key "${key}" is not in variables/variables.index` };
    const dtype = variable.attr?.dtype?.type;
    if (dtype !== undefined && dtype !== null && baseType(dtype) !== tensor.dtype) {
      return { problem: `the checkpoint holds ${dataTypeName(tensor.dtype)} under "${key}" but the variable is ${dataTypeName(dtype)}` };
    }
    return { load: () => ({ dtype: tensor.dtype, shape: tensor.shape, values: tensor.read() }) };
  };

  for (const node of nodes) {
    if (!ASSIGN_OPS.has(node.op)) continue;
    const [target, value] = dataInputs(node);
    const variable = target === undefined ? undefined : index.source(target)?.node;
    const src = value === undefined ? undefined : index.source(value);
    if (!variable || src?.node.op !== 'RestoreV2') continue;
    const [, namesInput, slicesInput] = src.node.input ?? [];
    const key = index.constStrings(namesInput!)?.[src.index];
    const slice = index.constStrings(slicesInput!)?.[src.index];
    if (key === undefined) continue;
    values.set(variable.name, slice ? { problem: `it is restored from a slice ("${slice}") of a partitioned variable, which is not supported` } : fromBundle(key, variable));
  }

  const hasRestoreOp = values.size > 0;
  for (const node of nodes) {
    if (!REF_VARIABLE_OPS.has(node.op) || values.has(node.name) || hasRestoreOp || !metaGraph.saver_def) continue;
    values.set(node.name, fromBundle(node.name, node));
  }

  const initNodes = index.closure(initRoots);
  for (const name of initNodes) {
    const node = index.byName.get(name)!;
    if (!ASSIGN_OPS.has(node.op)) continue;
    const [target, value] = dataInputs(node);
    const variable = target === undefined ? undefined : index.source(target)?.node;
    if (!variable) continue;
    const src = value === undefined ? undefined : index.source(value);
    const proto = src?.node.op === 'Const' ? src.node.attr?.value?.tensor : undefined;
    values.set(
      variable.name,
      proto
        ? { load: () => protoValue(proto, `init op constant ${src!.node.name}`) }
        : { problem: `the init op assigns it a value computed at load time (${src?.node.op ?? 'unknown'} ${src?.node.name ?? ''}), which is not supported` },
    );
  }
  return values;
}

/** Asset placeholders and constants get the asset's path, as the loader feeds them. */
export const freezeAssets: Pass = (state) => {
  const assets = new Map<string, string>();
  for (const asset of state.metaGraph.asset_file_def ?? []) {
    const name = asset.tensor_info?.name;
    if (!name || !asset.filename) continue;
    const assetsDir = path.join(state.options.dir, 'assets');
    const file = path.join(assetsDir, asset.filename);
    const inside = path.relative(assetsDir, file);
    // A model names its own assets; a path out of assets/ would hand its graph any file of this machine.
    if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(asset.filename)) {
      throw new GraphPreparationError(`asset ${asset.filename} of tensor ${name} is outside the SavedModel's assets/ folder; a model's assets must sit in it`);
    }
    assets.set(parseTensorName(name).node, file);
  }
  if (assets.size === 0) return;
  state.nodes = state.nodes.map((n) =>
    assets.has(n.name)
      ? constNode(n.name, DataType.DT_STRING, { dtype: DataType.DT_STRING, tensor_shape: {}, string_val: [new TextEncoder().encode(assets.get(n.name)!)] })
      : n,
  );
};

/**
 * Variables (TF1 VariableV2, TF2 VarHandleOp reads) become Consts whose values are read lazily
 * (state.constants). A variable without a value is recorded in state.unfrozen: an error only if the
 * signature's outputs need it (see prune).
 */
export const freezeVariables: Pass = (state) => {
  const index = new GraphIndex(state.nodes);
  const values = variableValues(index, state.nodes, state.metaGraph, state.initRoots, state.options.variables);
  const problemOf = (variable: string) => {
    const value = values.get(variable);
    return value === undefined ? 'it is neither restored from the checkpoint nor assigned a constant by the init op' : 'problem' in value ? value.problem : undefined;
  };
  state.nodes = state.nodes.map((node) => {
    let variable: NodeDef | undefined;
    let dtype: DataType | undefined | null;
    if (REF_VARIABLE_OPS.has(node.op)) {
      variable = node;
      dtype = node.attr?.dtype?.type;
    } else if (node.op === 'ReadVariableOp') {
      const handle = dataInputs(node)[0];
      variable = handle === undefined ? undefined : index.source(handle)?.node;
      if (variable?.op !== 'VarHandleOp') return node;
      dtype = node.attr?.dtype?.type;
    } else {
      return node;
    }
    if (!variable) return node;
    const problem = problemOf(variable.name);
    if (problem !== undefined) {
      state.unfrozen.set(node.name, `variable "${variable.name}" has no value: ${problem}`);
      return node;
    }
    const value = values.get(variable.name) as { load: () => ConstValue };
    state.constants.set(node.name, value.load);
    return constNode(node.name, dtype ?? DataType.DT_INVALID);
  });
};
