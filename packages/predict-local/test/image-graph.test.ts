// Hand-built TensorFlow graphs of the shape tensorsky's exporter writes (base64 → decode → resize,
// alone and inside a TF1 while loop over a TensorArray), run through loadModel's executor and checked
// against sharp's decode and tf.image.resizeBilinear computed here independently.
import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { DataType, GraphBuilder, validateGraph, writeSavedModel, type GraphTensor, type SignatureDef } from '@tensorsky/saved-model';
import { loadModel } from '../src/index.js';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const images = IMAGES_DIR;
const H = 32;
const W = 40;

async function saveGraph(b: GraphBuilder, signature: SignatureDef): Promise<string> {
  const graphDef = b.toGraphDef();
  expect(validateGraph(graphDef).issues).toEqual([]);
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'predict-local-')), 'model');
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }],
    },
  });
  return dir;
}

/** What the graphs compute, done directly: sharp's RGB pixels, then TF.js's half-pixel bilinear resize. */
async function expectedResize(file: string): Promise<Float32Array> {
  const { data, info } = await sharp(fs.readFileSync(file), { ignoreIcc: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = tf.tensor3d(Float32Array.from(data), [info.height, info.width, 3]);
  const resized = tf.image.resizeBilinear(image, [H, W], false, true);
  const out = (await resized.data()) as Float32Array;
  tf.dispose([image, resized]);
  return out;
}

function webSafeBase64(file: string): string {
  return fs.readFileSync(file).toString('base64url');
}

/**
 * DecodeBase64 → DecodeJpeg(channels=3, dct_method=INTEGER_ACCURATE: libjpeg's accurate IDCT, which sharp
 * uses too) → Cast → ExpandDims → ResizeBilinear(half_pixel_centers) → Squeeze.
 */
function decodeAndResize(b: GraphBuilder, b64: GraphTensor): GraphTensor {
  const bytes = b.decodeBase64(b64);
  const pixels = b.decodeJpeg(bytes, { channels: 3, dctMethod: 'INTEGER_ACCURATE' });
  const floats = b.cast(pixels, DataType.DT_FLOAT);
  const batch = b.expandDims(floats, 0);
  const resized = b.resizeBilinear(batch, [H, W], { halfPixelCenters: true });
  return b.squeeze(resized, { axis: [0] });
}

// Pixel values are up to 255; the cpu and wasm kernels round float32 differently (~1e-5 relative).
const TOLERANCE = 4e-3;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('image preprocessing graph', () => {
  let cat: Float32Array;
  beforeAll(async () => {
    cat = await expectedResize(path.join(images, 'cat.jpg'));
  });

  it('decodes base64 JPEG and resizes like sharp + tf.image.resizeBilinear', async () => {
    const b = new GraphBuilder();
    const b64 = b.placeholder('image_b64', DataType.DT_STRING, []);
    const image = b.identity(decodeAndResize(b, b64), { name: 'image' });
    const dir = await saveGraph(b, b.signature({ image_b64: b64 }, { image }));

    for (const backend of ['cpu', 'wasm'] as const) {
      const model = await loadModel(dir, { backend });
      expect(model.backend).toBe(backend);
      const out = await model.predict({ image_b64: webSafeBase64(path.join(images, 'cat.jpg')) });
      expect(out.image.dtype).toBe('DT_FLOAT');
      expect(out.image.shape).toEqual([H, W, 3]);
      expect(maxAbsDiff(out.image.data as Float32Array, cat)).toBeLessThan(TOLERANCE);
      model.dispose();
    }
  });

  it('reports invalid base64 (standard alphabet is rejected, as by TensorFlow) and bytes that are no image', async () => {
    const b = new GraphBuilder();
    const b64 = b.placeholder('image_b64', DataType.DT_STRING, []);
    const image = b.identity(decodeAndResize(b, b64), { name: 'image' });
    const model = await loadModel(await saveGraph(b, b.signature({ image_b64: b64 }, { image })), { backend: 'cpu' });
    await expect(model.predict({ image_b64: '////' })).rejects.toThrow(/invalid character/i);
    await expect(model.predict({ image_b64: 'aGVsbG8=' })).rejects.toThrow('the image is not a JPEG, PNG, GIF or BMP image (starts with 68 65 6c 6c 6f "hello")');
    model.dispose();
  });
});

describe('TF1 while loop over a TensorArray (the exporter batch loop)', () => {
  /**
   * tf.map_fn as TensorFlow 1 builds it: the batch of base64 strings is scattered into a TensorArray,
   * a while loop (Enter/Merge/Switch/LoopCond/NextIteration/Exit) decodes and resizes one image per
   * iteration into a second TensorArray, which is gathered into [batch, H, W, 3].
   */
  function batchLoopGraph(): { b: GraphBuilder; signature: SignatureDef } {
    const b = new GraphBuilder();
    const frame = 'map/while/while_context';
    const batch = b.placeholder('images_b64', DataType.DT_STRING, [-1]);
    const n = b.stridedSlice(b.shape(batch), [0], [1], [1], { shrinkAxisMask: 1, name: 'map/n' });
    const zero = b.constant('map/zero', new Int32Array([0]), []);
    const one = b.constant('map/one', new Int32Array([1]), []);
    const indices = b.op('Range', [zero, n, one], {}, { name: 'map/range' }).outputs[0];
    const [taIn, taInFlow] = b.tensorArrayV3(n, DataType.DT_STRING, { elementShape: [], identicalElementShapes: true, name: 'map/TensorArray' });
    const scattered = b.tensorArrayScatterV3(taIn, indices, batch, taInFlow, { name: 'map/TensorArrayUnstack' });
    const [taOut, taOutFlow] = b.tensorArrayV3(n, DataType.DT_FLOAT, { elementShape: [H, W, 3], identicalElementShapes: true, name: 'map/TensorArray_1' });

    const enter = (t: GraphTensor, name: string, isConstant = false) => b.enter(t, frame, { isConstant, parallelIterations: 10, name: `map/while/${name}` });
    const iEnter = enter(zero, 'Enter');
    const flowEnter = enter(taOutFlow, 'Enter_1');
    const nEnter = enter(n, 'Less/Enter', true);
    const taInEnter = enter(taIn, 'TensorArrayReadV3/Enter', true);
    const scatteredEnter = enter(scattered, 'TensorArrayReadV3/Enter_1', true);
    const taOutEnter = enter(taOut, 'TensorArrayWrite/Enter', true);
    const [iMerge] = b.merge([iEnter, iEnter], { name: 'map/while/Merge' });
    const [flowMerge] = b.merge([flowEnter, flowEnter], { name: 'map/while/Merge_1' });
    const cond = b.loopCond(b.less(iMerge, nEnter, { name: 'map/while/Less' }), { name: 'map/while/LoopCond' });
    const [iExit, iBody] = b.switch(iMerge, cond, { name: 'map/while/Switch' });
    const [flowExit, flowBody] = b.switch(flowMerge, cond, { name: 'map/while/Switch_1' });
    const i = b.identity(iBody, { name: 'map/while/Identity' });
    const flow = b.identity(flowBody, { name: 'map/while/Identity_1' });
    const written = b.withControlDependencies([i], () => {
      const element = b.tensorArrayReadV3(taInEnter, i, scatteredEnter, DataType.DT_STRING, { name: 'map/while/TensorArrayReadV3' });
      const image = b.withScope('map/while/', () => decodeAndResize(b, element));
      const flowOut = b.tensorArrayWriteV3(taOutEnter, i, image, flow, { name: 'map/while/TensorArrayWrite/TensorArrayWriteV3' });
      const next = b.add(i, b.constant('map/while/add/y', new Int32Array([1]), []), { name: 'map/while/add' });
      return { flowOut, next };
    });
    b.setInput(iMerge, 1, b.nextIteration(written.next, { name: 'map/while/NextIteration' }));
    b.setInput(flowMerge, 1, b.nextIteration(written.flowOut, { name: 'map/while/NextIteration_1' }));
    b.exit(iExit, { name: 'map/while/Exit' });
    const flowDone = b.exit(flowExit, { name: 'map/while/Exit_1' });
    const size = b.tensorArraySizeV3(taOut, flowDone, { name: 'map/TensorArrayStack/TensorArraySizeV3' });
    const range = b.op('Range', [b.constant('map/TensorArrayStack/range/start', new Int32Array([0]), []), size, b.constant('map/TensorArrayStack/range/delta', new Int32Array([1]), [])], {}, { name: 'map/TensorArrayStack/range' }).outputs[0];
    const stacked = b.tensorArrayGatherV3(taOut, range, flowDone, DataType.DT_FLOAT, { elementShape: [H, W, 3], name: 'map/TensorArrayStack/TensorArrayGatherV3' });
    const images = b.identity(stacked, { name: 'images' });
    return { b, signature: b.signature({ images_b64: batch }, { images }) };
  }

  it('maps decode + resize over a batch of differently sized JPEGs', async () => {
    const { b, signature } = batchLoopGraph();
    const dir = await saveGraph(b, signature);
    const files = ['cat.jpg', 'rocket.jpg', 'hubble.jpg'].map((f) => path.join(images, f));
    const expected = await Promise.all(files.map(expectedResize));
    for (const backend of ['cpu', 'wasm'] as const) {
      const model = await loadModel(dir, { backend });
      const out = await model.predict({ images_b64: files.map(webSafeBase64) });
      expect(out.images.shape).toEqual([3, H, W, 3]);
      const data = out.images.data as Float32Array;
      const per = H * W * 3;
      expected.forEach((e, k) => expect(maxAbsDiff(data.subarray(k * per, (k + 1) * per), e)).toBeLessThan(TOLERANCE));

      // Batches of one, given as bytes, predicted concurrently.
      const singles = await Promise.all(files.map((f) => model.predict({ images_b64: [new TextEncoder().encode(webSafeBase64(f))] })));
      singles.forEach((single, k) => {
        expect(single.images.shape).toEqual([1, H, W, 3]);
        expect(maxAbsDiff(single.images.data as Float32Array, expected[k])).toBeLessThan(TOLERANCE);
      });
      model.dispose();
    }
  });
});
