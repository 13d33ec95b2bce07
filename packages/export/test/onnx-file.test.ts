// export --onnx (assets.extra/model.onnx) and engine onnx's on-disk cache, end to end on a small seeded
// classifier exported with the image front:
// - model.onnx, loaded by plain onnxruntime-node (no tensorsky code), fed the front's output computed
//   independently (djpeg's pixels, resized and scaled by the TF.js reference), gives engine onnx's answers;
//   ONNX's own checker (Debian's python3-onnx) accepts it;
// - loadModel uses model.onnx when its record matches the SavedModel, and ignores a foreign one, saying so;
// - the cache: written on the first load, used on the next (same answers, bit for bit), and a truncated
//   or garbled entry is removed and rewritten, saying so in one line;
// - a network with an op that has no ONNX translation refuses the export, and nothing is written.
import { spawnSync } from 'node:child_process';
import { copyFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { djpeg, djpegSuiteTitle, HAS_DJPEG, IMAGES_DIR, jpegFiles } from '@tensorsky/fixtures';
import { loadModel, OnnxUnavailableError, readOnnxRecord, writeOnnxModel, type LocalModel } from '@tensorsky/predict-local';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, randomWeights, type LayersModelSource } from '../src/index.js';
import { maxAbsDiff, smallClassifier } from './fidelity-helpers.js';
import { makeTempDir } from './helpers/fixtures.js';

const SIZE = 40;
const CLASSES = 10;

function layersSource(model: tf.LayersModel, seed: number): LayersModelSource {
  return {
    kind: 'layers',
    model,
    name: 'small',
    inputShape: [SIZE, SIZE, 3],
    classes: CLASSES,
    preprocess: undefined,
    labels: undefined,
    weights: `random (seed ${seed})`,
    provenance: { model: { kind: 'built-in', name: 'small' }, weights: { kind: 'random', seed } },
  };
}

/** conv → pool → conv → global pool → softmax. */
/** A python3 with Debian's python3-onnx (pyenv's python3 may not see /usr/lib/python3/dist-packages). */
const PYTHON_ONNX = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import onnx']).status === 0);

describe('export --onnx and the onnx cache', () => {
  const files = jpegFiles(IMAGES_DIR);
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let dir: string;
  let other: string;
  let inputs: string[];
  const models: LocalModel[] = [];
  const load = async (modelDir: string) => {
    const model = await loadModel(modelDir, { backend: 'onnx', threads: 1 });
    models.push(model);
    expect(model.backend).toBe('onnx');
    return model;
  };
  const predict = async (model: LocalModel) => (await model.predict({ inputs })).outputs.data as Float32Array;

  beforeAll(async () => {
    await initTfjs('wasm');
    temp = await makeTempDir('onnx-file');
    inputs = await Promise.all(files.map(async (f) => (await readFile(f)).toString('base64url')));
    for (const [name, seed] of [['small', 21], ['other', 22]] as const) {
      const model = smallClassifier(SIZE, CLASSES);
      await randomWeights(model, seed);
      await exportSavedModel({
        modelDir: join(temp.dir, name),
        source: layersSource(model, seed),
        preprocess: 'inception',
        labels: 'none',
        beforeMove: async (staged) => void (await writeOnnxModel(staged)),
      });
      model.dispose();
    }
    [dir, other] = [join(temp.dir, 'small'), join(temp.dir, 'other')];
  });
  afterEach(() => {
    models.splice(0).forEach((m) => m.dispose());
    process.env.TENSORSKY_ONNX_CACHE = '0'; // as vitest.shared.ts sets it: never the user's ~/.cache
    delete process.env.TENSORSKY_CACHE_DIR;
  });
  afterAll(async () => {
    await temp?.cleanup();
  });

  it('writes model.onnx and a record of what it was translated from, next to the SavedModel', async () => {
    const record = await readOnnxRecord(dir);
    expect(record).toMatchObject({
      file: 'model.onnx',
      signature: 'serving_default',
      tags: ['serve'],
      inputs: [{ type: 'float32', shape: [-1, SIZE, SIZE, 3], from: 'front', layout: 'NHWC' }],
      outputs: [{ name: 'predictions/Softmax:0', type: 'float32', shape: [-1, CLASSES], signatureKey: 'outputs' }],
    });
    expect(record!.frontOps).toEqual(expect.arrayContaining(['DecodeBase64', 'DecodeJpeg', 'ResizeBilinear']));
    expect((await stat(join(dir, 'assets.extra', 'model.onnx'))).size).toBe(record!.bytes);
    // TF Serving reads saved_model.pb and variables/; the new files are only in assets.extra/.
    expect((await readdir(dir)).sort()).toEqual(['assets.extra', 'saved_model.pb', 'variables']);
  });

  it.skipIf(!HAS_DJPEG)(djpegSuiteTitle('plain onnxruntime-node on the front’s output gives engine onnx’s answers'), async () => {
    const record = (await readOnnxRecord(dir))!;
    // The front as the record documents it, computed without the export: djpeg's accurate-IDCT pixels,
    // bilinear half-pixel resize to 40x40 (the TF.js reference of the preprocessing). The front ends
    // there: the normalization (x / 127.5 - 1) is inside model.onnx, so model.onnx is fed pixels 0-255.
    const images = files.map((file) => {
      const pnm = djpeg(file, ['-dct', 'int', '-rgb']);
      return { data: pnm.data, height: pnm.height, width: pnm.width };
    });
    const x = preprocessImagesReference(tf, images, { height: SIZE, width: SIZE, preprocess: 'none' });
    const front = new Float32Array(await x.data());
    x.dispose();
    const session = await ort.InferenceSession.create(join(dir, 'assets.extra', record.file));
    try {
      const out = await session.run({ [record.inputs[0].name]: new ort.Tensor('float32', front, [files.length, SIZE, SIZE, 3]) });
      const plain = out[record.outputs[0].name].data as Float32Array;
      const engine = await predict(await load(dir));
      expect(maxAbsDiff(plain, engine)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });

  it.skipIf(!PYTHON_ONNX)(PYTHON_ONNX ? 'ONNX’s own checker accepts model.onnx' : 'ONNX’s checker (skipped: no python3 with the onnx module; apt-get install python3-onnx)', () => {
    const check = spawnSync(PYTHON_ONNX!, ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")', join(dir, 'assets.extra', 'model.onnx')], {
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.stdout.trim()).toBe('ok');
  });

  it('loads from model.onnx when it matches, and ignores a foreign one in one line', async () => {
    const exported = await load(dir);
    expect(exported.onnx).toMatchObject({ source: 'export', cache: 'off', translateMs: 0 });
    expect(exported.onnx!.note).toBeUndefined();
    const answers = await predict(exported);

    // The same model exported again, with the other export's network and record copied in: foreign.
    const copy = join(temp.dir, 'copy');
    const same = smallClassifier(SIZE, CLASSES);
    await randomWeights(same, 21);
    await exportSavedModel({
      modelDir: copy,
      source: layersSource(same, 21),
      preprocess: 'inception',
      labels: 'none',
      beforeMove: async (staged) => {
        for (const f of ['model.onnx', 'tensorsky_onnx.json']) await copyFile(join(other, 'assets.extra', f), join(staged, 'assets.extra', f));
      },
    });
    same.dispose();
    const translated = await load(copy);
    expect(translated.onnx!.source).toBe('translation');
    expect(translated.onnx!.note).toBe('assets.extra/model.onnx ignored (written for another version of this SavedModel); translated the network again');
    expect(maxAbsDiff(await predict(translated), answers)).toBe(0);
  });

  it('caches the optimized network: written, then used, with the same answers; a damaged entry is rewritten', async () => {
    process.env.TENSORSKY_ONNX_CACHE = '1';
    process.env.TENSORSKY_CACHE_DIR = join(temp.dir, 'cache');
    const first = await load(dir);
    expect(first.onnx).toMatchObject({ cache: 'written', source: 'export' });
    const answers = await predict(first);
    const [key] = await readdir(join(temp.dir, 'cache', 'onnx'));
    const entry = join(temp.dir, 'cache', 'onnx', key);
    expect((await readdir(entry)).sort()).toEqual(['entry.json', 'front.pb', 'network.onnx', 'network.onnx.data']);

    const hit = await load(dir);
    expect(hit.onnx).toMatchObject({ cache: 'hit', source: 'cache', translateMs: 0 });
    expect(hit.onnx!.model).toBeUndefined();
    expect(hit.signature).toEqual(first.signature);
    expect(maxAbsDiff(await predict(hit), answers)).toBe(0);

    // Another SavedModel has its own entry.
    expect((await load(other)).onnx!.cache).toBe('written');
    expect(await readdir(join(temp.dir, 'cache', 'onnx'))).toHaveLength(2);

    for (const damage of [() => truncate(join(entry, 'network.onnx.data'), 1000), () => writeFile(join(entry, 'entry.json'), '{"format":')]) {
      await damage();
      const again = await load(dir);
      expect(again.onnx!.cache).toBe('written');
      expect(again.onnx!.note).toMatch(new RegExp(`^the cached ONNX network in ${entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is unusable \\(.+\\); removed it and translated the model again$`));
      expect(maxAbsDiff(await predict(again), answers)).toBe(0);
      expect((await load(dir)).onnx!.cache).toBe('hit');
    }
  });

  it('refuses a network with an op that has no ONNX translation, writing nothing', async () => {
    // UpSampling2D is ResizeNearestNeighbor inside the network: TF.js runs it, the translator has no entry.
    const L = tf.layers;
    const model = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [SIZE, SIZE, 3], filters: 4, kernelSize: 3, name: 'conv' }),
        L.upSampling2d({ size: [2, 2], name: 'up' }),
        L.globalAveragePooling2d({ name: 'gap' }),
        L.dense({ units: CLASSES, activation: 'softmax', name: 'predictions' }),
      ],
    });
    await randomWeights(model, 3);
    const target = join(temp.dir, 'refused');
    const refused = exportSavedModel({ modelDir: target, source: layersSource(model, 3), preprocess: 'inception', labels: 'none', beforeMove: async (s) => void (await writeOnnxModel(s)) });
    await expect(refused).rejects.toThrow(OnnxUnavailableError);
    await expect(refused).rejects.toThrow(/ResizeNearestNeighbor/);
    model.dispose();
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
    expect((await readdir(temp.dir)).filter((f) => f.includes('refused'))).toEqual([]);
  });
});
