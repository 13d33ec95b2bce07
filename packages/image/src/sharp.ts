// PNG and GIF pixels from sharp (libvips, libspng, libnsgif).
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { ImageInputError, formatName, type ImageFormat } from './format.js';
import { convertChannels, type Pixels } from './pixels.js';

export interface SharpDecodeOptions {
  /** Every frame of an animated GIF, stacked vertically; otherwise the first frame only. */
  readonly allFrames?: boolean;
  /**
   * 'truncated' (TensorFlow's default) fails on truncated data, 'none' returns what there is
   * (try_recover_truncated), 'error' also fails on corrupt data libvips would paper over.
   */
  readonly failOn?: 'none' | 'truncated' | 'error';
  /** libvips's own pixel limit, a second guard after the header check. */
  readonly maxPixels?: number;
}

/**
 * Raw pixels via sharp, with the image's inherent channel count (sharp's raw output is always sRGB,
 * so gray comes back replicated: take one band). Embedded ICC profiles and EXIF orientation are
 * ignored, as in TensorFlow. A decoder failure is an ImageInputError whose cause is libvips's error.
 */
export async function decodeWithSharp(bytes: Uint8Array, format: ImageFormat, options: SharpDecodeOptions = {}): Promise<Pixels> {
  const { allFrames = false, failOn = 'truncated', maxPixels } = options;
  const sharpOptions = {
    ignoreIcc: true,
    failOn,
    animated: allFrames,
    ...(maxPixels === undefined ? {} : { limitInputPixels: Math.floor(maxPixels) }),
  };
  let meta: Metadata;
  let raw: { data: Buffer; info: OutputInfo };
  let sixteen: boolean;
  try {
    meta = await sharp(bytes, sharpOptions).metadata();
    sixteen = format === 'png' && meta.depth === 'ushort';
    // 16-bit PNGs must stay in a 16-bit colourspace, or sharp reduces them to 8 bits first.
    const image = sharp(bytes, sharpOptions);
    raw = await (sixteen ? image.toColourspace('rgb16').raw({ depth: 'ushort' }) : image.raw()).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageInputError(`invalid ${formatName(format)} data: ${(err as Error).message}`, { cause: err });
  }
  const { info } = raw;
  const bytesOut = raw.data.buffer.slice(raw.data.byteOffset, raw.data.byteOffset + raw.data.length);
  const data = sixteen ? new Uint16Array(bytesOut) : new Uint8Array(bytesOut);
  const frames = allFrames ? (info.pages ?? 1) : 1;
  const pixels: Pixels = { height: info.height / frames, width: info.width, channels: info.channels, frames, data };
  // GIF is always RGB(A) for TensorFlow; a gray PNG has 1 channel (2 with alpha).
  const inherent = format === 'gif' ? 3 : (meta.channels ?? info.channels);
  if (inherent <= 2) {
    // Back to gray (+alpha): sharp replicated the gray value into R, G and B.
    const count = data.length / info.channels;
    const out = new (data.constructor as Uint8ArrayConstructor | Uint16ArrayConstructor)(count * inherent);
    const opaque = data instanceof Uint16Array ? 0xffff : 0xff;
    for (let i = 0; i < count; i++) {
      out[i * inherent] = data[i * info.channels];
      if (inherent === 2) out[i * 2 + 1] = info.channels === 4 ? data[i * 4 + 3] : opaque;
    }
    return { ...pixels, channels: inherent, data: out };
  }
  return convertChannels(pixels, inherent);
}
