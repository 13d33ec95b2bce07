// Every resize, geometry and normalization option of the serving input: the graph is valid for
// TensorFlow (every node against its OpDef), and run by the local executor on every image in
// packages/fixtures/images it agrees within 1e-5 with preprocessImagesReference (TF.js's resizeBilinear
// with the same flags; TensorFlow's kernels ported in @tensorsky/image for the other methods, checked
// against TensorFlow's tests and numpy in packages/image/test/resize.test.ts; crop/pad offsets by
// TensorFlow's integer rules computed here in plain JavaScript).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { IMAGES_DIR } from '@tensorsky/fixtures';
import { decodeImageToRgb, type RgbImage } from '@tensorsky/image';
import { loadModel } from '@tensorsky/predict-local';
import {
  centralCropOffset,
  describePreprocessing,
  float32CropMismatches,
  normalizationSteps,
  preprocessImagesReference,
  resolvePreprocessing,
  shortSideSize,
  type PreprocessOptions,
} from '@tensorsky/preprocess';
import sharp from 'sharp';
import { GraphBuilder, validateGraph, writeSavedModel, type NodeDef } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImageInputGraph, type ImageInputOptions } from '../src/serving-input.js';
import { maxAbsDiff } from './fidelity-helpers.js';

// Not square, so a height/width mix-up shows.
const SIZE = { height: 48, width: 40 } as const;

let scratch: string;
let files: Uint8Array[];
let decoded: RgbImage[];
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tensorsky-preprocessing-options-'));
  const names = (await readdir(IMAGES_DIR)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  files = await Promise.all(names.map(async (n) => new Uint8Array(await readFile(join(IMAGES_DIR, n)))));
  // The photos are landscape or square: a portrait one (cat.jpg turned, 300x451 as a PNG) makes the
  // horizontal crop and pad offsets non-zero too.
  files.push(new Uint8Array(await sharp(join(IMAGES_DIR, 'cat.jpg')).rotate(90).png().toBuffer()));
  decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
  expect(files.length).toBeGreaterThanOrEqual(10);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

let saved = 0;
async function runGraph(options: ImageInputOptions): Promise<{ shape: number[]; data: Float32Array; nodes: NodeDef[] }> {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, options);
  const graphDef = g.toGraphDef({ stripDefaultAttrs: true });
  const signature = g.signature({ inputs: input }, { images });
  expect(validateGraph(graphDef, undefined, { signatures: { serving_default: signature } }).issues).toEqual([]);
  const dir = join(scratch, `model-${saved++}`);
  await writeSavedModel(dir, {
    savedModel: { saved_model_schema_version: 1, meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }] },
  });
  const model = await loadModel(dir, { backend: 'wasm' });
  try {
    const { images: out } = await model.predict({ inputs: files });
    return { shape: out.shape, data: out.data as Float32Array, nodes: graphDef.node ?? [] };
  } finally {
    model.dispose();
  }
}

async function expectMatchesReference(options: PreprocessOptions): Promise<NodeDef[]> {
  const out = await runGraph({ inputFormat: 'bytes', ...options });
  expect(out.shape).toEqual([files.length, options.height, options.width, 3]);
  const reference = preprocessImagesReference(tf, decoded, options);
  const expected = await reference.data();
  reference.dispose();
  expect(maxAbsDiff(out.data, expected)).toBeLessThan(1e-5);
  return out.nodes;
}

const RESIZE_CASES = [
  ['bilinear', 'half_pixel', 'ResizeBilinear', { half_pixel_centers: true }],
  ['bilinear', 'legacy', 'ResizeBilinear', {}],
  ['bilinear', 'align_corners', 'ResizeBilinear', { align_corners: true }],
  ['nearest', 'half_pixel', 'ResizeNearestNeighbor', { half_pixel_centers: true }],
  ['nearest', 'legacy', 'ResizeNearestNeighbor', {}],
  ['nearest', 'align_corners', 'ResizeNearestNeighbor', { align_corners: true }],
  ['bicubic', 'half_pixel', 'ResizeBicubic', { half_pixel_centers: true }],
  ['bicubic', 'legacy', 'ResizeBicubic', {}],
  ['bicubic', 'align_corners', 'ResizeBicubic', { align_corners: true }],
  ['area', 'half_pixel', 'ResizeArea', {}],
  ['area', 'align_corners', 'ResizeArea', { align_corners: true }],
] as const;

describe('resize methods and pixel grids', () => {
  it.each(RESIZE_CASES)('%s with %s pixel centers: %s, agrees with the reference', async (resize, grid, op, attrs) => {
    const nodes = await expectMatchesReference({ ...SIZE, preprocess: 'inception', resize, grid });
    const resizeNodes = nodes.filter((n) => n.op.startsWith('Resize'));
    expect(resizeNodes.map((n) => n.op)).toEqual([op]);
    // Default-valued attrs are stripped, as in an export; the ones set must be the method's.
    const set = Object.fromEntries(Object.entries(resizeNodes[0]!.attr ?? {}).filter(([k, v]) => k !== 'T' && v.b).map(([k]) => [k, true]));
    expect(set).toEqual(attrs);
  });

  it.each([
    ['bilinear', 'triangle'],
    ['bicubic', 'keyscubic'],
  ] as const)('%s antialiased: ScaleAndTranslate(kernel_type=%s) as tf.image.resize(antialias=True) emits, agrees with the reference', async (resize, kernel) => {
    const nodes = await expectMatchesReference({ ...SIZE, preprocess: 'inception', resize, antialias: true });
    const resizeNode = nodes.filter((n) => n.op.startsWith('Resize') || n.op === 'ScaleAndTranslate');
    expect(resizeNode.map((n) => n.op)).toEqual(['ScaleAndTranslate']);
    expect(new TextDecoder().decode(resizeNode[0]!.attr!.kernel_type!.s as Uint8Array)).toBe(kernel);
  });

  it('refuses antialiasing where tf.image.resize has none', () => {
    expect(() => resolvePreprocessing({ ...SIZE, preprocess: 'unit', resize: 'area', antialias: true })).toThrow(/antialiasing applies to bilinear and bicubic resizing/);
    expect(() => resolvePreprocessing({ ...SIZE, preprocess: 'unit', resize: 'bilinear', grid: 'legacy', antialias: true })).toThrow(/always uses half-pixel centers/);
  });

  it('refuses align_corners with half-pixel centers and unknown methods', () => {
    const g = new GraphBuilder();
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'unit', ...SIZE, resize: 'lanczos3' as never })).toThrow(/unknown resize method 'lanczos3'/);
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'unit', ...SIZE, grid: 'corners' as never })).toThrow(/unknown pixel grid 'corners'/);
  });
});

describe('geometry', () => {
  it.each([
    ['central crop 0.875 (TF-slim Inception eval)', { kind: 'central_crop', fraction: 0.875 }, 'bilinear'],
    ['central crop 0.5', { kind: 'central_crop', fraction: 0.5 }, 'bicubic'],
    ['short side 56, center crop', { kind: 'short_side', shortSide: 56 }, 'bilinear'],
    ['short side 64, center crop, area', { kind: 'short_side', shortSide: 64 }, 'area'],
    ['resize to 60x50, center crop (Keras Resizing + CenterCrop)', { kind: 'resize_then_crop', height: 60, width: 50 }, 'bilinear'],
    ['pad to square', { kind: 'pad_to_square' }, 'bilinear'],
    ['pad to square, nearest', { kind: 'pad_to_square' }, 'nearest'],
    ['short side 56, center crop, antialiased bilinear', { kind: 'short_side', shortSide: 56 }, 'bilinear', true],
  ] as const)('%s agrees with the reference', async (_, geometry, resize, antialias?: boolean) => {
    await expectMatchesReference({ ...SIZE, preprocess: 'inception', resize, geometry, antialias: antialias ?? false });
  });

  it("central crop offsets follow tf.image.central_crop's int((size - size * fraction) / 2)", () => {
    // By hand: 300 px at 0.875 -> (300 - 262.5) / 2 = 18.75 -> 18; 451 -> 28.1875 -> 28; 2 -> 0.125 -> 0.
    expect([centralCropOffset(300, 0.875), centralCropOffset(451, 0.875), centralCropOffset(2, 0.875)]).toEqual([18, 28, 0]);
    expect(float32CropMismatches(0.875)).toEqual([]);
    // 0.6 * 25 is 15 in float64 but 15.000001 in float32: the export refuses such a fraction.
    expect(float32CropMismatches(0.6)).toContain(25);
    const g = new GraphBuilder();
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'unit', ...SIZE, geometry: { kind: 'central_crop', fraction: 0.6 } })).toThrow(
      /central crop fraction 0.6 rounds differently in float32 for \d+ image sizes \(e.g. 25 px\)/,
    );
    expect(() => buildImageInputGraph(g, { inputFormat: 'b64', preprocess: 'unit', ...SIZE, geometry: { kind: 'central_crop', fraction: 1.5 } })).toThrow(/within \(0, 1\]/);
  });

  it('short side sizes keep the aspect ratio, long side rounded down (torchvision)', () => {
    expect(shortSideSize(300, 451, 256)).toEqual([256, 384]);
    expect(shortSideSize(451, 300, 256)).toEqual([384, 256]);
    expect(() => resolvePreprocessing({ ...SIZE, preprocess: 'unit', geometry: { kind: 'short_side', shortSide: 44 } })).toThrow(/at least 48/);
  });
});

describe('normalization', () => {
  it.each([
    ['mean/std per channel on 0-255', { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] }],
    ['scale, then mean/std (torchvision)', { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }],
    ['BGR order, mean (caffe)', { channelOrder: 'bgr', mean: [103.939, 116.779, 123.68] }],
    ['one mean and std for all channels', { mean: 127.5, std: 127.5 }],
  ] as const)('%s agrees with the reference and with the values by hand', async (_, values) => {
    const normalize = normalizationSteps(values);
    await expectMatchesReference({ ...SIZE, preprocess: 'none', normalize });
    // The steps by hand on TensorFlow's 2x2 PNG test pixels (238, 101, 0), (50, 50, 50), ...
    const pixels = [238, 101, 0, 50, 50, 50, 100, 50, 0, 200, 100, 50];
    const hand = pixels.map((_, i) => {
      const c = i % 3;
      const order = 'channelOrder' in values ? [2, 1, 0][c]! : c;
      let v = pixels[i - c + order]!;
      if ('scale' in values) v *= values.scale;
      const at = (x: number | readonly number[] | undefined, fallback: number) => (x === undefined ? fallback : typeof x === 'number' ? x : x[c]!);
      return (v - at(values.mean, 0)) / at('std' in values ? values.std : undefined, 1);
    });
    const out = await runGraph({ inputFormat: 'bytes', height: 2, width: 2, preprocess: 'none', normalize });
    const pngIndex = (await readdir(IMAGES_DIR)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort().indexOf('image_png_test.png');
    expect(maxAbsDiff(out.data.subarray(pngIndex * 12, pngIndex * 12 + 12), hand)).toBeLessThan(1e-5);
  });

  it('describes every step on one line', () => {
    const p = resolvePreprocessing({
      ...SIZE,
      preprocess: 'none',
      resize: 'bicubic',
      geometry: { kind: 'central_crop', fraction: 0.875 },
      normalize: normalizationSteps({ channelOrder: 'bgr', mean: [1, 2, 3], std: 2 }),
    });
    expect(describePreprocessing(p)).toEqual([
      'central crop 0.875 of each side (tf.image.central_crop)',
      'resize to 48x40 with bicubic (ResizeBicubic), half-pixel centers (TF2 tf.image.resize)',
      'reorder channels RGB -> BGR',
      'subtract [1, 2, 3]',
      'divide by 2',
    ]);
  });
});
