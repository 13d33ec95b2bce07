// Tensor names as GraphDefs and FunctionDefs write them. In a graph, a NodeDef input is "node" (output
// 0), "node:1" or "^node" (a control dependency); signatures, feeds and fetches use "node:0". Inside a
// function body, inputs are an argument name, "node:output_arg:index" or "^node".

/** Ops that call a library function named by their `f` attr (TF2's tf.function calls). */
export const CALL_OPS: ReadonlySet<string> = new Set(['StatefulPartitionedCall', 'PartitionedCall']);

/** A graph input or tensor name, parsed. */
export interface TensorRef {
  node: string;
  /** Output index; 0 for a control input. */
  index: number;
  /** "^node": run-after, no data. */
  control: boolean;
}

/** Parses "node", "node:1" or "^node". */
export function parseTensorName(name: string): TensorRef {
  if (name.startsWith('^')) return { node: name.slice(1), index: 0, control: true };
  const colon = name.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(name.slice(colon + 1))) {
    return { node: name.slice(0, colon), index: Number(name.slice(colon + 1)), control: false };
  }
  return { node: name, index: 0, control: false };
}

/** The full tensor name, "node:index" (as signatures, feeds and fetches write it). */
export function tensorName(node: string, index = 0): string {
  return `${node}:${index}`;
}

/** How a NodeDef input refers to a tensor: "node" for output 0, "node:index" otherwise. */
export function inputName(node: string, index = 0): string {
  return index === 0 ? node : `${node}:${index}`;
}

/** An input in full form: "node" → "node:0"; "node:1" and "^node" stay. */
export function canonicalTensorName(name: string): string {
  const r = parseTensorName(name);
  return r.control ? name : tensorName(r.node, r.index);
}

/** A tensor name in NodeDef input form: "node:0" → "node"; others stay. */
export function shortTensorName(name: string): string {
  const r = parseTensorName(name);
  return r.control ? name : inputName(r.node, r.index);
}

export function isControlInput(input: string): boolean {
  return input.startsWith('^');
}

/** The data inputs of a node (control inputs left out). */
export function dataInputs(node: { input?: readonly string[] | null }): string[] {
  return (node.input ?? []).filter((i) => !isControlInput(i));
}

/** A function-body input: an argument ("x"), "node:output_arg:index", or a control input ("^node"). */
export type FunctionInputRef =
  | { kind: 'arg'; arg: string }
  | { kind: 'output'; node: string; output: string; index: number }
  | { kind: 'control'; node: string };

/** Parses a function-body input; undefined for any other form (e.g. "node:0"). */
export function parseFunctionInput(input: string): FunctionInputRef | undefined {
  if (isControlInput(input)) return { kind: 'control', node: input.slice(1) };
  const parts = input.split(':');
  if (parts.length === 1) return { kind: 'arg', arg: input };
  if (parts.length === 3 && /^\d+$/.test(parts[2]!)) return { kind: 'output', node: parts[0]!, output: parts[1]!, index: Number(parts[2]) };
  return undefined;
}

/** The node a function-body input names (the argument's name for an argument). */
export function functionInputNode(input: string): string {
  return (isControlInput(input) ? input.slice(1) : input).split(':')[0]!;
}
