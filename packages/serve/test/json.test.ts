// JSON as TF Serving reads and writes it (tensorflow_serving/util/json_tensor.cc): rapidjson's NaN and
// Infinity tokens, 3 told from 3.0, IsLosslessDecimal's refusals, and WriteDecimal's digits. Where
// python3 is here, its printf ("%.6g", "%.9g") with numpy's float32 is the reference for the digits.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { JsonNumber, formatDecimal, formatG, parseServingJson } from '../src/json.js';
import { HALF_PLUS_TWO, model, startTestServer } from './support/harness.js';

/** POSTs raw JSON text (fetch would not let NaN through JSON.stringify) and returns status and text. */
async function postText(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, text: await res.text() };
}

describe('parseServingJson', () => {
  it('reads NaN, Inf, Infinity and their negatives as numbers, keeping every number as written', () => {
    const parsed = parseServingJson('{"a": [NaN, Infinity, -Infinity, Inf, -Inf, 3, 3.0, -0.5e-3, 9007199254740993]}') as { a: JsonNumber[] };
    expect(parsed.a.map((n) => n.value)).toEqual([NaN, Infinity, -Infinity, Infinity, -Infinity, 3, 3, -0.0005, 9007199254740992]);
    expect(parsed.a.map((n) => n.isInteger)).toEqual([false, false, false, false, false, true, false, false, true]);
    expect(parsed.a[8].text).toBe('9007199254740993');
    expect(Object.getPrototypeOf(parsed)).toBe(null);
  });

  it.each([
    ['', /The document is empty/],
    ['{"a": 1,}', /Missing a name for object member at offset: 8/],
    ['[1 2]', /Missing a comma or '\]' after an array element at offset: 3/],
    ['{"a": nan}', /Invalid value at offset: 6/],
    ['[1e400]', /Number too big to be stored in double at offset: 1/],
    ['{"a": "x\\q"}', /Invalid string/],
    ['[1] 2', /must not be followed by other values/],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseServingJson(text)).toThrow(message);
  });

  it('decodes strings with escapes and unicode exactly as JSON does', () => {
    const text = JSON.stringify({ s: 'a"b\\c\n\u00e9\u{1F600}', t: '\\' });
    expect({ ...(parseServingJson(text) as object) }).toEqual(JSON.parse(text));
  });
});

describe('formatDecimal (WriteDecimal)', () => {
  it.each([
    [3, 'float', '3.0'],
    [0.1, 'float', '0.1'],
    [1 / 3, 'float', '0.333333343'],
    [9000000, 'float', '9e+06'],
    [0.00003, 'float', '3e-05'],
    [1234567, 'float', '1234567.0'],
    [1e38, 'float', '1e+38'],
    [-0, 'float', '-0.0'],
    [NaN, 'float', 'NaN'],
    [-Infinity, 'double', '-Infinity'],
    [0.1, 'double', '0.1'],
    [1 / 3, 'double', '0.33333333333333331'],
  ] as const)('%d as %s is %s', (value, precision, text) => {
    expect(formatDecimal(precision === 'float' ? Math.fround(value) : value, precision)).toBe(text);
  });

  const python = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!python)('matches printf (python3 with numpy) on 2,000 float32 values of every magnitude', () => {
    const values = Float32Array.from({ length: 2000 }, (_, i) => {
      const x = Math.sin(i * 12.9898) * 43758.5453;
      return (x - Math.floor(x) - 0.5) * 10 ** ((i % 60) - 30);
    });
    const script = [
      'import sys, numpy as np',
      'for line in sys.stdin.read().split():',
      '  v = np.float32(float(line)); s = "%.6g" % v',
      '  if np.float32(float(s)) != v: s = "%.9g" % v',
      '  if "." not in s and "e" not in s: s += ".0"',
      '  print(s)',
    ].join('\n');
    const result = spawnSync('python3', ['-c', script], { input: Array.from(values, (v) => v.toPrecision(17)).join('\n'), encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(Array.from(values, (v) => formatDecimal(v, 'float'))).toEqual(result.stdout.trim().split('\n'));
    expect(formatG(123456789, 6)).toBe('1.23457e+08');
  });
});

describe('JSON through :predict (half_plus_two, y = 0.5x + 2)', () => {
  it('takes NaN and Infinity, writes whole floats with .0, and casts numbers a float cannot hold as TF Serving 2.5+ does', async () => {
    const server = await startTestServer({ models: [model('hp', HALF_PLUS_TWO)] });
    try {
      const url = `${server.url}/v1/models/hp:predict`;
      expect(await postText(url, '{"instances": [NaN, Infinity, -Infinity, 2.0, 1e38, 0.1]}')).toEqual({
        status: 200,
        text: '{"predictions":[NaN,Infinity,-Infinity,3.0,5e+37,2.05]}',
      });
      // The largest integer a float holds exactly is 2^24 - 1; 8388609.5 rounds to the float 8388610.
      expect(await postText(url, '{"instances": [16777215]}')).toEqual({ status: 200, text: '{"predictions":[8.38861e+06]}' });
      // json_tensor.cc takes any number for a float and casts it (GetFloat()): 1e39 is Infinity, 2^24 + 1 is 2^24.
      expect(await postText(url, '{"instances": [1e39, -3.5e38, 16777217]}')).toEqual({ status: 200, text: '{"predictions":[Infinity,-Infinity,8.38861e+06]}' });
      const parseError = await postText(url, '{"instances": [1,]}');
      expect(parseError.status).toBe(400);
      expect(JSON.parse(parseError.text).error).toMatch(/^JSON Parse error: Invalid value at offset: 17/);
    } finally {
      await server.close();
    }
  });
});
