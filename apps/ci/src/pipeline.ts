// export-and-verify: export the model (or take a given SavedModel), then check it the way CI should
// before anything is deployed:
//   graph      every node of the written saved_model.pb against TensorFlow's op definitions
//   signature  serving_default takes encoded images (DT_STRING) and returns [batch, classes] floats
//   golden     per image: the SavedModel (base64 string in, through predict-local) vs the source model
//              (TF.js LayersModel on the same decoded pixels, preprocessImagesReference): max abs diff
//              within the tolerance, top-1 and top-k agreement (up to ties within the tolerance)
//   latency    95th percentile of one-image prediction time within the budget
//   deploy     optional: deploy and send a golden image through the endpoint
// Every check reports what it found; the report says which failed and why.
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { decodeTopK, loadLabels, type Labels } from '@tensorsky/decode';
import { exportSavedModel, initTfjs, loadModelSource, type ModelSource } from '@tensorsky/export';
import type { LocalModel, TensorInfoSummary } from '@tensorsky/predict-local';
import { decodeImageToRgb, expandImagePaths, preprocessImagesReference, readImageFile, toBase64, type PreprocessMode } from '@tensorsky/preprocess';
import { dataTypeName, DataType, getMetaGraph, readSavedModel, tfOpDefs, validateGraph, weightsWarning } from '@tensorsky/saved-model';
import { smokeLocal, smokeVertex, type SmokeInput } from './deploy-smoke.js';
import { compareScores, latencyStats } from './golden.js';
import { DEFAULTS, type ExportAndVerifyOptions } from './options.js';
import { writeReport, type CheckName, type CheckResult, type ClassScore, type ImageResult, type ReportFiles, type VerifyReport } from './report.js';

export interface ExportAndVerifyResult {
  report: VerifyReport;
  files: ReportFiles;
}

/** Problems listed per check in the report before the rest are summarised as "and N more". */
const MAX_PROBLEMS = 20;

export async function exportAndVerify(options: ExportAndVerifyOptions): Promise<ExportAndVerifyResult> {
  const started = Date.now();
  const log = options.onProgress ?? (() => {});
  const settings = {
    tolerance: options.tolerance ?? DEFAULTS.tolerance,
    topK: options.topK ?? DEFAULTS.topK,
    latencyBudgetMs: options.latencyBudgetMs ?? DEFAULTS.latencyBudgetMs,
    backend: options.backend ?? 'auto',
    images: options.images,
  };
  const checks: CheckResult[] = [];
  const images: ImageResult[] = [];
  const report: VerifyReport = {
    passed: false,
    warnings: [],
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    model: { name: options.model ? path.basename(options.model) : 'inception_v3' },
    savedModel: { dir: options.savedModel ?? '', exported: !options.savedModel },
    settings,
    checks,
    images,
  };
  const check = (name: CheckName, status: CheckResult['status'], summary: string, problems: string[] = []) => {
    const shown = problems.length > MAX_PROBLEMS ? [...problems.slice(0, MAX_PROBLEMS), `and ${problems.length - MAX_PROBLEMS} more`] : problems;
    checks.push({ name, status, summary, problems: shown });
    log(`${name}: ${status === 'passed' ? 'ok' : status === 'failed' ? 'FAILED' : 'skipped'}: ${summary}`);
    for (const p of shown) log(`  ${p}`);
  };
  const skipRest = (after: CheckName, why: string) => {
    const order: CheckName[] = ['export', 'graph', 'signature', 'golden', 'latency', ...(options.deploy ? (['deploy'] as const) : [])];
    for (const name of order.slice(order.indexOf(after) + 1)) if (!checks.some((c) => c.name === name)) check(name, 'skipped', why);
  };

  // The source model is a TF.js model: it runs on wasm unless cpu is asked for (onnx runs only the export).
  const backend = settings.backend === 'wasm' || settings.backend === 'cpu' ? settings.backend : undefined;
  let source: ModelSource | undefined;
  let exported: LocalModel | undefined;
  try {
    // The source model, also used as the reference.
    const imagePaths = await expandImagePaths(options.images);
    if (imagePaths.length === 0) throw new Error(`no JPEG/PNG/GIF/BMP images found in ${options.images.join(', ')}`);
    try {
      // Both models run on one wasm backend, set up as predict-local sets it up (one thread per core).
      const { defaultWasmThreads, setWasmThreads } = await import('@tensorsky/predict-local');
      await setWasmThreads(defaultWasmThreads());
      await initTfjs(backend, { onNotice: (m) => log(`notice: ${m}`) });
      log(`loading ${options.model ?? 'InceptionV3'} (weights: ${options.weights ?? (options.model ? 'from the model file' : 'imagenet')})`);
      // Without ImageNet weights (not cached, no network) this fails, as export does: a run on random
      // weights must be asked for, since its predicted labels mean nothing.
      source = await loadModelSource({
        model: options.model,
        weights: options.weights,
        seed: options.seed,
        backend,
        imagenet: options.imagenet,
        onProgress: downloadProgress(log),
      });
    } catch (err) {
      check('export', 'failed', `cannot load the source model: ${message(err)}`);
      skipRest('export', 'no source model');
      return await finish();
    }
    const warning = weightsWarning(source.provenance.weights);
    if (warning) report.warnings.push(warning);
    const preprocess: PreprocessMode = options.preprocess ?? source.preprocess ?? 'inception';
    Object.assign(report.model, {
      name: source.name,
      weights: source.weights,
      preprocess,
      inputShape: source.inputShape,
      classes: source.classes,
    });

    // Export, or take the given SavedModel.
    let modelDir: string;
    if (options.savedModel) {
      modelDir = options.savedModel;
      check('export', 'skipped', `verifying the given SavedModel ${modelDir}`);
    } else {
      modelDir = path.join(options.outDir, source.name, '1');
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
        check('export', 'passed', `${result.nodes} nodes, saved_model.pb ${(result.savedModelBytes / 2 ** 20).toFixed(1)} MiB, in ${(result.timings.total / 1000).toFixed(1)} s`);
      } catch (err) {
        report.savedModel.dir = modelDir;
        check('export', 'failed', message(err));
        skipRest('export', 'nothing was exported');
        return await finish();
      }
    }
    report.savedModel.dir = modelDir;

    // Graph: the file on disk, against TensorFlow's OpDefs.
    try {
      const { savedModel } = await readSavedModel(modelDir);
      const metaGraph = getMetaGraph(savedModel, ['serve']);
      const result = validateGraph(metaGraph.graph_def ?? {}, tfOpDefs(), { signatures: metaGraph.signature_def ?? {} });
      const nodes = metaGraph.graph_def?.node?.length ?? 0;
      if (result.valid) check('graph', 'passed', `${nodes} nodes valid for TensorFlow's op definitions`);
      else check('graph', 'failed', `${result.issues.length} of the graph's problems would stop TensorFlow from loading it`, result.issues.map((i) => i.message));
    } catch (err) {
      check('graph', 'failed', message(err));
    }

    // Signature, through the executor that also runs the golden checks.
    const { loadModel } = await import('@tensorsky/predict-local');
    let input: TensorInfoSummary;
    let output: string;
    try {
      // Like with like: with backend auto the export runs on the source's TF.js backend, so the golden
      // tolerance measures the export alone; --backend onnx compares ONNX Runtime against TF.js.
      const sourceBackend = (await import('@tensorflow/tfjs')).getBackend() as 'tensorflow' | 'wasm' | 'cpu';
      exported = await loadModel(modelDir, { backend: settings.backend === 'auto' ? sourceBackend : settings.backend });
      ({ input, output } = servingTensors(exported, source.classes));
      check('signature', 'passed', `serving_default: ${input.name} ${input.dtype} (${input.encoding}) -> ${output} DT_FLOAT [-1, ${source.classes}]`);
    } catch (err) {
      check('signature', 'failed', message(err));
      skipRest('signature', 'the SavedModel cannot be called with images');
      return await finish();
    }
    if (source.inputShape[2] !== 3) {
      check('golden', 'failed', `${source.name} takes ${source.inputShape[2]}-channel images; the reference decoding produces RGB, so only RGB models can be compared`);
      skipRest('golden', 'no golden comparison');
      return await finish();
    }

    // Golden images.
    const labels = await modelLabels(modelDir);
    const tf = await import('@tensorflow/tfjs');
    const golden = new GoldenRunner(tf, source, exported, input, output, preprocess, labels, settings);
    // Which engines the tolerance is stated for: the export on its engine against the source on TF.js.
    const engines = `exported on ${exported.backend}, source on ${tf.getBackend()}`;
    if (exported.fallback) log(`note: ${exported.fallback}`);
    log(`golden: ${imagePaths.length} images, tolerance ${settings.tolerance} (${engines}), top-${settings.topK}`);
    let warmupMs: number | undefined;
    for (const image of imagePaths) {
      const result = await golden.compare(image, warmupMs === undefined);
      warmupMs ??= result.warmupMs;
      images.push(result.image);
      log(`  ${describeImage(result.image, settings.topK)}`);
    }
    const problems = images.filter((im) => !im.passed).map((im) => imageProblem(im, settings.tolerance, settings.topK));
    const compared = images.filter((im) => im.maxAbsDiff !== undefined);
    const worst = Math.max(0, ...compared.map((im) => im.maxAbsDiff!));
    const agreeing = compared.filter((im) => im.top1Agree).length;
    check(
      'golden',
      problems.length === 0 ? 'passed' : 'failed',
      `${images.length - problems.length} of ${images.length} images within ${settings.tolerance} (largest difference ${worst.toExponential(2)}; ${engines}), top-1 agrees on ${agreeing} of ${compared.length}`,
      problems,
    );

    // Latency.
    const stats = latencyStats(images.flatMap((im) => (im.latencyMs === undefined ? [] : [im.latencyMs])));
    if (!stats) {
      check('latency', 'skipped', 'no image was predicted');
    } else {
      report.latency = { ...stats, budgetMs: settings.latencyBudgetMs, warmupMs };
      const summary = `p95 ${Math.round(stats.p95Ms)} ms (median ${Math.round(stats.medianMs)} ms, max ${Math.round(stats.maxMs)} ms) over ${stats.count} images, budget ${settings.latencyBudgetMs} ms, backend ${exported.backend}`;
      if (stats.p95Ms <= settings.latencyBudgetMs) check('latency', 'passed', summary);
      else {
        const slow = images.filter((im) => (im.latencyMs ?? 0) > settings.latencyBudgetMs).map((im) => `${path.basename(im.image)}: ${Math.round(im.latencyMs!)} ms`);
        check('latency', 'failed', summary, [`p95 ${Math.round(stats.p95Ms)} ms is over the budget of ${settings.latencyBudgetMs} ms; slowest: ${slow.join(', ')}`]);
      }
    }

    // Deployment smoke test with the first image the exported model could predict.
    if (options.deploy) {
      const first = images.find((im) => im.exported);
      if (!first) check('deploy', 'skipped', 'no image was predicted locally to compare with');
      else await deploySmoke(first, { modelDir, modelName: source.name, encoding: input.encoding === 'base64' ? 'base64' : 'bytes', exported, input, output });
    }
    return await finish();
  } finally {
    exported?.dispose();
    source?.model.dispose();
  }

  async function deploySmoke(
    image: ImageResult,
    context: { modelDir: string; modelName: string; encoding: 'base64' | 'bytes'; exported: LocalModel; input: TensorInfoSummary; output: string },
  ): Promise<void> {
    const { bytes } = await readImageFile(image.image);
    // The local scores of this image, to compare the endpoint's answer with.
    const local = await context.exported.predict({ [context.input.name]: [context.encoding === 'base64' ? toBase64(bytes, 'web-safe') : bytes] });
    const expected = local[context.output].data as Float32Array;
    const smokeInput: SmokeInput = {
      modelDir: context.modelDir,
      modelName: context.modelName,
      image: { path: image.image, bytes },
      encoding: context.encoding,
      // The local endpoint runs on the engine the local scores came from: like with like.
      backend: context.exported.backend,
      log: (line) => log(`deploy: ${line}`),
    };
    try {
      log(`deploy: ${options.deploy === 'local' ? 'publishing to a local TF Serving repository and serving it' : 'deploying to Vertex AI'}`);
      const { report: deployed, scores } = options.deploy === 'vertex' ? await smokeVertex(smokeInput, options.vertex!) : await smokeLocal(smokeInput);
      const cmp = compareScores(expected, scores, 1, settings.tolerance);
      report.deploy = { ...deployed, maxAbsDiff: cmp.maxAbsDiff, top1Agree: cmp.top1Agree };
      const what = `${deployed.target} endpoint ${deployed.url} (version ${deployed.version}) on ${path.basename(image.image)}: max abs diff ${cmp.maxAbsDiff.toExponential(2)} vs local, top-1 ${cmp.top1Agree ? 'agrees' : 'differs'}`;
      if (cmp.maxAbsDiff <= settings.tolerance && cmp.top1Agree) check('deploy', 'passed', what);
      else check('deploy', 'failed', what, [`the endpoint's scores differ from the local prediction by up to ${cmp.maxAbsDiff} (tolerance ${settings.tolerance})`]);
    } catch (err) {
      report.deploy = { target: options.deploy! };
      check('deploy', 'failed', `${options.deploy} deployment smoke test: ${message(err)}`);
    }
  }

  async function finish(): Promise<ExportAndVerifyResult> {
    report.passed = checks.every((c) => c.status !== 'failed');
    report.durationMs = Date.now() - started;
    const files = await writeReport(report, options.reportDir);
    log(`report: ${files.markdown} (also .json, .svg)`);
    return { report, files };
  }
}

/** Runs both models on one image at a time. */
class GoldenRunner {
  constructor(
    private readonly tf: typeof tfjs,
    private readonly source: ModelSource,
    private readonly exported: LocalModel,
    private readonly input: TensorInfoSummary,
    private readonly output: string,
    private readonly preprocess: PreprocessMode,
    private readonly labels: Labels,
    private readonly settings: { tolerance: number; topK: number },
  ) {}

  async compare(image: string, warmUp: boolean): Promise<{ image: ImageResult; warmupMs?: number }> {
    let bytes: Uint8Array;
    try {
      ({ bytes } = await readImageFile(image));
    } catch (err) {
      return { image: { image, bytes: 0, passed: false, error: message(err) } };
    }
    const result: ImageResult = { image, bytes: bytes.length, passed: false };
    let warmupMs: number | undefined;
    let exportedScores: Float32Array;
    try {
      const feed = { [this.input.name]: [this.input.encoding === 'base64' ? toBase64(bytes, 'web-safe') : bytes] };
      // The first call compiles kernels and allocates; it is reported apart, not counted against the budget.
      if (warmUp) {
        const t = performance.now();
        await this.exported.predict(feed);
        warmupMs = performance.now() - t;
      }
      const t = performance.now();
      const out = (await this.exported.predict(feed))[this.output];
      result.latencyMs = performance.now() - t;
      exportedScores = out.data as Float32Array;
    } catch (err) {
      return { image: { ...result, error: `the SavedModel failed on it: ${message(err)}` }, warmupMs };
    }
    let referenceScores: Float32Array;
    try {
      const t = performance.now();
      referenceScores = await this.reference(bytes, image);
      result.referenceMs = performance.now() - t;
    } catch (err) {
      return { image: { ...result, error: `the source model failed on it: ${message(err)}` }, warmupMs };
    }
    const cmp = compareScores(referenceScores, exportedScores, this.settings.topK, this.settings.tolerance);
    Object.assign(result, {
      maxAbsDiff: cmp.maxAbsDiff,
      top1Agree: cmp.top1Agree,
      topKAgree: cmp.topKAgree,
      topKOverlap: cmp.topKOverlap,
      reference: this.top1(referenceScores),
      exported: this.top1(exportedScores),
    });
    result.passed = cmp.maxAbsDiff <= this.settings.tolerance && cmp.top1Agree && cmp.topKAgree;
    return { image: result, warmupMs };
  }

  private async reference(bytes: Uint8Array, name: string): Promise<Float32Array> {
    const { tf, source } = this;
    const [height, width] = source.inputShape;
    const pixels = await decodeImageToRgb(bytes, { name });
    const x = preprocessImagesReference(tf, [pixels], { height, width, preprocess: this.preprocess });
    try {
      const y = source.model.predict(x) as tfjs.Tensor;
      try {
        return (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  private top1(scores: Float32Array): ClassScore {
    const [best] = decodeTopK(scores, this.labels, 1);
    return { index: best.index, label: best.label, score: best.score };
  }
}

/** The image input (one DT_STRING tensor that reaches an image decoder) and the class-scores output. */
function servingTensors(model: LocalModel, classes: number): { input: TensorInfoSummary; output: string } {
  const { inputs, outputs } = model.signature;
  const list = (ts: TensorInfoSummary[]) => ts.map((t) => `${t.name} ${t.dtype}`).join(', ') || 'none';
  if (inputs.length !== 1 || inputs[0].dtype !== dataTypeName(DataType.DT_STRING) || !inputs[0].encoding) {
    throw new Error(`serving_default must take encoded images as one DT_STRING input that is decoded in the graph; it takes ${list(inputs)}`);
  }
  const floats = outputs.filter((o) => o.dtype === dataTypeName(DataType.DT_FLOAT));
  const scores = floats.length === 1 ? floats[0] : floats.find((o) => o.name === 'outputs');
  if (!scores) throw new Error(`serving_default must return the class scores as one DT_FLOAT output; it returns ${list(outputs)}`);
  const last = scores.shape?.at(-1);
  if (scores.shape !== null && (scores.shape.length !== 2 || (last !== -1 && last !== classes))) {
    throw new Error(`serving_default output ${scores.name} has shape [${scores.shape.join(', ')}], expected [-1, ${classes}] (the source model has ${classes} classes)`);
  }
  return { input: inputs[0], output: scores.name };
}

/** The SavedModel's assets/labels.txt when it has one, else class indices. */
async function modelLabels(modelDir: string): Promise<Labels> {
  try {
    return await loadLabels(path.join(modelDir, 'assets', 'labels.txt'));
  } catch {
    return loadLabels('none');
  }
}

function imageProblem(im: ImageResult, tolerance: number, k: number): string {
  const name = path.basename(im.image);
  if (im.error) return `${name}: ${im.error}`;
  const why: string[] = [];
  if (!(im.maxAbsDiff! <= tolerance)) why.push(`max abs diff ${im.maxAbsDiff} > tolerance ${tolerance}`);
  if (!im.top1Agree) why.push(`top-1 differs (source ${im.reference!.label} ${im.reference!.score.toFixed(4)}, exported ${im.exported!.label} ${im.exported!.score.toFixed(4)})`);
  else if (!im.topKAgree) why.push(`top-${k} differs (${im.topKOverlap} of ${k} classes shared)`);
  return `${name}: ${why.join('; ')}`;
}

function describeImage(im: ImageResult, k: number): string {
  const name = path.basename(im.image);
  if (im.error) return `${name}: ERROR ${im.error}`;
  return `${name}: ${im.passed ? 'ok' : 'MISMATCH'}, max abs diff ${im.maxAbsDiff!.toExponential(2)}, top-1 ${im.top1Agree ? 'agrees' : 'differs'} (${im.exported!.label} ${im.exported!.score.toFixed(3)}), top-${k} overlap ${im.topKOverlap}/${k}, ${Math.round(im.latencyMs!)} ms`;
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

function message(err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').trim();
}
