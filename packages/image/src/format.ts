// Which image format a byte string holds, by its magic bytes: the one table both the model side
// (TensorFlow's rule) and the client side (a stricter rule, for picking images out of a folder) read.
import { u32le } from './bytes.js';

/** The image formats TensorFlow's DecodeImage accepts, and so the only ones we send to a model. */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'bmp';

/** A problem with one input image (unreadable, not an image, too large, undecodable). */
export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'JPEG', png: 'PNG', gif: 'GIF', bmp: 'BMP' };

export function formatName(format: ImageFormat): string {
  return FORMAT_NAMES[format];
}

// BMP DIB header sizes: BITMAPCOREHEADER, BITMAPINFOHEADER, V2, V3, OS/2 2.x, V4, V5.
const BMP_DIB_HEADER_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]);

interface Signature {
  readonly format: ImageFormat;
  /** The magic bytes of ClassifyFileFormat() in tensorflow/core/kernels/image/decode_image_op.cc. */
  readonly magic: readonly number[];
  /** More than the magic, for detectImageFormat: weak magics ("BM", "GIF8") also start text files. */
  readonly plausible?: (bytes: Uint8Array) => boolean;
}

const SIGNATURES: readonly Signature[] = [
  { format: 'jpeg', magic: [0xff, 0xd8, 0xff] },
  { format: 'png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: 'gif', magic: ascii('GIF8'), plausible: (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a')) },
  { format: 'bmp', magic: ascii('BM'), plausible: (b) => b.length >= 18 && BMP_DIB_HEADER_SIZES.has(u32le(b, 14)) },
];

/** TensorFlow's ClassifyFileFormat(): the format by magic bytes alone, as DecodeImage picks its decoder. */
export function classifyImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  return SIGNATURES.find((s) => startsWith(bytes, s.magic))?.format;
}

/**
 * The image format from the leading bytes, or undefined when they are not JPEG, PNG, GIF or BMP. Stricter
 * than classifyImageFormat: a GIF must name version 87a or 89a and a BMP a known DIB header size, so a
 * text file starting with "BM" is not taken for a bitmap.
 */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const signature = SIGNATURES.find((s) => startsWith(bytes, s.magic));
  if (signature === undefined || (signature.plausible && !signature.plausible(bytes))) return undefined;
  return signature.format;
}

/** "starts with ff 00 68 69 …" plus the text when the bytes are printable, for not-an-image messages. */
export function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 8);
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const printable = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
  const text = printable ? ` ${JSON.stringify(String.fromCharCode(...head))}` : '';
  return `starts with ${hex}${bytes.length > 8 ? ' …' : ''}${text}`;
}

export function notAnImageMessage(name: string, bytes: Uint8Array): string {
  if (bytes.length === 0) return `${name} is empty (0 bytes)`;
  return `${name} is not a JPEG, PNG, GIF or BMP image (${describeStart(bytes)})`;
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}
