import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Base64Error, fromBase64, toBase64 } from '../src/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);

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

describe('fromBase64', () => {
  it.each(RFC_4648)('decodes %j from %j with or without padding', (text, encoded) => {
    expect(Buffer.from(fromBase64(encoded)).toString()).toBe(text);
    expect(Buffer.from(fromBase64(encoded.replace(/=+$/, ''))).toString()).toBe(text);
  });

  it('decodes both alphabets, padded or not, back to the original bytes', () => {
    for (let length = 0; length < 70; length++) {
      const data = randomBytes(length);
      for (const encoded of [
        data.toString('base64'),
        data.toString('base64').replace(/=+$/, ''),
        data.toString('base64url'),
        data.toString('base64').replace(/\+/g, '-').replace(/\//g, '_'), // web-safe, padded
      ]) {
        expect(Buffer.compare(Buffer.from(fromBase64(encoded)), data)).toBe(0);
      }
    }
    expect(Array.from(fromBase64('+/+/'))).toEqual([0xfb, 0xff, 0xbf]);
    expect(Array.from(fromBase64('-_-_'))).toEqual([0xfb, 0xff, 0xbf]);
  });

  it('rejects characters outside both alphabets, naming the character and position', () => {
    expect(() => fromBase64('Zm9v YmFy')).toThrow('invalid base64: character " " at position 4');
    expect(() => fromBase64('Zm9v\nYmFy')).toThrow('invalid base64: character "\\n" at position 4');
    expect(() => fromBase64('Zm9*')).toThrow('invalid base64: character "*" at position 3');
    expect(() => fromBase64('Zm9vYmFy.')).toThrow(Base64Error);
  });

  it('rejects misplaced or excess padding and impossible lengths', () => {
    expect(() => fromBase64('Zm=9')).toThrow('invalid base64: padding "=" before the end at position 2');
    expect(() => fromBase64('Zg=')).toThrow('invalid base64: 1 padding character(s) after 2 characters');
    expect(() => fromBase64('Zm9v=')).toThrow('padding character(s) after 4 characters');
    expect(() => fromBase64('Zg===')).toThrow('3 padding character(s)');
    expect(() => fromBase64('Zm9vY')).toThrow('invalid base64: 5 characters cannot encode whole bytes');
    expect(() => fromBase64('Z===')).toThrow('1 characters cannot encode whole bytes');
  });

  it('rejects a mix of both alphabets', () => {
    expect(() => fromBase64('+_AA')).toThrow('mixes the standard (+ /) and web-safe (- _) alphabets');
  });
});
