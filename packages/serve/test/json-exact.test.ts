// JSON numbers through a whole server as TF Serving reads and writes them (tensorflow_serving/util/
// json_tensor.cc), with an engine that echoes its inputs so that the answer shows what was read.
import fs from 'node:fs/promises';
import path from 'node:path';
import { DataType, GraphBuilder, writeSavedModel } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelServer } from '../src/index.js';
import { model, startTestServer, tempDir } from './support/harness.js';

/** serving_default echoes x to y, for one dtype per model. */
async function writeEchoModel(dir: string, dtype: DataType): Promise<void> {
  const g = new GraphBuilder();
  const x = g.placeholder('x', dtype, [-1]);
  const y = g.identity(x, { name: 'y' });
  const meta = { meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: g.signature({ x }, { y }) } };
  await writeSavedModel(dir, { savedModel: { saved_model_schema_version: 1, meta_graphs: [meta] } });
}

async function postText(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, text: await res.text() };
}

describe('JSON numbers, read and written as TF Serving does (echo models)', () => {
  let base: string;
  let server: ModelServer;
  const url = (name: string) => `${server.url}/v1/models/${name}:predict`;
  beforeAll(async () => {
    base = await tempDir('serve-json-exact-');
    const models = { float: DataType.DT_FLOAT, double: DataType.DT_DOUBLE, int64: DataType.DT_INT64, uint64: DataType.DT_UINT64, int32: DataType.DT_INT32 };
    for (const [name, dtype] of Object.entries(models)) await writeEchoModel(path.join(base, name, '1'), dtype);
    server = await startTestServer({
      models: Object.keys(models).map((name) => model(name, path.join(base, name))),
      workers: 1,
      engine: { module: new URL('./support/echo-engine.mjs', import.meta.url) },
    });
  });
  afterAll(async () => {
    await server?.close();
    if (base) await fs.rm(base, { recursive: true, force: true });
  });

  it('int64: 2^53 + 1 and the int64 extremes are read from their digits and written with all of them (rapidjson GetInt64 / Writer::Int64)', async () => {
    const values = '[9007199254740993,-9007199254740993,9223372036854775807,-9223372036854775808,0]';
    expect(await postText(url('int64'), `{"instances": ${values}}`)).toEqual({ status: 200, text: `{"predictions":${values}}` });
    expect(await postText(url('int64'), `{"inputs": ${values}}`)).toEqual({ status: 200, text: `{"outputs":${values}}` });
    expect(await postText(url('uint64'), '{"instances": [18446744073709551615, 9007199254740993]}')).toEqual({
      status: 200,
      text: '{"predictions":[18446744073709551615,9007199254740993]}',
    });
    // Beyond int64, or not an integer (rapidjson's IsInt64 is false): TF Serving's TypeError, a 400.
    for (const bad of ['9223372036854775808', '1.0', '1e3']) {
      expect((await postText(url('int64'), `{"instances": [${bad}]}`)).status).toBe(400);
    }
  });

  it('float: NaN, Infinity, -Infinity and 3.0 round trip; 1e38 is taken, and so are 1e39 and 2^24 + 1, cast as GetFloat() casts', async () => {
    expect(await postText(url('float'), '{"instances": [NaN, Infinity, -Infinity, 3.0, 3, 1e38, -1e38]}')).toEqual({
      status: 200,
      text: '{"predictions":[NaN,Infinity,-Infinity,3.0,3.0,1e+38,-1e+38]}',
    });
    // TF Serving 2.5+ (tensorflow/serving 57dac6cd) converts rather than refuses: json_tensor_test.cc's
    // FloatTensorThatExceedsMaxReturnsInf (DBL_MAX -> inf) and FloatTensorWithPrecisionLoss (1435774380 taken).
    expect(await postText(url('float'), '{"instances": [1e39, -1e39, 16777217, 1435774380]}')).toEqual({
      status: 200,
      text: '{"predictions":[Infinity,-Infinity,16777216.0,1.43577434e+09]}',
    });
    // A double holds them: 1e39 and 2^53 + 1 (as the double 2^53).
    expect(await postText(url('double'), '{"instances": [1e39, 9007199254740993, NaN]}')).toEqual({
      status: 200,
      text: '{"predictions":[1e+39,9007199254740992.0,NaN]}',
    });
    // Beyond a double, rapidjson stops parsing: "Number too big to be stored in double".
    const tooBig = await postText(url('double'), '{"instances": [1e400]}');
    expect(tooBig.status).toBe(400);
    expect(JSON.parse(tooBig.text).error).toMatch(/^JSON Parse error: Number too big to be stored in double/);
  });

  it('int32: 3.0 is no integer (TypeError), 2^31 is beyond int32', async () => {
    expect(await postText(url('int32'), '{"instances": [3, -2147483648]}')).toEqual({ status: 200, text: '{"predictions":[3,-2147483648]}' });
    expect((await postText(url('int32'), '{"instances": [3.0]}')).status).toBe(400);
    expect((await postText(url('int32'), '{"instances": [2147483648]}')).status).toBe(400);
  });
});
