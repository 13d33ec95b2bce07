// `export --saved_model`: TF2 SavedModels frozen (functions inlined, variables made constants) and
// written with the image front, or as they are with --input_format tensor.
//  - SavedModels written by TensorFlow itself (the fixtures): the export's serving_default gives the
//    original's answers, both run by predict-local's executor (the original unfrozen, from variables/).
//  - A TF2 SavedModel written here in tf.saved_model.save's layout (helpers/tf2-saved-model-writer.ts)
//    with an image classifier: exported with the image front and run on the repository's photos, against
//    TF.js computing the same network with the same weights on the same decoded pixels.
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImageToRgb } from '@tensorsky/image';
import { loadModel } from '@tensorsky/predict-local';
import { preprocessImagesReference } from '@tensorsky/preprocess';
import { getMetaGraph, readSavedModel } from '@tensorsky/saved-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSavedModel, initTfjs, SeededRandom } from '../src/index.js';
import { compareProbabilities, predictExported } from './fidelity-helpers.js';
import { imagesDir, makeTempDir, PHOTOS, SAVED_MODELS_DIR } from './helpers/fixtures.js';
import { classifierShapes, SERVE_FUNCTION, writeTf2Classifier, type ClassifierSpec, type ClassifierWeights } from './helpers/tf2-saved-model-writer.js';

const fixture = (...parts: string[]) => join(SAVED_MODELS_DIR, ...parts);

/** Runs one signature of a SavedModel with predict-local's executor. */
async function run(dir: string, inputs: Record<string, tf.TensorLike>, signature = 'serving_default'): Promise<Record<string, number[]>> {
  const model = await loadModel(dir, { backend: 'cpu', signature });
  try {
    const outputs = await model.predict(inputs as never);
    return Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
  } finally {
    model.dispose();
  }
}

function opsOf(dir: string): Promise<Set<string>> {
  return readSavedModel(dir).then((m) => new Set((getMetaGraph(m.savedModel).graph_def?.node ?? []).map((n) => n.op)));
}

let temp: Awaited<ReturnType<typeof makeTempDir>>;
beforeAll(async () => {
  await initTfjs('cpu');
  temp = await makeTempDir('saved-model');
});
afterAll(async () => temp?.cleanup());

describe('export --saved_model of SavedModels written by TensorFlow (fixtures)', () => {
  const STATEFUL = ['VarHandleOp', 'ReadVariableOp', 'StatefulPartitionedCall', 'PartitionedCall', 'RestoreV2', 'AssignVariableOp'];

  it('freezes half_plus_two (TF2, variables a and b) into a serving_default giving the original’s answers', async () => {
    const original = fixture('tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123');
    const modelDir = join(temp.dir, 'half_plus_two', '1');
    const result = await exportSavedModel({ modelDir, savedModel: original, inputFormat: 'tensor' });
    expect(result.inputShape).toBeNull();
    expect(result.signature.inputs).toEqual({ x: { name: expect.any(String), dtype: 'DT_FLOAT', shape: [1] } });
    expect(Object.keys(result.signature.outputs)).toEqual(['y']);
    expect(readdirSync(join(modelDir, 'variables'))).toEqual([]);
    const ops = await opsOf(modelDir);
    for (const op of STATEFUL) expect(ops.has(op), op).toBe(false);

    for (const x of [[0], [1], [-3.5], [1e6]]) {
      const expected = await run(original, { x });
      expect(expected.y).toEqual([0.5 * x[0]! + 2]);
      expect(await run(modelDir, { x })).toEqual(expected);
    }
  });

  it('freezes a TF1 SavedModel (VariableV2 restored by its saver) and refuses --function on it', async () => {
    const original = fixture('tf-serving', 'saved_model_half_plus_two_cpu', '00000123');
    const modelDir = join(temp.dir, 'tf1', '1');
    await exportSavedModel({ modelDir, savedModel: original, inputFormat: 'tensor' });
    const x = [[1], [-2], [10]];
    const expected = await run(original, { x });
    expect(expected.y).toEqual([2.5, 1, 7]);
    expect(await run(modelDir, { x })).toEqual(expected);
    await expect(exportSavedModel({ modelDir: join(temp.dir, 'tf1-function', '1'), savedModel: original, inputFormat: 'tensor', function: 'f' })).rejects.toThrow(
      `${original}: --function needs a TF2 SavedModel (tf.saved_model.save); this one has no object graph, export one of its signatures instead`,
    );
  });

  // tfjs-node's TF2 test models: one variable each (times three, times two, multiply by a constant).
  const TFJS_NODE: [string, Record<string, tf.TensorLike>][] = [
    ['times_three_float', { x: 2.5 }],
    ['times_two_int', { x: 21 }],
    ['int64_multiply', { x: [3, -4] }],
    ['uint8_multiply', { x: [7] }],
    ['model_multi_output', { x: 3, y: 5 }],
    ['model_single_input_multi_output', { x: 6 }],
  ];
  for (const [name, inputs] of TFJS_NODE) {
    it(`freezes tfjs-node's ${name} into a serving_default giving the original’s answers`, async () => {
      const original = fixture('tfjs-node', name);
      const modelDir = join(temp.dir, name, '1');
      await exportSavedModel({ modelDir, savedModel: original, inputFormat: 'tensor' });
      expect(readdirSync(join(modelDir, 'variables'))).toEqual([]);
      const ops = await opsOf(modelDir);
      for (const op of STATEFUL) expect(ops.has(op), op).toBe(false);
      const expected = await run(original, inputs);
      if (name === 'times_three_float') expect(expected).toEqual({ output_0: [7.5] });
      expect(Object.values(expected).every((values) => values.length > 0)).toBe(true);
      expect(await run(modelDir, inputs)).toEqual(expected);
    });
  }

  it('keeps the original signatures next to serving_default (--keep_signatures), each giving the original’s answers', async () => {
    const original = fixture('tfjs-node', 'module_with_multiple_signatures');
    const modelDir = join(temp.dir, 'multiple', '1');
    const result = await exportSavedModel({ modelDir, savedModel: original, inputFormat: 'tensor', keepSignatures: true });
    expect(result.keptSignatures.sort()).toEqual(['serving_default_original', 'timestwo']);
    const loaded = await readSavedModel(modelDir);
    expect(Object.keys(getMetaGraph(loaded.savedModel).signature_def ?? {}).sort()).toEqual(['serving_default', 'serving_default_original', 'timestwo']);
    for (const x of [0, 1.5, -7]) {
      const servingDefault = await run(original, { x }, 'serving_default');
      const timesTwo = await run(original, { x }, 'timestwo');
      expect(timesTwo.output_0).toEqual([2 * x]);
      expect(await run(modelDir, { x }, 'serving_default')).toEqual(servingDefault);
      expect(await run(modelDir, { x }, 'serving_default_original')).toEqual(servingDefault);
      expect(await run(modelDir, { x }, 'timestwo')).toEqual(timesTwo);
    }
  });

  it('exports concrete functions of the object graph (--function), their captured variables restored by the checkpoint’s object graph', async () => {
    const original = fixture('tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123');
    // predict captures a and b (y = 0.5x + 2), regress_x2y3 captures a and c (0.5x + 3).
    for (const [fn, signature, output] of [
      ['__inference_predict_235', 'serving_default', 'y'],
      ['__inference_regress_x2y3_165', 'regress_x2_to_y3', 'outputs'],
    ] as const) {
      const modelDir = join(temp.dir, fn, '1');
      const result = await exportSavedModel({ modelDir, savedModel: original, inputFormat: 'tensor', function: fn });
      expect(Object.keys(result.signature.outputs)).toEqual([output]);
      const [input] = Object.keys(result.signature.inputs);
      for (const x of [[0], [4]]) {
        const expected = await run(original, { [signature === 'serving_default' ? 'x' : 'inputs']: x }, signature);
        expect(await run(modelDir, { [input!]: x })).toEqual({ [output]: expected[Object.keys(expected)[0]!] });
      }
    }
  });

  it('exports another signature with --signature', async () => {
    const original = fixture('tfjs-node', 'module_with_multiple_signatures');
    const modelDir = join(temp.dir, 'timestwo', '1');
    await exportSavedModel({ modelDir, savedModel: original, inputFormat: 'tensor', signature: 'timestwo' });
    expect(await run(modelDir, { x: 21 })).toEqual({ output_0: [42] });
  });

  it('refuses what it cannot export in one line, writing nothing', async () => {
    const original = fixture('tf-serving', 'saved_model_half_plus_two_tf2_cpu', '00000123');
    const target = join(temp.dir, 'refused', '1');
    const refusal = (options: Parameters<typeof exportSavedModel>[0]) =>
      exportSavedModel(options).then(
        () => 'exported',
        (err: Error) => err.message,
      );
    expect(await refusal({ modelDir: target, savedModel: original, signature: 'no_such' })).toBe(
      `${original} has no signature "no_such"; its signatures: classify_x2_to_y3, classify_x_to_y, regress_x2_to_y3, regress_x_to_y, regress_x_to_y2, serving_default`,
    );
    expect(await refusal({ modelDir: target, savedModel: original })).toBe(
      'the signature "serving_default" of 00000123 takes "x" DT_FLOAT [1], not one float image batch [batch, height, width, 1 or 3] with a fixed size; export it frozen without the image front with --input_format tensor',
    );
    expect(await refusal({ modelDir: target, savedModel: original, signature: 'x', function: 'y' })).toBe('--signature and --function both pick what to export; give one of them');
    expect(await refusal({ modelDir: target, savedModel: original, inputFormat: 'tensor', function: '__inference_nothing_1' })).toMatch(
      /^.*00000123: no concrete function "__inference_nothing_1" in the object graph; its concrete functions: __inference_.*/,
    );
    expect(await refusal({ modelDir: target, model: 'x.h5', inputFormat: 'tensor' })).toBe('--input_format tensor applies to --saved_model only; other models get the image front');
    expect(await refusal({ modelDir: target, savedModel: original, foldBatchNorms: true })).toBe(
      '--fold-batch-norms applies to Keras and TF.js layers models; a SavedModel is exported as its graph computes',
    );
    expect(await refusal({ modelDir: target, savedModel: join(temp.dir, 'nowhere') })).toBe(`${join(temp.dir, 'nowhere')} does not exist`);
    expect(readdirSync(temp.dir)).not.toContain('refused');
    // The tf.Example signatures (ParseExampleV2, whose OpDef is vendored) are kept like the others.
    const kept = await exportSavedModel({ modelDir: join(temp.dir, 'kept-all', '1'), savedModel: original, inputFormat: 'tensor', keepSignatures: true });
    expect(kept.keptSignatures).toEqual(expect.arrayContaining(['classify_x_to_y', 'regress_x_to_y']));
  });
});

describe('export --saved_model of a TF2 image classifier in tf.saved_model.save’s layout', () => {
  const spec: ClassifierSpec = { height: 40, width: 48, channels: 3, filters: 8, classes: 10 };
  let weights: ClassifierWeights;
  let original: string;
  let reference: Float32Array;
  let files: Buffer[];
  /** conv 3x3 SAME + bias → relu → global mean → dense + bias → softmax, in TF.js ops. */
  const network = (x: tf.Tensor4D): tf.Tensor => {
    const shapes = classifierShapes(spec);
    const conv = tf.relu(tf.add(tf.conv2d(x, tf.tensor4d(weights.convKernel, shapes.conv_kernel as never), 1, 'same'), tf.tensor1d(weights.convBias)));
    const pooled = tf.mean(conv, [1, 2]) as tf.Tensor2D;
    return tf.softmax(tf.add(tf.matMul(pooled, tf.tensor2d(weights.denseKernel, shapes.dense_kernel as never)), tf.tensor1d(weights.denseBias)));
  };

  beforeAll(async () => {
    const random = new SeededRandom(17);
    const shapes = classifierShapes(spec);
    const values = (shape: number[], scale: number) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random.uniform() * 2 - 1) * scale);
    weights = {
      convKernel: values(shapes.conv_kernel, 0.5),
      convBias: values(shapes.conv_bias, 0.2),
      denseKernel: values(shapes.dense_kernel, 2),
      denseBias: values(shapes.dense_bias, 0.5),
    };
    original = join(temp.dir, 'classifier');
    writeTf2Classifier(original, spec, weights);

    files = await Promise.all(PHOTOS.map((name) => readFile(join(imagesDir, name))));
    const decoded = await Promise.all(files.map((f) => decodeImageToRgb(f, { dctMethod: 'accurate' })));
    // The same network in TF.js ops, on the pixels the image front computes (preprocess's TF.js reference).
    reference = tf.tidy(() => {
      const x = preprocessImagesReference(tf, decoded, { height: spec.height, width: spec.width, preprocess: 'inception' });
      return network(x).dataSync() as Float32Array;
    });
  });

  it('reads as a TF2 SavedModel: the original signature, run unfrozen from its variables by our executor, computes the network', async () => {
    const random = new SeededRandom(3);
    const shape = [2, spec.height, spec.width, spec.channels];
    const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random.uniform() * 2 - 1);
    const out = await run(original, { image: tf.tidy(() => tf.tensor4d(x, shape as never).arraySync()) });
    const expected = tf.tidy(() => network(tf.tensor4d(x, shape as never)).dataSync() as Float32Array);
    expect(compareProbabilities(Float32Array.from(out.probs!), expected, spec.classes).maxAbsDiff).toBeLessThanOrEqual(1e-6);
  });

  for (const pick of ['signature', 'function'] as const) {
    it(`exports the ${pick} with the image front: same top-5 as TF.js on the photos, max abs diff ≤ 1e-5`, async () => {
      const modelDir = join(temp.dir, `classifier-${pick}`, '1');
      const result = await exportSavedModel({
        modelDir,
        savedModel: original,
        ...(pick === 'function' ? { function: SERVE_FUNCTION } : { keepSignatures: true }),
        preprocess: 'inception',
      });
      expect(result.inputShape).toEqual([spec.height, spec.width, spec.channels]);
      expect(result.classes).toBe(spec.classes);
      expect(result.signature.inputs).toEqual({ inputs: { name: 'inputs:0', dtype: 'DT_STRING', shape: [-1] } });
      expect(result.signature.outputs.outputs).toMatchObject({ dtype: 'DT_FLOAT', shape: [-1, spec.classes] });
      expect(readdirSync(join(modelDir, 'variables'))).toEqual([]);
      const ops = await opsOf(modelDir);
      for (const op of ['Conv2D', 'BiasAdd', 'Relu', 'Mean', 'MatMul', 'AddV2', 'Softmax', 'DecodeImage']) expect(ops.has(op), op).toBe(true);
      for (const op of ['VarHandleOp', 'ReadVariableOp', 'StatefulPartitionedCall']) expect(ops.has(op), op).toBe(false);

      if (pick === 'signature') {
        // The kept signature shares the weights of the new serving_default: one Const per variable.
        expect(result.keptSignatures).toEqual(['serving_default_original']);
        const nodes = getMetaGraph((await readSavedModel(modelDir)).savedModel).graph_def!.node!;
        const kernels = nodes.filter((n) => n.op === 'Const' && n.attr?.value?.tensor?.tensor_shape?.dim?.length === 4);
        expect(kernels).toHaveLength(1);
        const x = tf.tidy(() => tf.randomUniform([2, spec.height, spec.width, spec.channels], -1, 1, 'float32', 5).arraySync());
        expect(await run(modelDir, { image: x }, 'serving_default_original')).toEqual(await run(original, { image: x }));
      }
      const exported = await predictExported(modelDir, files.map((f) => f.toString('base64url')));
      expect(exported.shape).toEqual([PHOTOS.length, spec.classes]);
      const comparison = compareProbabilities(exported.data, reference, spec.classes);
      console.log(`TF2 SavedModel ${pick} export vs TF.js: max abs diff ${comparison.maxAbsDiff.toExponential(2)}, top-1 ${comparison.top1.join(' ')}`);
      expect(comparison.top5Mismatches).toEqual([]);
      expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-5);
      // The photos do not all land in one class: the comparison covers more than one winner.
      expect(new Set(comparison.top1).size).toBeGreaterThan(1);
    });
  }
});
