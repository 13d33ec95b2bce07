import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64WebSafe, encodeBase64WebSafe, toBase64 } from '../src/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = bytes;
const str = (b: Uint8Array) => new TextDecoder().decode(b);

// RFC 4648 section 10 test vectors.
const RFC_4648: [string, string][] = [
  ['', ''],
  ['f', 'Zg=='],
  ['fo', 'Zm8='],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg=='],
  ['fooba', 'Zm9vYmE='],
  ['foobar', 'Zm9vYmFy'],
];

describe('toBase64', () => {
  it.each(RFC_4648)('encodes %j as %j (standard, padded; web-safe unpadded)', (text, encoded) => {
    expect(toBase64(bytes(text), 'standard')).toBe(encoded);
    expect(toBase64(bytes(text), 'web-safe')).toBe(encoded.replace(/=+$/, ''));
    expect(toBase64(bytes(text), 'web-safe', { pad: true })).toBe(encoded);
    expect(toBase64(bytes(text), 'standard', { pad: false })).toBe(encoded.replace(/=+$/, ''));
  });

  it('uses + / in the standard alphabet and - _ in the web-safe one', () => {
    // fb ff bf = 111110 111111 111110 111111 = 62 63 62 63.
    expect(toBase64(new Uint8Array([0xfb, 0xff, 0xbf]), 'standard')).toBe('+/+/');
    expect(toBase64(new Uint8Array([0xfb, 0xff, 0xbf]), 'web-safe')).toBe('-_-_');
  });

  it("matches Node's base64 and base64url encoders on random data", () => {
    for (let length = 0; length < 70; length++) {
      const data = randomBytes(length);
      expect(toBase64(data, 'standard')).toBe(data.toString('base64'));
      expect(toBase64(data, 'web-safe')).toBe(data.toString('base64url'));
    }
  });

  it('encodes only the bytes of a view, not its whole buffer', () => {
    const whole = randomBytes(64);
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 5, 10);
    expect(toBase64(view, 'standard')).toBe(whole.subarray(5, 15).toString('base64'));
  });
});

describe('DecodeBase64 / EncodeBase64 (TensorFlow web-safe base64)', () => {
  it('decodes with or without padding', () => {
    expect(str(decodeBase64WebSafe(text('aGVsbG8')))).toBe('hello');
    expect(str(decodeBase64WebSafe(text('aGVsbG8=')))).toBe('hello');
    expect(str(decodeBase64WebSafe(text('aGk')))).toBe('hi');
    expect(str(decodeBase64WebSafe(text('aGk=')))).toBe('hi');
    expect(str(decodeBase64WebSafe(text('aA==')))).toBe('h');
    expect(decodeBase64WebSafe(text(''))).toEqual(new Uint8Array(0));
  });

  it('uses the URL-safe alphabet of RFC 4648 §5 and rejects + and /', () => {
    expect(Array.from(decodeBase64WebSafe(text('-_8')))).toEqual([0xfb, 0xff]);
    expect(() => decodeBase64WebSafe(text('+/8='))).toThrow(/invalid character/);
    expect(() => decodeBase64WebSafe(text('aG=s'))).toThrow(/invalid character/);
    expect(() => decodeBase64WebSafe(text('aGVsb'))).toThrow(/1 modulo 4/);
  });

  it('encodes web-safe, padded only when asked', () => {
    expect(str(encodeBase64WebSafe(Uint8Array.from([0xfb, 0xff]), false))).toBe('-_8');
    expect(str(encodeBase64WebSafe(Uint8Array.from([0xfb, 0xff]), true))).toBe('-_8=');
    expect(str(encodeBase64WebSafe(text('hello'), true))).toBe('aGVsbG8=');
  });
});
