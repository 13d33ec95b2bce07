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

/**
 * Decodes base64 in either alphabet, with or without `=` padding. Anything else (whitespace, other
 * characters, both alphabets mixed, misplaced padding, impossible lengths) is rejected rather than
 * skipped, since silently dropped characters would corrupt image bytes.
 */
export function fromBase64(text: string): Uint8Array {
  const padding = /=*$/.exec(text)?.[0].length ?? 0;
  const data = text.slice(0, text.length - padding);
  const bad = /[^A-Za-z0-9+/_-]/.exec(data);
  if (bad !== null) {
    const what = bad[0] === '=' ? 'padding "=" before the end' : `character ${JSON.stringify(bad[0])}`;
    throw new Base64Error(`invalid base64: ${what} at position ${bad.index}`);
  }
  if (/[+/]/.test(data) && /[-_]/.test(data)) {
    throw new Base64Error('invalid base64: mixes the standard (+ /) and web-safe (- _) alphabets');
  }
  if (data.length % 4 === 1) {
    throw new Base64Error(`invalid base64: ${data.length} characters cannot encode whole bytes (truncated?)`);
  }
  if (padding > 0 && (padding > 2 || (data.length + padding) % 4 !== 0)) {
    throw new Base64Error(`invalid base64: ${padding} padding character(s) after ${data.length} characters`);
  }
  // Buffer's base64 decoder reads both alphabets; the checks above ensure it skips nothing.
  return new Uint8Array(Buffer.from(data, 'base64'));
}
