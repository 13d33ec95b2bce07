// Base64 as TensorFlow and its servers use it: one module for the graph's DecodeBase64/EncodeBase64
// (web-safe alphabet, tensorflow/core/lib/strings/base64.cc) and for TF Serving's {"b64": ...} JSON
// (standard alphabet).
/**
 * 'web-safe' (RFC 4648 §5, `-` and `_`) is what TensorFlow's DecodeBase64 op reads, so it is used for
 * the string fed to an exported graph; 'standard' (`+` and `/`) is what TF Serving's {"b64": ...} JSON uses.
 */
export type Base64Alphabet = 'web-safe' | 'standard';

export class Base64Error extends Error {
  override name = 'Base64Error';
}

export interface ToBase64Options {
  /** Add `=` padding; default true for 'standard', false for 'web-safe' (as TensorFlow's EncodeBase64). */
  readonly pad?: boolean;
}

export function toBase64(bytes: Uint8Array, alphabet: Base64Alphabet, options: ToBase64Options = {}): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const unpadded = buffer.toString('base64url');
  const encoded = alphabet === 'standard' ? unpadded.replace(/-/g, '+').replace(/_/g, '/') : unpadded;
  const pad = options.pad ?? alphabet === 'standard';
  return pad ? encoded + '='.repeat((4 - (encoded.length % 4)) % 4) : encoded;
}

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard-alphabet base64 as TF Serving's JSON reads {"b64": ...}: `=` padding optional but,
 * when present, completing the last group. Anything else is a Base64Error, never skipped characters.
 */
export function fromStandardBase64(text: string): Uint8Array {
  const unpadded = text.replace(/=+$/, '');
  const valid = STANDARD.test(text) && unpadded.length % 4 !== 1 && (unpadded.length === text.length || text.length % 4 === 0);
  if (!valid) throw new Base64Error('not valid base64 (the standard alphabet A-Z a-z 0-9 + / with optional = padding)');
  return Uint8Array.from(Buffer.from(text, 'base64'));
}

const WEB_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE_TABLE = (() => {
  const table = new Int16Array(256).fill(-1);
  for (let i = 0; i < WEB_SAFE.length; i++) table[WEB_SAFE.charCodeAt(i)] = i;
  return table;
})();
const PAD = 0x3d; // '='

function decodeQuad(src: Uint8Array, at: number, out: Uint8Array, to: number): void {
  const a = DECODE_TABLE[src[at]];
  const b = DECODE_TABLE[src[at + 1]];
  const c = DECODE_TABLE[src[at + 2]];
  const d = DECODE_TABLE[src[at + 3]];
  if ((a | b | c | d) < 0) throw new Base64Error('DecodeBase64: invalid character found in base64 (TensorFlow expects the web-safe alphabet: - and _ instead of + and /)');
  const packed = (a << 18) | (b << 12) | (c << 6) | d;
  out[to] = packed >>> 16;
  out[to + 1] = (packed >>> 8) & 0xff;
  out[to + 2] = packed & 0xff;
}

/**
 * Decodes web-safe base64 exactly as TensorFlow's DecodeBase64: padding is optional, '=' is accepted only
 * as padding of the last group, a length of 1 modulo 4 is an error, and the standard alphabet's '+' and
 * '/' are invalid.
 */
export function decodeBase64WebSafe(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(3 * Math.floor(data.length / 4) + 3);
  let pos = 0;
  let written = 0;
  let end = data.length;
  while (end - pos > 4) {
    decodeQuad(data, pos, out, written);
    pos += 4;
    written += 3;
  }
  if (end - pos === 4) {
    if (data[pos + 2] === PAD && data[pos + 3] === PAD) end -= 2;
    if (data[pos + 2] !== PAD && data[pos + 3] === PAD) end -= 1;
  }
  const remain = end - pos;
  if (remain === 1) throw new Base64Error('DecodeBase64: base64 string length cannot be 1 modulo 4');
  const tail = new Uint8Array(4).fill(WEB_SAFE.charCodeAt(0));
  tail.set(data.subarray(pos, end));
  decodeQuad(tail, 0, out, written);
  return out.slice(0, written + remain - 1);
}

/** TensorFlow's EncodeBase64: web-safe alphabet, '=' padding only when `pad`. */
export function encodeBase64WebSafe(data: Uint8Array, pad: boolean): Uint8Array {
  return new TextEncoder().encode(toBase64(data, 'web-safe', { pad }));
}
