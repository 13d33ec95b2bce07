// SignatureInfo's `encoding` of DT_STRING inputs: found by following the input to the first decoding
// op, in the graph itself (TF1 style, through a TensorArray while loop) and inside a called function (TF2).
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, GraphBuilder, writeSavedModel, type FunctionDef, type GraphDef, type NodeDef, type SignatureDef } from '@tensorsky/saved-model';
import { loadModel } from '../src/index.js';

async function encodings(graphDef: GraphDef, signature: SignatureDef): Promise<Record<string, string | undefined>> {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-')), 'model');
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }],
    },
  });
  const model = await loadModel(dir, { backend: 'cpu' });
  model.dispose();
  return Object.fromEntries(model.signature.inputs.map((i) => [i.name, i.encoding]));
}

describe('input encoding', () => {
  it('tells base64 strings, image bytes and other strings apart in a TF1 graph', async () => {
    const b = new GraphBuilder();
    const b64 = b.placeholder('b64', DataType.DT_STRING, []);
    const bytes = b.placeholder('bytes', DataType.DT_STRING, []);
    const text = b.placeholder('text', DataType.DT_STRING, []);
    const decoded = b.decodeJpeg(b.identity(b.decodeBase64(b64)), { channels: 3 });
    const direct = b.decodePng(bytes, { channels: 3 });
    const graph = b.toGraphDef();
    expect(await encodings(graph, b.signature({ b64, bytes, text }, { decoded, direct, echo: text }))).toEqual({
      b64: 'b64',
      bytes: 'bytes',
      text: undefined,
    });
  });

  it('follows the input into the body of a TF2 function call', async () => {
    const decode: FunctionDef = {
      signature: {
        name: 'decode_fn',
        input_arg: [{ name: 'scale', type: DataType.DT_FLOAT }, { name: 'encoded', type: DataType.DT_STRING }],
        output_arg: [{ name: 'pixels', type: DataType.DT_UINT8 }],
      },
      node_def: [
        { name: 'raw', op: 'DecodeBase64', input: ['encoded'], attr: {} },
        { name: 'image', op: 'DecodeJpeg', input: ['raw:output:0'], attr: { channels: { i: 3 } } },
      ],
      ret: { pixels: 'image:image:0' },
    };
    const placeholder = (name: string, type: DataType): NodeDef => ({ name, op: 'Placeholder', attr: { dtype: { type }, shape: { shape: { unknown_rank: true } } } });
    const nodes: NodeDef[] = [
      placeholder('scale', DataType.DT_FLOAT),
      placeholder('image_b64', DataType.DT_STRING),
      {
        name: 'call',
        op: 'StatefulPartitionedCall',
        input: ['scale', 'image_b64'],
        attr: {
          f: { func: { name: 'decode_fn' } },
          Tin: { list: { type: [DataType.DT_FLOAT, DataType.DT_STRING] } },
          Tout: { list: { type: [DataType.DT_UINT8] } },
        },
      },
    ];
    const info = (name: string, dtype: DataType) => ({ name, dtype, tensor_shape: { unknown_rank: true } });
    const signature: SignatureDef = {
      inputs: { image_b64: info('image_b64:0', DataType.DT_STRING), scale: info('scale:0', DataType.DT_FLOAT) },
      outputs: { pixels: info('call:0', DataType.DT_UINT8) },
      method_name: 'tensorflow/serving/predict',
    };
    const graph: GraphDef = { node: nodes, library: { function: [decode] }, versions: { producer: 1286, min_consumer: 12 } };
    expect(await encodings(graph, signature)).toEqual({ image_b64: 'b64', scale: undefined });
  });
});
