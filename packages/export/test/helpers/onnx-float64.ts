// The float64 reference of onnx-engine.test.ts: the ONNX network predict-local's onnx engine runs,
// evaluated in numpy (onnx_float64.py) on the exact input the engine's image front handed to ONNX Runtime.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttributeType, onnxMessageType, type AttributeProto, type ModelProto } from '../../../predict-local/src/onnx/proto.js';

const SCRIPT = fileURLToPath(new URL('./onnx_float64.py', import.meta.url));

export function numpyAvailable(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface NetworkInput {
  name: string;
  data: Float32Array;
  dims: number[];
}

function attrValue(a: AttributeProto): unknown {
  // protobufjs leaves fields equal to their default (0, empty) unset.
  switch (a.type) {
    case AttributeType.INT:
      return Number(a.i ?? 0);
    case AttributeType.FLOAT:
      return a.f ?? 0;
    case AttributeType.INTS:
      return (a.ints ?? []).map(Number);
    case AttributeType.FLOATS:
      return a.floats ?? [];
    case AttributeType.STRING:
      return Buffer.from(a.s ?? []).toString();
    default:
      throw new Error(`attribute ${a.name} of type ${a.type} is not handed to the float64 reference`);
  }
}

/** The network `model` (ONNX bytes) on `input`, evaluated in float64 by numpy; its single output, flattened. */
export async function float64Reference(model: Uint8Array, input: NetworkInput): Promise<Float64Array> {
  const type = onnxMessageType('ModelProto');
  const { graph } = type.toObject(type.decode(model), { longs: Number }) as ModelProto;
  if (graph.output.length !== 1) throw new Error(`the network has ${graph.output.length} outputs; the reference takes one`);
  const dir = await mkdtemp(join(tmpdir(), 'tensorsky-float64-'));
  try {
    const initializers: Record<string, { file: string; dims: number[]; dataType: number }> = {};
    for (const [i, t] of graph.initializer.entries()) {
      const file = `initializer-${i}.bin`;
      await writeFile(join(dir, file), t.raw_data ?? new Uint8Array());
      initializers[t.name!] = { file, dims: (t.dims ?? []).map(Number), dataType: t.data_type! };
    }
    const nodes = graph.node.map((n) => ({ op: n.op_type, input: n.input, output: n.output, attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name, attrValue(a)])) }));
    await writeFile(join(dir, 'graph.json'), JSON.stringify({ input: input.name, inputDims: input.dims, output: graph.output[0].name, initializers, nodes }));
    await writeFile(join(dir, 'input.bin'), input.data);
    execFileSync('python3', [SCRIPT, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Float64Array(new Uint8Array(await readFile(join(dir, 'reference.bin'))).buffer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
