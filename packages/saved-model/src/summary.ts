// A plain, JSON-able description of a SavedModel, in the spirit of `saved_model_cli show --all`.
import fs from 'node:fs/promises';
import path from 'node:path';
import { getMetaGraph, VARIABLES_DIR, type LoadedSavedModel } from './io.js';
import {
  DataType,
  int64ToNumber,
  type MetaGraphDef,
  type NodeDef,
  type SignatureDef,
  type TensorInfo,
  type TensorProto,
} from './proto.js';
import { summarizeJpegDecoders, type JpegDecoderSummary } from './jpeg-idct.js';
import { summarizeTensor, type SignatureSummary, type TensorSummary } from './signature.js';

export interface MetaGraphSummary {
  tags: string[];
  tensorflowVersion: string;
  signatures: SignatureSummary[];
  nodes: {
    /** Nodes of the top-level graph. */
    graph: number;
    /** Functions in the graph's library (tf.function bodies of TF2 models). */
    functions: number;
    /** Nodes inside all library functions together. */
    functionNodes: number;
  };
  /** Op types of graph and function nodes, most frequent first. */
  ops: { op: string; count: number }[];
  /** Const nodes (graph and functions) and the bytes their values hold. */
  constants: { count: number; bytes: number };
  /** Whether a SaverDef (how to restore variables) is present. */
  saverDef: boolean;
  /** The decode ops that read JPEGs, by op and the IDCT they decode with (export --jpeg_dct). */
  jpegDecoders: JpegDecoderSummary[];
}

export interface SavedModelSummary {
  dir: string;
  pbBytes: number;
  schemaVersion: number;
  metaGraphs: MetaGraphSummary[];
  /** present: variables/variables.index exists and is non-empty. */
  variables: { present: boolean; files: { name: string; bytes: number }[] };
  assets: string[];
}

export interface SummarizeOptions {
  /** Describe only the MetaGraphDef with this tag-set (all of them by default). */
  tags?: string[];
}

export async function summarizeSavedModel(
  loaded: LoadedSavedModel,
  options: SummarizeOptions = {},
): Promise<SavedModelSummary> {
  const { savedModel } = loaded;
  const metaGraphs = options.tags ? [getMetaGraph(savedModel, options.tags)] : (savedModel.meta_graphs ?? []);
  const files = await Promise.all(
    loaded.variableFiles.map(async (name) => ({
      name,
      bytes: (await fs.stat(path.join(loaded.dir, VARIABLES_DIR, name))).size,
    })),
  );
  return {
    dir: loaded.dir,
    pbBytes: loaded.pbBytes,
    schemaVersion: int64ToNumber(savedModel.saved_model_schema_version),
    metaGraphs: metaGraphs.map(summarizeMetaGraph),
    variables: { present: files.some((f) => f.name === 'variables.index' && f.bytes > 0), files },
    assets: loaded.assetFiles,
  };
}

function summarizeMetaGraph(metaGraph: MetaGraphDef): MetaGraphSummary {
  const graphNodes = metaGraph.graph_def?.node ?? [];
  const functions = metaGraph.graph_def?.library?.function ?? [];
  const functionNodes = functions.flatMap((fn) => fn.node_def ?? []);
  const allNodes = [...graphNodes, ...functionNodes];
  const constants = allNodes.filter((node) => node.op === 'Const');
  return {
    tags: [...(metaGraph.meta_info_def?.tags ?? [])],
    tensorflowVersion: metaGraph.meta_info_def?.tensorflow_version ?? '',
    signatures: Object.entries(metaGraph.signature_def ?? {})
      .sort(([a], [b]) => compare(a, b))
      .map(([key, signature]) => summarizeSignature(key, signature)),
    nodes: { graph: graphNodes.length, functions: functions.length, functionNodes: functionNodes.length },
    ops: opHistogram(allNodes),
    constants: { count: constants.length, bytes: sum(constants.map(constantBytes)) },
    saverDef: Boolean(metaGraph.saver_def),
    jpegDecoders: summarizeJpegDecoders(allNodes),
  };
}

function summarizeSignature(key: string, signature: SignatureDef): SignatureSummary {
  return {
    key,
    methodName: signature.method_name ?? '',
    inputs: summarizeTensors(signature.inputs),
    outputs: summarizeTensors(signature.outputs),
  };
}

// Sorted by alias, as saved_model_cli prints them.
function summarizeTensors(tensors: Record<string, TensorInfo> | undefined): TensorSummary[] {
  return Object.entries(tensors ?? {})
    .sort(([a], [b]) => compare(a, b))
    .map(([alias, info]) => summarizeTensor(alias, info));
}

function opHistogram(nodes: NodeDef[]): { op: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node.op, (counts.get(node.op) ?? 0) + 1);
  return [...counts]
    .map(([op, count]) => ({ op, count }))
    .sort((a, b) => b.count - a.count || compare(a.op, b.op));
}

/** Bytes a Const node's value holds: tensor_content, or the repeated *_val fields at their dtype's width. */
function constantBytes(node: NodeDef): number {
  const t: TensorProto | null | undefined = node.attr?.value?.tensor;
  if (!t) return 0;
  const intWidth = INT_VAL_WIDTH[t.dtype ?? DataType.DT_INVALID] ?? 4;
  return (
    (t.tensor_content?.length ?? 0) +
    (t.half_val?.length ?? 0) * 2 +
    (t.float_val?.length ?? 0) * 4 +
    (t.double_val?.length ?? 0) * 8 +
    (t.int_val?.length ?? 0) * intWidth +
    sum((t.string_val ?? []).map((s) => s.length)) +
    (t.scomplex_val?.length ?? 0) * 4 +
    (t.int64_val?.length ?? 0) * 8 +
    (t.bool_val?.length ?? 0) +
    (t.dcomplex_val?.length ?? 0) * 8 +
    (t.uint32_val?.length ?? 0) * 4 +
    (t.uint64_val?.length ?? 0) * 8 +
    (t.float8_val?.length ?? 0)
  );
}

/** int_val carries every integer type narrower than 64 bits; its elements are this wide. */
const INT_VAL_WIDTH: Partial<Record<DataType, number>> = {
  [DataType.DT_UINT8]: 1,
  [DataType.DT_INT8]: 1,
  [DataType.DT_QINT8]: 1,
  [DataType.DT_QUINT8]: 1,
  [DataType.DT_INT16]: 2,
  [DataType.DT_UINT16]: 2,
  [DataType.DT_QINT16]: 2,
  [DataType.DT_QUINT16]: 2,
};

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
