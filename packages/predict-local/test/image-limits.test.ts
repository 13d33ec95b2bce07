// Image limits on the executor's path: the decode kernels refuse what a header claims beyond the model's
// limits before decoding, and loadModel checks a request's images first, naming the instance.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gifFrames, imagePath, jpegBomb, pngBomb } from '@tensorsky/fixtures';
import { DataType, GraphBuilder, writeSavedModel, type SignatureDef } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../src/kernels/decode-image.js';
import { loadModel, type LocalModel } from '../src/index.js';

const PNG_2X2 = fs.readFileSync(imagePath('image_png_test.png'));

async function save(b: GraphBuilder, signature: SignatureDef): Promise<string> {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'image-limits-')), 'model');
  const graph_def = b.toGraphDef();
  await writeSavedModel(dir, {
    savedModel: { saved_model_schema_version: 1, meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def, signature_def: { serving_default: signature } }] },
  });
  return dir;
}

describe('decode kernels', () => {
  it.each([
    ['a PNG bomb (16383x16383 zeros)', () => pngBomb(), 'the image is 16383x16383 = 268,402,689 pixels'],
    ['a JPEG header claiming 16000x16000', async () => jpegBomb(), 'the image is 16000x16000 = 256,000,000 pixels'],
  ])('refuse %s from its header, in well under a second', async (_what, bytes, message) => {
    const input = await bytes();
    const started = performance.now();
    await expect(decodeImage('DecodeImage', input, { channels: 3 })).rejects.toThrow(`${message}, more than the limit of 50,000,000 per image (--max_image_pixels)`);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('count GIF frames only when every frame is decoded', async () => {
    const limits = { maxImagePixels: 50_000_000, maxRequestPixels: 200_000_000, maxImages: 256, maxGifFrames: 5 };
    const gif = gifFrames(4, 4, 6);
    // Its frames are 1x1: TensorFlow's canvas is the largest frame, not the 4x4 logical screen (gif_io.cc).
    expect((await decodeImage('DecodeImage', gif, { channels: 3, expand_animations: false, limits })).shape).toEqual([1, 1, 3]);
    await expect(decodeImage('DecodeGif', gif, { limits })).rejects.toThrow('the image is a GIF of more than 5 frames, the limit (--max_gif_frames)');
  });
});

describe('loadModel with image limits', () => {
  let batch: LocalModel;
  let constant: LocalModel;
  beforeAll(async () => {
    // images [-1] → images[0] → DecodeImage → Shape: every element is checked before the graph runs.
    const b = new GraphBuilder();
    const images = b.placeholder('images', DataType.DT_STRING, [-1]);
    const first = b.stridedSlice(images, [0], [1], [1], { shrinkAxisMask: 1 });
    const shape = b.shape(b.decodeImage(first, { channels: 3 }), { name: 'shape' });
    batch = await loadModel(await save(b, b.signature({ images }, { shape })), { backend: 'cpu', imageLimits: { maxImages: 64, maxRequestPixels: 300 } });
    // A decoder fed by a constant: only the kernel sees the image, with the limits the model was loaded with.
    const c = new GraphBuilder();
    const x = c.placeholder('x', DataType.DT_FLOAT, [-1]);
    const decoded = c.decodeImage(c.constant('image', [PNG_2X2], [], DataType.DT_STRING), { channels: 3 });
    const out = c.shape(decoded, { name: 'out' });
    constant = await loadModel(await save(c, c.signature({ x }, { out, y: c.identity(x, { name: 'y' }) })), { backend: 'cpu', imageLimits: { maxImagePixels: 3 } });
  });
  afterAll(() => {
    batch?.dispose();
    constant?.dispose();
  });

  it('names the instance of a batch that breaks a limit', async () => {
    const images: Uint8Array[] = Array.from({ length: 64 }, () => PNG_2X2);
    expect(Array.from((await batch.predict({ images })).shape.data as Int32Array)).toEqual([2, 2, 3]);
    images[37] = await pngBomb();
    await expect(batch.predict({ images })).rejects.toThrow(/^instance 37 is 16383x16383 = 268,402,689 pixels, more than the limit of 50,000,000 per image \(--max_image_pixels\)/);
    images[37] = Buffer.from('not an image');
    await expect(batch.predict({ images })).rejects.toThrow(/^instance 37 is not a JPEG, PNG, GIF or BMP image/);
  });

  it('counts the images of a request and their pixels together', async () => {
    await expect(batch.predict({ images: Array.from({ length: 65 }, () => PNG_2X2) })).rejects.toThrow(
      'the request has 65 images, more than the limit of 64 per request (--max_images_per_request)',
    );
    const big = fs.readFileSync(imagePath('cat.jpg'));
    await expect(batch.predict({ images: [PNG_2X2, big] })).rejects.toThrow(/^the images of the request up to instance 1 have 135,304 pixels, more than the limit of 300 per request/);
  });

  it('holds the decode kernels to the limits it was loaded with', async () => {
    await expect(constant.predict({ x: [1] })).rejects.toThrow('the image is 2x2 = 4 pixels, more than the limit of 3 per image (--max_image_pixels)');
  });
});
