// The serving input graph: checked against TensorFlow's OpDefs and TF1 while-loop rules, then run by
// predict-local's TensorFlow-graph executor and compared with values computed by hand (normalization,
// half-pixel bilinear resize) and with preprocessImagesReference on the same decoded pixels.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, type LocalModel } from '@tensorsky/predict-local';
import { DataType, GraphBuilder, validateGraph, writeSavedModel, type NodeDef } from '@tensorsky/saved-model';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageToRgb } from '@tensorsky/image';
import { preprocessImagesReference, type PreprocessMode } from '@tensorsky/preprocess';
import { buildImageInputGraph, type ImageInputOptions } from '../src/serving-input.js';
import { TF_TEST_PIXELS, bmpFile, imagesDir } from '../../image/test/fixtures.js';
import { maxAbsDiff } from './fidelity-helpers.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tensorsky-preprocess-graph-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

function build(options: ImageInputOptions): { g: GraphBuilder; nodes: NodeDef[] } {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, options);
  expect(input.name).toBe('inputs:0');
  expect(images.name).toBe('preprocess/images:0');
  return { g, nodes: g.toGraphDef().node ?? [] };
}

let saved = 0;
/** Writes the input graph as a SavedModel (inputs → images) and loads it with the local executor. */
async function load(options: ImageInputOptions): Promise<LocalModel> {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, options);
  const graphDef = g.toGraphDef();
  const signature = g.signature({ inputs: input }, { images });
  expect(validateGraph(graphDef, undefined, { signatures: { serving_default: signature } }).issues).toEqual([]);
  const dir = join(scratch, `model-${saved++}`);
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }],
    },
  });
  return loadModel(dir, { backend: 'wasm' });
}

async function run(options: ImageInputOptions, files: Uint8Array[]): Promise<{ shape: number[]; data: Float32Array }> {
  const model = await load(options);
  try {
    const feed = files.map((f) => (options.inputFormat === 'b64' ? Buffer.from(f).toString('base64url') : f));
    const { images } = await model.predict({ inputs: feed });
    expect(images.dtype).toBe('DT_FLOAT');
    return { shape: images.shape, data: images.data as Float32Array };
  } finally {
    model.dispose();
  }
}

const fixture = async (name: string) => new Uint8Array(await readFile(join(imagesDir, name)));

describe('buildImageInputGraph structure', () => {
  it.each([
    ['b64', 'inception'],
    ['bytes', 'caffe'],
    ['b64', 'torch'],
  ] as const)('is valid for TensorFlow (%s, %s)', (inputFormat, preprocess) => {
    const { g, nodes } = build({ inputFormat, preprocess, height: 299, width: 299 });
    expect(validateGraph(g.toGraphDef()).issues).toEqual([]);
    const placeholder = nodes.find((n) => n.name === 'inputs')!;
    expect(placeholder.op).toBe('Placeholder');
    expect(placeholder.attr!.dtype!.type).toBe(DataType.DT_STRING);
    expect(placeholder.attr!.shape!.shape!.dim!.map((d) => d.size)).toEqual([-1]);
    expect(nodes.some((n) => n.op === 'DecodeBase64')).toBe(inputFormat === 'b64');
    const decode = nodes.find((n) => n.op === 'DecodeImage')!;
    expect(decode.attr!.channels!.i).toBe(3);
    expect(decode.attr!.expand_animations!.b).toBe(false);
    const resize = nodes.find((n) => n.op === 'ResizeBilinear')!;
    expect(resize.attr!.half_pixel_centers!.b).toBe(true);
    expect(resize.attr!.align_corners!.b).toBe(false);
  });

  it('follows TF1 while-loop frame rules', () => {
    const { nodes } = build({ inputFormat: 'b64', preprocess: 'inception', height: 8, width: 8 });
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const enters = nodes.filter((n) => n.op === 'Enter');
    const frames = new Set(enters.map((n) => Buffer.from(n.attr!.frame_name!.s!).toString()));
    expect([...frames]).toEqual(['preprocess/map/while/while_context']);
    // Loop variables (counter, output flow) are not constant; the invariants they read are.
    const constant = (name: string) => byName.get(`preprocess/map/while/${name}`)!.attr!.is_constant!.b ?? false;
    expect(constant('Enter')).toBe(false);
    expect(constant('Enter_1')).toBe(false);
    for (const name of ['Less/Enter', 'TensorArrayReadV3/Enter', 'TensorArrayReadV3/Enter_1', 'TensorArrayWrite/TensorArrayWriteV3/Enter']) {
      expect(constant(name)).toBe(true);
    }
    // Each Merge takes its Enter and the NextIteration back-edge.
    expect(byName.get('preprocess/map/while/Merge')!.input).toEqual(['preprocess/map/while/Enter', 'preprocess/map/while/NextIteration']);
    expect(byName.get('preprocess/map/while/Merge_1')!.input).toEqual(['preprocess/map/while/Enter_1', 'preprocess/map/while/NextIteration_1']);
    // Every Const inside the body depends on the pivot.
    const bodyConsts = nodes.filter((n) => n.op === 'Const' && n.name.startsWith('preprocess/map/while/'));
    expect(bodyConsts.map((n) => n.name).sort()).toEqual([
      'preprocess/map/while/ExpandDims/dim',
      'preprocess/map/while/ResizeBilinear/size',
      'preprocess/map/while/add/y',
      // The magic-bytes test of the JPEG dispatch (jpeg_dct 'accurate', the default).
      'preprocess/map/while/decode_image/is_jpeg/Equal/y',
      'preprocess/map/while/decode_image/is_jpeg/Substr/len',
      'preprocess/map/while/decode_image/is_jpeg/Substr/pos',
    ]);
    for (const n of bodyConsts) expect(n.input).toEqual(['^preprocess/map/while/Identity']);
    expect(byName.get('preprocess/map/while/Identity')!.input).toEqual(['preprocess/map/while/Switch:1']);
    const gather = byName.get('preprocess/map/TensorArrayStack/TensorArrayGatherV3')!;
    expect(gather.attr!.element_shape!.shape!.dim!.map((d) => d.size)).toEqual([8, 8, 3]);
  });

  it('rejects options it cannot build', () => {
    const g = new GraphBuilder();
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'vgg' as PreprocessMode, height: 8, width: 8 })).toThrow(
      /unknown preprocessing 'vgg'; use one of inception, unit, caffe, torch, none/,
    );
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'caffe', height: 8, width: 8, channels: 1 })).toThrow(
      /preprocessing 'caffe' works on RGB images/,
    );
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'unit', height: 0, width: 8 })).toThrow(/positive integers/);
  });
});

describe('buildImageInputGraph run by the local executor', () => {
  // TensorFlow's 2x2 PNG test image: RGB (238, 101, 0), (50, 50, 50), (100, 50, 0), (200, 100, 50).
  const pixels = TF_TEST_PIXELS;
  // Normalization by hand, pixel by pixel (float64; the graph computes in float32).
  const expected: Record<PreprocessMode, number[]> = {
    inception: pixels.map((v) => v / 127.5 - 1),
    unit: pixels.map((v) => v / 255),
    caffe: pixels.map((_, i) => {
      const c = i % 3;
      const bgr = pixels[i - c + (2 - c)];
      return bgr - [103.939, 116.779, 123.68][c];
    }),
    torch: pixels.map((v, i) => (v / 255 - [0.485, 0.456, 0.406][i % 3]) / [0.229, 0.224, 0.225][i % 3]),
    none: pixels,
  };

  it.each(Object.keys(expected) as PreprocessMode[])('normalizes like Keras preprocess_input: %s', async (preprocess) => {
    const png = await fixture('image_png_test.png');
    const out = await run({ inputFormat: 'b64', preprocess, height: 2, width: 2 }, [png]);
    expect(out.shape).toEqual([1, 2, 2, 3]);
    expect(maxAbsDiff(out.data, expected[preprocess])).toBeLessThan(1e-5);

    // The TF.js reference computes the same from the decoded pixels.
    const reference = preprocessImagesReference(tf, [{ data: Uint8Array.from(pixels), height: 2, width: 2 }], { preprocess, height: 2, width: 2 });
    expect(maxAbsDiff(await reference.data(), expected[preprocess])).toBeLessThan(1e-5);
    reference.dispose();
  });

  it('resizes with half-pixel centers (2x2 → 4x4 by hand)', async () => {
    // TensorFlow's half-pixel bilinear: source coordinate (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
    // clamped to the edge pixels, so each axis weighs [p0, 3/4 p0 + 1/4 p1, 1/4 p0 + 3/4 p1, p1].
    const weights = [
      [1, 0],
      [0.75, 0.25],
      [0.25, 0.75],
      [0, 1],
    ];
    const hand: number[] = [];
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        for (let c = 0; c < 3; c++) {
          let v = 0;
          for (let sy = 0; sy < 2; sy++) for (let sx = 0; sx < 2; sx++) v += weights[y][sy] * weights[x][sx] * pixels[(sy * 2 + sx) * 3 + c];
          hand.push(v);
        }
      }
    }
    const out = await run({ inputFormat: 'bytes', preprocess: 'none', height: 4, width: 4 }, [await fixture('image_png_test.png')]);
    expect(out.shape).toEqual([1, 4, 4, 3]);
    expect(maxAbsDiff(out.data, hand)).toBeLessThan(1e-4);
  });

  it('decodes BMP and GIF (first frame) to RGB', async () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
    const bmp = bmpFile(2, 2, rgb);
    const frame = (values: number[]) => sharp(Buffer.from(values), { raw: { width: 2, height: 2, channels: 3 } });
    const still = await frame(rgb).gif().toBuffer();
    // Two frames: the second (all black) must be ignored.
    const animated = await sharp(Buffer.concat([Buffer.from(rgb), Buffer.alloc(12)]), { raw: { width: 2, height: 4, channels: 3, pageHeight: 2 } as never })
      .gif()
      .toBuffer();
    expect((await sharp(animated, { animated: true }).metadata()).pages).toBe(2);
    const out = await run({ inputFormat: 'b64', preprocess: 'none', height: 2, width: 2 }, [bmp, new Uint8Array(still), new Uint8Array(animated)]);
    expect(out.shape).toEqual([3, 2, 2, 3]);
    expect(Array.from(out.data)).toEqual([...rgb, ...rgb, ...rgb]);
  });

  it('decodes to one channel for grayscale models', async () => {
    const gray = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const out = await run({ inputFormat: 'b64', preprocess: 'unit', height: 2, width: 2, channels: 1 }, [new Uint8Array(gray)]);
    expect(out.shape).toEqual([1, 2, 2, 1]);
    expect(maxAbsDiff(out.data, [0, 100 / 255, 200 / 255, 1])).toBeLessThan(1e-6);
  });

  it.each(['b64', 'bytes'] as const)('maps a batch of photos of different sizes (%s) like the TF.js reference', async (inputFormat) => {
    const names = ['cat.jpg', 'rocket.jpg', 'hubble.jpg', 'image_png_4_channel_test.png'];
    const files = await Promise.all(names.map(fixture));
    const options = { preprocess: 'inception', height: 75, width: 90 } as const;
    const out = await run({ inputFormat, ...options }, files);
    expect(out.shape).toEqual([4, 75, 90, 3]);
    // The graph decodes JPEGs with the accurate IDCT (jpeg_dct's default).
    const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    expect(new Set(decoded.map((d) => `${d.height}x${d.width}`)).size).toBe(4);
    const reference = preprocessImagesReference(tf, decoded, options);
    expect(maxAbsDiff(out.data, await reference.data())).toBeLessThan(1e-5);
    reference.dispose();
  });

  it('reports undecodable input as an error', async () => {
    const model = await load({ inputFormat: 'b64', preprocess: 'unit', height: 4, width: 4 });
    try {
      // Checked before the graph runs, naming the instance (TensorFlow's kernel would say "Unknown image file format").
      await expect(model.predict({ inputs: ['aGVsbG8'] })).rejects.toThrow(/instance 0 is not a JPEG, PNG, GIF or BMP image/);
    } finally {
      model.dispose();
    }
  });
});
