// The checks of export-and-verify, in the order they run (this list is the only place the order is
// written):
//   export     load the source model, then export it (or take the given SavedModel)
//   graph      every node of the written saved_model.pb against TensorFlow's op definitions
//   signature  serving_default takes encoded images (DT_STRING) and returns [batch, classes] floats
//   golden     per image: the SavedModel (through predict-local) vs the reference model (the source on the
//              same decoded pixels): max abs diff within the tolerance, top-1 and top-k agreement (up to
//              ties within the tolerance)
//   latency    95th percentile of one-image prediction time within the budget
//   deploy     when asked: deploy and send a golden image through the endpoint
import path from 'node:path';
import { loadLabels, type Labels } from '@tensorsky/decode';
import { exportSavedModel } from '@tensorsky/export';
import type { Backend as LocalBackend, LocalModel, TensorInfoSummary } from '@tensorsky/predict-local';
import { readImageFile } from '@tensorsky/preprocess';
import {
  getMetaGraph,
  imageFeed,
  imageInput,
  readSavedModel,
  scoresOutput,
  servedJpegIdct,
  tfOpDefs,
  validateGraph,
  weightsWarning,
} from '@tensorsky/saved-model';
import { compareScores, latencyStats } from './compare.js';
import { smokeLocal, smokeVertex } from './deploy-smoke.js';
import { compareImage, describeImage, imageProblem } from './golden.js';
import { loadReferenceModel } from './reference-model.js';
import { errorLine, type Check, type ImageTensor } from './run.js';

const exportCheck: Check = {
  name: 'export',
  async run(run) {
    const { options, report, log } = run;
    try {
      log(`loading ${options.model ?? 'InceptionV3'} (weights: ${options.weights ?? (options.model ? 'from the model file' : 'imagenet')})`);
      // The source model is a TF.js model: it runs on wasm unless cpu is asked for (onnx runs only the
      // export). Without ImageNet weights (not cached, no network) this fails, as export does: a run on
      // random weights must be asked for, since its predicted labels mean nothing.
      run.reference = await loadReferenceModel({
        model: options.model,
        weights: options.weights,
        seed: options.seed,
        backend: run.settings.backend === 'wasm' || run.settings.backend === 'cpu' ? run.settings.backend : undefined,
        preprocess: options.preprocess,
        imagenet: options.imagenet,
        onProgress: downloadProgress(log),
        onNotice: (m) => log(`notice: ${m}`),
      });
    } catch (err) {
      return { status: 'failed', summary: `cannot load the source model: ${errorLine(err)}`, stop: 'no source model' };
    }
    const { source, preprocess } = run.reference;
    const warning = weightsWarning(source.provenance.weights);
    if (warning) report.warnings.push(warning);
    Object.assign(report.model, { name: source.name, weights: source.weights, preprocess, inputShape: source.inputShape, classes: source.classes });

    if (options.savedModel) {
      run.modelDir = report.savedModel.dir = options.savedModel;
      return { status: 'skipped', summary: `verifying the given SavedModel ${options.savedModel}` };
    }
    const modelDir = (run.modelDir = report.savedModel.dir = path.join(options.outDir, source.name, '1'));
    try {
      const result = await exportSavedModel({
        modelDir,
        source,
        preprocess,
        force: true,
        onProgress: (p) => {
          if (p.step !== 'download') log(`export: ${p.message}`);
        },
      });
      Object.assign(report.savedModel, { nodes: result.nodes, bytes: result.savedModelBytes, exportMs: result.timings.total });
      return {
        status: 'passed',
        summary: `${result.nodes} nodes, saved_model.pb ${(result.savedModelBytes / 2 ** 20).toFixed(1)} MiB, in ${(result.timings.total / 1000).toFixed(1)} s`,
      };
    } catch (err) {
      return { status: 'failed', summary: errorLine(err), stop: 'nothing was exported' };
    }
  },
};

/** The file on disk, against TensorFlow's OpDefs. */
const graphCheck: Check = {
  name: 'graph',
  async run(run) {
    const { savedModel } = await readSavedModel(run.modelDir!);
    const metaGraph = getMetaGraph(savedModel, ['serve']);
    const result = validateGraph(metaGraph.graph_def ?? {}, tfOpDefs(), { signatures: metaGraph.signature_def ?? {} });
    const nodes = metaGraph.graph_def?.node?.length ?? 0;
    if (result.valid) return { status: 'passed', summary: `${nodes} nodes valid for TensorFlow's op definitions` };
    return {
      status: 'failed',
      summary: `${result.issues.length} of the graph's problems would stop TensorFlow from loading it`,
      problems: result.issues.map((i) => i.message),
    };
  },
};

/** The signature, through the executor that also runs the golden checks. */
const signatureCheck: Check = {
  name: 'signature',
  stopsOnError: 'the SavedModel cannot be called with images',
  async run(run) {
    const { loadModel } = await import('@tensorsky/predict-local');
    const reference = run.reference!;
    const backend = run.settings.backend;
    // Like with like: with backend auto the export runs on the source's TF.js backend, so the golden
    // tolerance measures the export alone; --backend onnx compares ONNX Runtime against TF.js.
    run.exported = await loadModel(run.modelDir!, { backend: backend === 'auto' ? (reference.backend as LocalBackend) : backend });
    const { input, output } = servingTensors(run.exported, reference.source.classes);
    Object.assign(run, { input, output });
    return { status: 'passed', summary: `serving_default: ${input.name} ${input.dtype} (${input.encoding}) -> ${output} DT_FLOAT [-1, ${reference.source.classes}]` };
  },
};

const goldenCheck: Check = {
  name: 'golden',
  async run(run) {
    const { settings, log, report } = run;
    const [exported, input, output, reference] = [run.exported!, run.input!, run.output!, run.reference!];
    const { source } = reference;
    if (source.inputShape[2] !== 3) {
      return {
        status: 'failed',
        summary: `${source.name} takes ${source.inputShape[2]}-channel images; the reference decoding produces RGB, so only RGB models can be compared`,
        stop: 'no golden comparison',
      };
    }
    // The reference decodes JPEGs with the export's IDCT (export --jpeg_dct), read from its graph.
    const { savedModel } = await readSavedModel(run.modelDir!);
    const jpegDct = servedJpegIdct(getMetaGraph(savedModel, ['serve']).graph_def?.node ?? []) ?? 'fast';
    const labels = await modelLabels(run.modelDir!);
    const models = { exported, input, output, reference, jpegDct, labels, tolerance: settings.tolerance, topK: settings.topK };
    // Which engines the tolerance is stated for: the export on its engine against the source on TF.js.
    const engines = `exported on ${exported.backend}, source on ${reference.backend}`;
    if (exported.fallback) log(`note: ${exported.fallback}`);
    log(`golden: ${run.imagePaths.length} images, tolerance ${settings.tolerance} (${engines}), top-${settings.topK}`);
    for (const image of run.imagePaths) {
      const result = await compareImage(models, image, run.warmupMs === undefined);
      run.warmupMs ??= result.warmupMs;
      report.images.push(result.image);
      log(`  ${describeImage(result.image, settings.topK)}`);
    }
    const { images } = report;
    const problems = images.filter((im) => !im.passed).map((im) => imageProblem(im, settings.tolerance, settings.topK));
    const compared = images.filter((im) => im.maxAbsDiff !== undefined);
    const worst = Math.max(0, ...compared.map((im) => im.maxAbsDiff!));
    const agreeing = compared.filter((im) => im.top1Agree).length;
    return {
      status: problems.length === 0 ? 'passed' : 'failed',
      summary: `${images.length - problems.length} of ${images.length} images within ${settings.tolerance} (largest difference ${worst.toExponential(2)}; ${engines}), top-1 agrees on ${agreeing} of ${compared.length}`,
      problems,
    };
  },
};

const latencyCheck: Check = {
  name: 'latency',
  async run({ report, settings, exported, warmupMs }) {
    const { images } = report;
    const budget = settings.latencyBudgetMs;
    const stats = latencyStats(images.flatMap((im) => (im.latencyMs === undefined ? [] : [im.latencyMs])));
    if (!stats) return { status: 'skipped', summary: 'no image was predicted' };
    report.latency = { ...stats, budgetMs: budget, warmupMs };
    const summary = `p95 ${Math.round(stats.p95Ms)} ms (median ${Math.round(stats.medianMs)} ms, max ${Math.round(stats.maxMs)} ms) over ${stats.count} images, budget ${budget} ms, backend ${exported!.backend}`;
    if (stats.p95Ms <= budget) return { status: 'passed', summary };
    const slow = images.filter((im) => (im.latencyMs ?? 0) > budget).map((im) => `${path.basename(im.image)}: ${Math.round(im.latencyMs!)} ms`);
    return { status: 'failed', summary, problems: [`p95 ${Math.round(stats.p95Ms)} ms is over the budget of ${budget} ms; slowest: ${slow.join(', ')}`] };
  },
};

/** Deploys and sends the first image the exported model could predict; the endpoint must answer as the local run did. */
const deployCheck: Check = {
  name: 'deploy',
  enabled: (options) => options.deploy !== undefined,
  async run(run) {
    const { options, settings, report, log } = run;
    const target = options.deploy!;
    const image = report.images.find((im) => im.exported);
    if (!image) return { status: 'skipped', summary: 'no image was predicted locally to compare with' };
    const exported = run.exported!;
    const input = run.input!;
    const { bytes } = await readImageFile(image.image);
    // The local scores of this image, to compare the endpoint's answer with.
    const expected = (await exported.predict({ [input.name]: [imageFeed(bytes, input.encoding)] }))[run.output!].data as Float32Array;
    const smokeInput = {
      modelDir: run.modelDir!,
      modelName: run.reference!.source.name,
      image: { path: image.image, bytes },
      encoding: input.encoding,
      // The local endpoint runs on the engine the local scores came from: like with like.
      backend: exported.backend,
      log: (line: string) => log(`deploy: ${line}`),
    };
    try {
      log(`deploy: ${target === 'local' ? 'publishing to a local TF Serving repository and serving it' : 'deploying to Vertex AI'}`);
      const { report: deployed, scores } = target === 'vertex' ? await smokeVertex(smokeInput, options.vertex!) : await smokeLocal(smokeInput);
      const cmp = compareScores(expected, scores, 1, settings.tolerance);
      report.deploy = { ...deployed, maxAbsDiff: cmp.maxAbsDiff, top1Agree: cmp.top1Agree };
      const what = `${deployed.target} endpoint ${deployed.url} (version ${deployed.version}) on ${path.basename(image.image)}: max abs diff ${cmp.maxAbsDiff.toExponential(2)} vs local, top-1 ${cmp.top1Agree ? 'agrees' : 'differs'}`;
      if (cmp.maxAbsDiff <= settings.tolerance && cmp.top1Agree) return { status: 'passed', summary: what };
      return { status: 'failed', summary: what, problems: [`the endpoint's scores differ from the local prediction by up to ${cmp.maxAbsDiff} (tolerance ${settings.tolerance})`] };
    } catch (err) {
      report.deploy = { target };
      return { status: 'failed', summary: `${target} deployment smoke test: ${errorLine(err)}` };
    }
  },
};

export const CHECKS: readonly Check[] = [exportCheck, graphCheck, signatureCheck, goldenCheck, latencyCheck, deployCheck];

/**
 * The image input and the class-scores output, by saved-model's rules (the ones `tensorsky predict`
 * uses too), and the scores' shape against the source model's class count.
 */
function servingTensors(model: LocalModel, classes: number): { input: ImageTensor; output: string } {
  const { inputs, outputs } = model.signature;
  const list = (ts: TensorInfoSummary[]) => ts.map((t) => `${t.name} ${t.dtype}`).join(', ') || 'none';
  const input = imageInput(inputs);
  if (!input) throw new Error(`serving_default must take encoded images as one DT_STRING input that is decoded in the graph; it takes ${list(inputs)}`);
  const scores = scoresOutput(outputs);
  if (!scores || scores.dtype !== 'DT_FLOAT') throw new Error(`serving_default must return the class scores as one DT_FLOAT output; it returns ${list(outputs)}`);
  const last = scores.shape?.at(-1);
  if (scores.shape !== null && (scores.shape.length !== 2 || (last !== -1 && last !== classes))) {
    throw new Error(`serving_default output ${scores.name} has shape [${scores.shape.join(', ')}], expected [-1, ${classes}] (the source model has ${classes} classes)`);
  }
  return { input, output: scores.name };
}

/** The SavedModel's assets/labels.txt when it has one, else class indices. */
async function modelLabels(modelDir: string): Promise<Labels> {
  try {
    return await loadLabels(path.join(modelDir, 'assets', 'labels.txt'));
  } catch {
    return loadLabels('none');
  }
}

function downloadProgress(log: (line: string) => void): (bytes: number, total: number | undefined) => void {
  let shown = -1;
  return (bytes, total) => {
    const mark = total ? Math.floor((bytes / total) * 10) : Math.floor(bytes / (10 * 2 ** 20));
    if (mark === shown) return;
    shown = mark;
    log(`downloading ImageNet weights: ${(bytes / 2 ** 20).toFixed(0)} MiB${total ? ` of ${(total / 2 ** 20).toFixed(0)} MiB` : ''}`);
  };
}
