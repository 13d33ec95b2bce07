// --preprocess_from: Keras preprocessing layers (as Keras 3 and tf.keras write their configs) read from
// a .keras archive, a JSON config, a TF.js model.json and a folder, mapped to the serving graph's steps
// by Keras's documented formulas (Rescaling: x * scale + offset; Normalization: (x - mean) /
// max(sqrt(variance), 1e-7)); what cannot be built is refused with one line.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSupportedLayers, normalizeKerasConfig } from '../src/layers-model.js';
import { readModelPreprocessing } from '../src/preprocess-from.js';
import { PreprocessFromError, preprocessingFromLayers, takeInputPreprocessing } from '../src/preprocessing-layers.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tensorsky-preprocess-from-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const layer = (class_name: string, config: Record<string, unknown>) => ({ module: 'keras.layers', class_name, config: { trainable: true, ...config }, registered_name: null });
const input = layer('InputLayer', { name: 'image', batch_shape: [null, null, null, 3] });
const resizing = layer('Resizing', { name: 'resizing', height: 256, width: 256, interpolation: 'bicubic', crop_to_aspect_ratio: false, antialias: false });
const centerCrop = layer('CenterCrop', { name: 'center_crop', height: 224, width: 224 });
const rescaling = layer('Rescaling', { name: 'rescaling', scale: 1 / 255, offset: 0 });
const normalization = layer('Normalization', { name: 'normalization', axis: -1, mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625], invert: false });
const conv = layer('Conv2D', { name: 'conv', filters: 8 });

const sequential = (layers: unknown[]) => ({ module: 'keras', class_name: 'Sequential', config: { name: 'classifier', layers } });

describe('preprocessingFromLayers', () => {
  it('maps Resizing + CenterCrop + Rescaling + Normalization (torchvision-style ImageNet preprocessing)', () => {
    const p = preprocessingFromLayers([input, resizing, centerCrop, rescaling, normalization, conv] as never, 'model.keras');
    expect(p.layers).toEqual(['resizing (Resizing)', 'center_crop (CenterCrop)', 'rescaling (Rescaling)', 'normalization (Normalization)']);
    expect(p.size).toEqual({ height: 224, width: 224 });
    expect(p.resize).toBe('bicubic');
    expect(p.geometry).toEqual({ kind: 'resize_then_crop', height: 256, width: 256 });
    // sqrt(0.052441) = 0.229 (as float32), and so on.
    const f = Math.fround;
    expect(p.normalize).toEqual([
      { kind: 'mul', value: 1 / 255 },
      { kind: 'sub', value: [0.485, 0.456, 0.406] },
      { kind: 'div', value: [f(Math.sqrt(f(0.052441))), f(Math.sqrt(f(0.050176))), f(Math.sqrt(f(0.050625)))] },
    ]);
    expect((p.normalize[2] as unknown as { value: number[] }).value.map((v) => Number(v.toFixed(6)))).toEqual([0.229, 0.224, 0.225]);
  });

  it('keeps an offset (Rescaling(1/127.5, offset=-1) is Inception scaling) and stops at the first other layer', () => {
    const p = preprocessingFromLayers([input, layer('Rescaling', { name: 'r', scale: 1 / 127.5, offset: -1 }), conv, rescaling] as never, 'x.json');
    expect(p.normalize).toEqual([
      { kind: 'mul', value: 1 / 127.5 },
      { kind: 'add', value: -1 },
    ]);
    expect(p.geometry).toBeUndefined();
  });

  it('takes antialias=True for bilinear/bicubic (ScaleAndTranslate) and ignores it for nearest, as tf.image.resize does', () => {
    const resizingWith = (interpolation: string) => [input, layer('Resizing', { name: 'r', height: 8, width: 8, interpolation, antialias: true })];
    expect(preprocessingFromLayers(resizingWith('bicubic') as never, 'x.json').antialias).toBe(true);
    expect(preprocessingFromLayers(resizingWith('nearest') as never, 'x.json').antialias).toBeUndefined();
  });

  it('uses epsilon 1e-7 for a variance of 0, as Keras does', () => {
    const p = preprocessingFromLayers([input, layer('Normalization', { name: 'n', mean: 0, variance: 0 })] as never, 'x.json');
    expect(p.normalize[1]).toEqual({ kind: 'div', value: Math.fround(1e-7) });
  });

  it.each([
    [[input, layer('CenterCrop', { name: 'c', height: 8, width: 8 })], /layer c \(CenterCrop\) crops images of any size without a Resizing before it/],
    [[input, layer('Resizing', { name: 'r', height: 8, width: 8, interpolation: 'lanczos3' })], /uses interpolation 'lanczos3'; tensorsky export builds bilinear, nearest, bicubic and area/],
    [[input, layer('Resizing', { name: 'r', height: 8, width: 8, crop_to_aspect_ratio: true })], /crop_to_aspect_ratio/],
    [[input, layer('Normalization', { name: 'n', axis: -1, mean: null, variance: null })], /was adapted to data: its mean and variance are weights, not config; give them with --mean and --std/],
    [[input, layer('Normalization', { name: 'n', mean: 1, variance: 1, invert: true })], /invert=True/],
    [[input, conv], /the model has no Rescaling, Normalization, Resizing or CenterCrop layer after its input \(the first layer is Conv2D\)/],
  ])('refuses what it cannot build (%#)', (layers, message) => {
    expect(() => preprocessingFromLayers(layers as never, 'm.json')).toThrow(PreprocessFromError);
    expect(() => preprocessingFromLayers(layers as never, 'm.json')).toThrow(message);
  });
});

describe('a model that carries its preprocessing layers', () => {
  // Configs as the loaders hand them over: normalizeKerasConfig gives the Keras 2 form.
  const normalized = (config: unknown) => normalizeKerasConfig(structuredClone(config)) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };

  it('takes the preprocessing layers right after the input out of a Sequential; the network takes their output size', () => {
    const model = normalized(sequential([input, resizing, centerCrop, rescaling, normalization, conv]));
    const p = takeInputPreprocessing(model, 'model.keras');
    expect(p?.layers).toEqual(['resizing (Resizing)', 'center_crop (CenterCrop)', 'rescaling (Rescaling)', 'normalization (Normalization)']);
    expect(p?.geometry).toEqual({ kind: 'resize_then_crop', height: 256, width: 256 });
    expect(model.config.layers.map((l) => l.class_name)).toEqual(['InputLayer', 'Conv2D']);
    expect(model.config.layers[0]!.config.batch_input_shape).toEqual([null, 224, 224, 3]);
    expect(() => checkSupportedLayers(model, 'model.keras')).not.toThrow();
  });

  it('rewires a Functional model so the first network layer reads the input', () => {
    const node = (from: string) => [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: [from, 0, 0] } }], kwargs: {} }];
    const withNode = (l: ReturnType<typeof layer>, from: string) => ({ ...l, name: (l.config as { name?: string }).name, inbound_nodes: node(from) });
    const model = normalized({
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'f',
        layers: [{ ...input, name: 'image', inbound_nodes: [] }, withNode(resizing, 'image'), withNode(rescaling, 'resizing'), withNode(conv, 'rescaling')],
        input_layers: ['image', 0, 0],
        output_layers: ['conv', 0, 0],
      },
    });
    const p = takeInputPreprocessing(model, 'f.keras');
    expect(p?.layers).toEqual(['resizing (Resizing)', 'rescaling (Rescaling)']);
    expect(p?.size).toEqual({ height: 256, width: 256 });
    expect(model.config.layers.map((l) => l.class_name)).toEqual(['InputLayer', 'Conv2D']);
    expect((model.config.layers[1] as unknown as { inbound_nodes: unknown[] }).inbound_nodes).toEqual([[['image', 0, 0, {}]]]);
  });

  it('leaves a Normalization adapted to data (its mean and variance are weights) in the network, ending the run', () => {
    const adapted = layer('Normalization', { name: 'adapted', axis: -1, mean: null, variance: null });
    const model = normalized(sequential([input, rescaling, adapted, conv]));
    expect(takeInputPreprocessing(model, 'm.keras')?.layers).toEqual(['rescaling (Rescaling)']);
    expect(model.config.layers.map((l) => l.class_name)).toEqual(['InputLayer', 'Normalization', 'Conv2D']);
  });

  it('crops a fixed-size input without a Resizing: images are resized to the input size, then cropped as Keras does', () => {
    const fixed = layer('InputLayer', { name: 'image', batch_shape: [null, 64, 64, 3] });
    const model = normalized(sequential([fixed, layer('CenterCrop', { name: 'crop', height: 56, width: 56 }), conv]));
    const p = takeInputPreprocessing(model, 'm.keras');
    expect(p?.geometry).toEqual({ kind: 'resize_then_crop', height: 64, width: 64 });
    expect(p?.size).toEqual({ height: 56, width: 56 });
    expect(model.config.layers[0]!.config.batch_input_shape).toEqual([null, 56, 56, 3]);
  });

  it('changes nothing when the model starts with another layer', () => {
    const model = normalized(sequential([input, conv, rescaling]));
    expect(takeInputPreprocessing(model, 'm.keras')).toBeUndefined();
    expect(model.config.layers).toHaveLength(3);
  });

  it('refuses Resizing/CenterCrop anywhere else with what to do, and a model of preprocessing layers only', () => {
    const model = normalized(sequential([input, rescaling, conv, resizing]));
    takeInputPreprocessing(model, 'model.keras');
    expect(() => checkSupportedLayers(model, 'model.keras')).toThrow(
      "layer 'resizing' is a Resizing preprocessing layer that does not come right after the model's input; tensorsky export builds Resizing and CenterCrop into the serving graph only there (followed or preceded only by Rescaling and Normalization): move it to the input and save the model again",
    );
    expect(() => takeInputPreprocessing(normalized(sequential([input, resizing, rescaling])), 'pre.keras')).toThrow(
      'pre.keras: the model is only preprocessing layers; there is no network to export',
    );
  });
});

describe('readModelPreprocessing', () => {
  it('reads a .keras archive, a JSON config, a TF.js model.json and a folder holding one', async () => {
    const config = sequential([input, resizing, centerCrop, rescaling, conv]);
    const archive = join(scratch, 'model.keras');
    await writeFile(archive, zipSync({ 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'metadata.json': new Uint8Array(2) }));
    const json = join(scratch, 'config.json');
    await writeFile(json, JSON.stringify(config));
    const folder = join(scratch, 'tfjs');
    await mkdir(folder);
    await writeFile(join(folder, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: { model_config: config }, weightsManifest: [] }));
    const layerList = join(scratch, 'layers.json');
    await writeFile(layerList, JSON.stringify([resizing, centerCrop]));

    for (const path of [archive, json, folder, layerList]) {
      const p = await readModelPreprocessing(path);
      expect(p.geometry).toEqual({ kind: 'resize_then_crop', height: 256, width: 256 });
      expect(p.size).toEqual({ height: 224, width: 224 });
    }
    expect((await readModelPreprocessing(folder)).source).toBe(join(folder, 'model.json'));
  });

  it('names a missing path, a non-JSON file and a file without layers in one line', async () => {
    await expect(readModelPreprocessing(join(scratch, 'nope'))).rejects.toThrow(`--preprocess_from ${join(scratch, 'nope')}: no such file or directory`);
    const text = join(scratch, 'notes.txt');
    await writeFile(text, 'hello');
    await expect(readModelPreprocessing(text)).rejects.toThrow(/is not JSON .*; give a Keras model \(.keras, .h5, model.json\) or a JSON config/);
    const other = join(scratch, 'other.json');
    await writeFile(other, '{"a": 1}');
    await expect(readModelPreprocessing(other)).rejects.toThrow(/no Keras layer list found/);
  });
});
