// The one set of signature rules every package uses: image-input encoding (by following the input to its
// first decoder), the class-scores output, and the JSON/feed forms of an image. Graphs are written by
// hand as protos, the way TensorFlow writes them, so these tests do not depend on our graph builder.
import { describe, expect, it } from 'vitest';
import {
  DataType,
  describeSignature,
  isBinaryAlias,
  imageFeed,
  imageInput,
  imageValue,
  scoresOutput,
  signatureKeys,
  SignatureError,
  type MetaGraphDef,
  type TensorSummary,
} from '../src/index.js';

const { DT_FLOAT, DT_STRING, DT_UINT8 } = DataType;

function metaGraph(): MetaGraphDef {
  return {
    graph_def: {
      node: [
        { name: 'b64', op: 'Placeholder', attr: { dtype: { type: DT_STRING } } },
        { name: 'raw', op: 'Placeholder', attr: { dtype: { type: DT_STRING } } },
        { name: 'text', op: 'Placeholder', attr: { dtype: { type: DT_STRING } } },
        { name: 'id', op: 'Identity', input: ['b64'], attr: { T: { type: DT_STRING } } },
        { name: 'dec64', op: 'DecodeBase64', input: ['id:0'] },
        { name: 'img', op: 'DecodeJpeg', input: ['dec64'] },
        // raw reaches its decoder only through a TF2 function call.
        { name: 'call', op: 'StatefulPartitionedCall', input: ['raw'], attr: { f: { func: { name: 'decode_fn' } } } },
        { name: 'echo', op: 'Identity', input: ['text', '^img'], attr: { T: { type: DT_STRING } } },
      ],
      library: {
        function: [
          {
            signature: { name: 'decode_fn', input_arg: [{ name: 'bytes', type: DT_STRING }], output_arg: [{ name: 'pixels', type: DT_UINT8 }] },
            node_def: [{ name: 'decode', op: 'DecodeImage', input: ['bytes'] }],
            ret: { pixels: 'decode:image:0' },
          },
        ],
      },
    },
    signature_def: {
      serving_default: {
        method_name: 'tensorflow/serving/predict',
        inputs: {
          b64: { name: 'b64:0', dtype: DT_STRING, tensor_shape: { dim: [{ size: -1 }] } },
          raw: { name: 'raw:0', dtype: DT_STRING, tensor_shape: { unknown_rank: true } },
          text: { name: 'text:0', dtype: DT_STRING },
        },
        outputs: { echo: { name: 'echo:0', dtype: DT_STRING } },
      },
      __saved_model_init_op: { outputs: { __saved_model_init_op: { name: 'init' } } },
    },
  };
}

const tensor = (alias: string, dtype: string, shape: number[] | null): TensorSummary => ({ alias, name: `${alias}:0`, dtype, shape });

describe('describeSignature', () => {
  it('finds each string input\'s encoding by the first decoder it reaches, in the graph or a called function', () => {
    const sig = describeSignature(metaGraph(), 'serving_default');
    expect(sig.methodName).toBe('tensorflow/serving/predict');
    expect(sig.inputs).toEqual([
      { alias: 'b64', name: 'b64:0', dtype: 'DT_STRING', shape: [-1], encoding: 'b64' },
      { alias: 'raw', name: 'raw:0', dtype: 'DT_STRING', shape: null, encoding: 'bytes' },
      // A missing shape is a scalar; a control input (^img) is not a path to a decoder.
      { alias: 'text', name: 'text:0', dtype: 'DT_STRING', shape: [] },
    ]);
  });

  it('lists callable signatures only and names them when a key is missing', () => {
    expect(signatureKeys(metaGraph())).toEqual(['serving_default']);
    expect(() => describeSignature(metaGraph(), '__saved_model_init_op')).toThrow(SignatureError);
    expect(() => describeSignature(metaGraph(), 'predict')).toThrow('no signature "predict" in this SavedModel; available: serving_default');
  });
});

describe('imageInput', () => {
  it('is the only input when it is an encoded image, else undefined', () => {
    const image = { ...tensor('inputs', 'DT_STRING', [-1]), encoding: 'b64' as const };
    expect(imageInput([image])).toBe(image);
    expect(imageInput([tensor('inputs', 'DT_STRING', [-1])])).toBeUndefined();
    expect(imageInput([image, tensor('scale', 'DT_FLOAT', [])])).toBeUndefined();
  });
});

describe('scoresOutput', () => {
  it('takes the only output, whatever it is', () => {
    const only = tensor('logits', 'DT_HALF', [-1, 10]);
    expect(scoresOutput([only])).toBe(only);
  });

  it('takes the only float output of rank <= 2 among others', () => {
    const scores = tensor('probs', 'DT_FLOAT', [-1, 10]);
    expect(scoresOutput([tensor('classes', 'DT_INT64', [-1]), scores, tensor('features', 'DT_FLOAT', [-1, 8, 8, 3])])).toBe(scores);
  });

  it('prefers conventional names when several floats could be scores, and gives up otherwise', () => {
    const a = tensor('logits', 'DT_FLOAT', [-1, 10]);
    const b = tensor('probabilities', 'DT_FLOAT', [-1, 10]);
    const c = tensor('outputs', 'DT_FLOAT', null);
    expect(scoresOutput([a, b])).toBe(b);
    expect(scoresOutput([a, b, c])).toBe(c);
    expect(scoresOutput([a, tensor('embedding', 'DT_FLOAT', [-1, 128])])).toBeUndefined();
  });

  it('reads names from `name` when the tensors have no alias (predict-local\'s summaries)', () => {
    const outputs = [
      { name: 'logits', dtype: 'DT_FLOAT', shape: [-1, 10] },
      { name: 'scores', dtype: 'DT_FLOAT', shape: [-1, 10] },
    ];
    expect(scoresOutput(outputs)).toBe(outputs[1]);
  });
});

describe('image values', () => {
  const bytes = Uint8Array.from([0xfb, 0xff]);
  it('feeds web-safe unpadded text to a DecodeBase64 graph and the bytes themselves otherwise', () => {
    expect(imageFeed(bytes, 'b64')).toBe('-_8');
    expect(imageFeed(bytes, 'bytes')).toBe(bytes);
  });
  it('sends TF Serving JSON: text for b64, {"b64": standard padded base64} for bytes', () => {
    expect(imageValue(bytes, 'b64')).toBe('-_8');
    expect(imageValue(bytes, 'bytes')).toEqual({ b64: '+/8=' });
  });
  it('knows only TF Serving\'s _bytes convention from an alias alone', () => {
    expect(isBinaryAlias('image_bytes')).toBe(true);
    expect(isBinaryAlias('inputs')).toBe(false);
  });
});
