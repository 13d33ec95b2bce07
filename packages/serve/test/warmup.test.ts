// Model warmup as TF Serving does it (servables/tensorflow/saved_model_warmup_util.cc): the PredictionLogs
// of assets.extra/tf_serving_warmup_requests are replayed as a version loads, before it is AVAILABLE.
// TF Serving's own test data has no warmup file (its tests write one at run time, as these do).
import fs from 'node:fs/promises';
import path from 'node:path';
import { DataType, tensorProto, writeTfRecords } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel, Tensor } from '../src/index.js';
import { MAX_WARMUP_RECORDS, WARMUP_FILE, WARMUP_ITERATIONS, replayWarmupRequests, warmupFileBytes } from '../src/warmup.js';
import { HALF_PLUS_TWO, addVersion, get, model, post, startTestServer, tempDir, waitFor } from './support/harness.js';

// Protobuf wire format by hand (protobuf.dev/programming-guides/encoding), so that the files below do
// not come from the encoder under test: a varint, and a length-delimited field.
const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
const field = (number: number, bytes: number[]): number[] => [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
const text = (s: string) => [...new TextEncoder().encode(s)];
const floats = (values: number[]) => [...new Uint8Array(Float32Array.from(values).buffer)];

/**
 * PredictionLog { predict_log (6) { request (1) { model_spec (1) { signature_name (3) }, inputs (2): map
 * entry { key (1), value (2): TensorProto { dtype (1) = DT_FLOAT, tensor_shape (2) { dim (2) { size (1) } },
 * float_val (5), packed } } } } }
 */
function predictLog(signature: string, input: string, values: number[]): Uint8Array {
  const tensor = [0x08, DataType.DT_FLOAT, ...field(2, field(2, [0x08, ...varint(values.length)])), ...field(5, floats(values))];
  const request = [...field(1, field(3, text(signature))), ...field(2, [...field(1, text(input)), ...field(2, tensor)])];
  return new Uint8Array(field(6, field(1, request)));
}
/** PredictionLog with classify_log (2) { request (1): an empty ClassificationRequest }. */
const CLASSIFY_LOG = new Uint8Array(field(2, field(1, [])));
/** PredictionLog with session_run_log (5): TF Serving answers Unsupported log_type for warmup: 5. */
const SESSION_RUN_LOG = new Uint8Array(field(5, []));

/** A model that records what it is asked to run: half_plus_two's serving_default signature. */
function recordingModel(): LoadedModel & { calls: { signature: string; inputs: Record<string, Tensor> }[] } {
  const dim = [{ size: '-1', name: '' }, { size: '1', name: '' }];
  const info = (name: string) => ({ dtype: 'DT_FLOAT', tensor_shape: { dim, unknown_rank: false }, name });
  const calls: { signature: string; inputs: Record<string, Tensor> }[] = [];
  return {
    calls,
    signatures: { serving_default: { inputs: { x: info('x:0') }, outputs: { y: info('y:0') }, method_name: 'tensorflow/serving/predict' } },
    async predict(signature, inputs) {
      calls.push({ signature, inputs });
      return { y: inputs.x };
    },
  };
}

async function versionWithWarmup(records: Uint8Array[] | Uint8Array): Promise<string> {
  const dir = await tempDir('serve-warmup-');
  await fs.mkdir(path.join(dir, 'assets.extra'));
  await fs.writeFile(path.join(dir, WARMUP_FILE), records instanceof Uint8Array ? records : writeTfRecords(records));
  return dir;
}

describe('replayWarmupRequests (saved_model_warmup_util.cc RunSavedModelWarmup)', () => {
  it('replays each predict log WARMUP_ITERATIONS times, in order, with its signature and inputs; skips classify logs and empty ones', async () => {
    const dir = await versionWithWarmup([predictLog('serving_default', 'x', [1, 2]), CLASSIFY_LOG, new Uint8Array(0), predictLog('', 'x', [5])]);
    const m = recordingModel();
    expect(await replayWarmupRequests(m, dir)).toEqual({ replayed: 2, skipped: 1 });
    const first = { signature: 'serving_default', inputs: { x: { dtype: 'DT_FLOAT', shape: [2], values: new Float32Array([1, 2]) } } };
    const second = { signature: 'serving_default', inputs: { x: { dtype: 'DT_FLOAT', shape: [1], values: new Float32Array([5]) } } };
    expect(WARMUP_ITERATIONS).toBe(3);
    expect(m.calls).toEqual([first, first, first, second, second, second]);
  });

  it('a version without the file has nothing to replay ("No warmup data file found" is not an error)', async () => {
    expect(await replayWarmupRequests(recordingModel(), HALF_PLUS_TWO)).toBeUndefined();
  });

  it('fails the load, naming the file, on what TF Serving fails it on', async () => {
    const fails = async (file: Uint8Array[] | Uint8Array, message: RegExp) => {
      const dir = await versionWithWarmup(file);
      await expect(replayWarmupRequests(recordingModel(), dir)).rejects.toThrow(message);
    };
    const good = predictLog('serving_default', 'x', [1]);
    // DATA_LOSS from the record reader, with TF Serving's hint.
    const truncated = writeTfRecords([good]).subarray(0, 20);
    await fails(truncated, /^truncated record at 0 of .*tf_serving_warmup_requests\. Please verify your warmup data is in TFRecord format\.$/);
    // A record that is not a PredictionLog (a varint field cut short).
    await fails([new Uint8Array([0x08])], /^Failed to parse warmup record 0 from .*tf_serving_warmup_requests/);
    await fails([good, SESSION_RUN_LOG], /^Unsupported log_type for warmup: 5 \(session_run_log, record 1/);
    await fails(Array.from({ length: MAX_WARMUP_RECORDS + 1 }, () => good), /^Number of warmup records exceeds the maximum \(1000\) at /);
    await fails([predictLog('nope', 'x', [1])], /warmup request 0 of .* \(signature nope\) failed: Serving signature name: "nope" not found/);
    await fails([predictLog('serving_default', 'z', [1])], /warmup request 0 .*failed: input size does not match signature/);
  });
});

describe('warmupFileBytes', () => {
  it('writes the PredictionLogs a hand-encoded file holds, byte for byte', () => {
    const inputs = { x: tensorProto(DataType.DT_FLOAT, [2], [1, 2], { fields: true }) };
    expect(warmupFileBytes([{ signatureName: 'serving_default', inputs }])).toEqual(writeTfRecords([predictLog('serving_default', 'x', [1, 2])]));
  });
});

describe('a served version with a warmup file (half_plus_two, test engine, 2 workers)', () => {
  let base: string;
  const log: string[] = [];
  beforeAll(async () => {
    base = await tempDir('serve-warmup-repo-');
  });
  afterAll(() => fs.rm(base, { recursive: true, force: true }));

  async function repositoryWith(name: string, records: Uint8Array[]): Promise<string> {
    const repo = path.join(base, name);
    await fs.mkdir(repo);
    const staging = path.join(base, `${name}-staging`);
    await fs.cp(path.join(HALF_PLUS_TWO, '00000123'), staging, { recursive: true });
    await fs.mkdir(path.join(staging, 'assets.extra'), { recursive: true });
    await fs.writeFile(path.join(staging, WARMUP_FILE), writeTfRecords(records));
    await addVersion(repo, staging, 1);
    return repo;
  }

  it('is replayed as the version loads (in the log), before it is AVAILABLE', async () => {
    const repo = await repositoryWith('ok', [predictLog('serving_default', 'x', [1, 2])]);
    const server = await startTestServer({ models: [model('hp', repo)], log: (line) => log.push(line) });
    try {
      expect(log.filter((l) => /hp@1: warmup: 1 requests replayed in \d+ ms/.test(l))).toHaveLength(1);
      expect((await get(server, '/v1/models/hp')).body.model_version_status[0].state).toBe('AVAILABLE');
      expect(await post(server, '/v1/models/hp:predict', { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    } finally {
      await server.close();
    }
  });

  it('a failing warmup request fails the load (END with the error); --enable_model_warmup=false skips the file', async () => {
    // The test engine refuses the input 13.
    const repo = await repositoryWith('failing', [predictLog('serving_default', 'x', [13])]);
    const [failed] = await Promise.allSettled([startTestServer({ models: [model('hp', repo)] }, { failOn: 13 })]);
    expect(failed.status).toBe('rejected');
    expect(String((failed as PromiseRejectedResult).reason)).toMatch(/model hp version 1 failed to load: warmup request 0 of .* failed: input 13 is refused by the test engine/);

    const server = await startTestServer({ models: [model('hp', repo)], enableModelWarmup: false }, { failOn: 13 });
    try {
      await waitFor('version 1', async () => (await get(server, '/v1/models/hp')).body.model_version_status?.[0]?.state === 'AVAILABLE');
    } finally {
      await server.close();
    }
  });
});
