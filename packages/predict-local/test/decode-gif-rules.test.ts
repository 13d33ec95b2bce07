// DecodeGif / DecodeImage on GIFs against TensorFlow's rules (tensorflow/core/lib/gif/gif_io.cc on giflib's
// DGifSlurp, and decode_image_op.cc's DecodeGifV2). The files are written here from the GIF89a
// specification (@tensorsky/fixtures' encodeGif); each expected canvas is worked out from the rule the
// test names. A GIF that sharp (cgif) compresses is also compared with sharp's own decoding (libnsgif).
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeGif, type GifFrameSpec } from '@tensorsky/fixtures';
import { decodeImage } from '../src/kernels/decode-image.js';

const RED = [200, 0, 0] as const;
const GREEN = [0, 180, 0] as const;
const BLUE = [0, 0, 160] as const;
const WHITE = [255, 255, 255] as const;
const colors = [RED, GREEN, BLUE, WHITE];
const BLACK = [0, 0, 0];

/** Frame pixels as RGB from colour indices (index -1: black). */
const rgb = (indices: number[]) => indices.flatMap((i) => (i < 0 ? BLACK : [...colors[i]]));

async function frames(spec: Parameters<typeof encodeGif>[0]): Promise<{ shape: number[]; frames: number[][] }> {
  const out = await decodeImage('DecodeGif', new Uint8Array(encodeGif(spec)));
  const [n, h, w] = out.shape;
  const data = Array.from(out.data);
  return { shape: out.shape, frames: Array.from({ length: n }, (_, k) => data.slice(k * h * w * 3, (k + 1) * h * w * 3)) };
}

const full = (indices: number[], extra: Partial<GifFrameSpec> = {}): GifFrameSpec => ({ width: 2, height: 2, indices, ...extra });

describe('DecodeGif: gif_io.cc rules', () => {
  it('the canvas is the largest frame width x height, not the logical screen', async () => {
    const out = await frames({ width: 8, height: 8, colors, frames: [{ width: 3, height: 2, indices: [0, 1, 2, 3, 2, 1] }] });
    expect(out.shape).toEqual([1, 2, 3, 3]);
    expect(out.frames[0]).toEqual(rgb([0, 1, 2, 3, 2, 1]));
  });

  it('each frame starts as a copy of the one before; disposal methods are ignored', async () => {
    // Frame 0 asks to be restored to the background (disposal 2), frame 1 covers one pixel.
    const out = await frames({ width: 2, height: 2, colors, frames: [full([0, 1, 2, 3], { disposal: 2 }), { left: 1, top: 1, width: 1, height: 1, indices: [0] }] });
    expect(out.frames).toEqual([rgb([0, 1, 2, 3]), rgb([0, 1, 2, 0])]);
  });

  it('transparent pixels are black in the first frame and keep the previous frame after it', async () => {
    const out = await frames({ width: 2, height: 2, colors, frames: [full([0, 3, 1, 3], { transparent: 3 }), full([2, 2, 3, 3], { transparent: 3 })] });
    expect(out.frames).toEqual([rgb([0, -1, 1, -1]), rgb([2, 2, 1, -1])]);
  });

  it('a first frame smaller than the canvas leaves the rest black; frames reaching outside the canvas are clipped', async () => {
    const out = await frames({
      width: 4,
      height: 4,
      colors,
      frames: [
        { width: 1, height: 1, indices: [3] },
        full([0, 1, 2, 3]),
        { left: 1, top: 1, width: 2, height: 2, indices: [2, 0, 0, 0] },
      ],
    });
    expect(out.shape).toEqual([3, 2, 2, 3]);
    expect(out.frames).toEqual([rgb([3, -1, -1, -1]), rgb([0, 1, 2, 3]), rgb([0, 1, 2, 2])]);
  });

  it('a local colour table replaces the global one for its frame', async () => {
    const out = await frames({ width: 2, height: 1, colors, frames: [{ width: 2, height: 1, indices: [0, 1], colors: [WHITE, BLUE] }] });
    expect(out.frames[0]).toEqual([...WHITE, ...BLUE]);
  });

  it('interlaced rows are put back in display order (DGifSlurp)', async () => {
    const indices = [0, 1, 2, 3, 0, 1, 2, 3, 3];
    const out = await frames({ width: 1, height: 9, colors, frames: [{ width: 1, height: 9, indices, interlaced: true }] });
    expect(out.frames[0]).toEqual(rgb(indices));
  });

  it('a colour index beyond the table is an error; so is a frame without any table', async () => {
    const twoColors = encodeGif({ width: 2, height: 1, colors: [RED, GREEN], frames: [{ width: 2, height: 1, indices: [0, 3] }] });
    await expect(decodeImage('DecodeGif', new Uint8Array(twoColors))).rejects.toThrow('found color index 3 outside of color map range 2');
    const noTable = encodeGif({ width: 1, height: 1, frames: [{ width: 1, height: 1, indices: [0] }] });
    await expect(decodeImage('DecodeGif', new Uint8Array(noTable))).rejects.toThrow('missing color map for frame 0');
  });

  it('a file without its trailer still decodes (DGifSlurp fails only after the last frame); one cut inside a frame does not', async () => {
    const spec = { width: 2, height: 2, colors, frames: [full([0, 1, 2, 3])] };
    expect((await frames({ ...spec, noTrailer: true })).frames).toEqual([rgb([0, 1, 2, 3])]);
    const whole = encodeGif(spec);
    await expect(decodeImage('DecodeGif', new Uint8Array(whole.subarray(0, whole.length - 4)))).rejects.toThrow(/invalid GIF data/);
  });

  it('expand_animations false: DecodeImage gives the first frame [h, w, 3], on the canvas of all frames', async () => {
    const gif = new Uint8Array(encodeGif({ width: 4, height: 4, colors, frames: [{ width: 1, height: 1, indices: [1] }, full([0, 1, 2, 3])] }));
    const first = await decodeImage('DecodeImage', gif, { channels: 3, expand_animations: false });
    expect(first.shape).toEqual([2, 2, 3]);
    expect(Array.from(first.data)).toEqual(rgb([1, -1, -1, -1]));
    expect((await decodeImage('DecodeImage', gif, {})).shape).toEqual([2, 2, 2, 3]);
    // DecodeJpeg and DecodePng take a GIF only when it has one frame (decode_image_op.cc).
    await expect(decodeImage('DecodePng', gif)).rejects.toThrow('Got 2 frames, but animated gifs can only be decoded by tf.io.decode_gif or tf.io.decode_image');
    const still = new Uint8Array(encodeGif({ width: 2, height: 2, colors, frames: [full([3, 2, 1, 0])] }));
    expect((await decodeImage('DecodeJpeg', still, { channels: 3 })).shape).toEqual([2, 2, 3]);
  });

  it('LZW-compressed frames (sharp writes them) decode to sharp’s own pixels', async () => {
    const width = 37;
    const height = 23;
    const raw = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) raw.set([(i * 7) % 256, (i * 13) % 200, ((i >> 3) * 29) % 256], i * 3);
    const gif = await sharp(raw, { raw: { width, height, channels: 3 } }).gif({ colours: 256, dither: 0 }).toBuffer();
    const expected = await sharp(gif).removeAlpha().raw().toBuffer();
    const out = await decodeImage('DecodeGif', new Uint8Array(gif));
    expect(out.shape).toEqual([1, height, width, 3]);
    expect(Buffer.from(out.data).equals(expected)).toBe(true);
  });
});
