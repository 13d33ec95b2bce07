// `tensorsky export` in-process: InceptionV3 with seeded random weights exported, then read back with
// `tensorsky inspect`; refusals (non-empty --model_dir, a file in the path, bad flags) as one-line errors
// that leave nothing behind.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMAGES_DIR } from '@tensorsky/fixtures';
import { readProvenance, readTfRecords } from '@tensorsky/saved-model';
import { DEFAULT_VERSION_POLICY, WARMUP_FILE, startServer } from '@tensorsky/serve';
import { afterAll, describe, expect, it } from 'vitest';
import { functional, keras3 as K, writeKerasArchive } from '../../../packages/export/test/helpers/keras-archive-writer.js';
import { smallClassifierConfig, smallClassifierWeights } from '../../../packages/export/test/helpers/keras-models.js';
import { smallGraphModel, writeTfjsGraphModel } from '../../../packages/export/test/helpers/tfjs-graph-writer.js';
import { writeTfjsLayersModel } from '../../../packages/export/test/helpers/tfjs-layers-writer.js';
import { SERVE_FUNCTION, writeTf2Classifier } from '../../../packages/export/test/helpers/tf2-saved-model-writer.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';
import { run } from './support/run-cli.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-export-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('tensorsky export', () => {
  const modelDir = path.join(scratch, 'inception', '1');

  it('exports InceptionV3 with seeded random weights, which inspect shows as inputs DT_STRING [-1] → outputs DT_FLOAT [-1, 1000]', async () => {
    const exported = await run('export', '--model_dir', modelDir, '--weights', 'random', '--seed', '3');
    expect(exported.err.filter((l) => !l.startsWith('tensorsky export: '))).toEqual([]);
    expect(exported.code).toBe(0);
    expect(exported.err).toHaveLength(4);
    expect(exported.err.join('\n')).toMatch(/building InceptionV3\n.*converting inception_v3 \(313 layers\) to TensorFlow ops\n.*checking \d+ nodes against TensorFlow's op definitions\n.*writing /);
    expect(exported.out[0]).toBe(`Exported inception_v3 (weights: random (seed 3)) to ${modelDir}`);
    expect(exported.out).toContain('  signature serving_default: inputs DT_STRING [-1] -> outputs DT_FLOAT [-1, 1000]');
    expect(exported.out).toContain('  preprocess: inception, x / 127.5 - 1 (Keras "tf" mode: InceptionV3, MobileNet, Xception)');
    expect(exported.out).toContain('  labels: assets/labels.txt (1000 classes, from imagenet)');
    expect(exported.out).toContain('  JPEG IDCT: accurate (DecodeJpeg dct_method=INTEGER_ACCURATE; DecodeImage for other formats)');

    const labels = readFileSync(path.join(modelDir, 'assets', 'labels.txt'), 'utf8').split('\n');
    expect(labels.slice(0, 2)).toEqual(['tench', 'goldfish']);
    expect(labels).toHaveLength(1001);
    expect(await readProvenance(modelDir)).toMatchObject({ model: { kind: 'built-in', name: 'inception_v3' }, weights: { kind: 'random', seed: 3 } });

    const inspected = await run('inspect', modelDir);
    expect(inspected.code).toBe(0);
    expect(inspected.out).toEqual(
      expect.arrayContaining([
        "MetaGraphDef with tag-set: 'serve' contains the following SignatureDefs:",
        "signature_def['serving_default']:",
        "  inputs['inputs'] tensor_info: dtype: DT_STRING shape: (-1) name: inputs:0",
        "  outputs['outputs'] tensor_info: dtype: DT_FLOAT shape: (-1, 1000) name: predictions/Softmax:0",
        '  Method name is: tensorflow/serving/predict',
        'Variables: none (variables/variables.index missing or empty)',
        'Assets: labels.txt',
        'JPEG decoding: DecodeJpeg 1 (accurate IDCT, dct_method INTEGER_ACCURATE), DecodeImage 1 (fast IDCT)',
      ]),
    );
  });

  it('refuses to overwrite the export without --force, then replaces it with --force --json', async () => {
    const pb = path.join(modelDir, 'saved_model.pb');
    const before = statSync(pb).mtimeMs;
    const refused = await run('export', '--model_dir', modelDir, '--weights', 'random');
    expect(refused.code).toBe(1);
    expect(refused.err).toEqual([`tensorsky: refusing to overwrite ${modelDir}: the directory is not empty (use --force to replace it)`]);
    expect(statSync(pb).mtimeMs).toBe(before);

    const replaced = await run('export', '--model-dir', modelDir, '--weights', 'random', '--seed', '4', '--input-format', 'bytes', '--preprocess', 'unit', '--labels', 'none', '--jpeg_dct', 'fast', '--force', '--json');
    expect(replaced.code).toBe(0);
    expect(replaced.out).toEqual([]);
    expect(replaced.json).toEqual([
      expect.objectContaining({
        modelDir,
        model: 'inception_v3',
        weights: 'random (seed 4)',
        inputFormat: 'bytes',
        preprocess: 'unit',
        labels: null,
        jpegDct: 'fast',
        classes: 1000,
        signature: expect.objectContaining({ outputs: { outputs: { name: 'predictions/Softmax:0', dtype: 'DT_FLOAT', shape: [-1, 1000] } } }),
      }),
    ]);
    expect(readdirSync(modelDir).sort()).toEqual(['assets.extra', 'saved_model.pb', 'variables']);
    expect(readdirSync(path.dirname(modelDir))).toEqual(['1']);
  });

  it('refuses an output path under a regular file before loading anything', async () => {
    const parent = path.join(scratch, 'blocked');
    mkdirSync(parent);
    writeFileSync(path.join(parent, 'models'), 'not a directory');
    const target = path.join(parent, 'models', '1');
    const result = await run('export', '--model_dir', target, '--weights', 'random');
    expect(result.code).toBe(1);
    expect(result.err).toEqual([`tensorsky: cannot export to ${target}: ${path.join(parent, 'models')} is a file, not a directory`]);
    expect(readdirSync(parent)).toEqual(['models']);
  });

  // yargs rejects these as usage errors; exportSavedModel also checks them before any slow work.
  it.each([
    [['--weights', 'random'], /model[-_ ]dir/],
    [['--model_dir', path.join(scratch, 'bad-format'), '--weights', 'random', '--input-format', 'jpeg'], /input[-_ ]format[\s\S]*jpeg|jpeg[\s\S]*input[-_ ]format/],
    [['--model_dir', path.join(scratch, 'bad-preprocess'), '--weights', 'random', '--preprocess', 'vgg'], /preprocess[\s\S]*vgg|vgg[\s\S]*preprocess/],
  ])('rejects bad flags: %j', async (argv, message) => {
    const before = readdirSync(scratch);
    const result = await run('export', ...argv);
    expect(result.code).not.toBe(0);
    expect(result.err.join('\n')).toMatch(message);
    expect(readdirSync(scratch)).toEqual(before);
  });

  it('reports a model it cannot read in one line', async () => {
    const missing = path.join(scratch, 'missing.h5');
    const result = await run('export', '--model_dir', path.join(scratch, 'never'), '--model', missing);
    expect(result.code).toBe(1);
    expect(result.err.filter((l) => l.startsWith('tensorsky: '))).toEqual([`tensorsky: ${missing} does not exist`]);
    expect(readdirSync(scratch)).not.toContain('never');
  });
});

describe('tensorsky export --model with weight paths outside the model folder', () => {
  it('refuses ../ paths and devices: exit 1, one line naming the path, nothing written', async () => {
    const modelFolder = path.join(scratch, 'tfjs', 'classifier');
    await writeTfjsLayersModel(modelFolder, smallClassifierConfig(), smallClassifierWeights());
    const modelJson = path.join(modelFolder, 'model.json');
    const json = JSON.parse(readFileSync(modelJson, 'utf8'));
    for (const weightPath of ['../../../../etc/passwd', '/dev/zero']) {
      writeFileSync(modelJson, JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [weightPath] }] }));
      const target = path.join(scratch, 'escaped', '1');
      const result = await run('export', '--model_dir', target, '--model', modelFolder);
      expect(result.code).toBe(1);
      expect(result.err.filter((l) => l.startsWith('tensorsky: '))).toEqual([
        `tensorsky: ${modelJson} lists weight file ${weightPath}, which is outside the model's folder ${modelFolder}; a model's files must sit in its folder`,
      ]);
      expect(readdirSync(scratch)).not.toContain('escaped');
    }
  });
});

describe('tensorsky export --model with a Keras 3 .keras archive it cannot export', () => {
  /** Exit code 1, one error line (besides the progress lines), and no target directory. */
  async function refused(model: string, target: string): Promise<string[]> {
    const result = await run('export', '--model_dir', path.join(scratch, target, '1'), '--model', model);
    expect(result.code).toBe(1);
    expect(result.err.filter((l) => !l.startsWith('tensorsky export: '))).toHaveLength(1);
    expect(readdirSync(scratch)).not.toContain(target);
    return result.err.filter((l) => l.startsWith('tensorsky: '));
  }
  const layers = (middle: ReturnType<typeof K.conv2d>) => [
    K.input('image', [8, 8, 3]),
    middle,
    K.globalAveragePool('gap', { from: middle.config.name, shape: [null, 8, 8, 4] }),
    K.dense('predictions', 2, 'softmax', { from: 'gap', shape: [null, 4] }),
  ];

  it('refuses an archive without model.weights.h5', async () => {
    const archive = path.join(scratch, 'no-weights.keras');
    const config = functional('classifier', layers(K.conv2d('conv', 4, 3, { from: 'image', shape: [null, 8, 8, 3] })), 'image', 'predictions');
    await writeKerasArchive(archive, config, {}, { withoutWeights: true });
    expect(await refused(archive, 'no-weights')).toEqual([
      `tensorsky: ${archive} has no model.weights.h5; the archive is incomplete: save the model again with model.save('model.keras')`,
    ]);
  });

  it('refuses a Lambda layer, naming it', async () => {
    const archive = path.join(scratch, 'lambda.keras');
    const config = functional('classifier', layers(K.lambda('scale', { from: 'image', shape: [null, 8, 8, 3] })), 'image', 'predictions');
    await writeKerasArchive(archive, config, {});
    const [line] = await refused(archive, 'lambda');
    expect(line).toBe(
      "tensorsky: layer 'scale' is a Lambda layer: its Python code is not in the model file, so tensorsky export cannot convert it; rebuild the model with built-in layers in its place (e.g. Rescaling for x / 255) and save it again",
    );
  });
});

describe('tensorsky export --model with a TF.js graph model', () => {
  it('refuses an op it cannot write: exit 1, one line naming the node and op, nothing written', async () => {
    const spec = smallGraphModel(1);
    // Sinh: a TensorFlow op outside the definitions tensorsky checks graphs against.
    const nodes = spec.nodes.map((node) => (node.name === 'probs' ? { ...node, op: 'Sinh' } : node));
    const folder = path.join(scratch, 'graph-sinh');
    await writeTfjsGraphModel(folder, { ...spec, nodes });
    const result = await run('export', '--model_dir', path.join(scratch, 'sinh-export', '1'), '--model', folder);
    expect(result.code).toBe(1);
    expect(result.err.filter((l) => !l.startsWith('tensorsky export: '))).toEqual([
      `tensorsky: ${path.join(folder, 'model.json')}: node 'probs' has op Sinh, which tensorsky export cannot write: it is neither a TensorFlow op it has the definition of nor a fused op of tfjs-converter (_FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul)`,
    ]);
    expect(readdirSync(scratch)).not.toContain('sinh-export');
  });
});

describe('tensorsky export --warmup_images', () => {
  it("writes one predict request per image to assets.extra/tf_serving_warmup_requests, which a server replays as the version loads", async () => {
    const folder = path.join(scratch, 'warmup-tfjs');
    await writeTfjsLayersModel(folder, smallClassifierConfig(), smallClassifierWeights());
    const base = path.join(scratch, 'warmup-repo');
    const images = [path.join(IMAGES_DIR, 'cat.jpg'), path.join(IMAGES_DIR, 'image_png_test.png')];
    const result = await run('export', '--model_dir', path.join(base, '1'), '--model', folder, '--warmup_images', images.join(','));
    expect(result.code).toBe(0);
    expect(readTfRecords(readFileSync(path.join(base, '1', WARMUP_FILE)))).toHaveLength(2);

    // The real engine replays both through the exported graph (DecodeBase64, image decoding, the network).
    const log: string[] = [];
    const server = await startServer({
      models: [{ name: 'm', basePath: base, versionPolicy: DEFAULT_VERSION_POLICY, versionLabels: {} }],
      host: '127.0.0.1',
      port: 0,
      workers: 1,
      log: (line) => log.push(line),
    });
    try {
      expect(log.filter((line) => /^m@1: warmup: 2 requests replayed in \d+ ms \(3 times each\)$/.test(line))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('refuses a file that is not an image, or is missing, before exporting anything', async () => {
    const notImage = path.join(scratch, 'notes.txt');
    writeFileSync(notImage, 'hello');
    for (const [file, message] of [
      [notImage, `${notImage} is not a JPEG, PNG, GIF or BMP image`],
      [path.join(scratch, 'absent.jpg'), `cannot read ${path.join(scratch, 'absent.jpg')}: no such file`],
    ]) {
      const result = await run('export', '--model_dir', path.join(scratch, 'warmup-refused', '1'), '--weights', 'random', '--warmup_images', file);
      expect(result.code).not.toBe(0);
      expect(result.err.join('\n')).toContain(message);
      expect(readdirSync(scratch)).not.toContain('warmup-refused');
    }
  });
});

describe('tensorsky export --saved_model', () => {
  const spec = { height: 16, width: 16, channels: 3, filters: 4, classes: 3 };
  const classifier = path.join(scratch, 'tf2-classifier');
  const weights = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * scale);
  writeTf2Classifier(classifier, spec, { convKernel: weights(3 * 3 * 3 * 4, 0.5), convBias: weights(4, 0.1), denseKernel: weights(12, 1), denseBias: weights(3, 0.1) });

  it('freezes a TF2 SavedModel behind the image front, keeping its signature next to serving_default', async () => {
    const modelDir = path.join(scratch, 'from-saved-model', '1');
    const result = await run('export', '--model_dir', modelDir, '--saved_model', classifier, '--keep-signatures');
    expect(result.err.filter((l) => !l.startsWith('tensorsky export: '))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.err.join('\n')).toMatch(/converting tf2-classifier \(signature "serving_default", \d+ nodes frozen\) to TensorFlow ops/);
    expect(result.out).toContain('  signature serving_default: inputs DT_STRING [-1] -> outputs DT_FLOAT [-1, 3]');
    expect(result.out).toContain('  input: web-safe base64 of JPEG/PNG/GIF/BMP files, decoded to RGB and resized to 16x16');
    expect(result.out).toContain('  kept signatures: serving_default_original');
    const inspected = await run('inspect', modelDir);
    expect(inspected.out).toEqual(expect.arrayContaining(["signature_def['serving_default_original']:", 'Variables: none (variables/variables.index missing or empty)']));
  });

  it('exports a concrete function (--function) as JSON', async () => {
    const modelDir = path.join(scratch, 'from-function', '1');
    const result = await run('export', '--model_dir', modelDir, '--saved_model', classifier, '--function', SERVE_FUNCTION, '--json');
    expect(result.code).toBe(0);
    expect(result.json[0]).toMatchObject({ model: 'tf2-classifier', inputShape: [16, 16, 3], classes: 3, keptSignatures: [] });
  });

  it('keeps a numeric signature as it is with --input_format tensor', async () => {
    const modelDir = path.join(scratch, 'half-plus-two', '1');
    const original = path.join(SAVED_MODELS_DIR, 'tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123');
    const result = await run('export', '--model_dir', modelDir, '--saved_model', original, '--input_format', 'tensor');
    expect(result.code).toBe(0);
    expect(result.out).toContain('  signature serving_default: x DT_FLOAT [1] -> y DT_FLOAT [1]');
    expect(result.out).toContain("  input: the signature's own tensors (no image front)");
  });

  /** Exit code 1, one error line (besides the progress lines), and no target directory. */
  async function refused(target: string, ...args: string[]): Promise<string[]> {
    const result = await run('export', '--model_dir', path.join(scratch, target, '1'), ...args);
    expect(result.code).toBe(1);
    expect(result.err.filter((l) => !l.startsWith('tensorsky export: '))).toHaveLength(1);
    expect(readdirSync(scratch)).not.toContain(target);
    return result.err.filter((l) => l.startsWith('tensorsky: '));
  }

  it('refuses a SavedModel without the chosen signature: one line naming the signatures it has, nothing written', async () => {
    expect(await refused('no-signature', '--saved_model', classifier, '--signature', 'classify')).toEqual([
      `tensorsky: ${classifier} has no signature "classify"; its signatures: serving_default`,
    ]);
  });

  it('refuses an unknown concrete function, a non-image signature without --input_format tensor, and --saved_model with --model', async () => {
    const [line] = await refused('no-function', '--saved_model', classifier, '--function', 'serve');
    expect(line).toBe(`tensorsky: ${classifier}: no concrete function "serve" in the object graph; its concrete functions: ${SERVE_FUNCTION}, __inference_signature_wrapper_118`);
    const original = path.join(SAVED_MODELS_DIR, 'tfjs-node', 'times_three_float');
    expect(await refused('not-image', '--saved_model', original)).toEqual([
      'tensorsky: the signature "serving_default" of times_three_float takes "x" DT_FLOAT [], not one float image batch [batch, height, width, 1 or 3] with a fixed size; export it frozen without the image front with --input_format tensor',
    ]);
    expect(await refused('both', '--saved_model', classifier, '--model', classifier)).toEqual(['tensorsky: --saved_model is the whole model: give it without --model or --weights']);
  });
});
