// SavedModels written by TensorFlow itself (TF Serving's and tfjs-node's test models): every signature
// either translates to ONNX and then computes what this package's TF.js executor computes (exactly, for
// these affine/integer models), or is refused with UntranslatableGraphError naming the ops; nothing else.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { savedModelDirs, SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { DataType, freezeSignatureGraph, getMetaGraph, readSavedModel, readTensorBundle, signatureKeys } from '@tensorsky/saved-model';
import { UntranslatableGraphError } from '../src/onnx/index.js';
import { maxAbsDiff, runOrt, runTfjs, translate, type HostTensor } from './onnx-support.js';

function input(dtype: DataType, shape: number[] | undefined): HostTensor | undefined {
  const dims = (shape ?? [3]).map((d) => (d < 0 ? 3 : d));
  const n = dims.reduce((a, b) => a * b, 1);
  const ramp = Array.from({ length: n }, (_, i) => i - 2);
  switch (dtype) {
    case DataType.DT_FLOAT:
      return { data: Float32Array.from(ramp, (v) => v * 0.75), shape: dims };
    case DataType.DT_INT32:
      return { data: Int32Array.from(ramp), shape: dims };
    case DataType.DT_UINT8:
      return { data: Uint8Array.from(ramp, (v) => v + 2), shape: dims };
    case DataType.DT_INT64:
      return { data: BigInt64Array.from(ramp, (v) => BigInt(v)), shape: dims };
    default:
      return undefined;
  }
}

describe('TensorFlow-written SavedModels', () => {
  const summary: string[] = [];
  for (const dir of savedModelDirs()) {
    const name = path.relative(SAVED_MODELS_DIR, dir);
    it(name, async () => {
      const loaded = await readSavedModel(dir);
      const metaGraph = getMetaGraph(loaded.savedModel);
      const prefix = path.join(dir, 'variables', 'variables');
      const variables = fs.existsSync(`${prefix}.index`) ? readTensorBundle(prefix) : undefined;
      for (const key of signatureKeys(metaGraph)) {
        const graph = freezeSignatureGraph(metaGraph, { signature: key, variables, dir });
        let model;
        try {
          model = translate(graph);
        } catch (err) {
          expect(err).toBeInstanceOf(UntranslatableGraphError);
          summary.push(`${name} ${key}: refused (${(err as UntranslatableGraphError).ops.join(', ')})`);
          continue;
        }
        const feeds: Record<string, HostTensor> = {};
        for (const spec of graph.inputs) feeds[spec.alias] = input(spec.dtype, spec.shape)!;
        const [onnx, tfjs] = [await runOrt(model, graph, feeds), await runTfjs(graph, feeds)];
        for (const spec of graph.outputs) expect(maxAbsDiff(onnx[spec.alias], tfjs[spec.alias]), `${key} ${spec.alias}`).toBe(0);
        summary.push(`${name} ${key}: translated, same outputs`);
      }
    });
  }
  it('summary', () => console.log(summary.join('\n')));
});
