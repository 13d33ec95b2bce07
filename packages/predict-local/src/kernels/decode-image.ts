// TensorFlow's image decode ops (tensorflow/core/kernels/image/decode_image_op.cc): which op reads which
// format, output rank and dtype. The pixels come from @tensorsky/image's decoder for the format, after
// the header has been checked against the model's image limits (carried by the decode nodes' attrs).
// No TF.js here: the decode pool's worker threads run this module (decode-kernels.ts makes the tensors).
import {
  DEFAULT_IMAGE_LIMITS,
  ImageInputError,
  checkImageHeader,
  classifyImageFormat,
  decodePixels,
  toDtype,
  type DecodedImage,
  type ImageDtype,
  type ImageLimits,
  type JpegDctMethod,
  type Pixels,
} from '@tensorsky/image';
import { DataType, dataTypeName, dtypeInfo, type FrozenGraph, type NodeDef } from '@tensorsky/saved-model';
import { OpError, boolAttr, numberAttr, stringAttr, type GraphNode } from './kernel.js';

export type DecodeOp = 'DecodeJpeg' | 'DecodeAndCropJpeg' | 'DecodePng' | 'DecodeGif' | 'DecodeBmp' | 'DecodeImage';

export const DECODE_OPS: readonly DecodeOp[] = ['DecodeJpeg', 'DecodeAndCropJpeg', 'DecodePng', 'DecodeGif', 'DecodeBmp', 'DecodeImage'];

export interface DecodeAttrs {
  /** 0 = the image's own channel count; 1, 3 or 4 (DecodeGif: always 3). */
  channels?: number;
  /** DecodeJpeg/DecodeAndCropJpeg: downscaling by 1, 2, 4 or 8 in the IDCT. */
  ratio?: number;
  /** DecodeJpeg/DecodeAndCropJpeg: '' or 'INTEGER_FAST' (libjpeg's IFAST IDCT), 'INTEGER_ACCURATE' (ISLOW). */
  dct_method?: string;
  /** DecodeJpeg/DecodeAndCropJpeg: libjpeg's fancy (smooth) chroma upsampling, default true. */
  fancy_upscaling?: boolean;
  try_recover_truncated?: boolean;
  /** DecodePng / DecodeImage output dtype. */
  dtype?: ImageDtype;
  /** DecodeImage: GIF gives [frames, h, w, 3] when true, the first frame [h, w, 3] when false. */
  expand_animations?: boolean;
  /** DecodeAndCropJpeg: [y, x, height, width]. */
  crop_window?: [number, number, number, number];
  /** Default DEFAULT_IMAGE_LIMITS; only the per-image ones apply to one decode. */
  limits?: ImageLimits;
}

/** Attrs (internal, "_" names) through which a model's per-image limits reach its decode nodes. */
const LIMIT_ATTRS = { maxImagePixels: '_tensorsky_max_image_pixels', maxGifFrames: '_tensorsky_max_gif_frames' } as const;

/** The graph with `limits` set on every decode node (the kernels are shared by all models of the thread). */
export function withDecodeLimits(graph: FrozenGraph, limits: ImageLimits): FrozenGraph {
  const set = (node: NodeDef): NodeDef =>
    isDecodeOp(node.op)
      ? { ...node, attr: { ...node.attr, [LIMIT_ATTRS.maxImagePixels]: { i: limits.maxImagePixels }, [LIMIT_ATTRS.maxGifFrames]: { i: limits.maxGifFrames } } }
      : node;
  return { ...graph, nodes: graph.nodes.map(set), functions: graph.functions.map((f) => ({ ...f, node_def: f.node_def?.map(set) })) };
}

function cropPixels(p: Pixels, [y, x, h, w]: [number, number, number, number]): Pixels {
  if (h <= 0 || w <= 0 || y < 0 || x < 0 || y + h > p.height || x + w > p.width) {
    throw new OpError(`DecodeAndCropJpeg: crop window [${y}, ${x}, ${h}, ${w}] is not inside the ${p.height}x${p.width} image`);
  }
  const out = new Uint8Array(h * w * p.channels);
  for (let r = 0; r < h; r++) {
    const from = ((y + r) * p.width + x) * p.channels;
    out.set(p.data.subarray(from, from + w * p.channels), r * w * p.channels);
  }
  return { ...p, height: h, width: w, data: out };
}

const DCT_METHODS: Readonly<Record<string, JpegDctMethod>> = { '': 'fast', INTEGER_FAST: 'fast', INTEGER_ACCURATE: 'accurate' };

/**
 * The JPEG settings of decode_image_op.cc: only DecodeJpeg and DecodeAndCropJpeg have the attrs; every
 * other op decodes a JPEG with the defaults (IFAST IDCT, fancy upsampling, ratio 1, no recovery).
 * acceptable_fraction is not needed: with try_recover_truncated TensorFlow's source manager ends a
 * truncated stream with a fake EOI, so libjpeg returns every line; without it a truncated stream fails.
 */
function jpegOptions(op: DecodeOp, attrs: DecodeAttrs) {
  if (op !== 'DecodeJpeg' && op !== 'DecodeAndCropJpeg') return { dctMethod: 'fast' as const };
  const ratio = attrs.ratio ?? 1;
  if (![1, 2, 4, 8].includes(ratio)) throw new OpError(`ratio must be 1, 2, 4, or 8, got ${ratio}`);
  // Upper-cased: tfjs-converter lower-cases string attrs.
  const dctMethod = DCT_METHODS[(attrs.dct_method ?? '').toUpperCase()];
  if (!dctMethod) throw new OpError("dct_method must be one of {'', 'INTEGER_FAST', 'INTEGER_ACCURATE'}");
  return { dctMethod, ratio, fancyUpscaling: attrs.fancy_upscaling ?? true };
}

/**
 * Runs one of TensorFlow's image decode ops on encoded bytes, with the op's rules on which formats it
 * accepts (DecodeJpeg/DecodePng/DecodeGif read JPEG, PNG and GIF; DecodeBmp only BMP), channel
 * conversion, output rank (DecodeGif 4-D; DecodeImage 4-D for GIF unless expand_animations is false)
 * and dtype. JPEG pixels are libjpeg-turbo's with TensorFlow's IDCT, upsampling and scaling (jpegOptions).
 */
export async function decodeImage(op: DecodeOp, bytes: Uint8Array, attrs: DecodeAttrs = {}): Promise<DecodedImage> {
  const channels = op === 'DecodeGif' ? 3 : (attrs.channels ?? 0);
  if (![0, 1, 3, 4].includes(channels)) throw new OpError(`\`channels\` must be 0, 1, 3 or 4 but got ${channels}`);
  const dtype: ImageDtype = op === 'DecodePng' || op === 'DecodeImage' ? (attrs.dtype ?? 'uint8') : 'uint8';
  if (bytes.length === 0) throw new OpError('Input is empty.');
  const format = classifyImageFormat(bytes);
  if (!format) throw new OpError('Unknown image file format. One of JPEG, PNG, GIF, BMP required.');
  if (op === 'DecodeBmp' && format !== 'bmp') {
    throw new OpError(`Trying to decode ${format.toUpperCase()} format using DecodeBmp op. Use \`decode_${format}\` or \`decode_image\` instead.`);
  }
  if (format === 'bmp' && op !== 'DecodeBmp' && op !== 'DecodeImage') {
    throw new OpError(`Trying to decode BMP format using a wrong op. Use \`decode_bmp\` or \`decode_image\` instead. Op used: ${op}`);
  }
  if (op === 'DecodeAndCropJpeg' && format !== 'jpeg') {
    throw new OpError(`DecodeAndCropJpeg operation can run on JPEG only, but detected ${format.toUpperCase()}.`);
  }
  const jpeg = jpegOptions(op, attrs);
  // DecodeJpeg/DecodePng read every GIF frame, to refuse an animation rather than return its first frame.
  const expand = op === 'DecodeGif' || (op === 'DecodeImage' && attrs.expand_animations !== false);
  const allFrames = format === 'gif' && (expand || op === 'DecodeJpeg' || op === 'DecodePng');
  const limits = attrs.limits ?? DEFAULT_IMAGE_LIMITS;
  let pixels: Pixels;
  try {
    checkImageHeader(bytes, limits, 'the image', allFrames);
    pixels = await decodePixels(bytes, format, {
      ...(format === 'jpeg' ? jpeg : {}),
      channels,
      allFrames,
      // TensorFlow decodes a PNG at 16 bits for uint16 and float (png_io.cc), so 8-bit samples widen by 257.
      bits: dtype === 'uint8' ? 8 : 16,
      failOn: attrs.try_recover_truncated ? 'none' : 'truncated',
      maxPixels: limits.maxImagePixels,
    });
  } catch (err) {
    if (err instanceof ImageInputError) throw new OpError(err.message);
    throw err;
  }
  if (op === 'DecodeAndCropJpeg') {
    if (!attrs.crop_window) throw new OpError('DecodeAndCropJpeg needs a crop_window of 4 int32 values');
    pixels = cropPixels(pixels, attrs.crop_window);
  }
  if ((op === 'DecodeJpeg' || op === 'DecodePng') && pixels.frames > 1) {
    throw new OpError(`Got ${pixels.frames} frames, but animated gifs can only be decoded by tf.io.decode_gif or tf.io.decode_image`);
  }

  const hwc = [pixels.height, pixels.width, pixels.channels];
  const fourD = op === 'DecodeGif' || (format === 'gif' && op === 'DecodeImage' && attrs.expand_animations !== false);
  return toDtype(pixels, dtype, fourD ? [pixels.frames, ...hwc] : hwc);
}

/** The dtypes an image decoder can output (the `dtype` attr of DecodeImage and DecodePng). */
const IMAGE_DTYPES: ReadonlySet<DataType> = new Set([DataType.DT_UINT8, DataType.DT_UINT16, DataType.DT_FLOAT]);

export function isDecodeOp(op: string): op is DecodeOp {
  return (DECODE_OPS as readonly string[]).includes(op);
}

/** Decodes one image as decodeImage does: in this thread, or in a DecodePool's worker. */
export type ImageDecoder = (op: DecodeOp, bytes: Uint8Array, attrs: DecodeAttrs) => Promise<DecodedImage>;

/** A decode node's encoded image and attrs, checked as TensorFlow's kernel checks them. */
export async function readDecodeNode(op: DecodeOp, node: GraphNode): Promise<{ bytes: Uint8Array; attrs: DecodeAttrs }> {
  const [contents, cropWindow] = node.inputs;
  if (contents.rank !== 0) throw new OpError(`${op}: contents must be a scalar, got shape [${contents.shape.join(', ')}]`);
  const dtypeEnum = numberAttr(node, 'dtype');
  const dtype = dtypeEnum !== undefined && IMAGE_DTYPES.has(dtypeEnum) ? (dtypeInfo(dtypeEnum).name as ImageDtype) : undefined;
  if (dtypeEnum !== undefined && !dtype) throw new OpError(`${op}: dtype ${dataTypeName(dtypeEnum)} is not supported`);
  const attrs: DecodeAttrs = {
    channels: numberAttr(node, 'channels'),
    ratio: numberAttr(node, 'ratio'),
    dct_method: stringAttr(node, 'dct_method'),
    fancy_upscaling: boolAttr(node, 'fancy_upscaling'),
    try_recover_truncated: boolAttr(node, 'try_recover_truncated'),
    dtype,
    expand_animations: boolAttr(node, 'expand_animations'),
    limits: {
      ...DEFAULT_IMAGE_LIMITS,
      maxImagePixels: numberAttr(node, LIMIT_ATTRS.maxImagePixels) ?? DEFAULT_IMAGE_LIMITS.maxImagePixels,
      maxGifFrames: numberAttr(node, LIMIT_ATTRS.maxGifFrames) ?? DEFAULT_IMAGE_LIMITS.maxGifFrames,
    },
  };
  if (op === 'DecodeAndCropJpeg') {
    const window = Array.from(await cropWindow.data());
    if (window.length !== 4) throw new OpError(`DecodeAndCropJpeg: crop_window must have 4 elements, got ${window.length}`);
    attrs.crop_window = window as [number, number, number, number];
  }
  const [bytes] = (await contents.bytes()) as Uint8Array[];
  return { bytes: bytes!, attrs };
}
