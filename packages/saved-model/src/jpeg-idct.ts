// Which IDCT a graph's image decode ops give JPEGs, read from the nodes as TensorFlow reads them
// (tensorflow/core/kernels/image/decode_image_op.cc): in TF 2.x every decode op but DecodeBmp decodes a
// JPEG, DecodeJpeg and DecodeAndCropJpeg with libjpeg's ISLOW IDCT when dct_method is "INTEGER_ACCURATE"
// and IFAST otherwise ("" or "INTEGER_FAST"), the others always with IFAST.
import type { NodeDef } from './proto.js';

export type JpegIdct = 'accurate' | 'fast';

/** Decode ops that read JPEGs, and whether their dct_method attr applies. */
const JPEG_READING_OPS: Readonly<Record<string, boolean>> = {
  DecodeJpeg: true,
  DecodeAndCropJpeg: true,
  DecodeImage: false,
  DecodePng: false,
  DecodeGif: false,
};

/** The IDCT `node` decodes JPEGs with, or undefined when it does not decode JPEGs. */
export function jpegIdctOf(node: NodeDef): JpegIdct | undefined {
  const hasDctAttr = JPEG_READING_OPS[node.op];
  if (hasDctAttr === undefined) return undefined;
  const method = hasDctAttr && node.attr?.dct_method?.s ? new TextDecoder().decode(node.attr.dct_method.s) : '';
  return method === 'INTEGER_ACCURATE' ? 'accurate' : 'fast';
}

export interface JpegDecoderSummary {
  op: string;
  idct: JpegIdct;
  count: number;
}

/** The graph's JPEG-reading decode ops grouped by op and IDCT, in node order. */
export function summarizeJpegDecoders(nodes: readonly NodeDef[]): JpegDecoderSummary[] {
  const groups = new Map<string, JpegDecoderSummary>();
  for (const node of nodes) {
    const idct = jpegIdctOf(node);
    if (!idct) continue;
    const key = `${node.op} ${idct}`;
    const group = groups.get(key) ?? { op: node.op, idct, count: 0 };
    group.count += 1;
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * The IDCT a serving graph gives JPEGs: 'accurate' when a decode op with dct_method INTEGER_ACCURATE is
 * present (an export with --jpeg_dct accurate sends JPEGs there, other formats to DecodeImage), else
 * 'fast' when the graph decodes images at all, else undefined.
 */
export function servedJpegIdct(nodes: readonly NodeDef[]): JpegIdct | undefined {
  let decodes = false;
  for (const node of nodes) {
    const idct = jpegIdctOf(node);
    if (idct === 'accurate') return idct;
    decodes ||= idct !== undefined;
  }
  return decodes ? 'fast' : undefined;
}
