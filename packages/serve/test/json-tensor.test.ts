import { describe, expect, it } from 'vitest';
import type { SignatureMetadata, Tensor } from '../src/index.js';
import { parseServingJson, writeServingJson } from '../src/json.js';
import { predictResponse, readPredictRequest, requestTensors, tensorToJson } from '../src/json-tensor.js';

function info(dtype: string, dims: number[] = [-1]) {
  return { dtype, tensor_shape: { dim: dims.map((d) => ({ size: String(d), name: '' })), unknown_rank: false }, name: 'n:0' };
}

const oneInput: SignatureMetadata = { inputs: { x: info('DT_FLOAT') }, outputs: { y: info('DT_FLOAT') }, method_name: 'tensorflow/serving/predict' };
const imageInput: SignatureMetadata = { inputs: { image_bytes: info('DT_STRING') }, outputs: { scores: info('DT_FLOAT') }, method_name: '' };
const twoInputs: SignatureMetadata = {
  inputs: { tokens: info('DT_INT32', [-1, 2]), mask: info('DT_BOOL', [-1, 2]) },
  outputs: { y: info('DT_FLOAT') },
  method_name: '',
};

/** The body as the server reads it: JSON text parsed as TF Serving parses it. */
const tensorsOf = (body: unknown, signature: SignatureMetadata) =>
  requestTensors(readPredictRequest(parseServingJson(JSON.stringify(body))), signature, 'serving_default');

describe('request bodies', () => {
  it('stacks row-format bare values along a new batch dimension', () => {
    expect(tensorsOf({ instances: [2.0, 3.0, 4.0] }, oneInput)).toEqual({ x: { dtype: 'DT_FLOAT', shape: [3], values: new Float32Array([2, 3, 4]) } });
    expect(tensorsOf({ instances: [[1], [2]] }, oneInput).x.shape).toEqual([2, 1]);
  });

  it('reads named instances and columnar inputs into typed tensors', () => {
    const rows = tensorsOf({ instances: [{ tokens: [1, 2], mask: [true, false] }, { tokens: [3, 4], mask: [false, true] }] }, twoInputs);
    expect(rows.tokens).toEqual({ dtype: 'DT_INT32', shape: [2, 2], values: new Int32Array([1, 2, 3, 4]) });
    expect(rows.mask).toEqual({ dtype: 'DT_BOOL', shape: [2, 2], values: new Uint8Array([1, 0, 0, 1]) });
    const columns = tensorsOf({ inputs: { tokens: [[1, 2], [3, 4]], mask: [[true, false], [false, true]] } }, twoInputs);
    expect(columns).toEqual(rows);
    expect(tensorsOf({ inputs: 5 }, oneInput).x).toEqual({ dtype: 'DT_FLOAT', shape: [], values: new Float32Array([5]) });
  });

  it('decodes {"b64": ...} (standard alphabet) and plain strings to bytes', () => {
    // "/+8=" is 0xff 0xef: it only decodes with the standard alphabet.
    const t = tensorsOf({ instances: [{ b64: '/+8=' }, 'hé'] }, imageInput).image_bytes;
    expect(t.shape).toEqual([2]);
    expect(t.values).toEqual([new Uint8Array([0xff, 0xef]), new Uint8Array([0x68, 0xc3, 0xa9])]);
    const named = tensorsOf({ instances: [{ image_bytes: { b64: 'AAE' } }] }, imageInput).image_bytes;
    expect(named.values).toEqual([new Uint8Array([0, 1])]);
  });

  it.each([
    [[1, 2], /request body must be a JSON object/],
    [{}, /Missing "inputs" or "instances" key/],
    [{ instances: [1], inputs: [1] }, /only one of "inputs" or "instances"/],
    [{ instances: 3 }, /"instances" must be a list/],
    [{ instances: [] }, /"instances" is empty/],
    [{ instances: [1], signature_name: 7 }, /"signature_name" must be a string/],
  ])('rejects the body %j', (body, message) => {
    expect(() => readPredictRequest(body)).toThrow(message);
  });

  it.each([
    [{ instances: ['a'] }, oneInput, /has dtype DT_FLOAT and needs a number, got a string/],
    [{ instances: [{ b64: 'AAAA' }] }, oneInput, /\{"b64": \.\.\.\} is only for DT_STRING inputs/],
    [{ instances: [[1, 2], [3]] }, oneInput, /not a dense tensor/],
    [{ instances: [1, [2]] }, oneInput, /not a dense tensor/],
    [{ instances: [{ b64: 'a-_b' }] }, imageInput, /not valid base64/],
    [{ instances: [{ b64: 'AAAAA' }] }, imageInput, /not valid base64/],
    [{ instances: [{ b64: 12 }] }, imageInput, /not valid base64/],
    [{ instances: [null] }, imageInput, /needs strings or \{"b64": "\.\.\."\} objects, got null/],
    [{ instances: [{ tokens: [1, 2] }] }, twoInputs, /missing input 'mask'/],
    [{ instances: [{ tokens: [1, 2], mask: [true, true], extra: 1 }] }, twoInputs, /has no input 'extra'/],
    [{ instances: [{ tokens: [1, 2], mask: [true, true] }, { tokens: [1, 2] }] }, twoInputs, /instance 1 does not have the same input names/],
    [{ instances: [[1, 2]] }, twoInputs, /takes 2 inputs \(tokens, mask\); send each instance as an object/],
    [{ inputs: { tokens: [[1.5, 2]], mask: [[true, true]] } }, twoInputs, /has dtype DT_INT32 and needs an integer, got the number 1.5/],
    [{ inputs: { tokens: [[1, 2]], mask: [[1, 0]] } }, twoInputs, /DT_BOOL and needs true or false, got the number 1/],
  ])('rejects %j with a clear message', (body, signature, message) => {
    expect(() => tensorsOf(body, signature)).toThrow(message);
  });

  it('refuses absurd nesting instead of recursing without bound', () => {
    const nest = (levels: number) => `{"instances": ${'['.repeat(levels)}1${']'.repeat(levels)}}`;
    // The parser stops first (rapidjson recurses too); below its limit, the tensor's rank is limited.
    expect(() => parseServingJson(nest(100_000))).toThrow(/Nested more than 512 levels at offset: /);
    expect(() => requestTensors(readPredictRequest(parseServingJson(nest(100))), oneInput, 'serving_default')).toThrow(/nested more than 32 levels/);
  });
});

describe('response shaping (TF Serving rules)', () => {
  const y: Tensor = { dtype: 'DT_FLOAT', shape: [3], values: new Float32Array([3, 3.5, 4]) };
  const scores: Tensor = { dtype: 'DT_FLOAT', shape: [2, 2], values: new Float32Array([0.1, 0.9, 0.7, 0.3]) };
  const classes: Tensor = { dtype: 'DT_STRING', shape: [2], values: [new TextEncoder().encode('cat'), new TextEncoder().encode('dog')] };

  it('row format: one output is a list of per-instance values, several a list of objects', () => {
    expect(writeServingJson(predictResponse('row', { y }))).toBe('{"predictions":[3.0,3.5,4.0]}');
    expect(writeServingJson(predictResponse('row', { scores, classes }))).toBe(
      '{"predictions":[{"scores":[0.1,0.9],"classes":"cat"},{"scores":[0.7,0.3],"classes":"dog"}]}',
    );
  });

  it('columnar format: one output is the tensor, several an object of tensors', () => {
    expect(writeServingJson(predictResponse('columnar', { y }))).toBe('{"outputs":[3.0,3.5,4.0]}');
    expect(writeServingJson(predictResponse('columnar', { scores, classes }))).toBe('{"outputs":{"scores":[[0.1,0.9],[0.7,0.3]],"classes":["cat","dog"]}}');
  });

  it('prints floats as TF Serving does (%.6g when it reads back, else %.9g) and *_bytes outputs as base64', () => {
    // 1/3 as float32 is 0.3333333432...: "0.333333" reads back as another float, so 9 digits.
    expect(writeServingJson(tensorToJson({ dtype: 'DT_FLOAT', shape: [2], values: new Float32Array([0.1, 1 / 3]) }, 'p'))).toBe('[0.1,0.333333343]');
    const bytes: Tensor = { dtype: 'DT_STRING', shape: [1], values: [new Uint8Array([0xff, 0xef])] };
    expect(tensorToJson(bytes, 'image_bytes')).toEqual([{ b64: '/+8=' }]);
  });

  it('refuses row format when outputs disagree on the batch size', () => {
    expect(() => predictResponse('row', { y, scores })).toThrow(/output 'scores' has batch size 2, expecting 3/);
    expect(() => predictResponse('row', { s: { dtype: 'DT_INT32', shape: [], values: new Int32Array([1]) } })).toThrow(/is a scalar/);
  });
});
