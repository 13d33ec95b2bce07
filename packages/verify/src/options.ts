// What export-and-verify takes: one flag table shared by `tensorsky verify` (yargs) and the repository's
// Nx target (apps/ci/bin/export-and-verify.js, node:util parseArgs), and its conversion into options.
import path from 'node:path';
import { APPLICATION_NAMES, isApplicationName, type ImagenetWeightsOptions } from '@tensorsky/export';
import { PREPROCESS_MODES, type PreprocessMode } from '@tensorsky/preprocess';

export const DEPLOY_TARGETS = ['local', 'vertex'] as const;
export type DeployTarget = (typeof DEPLOY_TARGETS)[number];

export const BACKENDS = ['auto', 'onnx', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Settings for `--deploy vertex` (see @tensorsky/deploy's deployToVertex). */
export interface VertexSmokeOptions {
  projectId: string;
  bucket: string;
  region?: string;
  /** Vertex AI model and endpoint display name; default the model's name. */
  modelName?: string;
  /** Default v1. */
  modelVersion?: string;
}

export interface ExportAndVerifyOptions {
  /** A built-in application name, a Keras .h5/.keras model or a TF.js model; default the built-in InceptionV3. */
  model?: string;
  /**
   * imagenet, random or a Keras .h5 weights file; default imagenet for InceptionV3 (cached or downloaded,
   * failing like export when neither works), the model file's own weights for --model.
   */
  weights?: string;
  /** Seed for random weights; default 0. */
  seed?: number;
  /** Verify this existing SavedModel against the source model instead of exporting one. */
  savedModel?: string;
  /** The model's pixel scaling; default what the source says (inception for InceptionV3). */
  preprocess?: PreprocessMode;
  /** Golden images: files or directories. */
  images: string[];
  /** The export goes to <outDir>/<model name>/1, a TF Serving repository. */
  outDir: string;
  /** export-and-verify.{json,md,svg} go here. */
  reportDir: string;
  /** Largest allowed |exported - source| of any class score. Default 1e-4; 3e-4 with backend 'onnx' (see defaultTolerance). */
  tolerance?: number;
  /** Top-k classes compared per image. Default 5. */
  topK?: number;
  /** Budget for the 95th percentile of single-image latency of the exported model. Default 2000 ms. */
  latencyBudgetMs?: number;
  backend?: Backend;
  deploy?: DeployTarget;
  vertex?: VertexSmokeOptions;
  /** Overrides for finding the ImageNet weights (cache folder, URL); default Keras's cache (~/.keras/models) and URL. */
  imagenet?: Omit<ImagenetWeightsOptions, 'onProgress'>;
  /** One line per step. */
  onProgress?: (line: string) => void;
}

export const DEFAULTS = {
  tolerance: 1e-4,
  // ONNX Runtime against TF.js: two float32 implementations, each up to ~1.5e-4 from a float64 evaluation
  // on InceptionV3 (export's onnx-engine.test.ts), so up to 2.4e-4 apart.
  onnxTolerance: 3e-4,
  topK: 5,
  latencyBudgetMs: 2000,
  outDir: 'dist/export-and-verify',
  reportDir: 'dist/reports',
} as const;

/** The tolerance when none is given: like with like by default; across engines, float32's own spread. */
export function defaultTolerance(backend: Backend | undefined): number {
  return backend === 'onnx' ? DEFAULTS.onnxTolerance : DEFAULTS.tolerance;
}

/** Options that cannot run. `flag` (kebab-case key) and `problem` are set when one flag's value is at fault. */
export class VerifyOptionsError extends Error {
  override name = 'VerifyOptionsError';

  constructor(
    message: string,
    readonly flag?: VerifyFlagName,
    readonly problem?: string,
  ) {
    super(message);
  }
}

function flagError(flag: VerifyFlagName, problem: string): VerifyOptionsError {
  return new VerifyOptionsError(`--${flag} ${problem}`, flag, problem);
}

interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  describe: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  array?: boolean;
}

/** The command-line flags, in kebab-case; the CLI adds snake_case aliases. */
export const VERIFY_FLAGS = {
  model: { type: 'string', describe: `A built-in Keras application (${APPLICATION_NAMES.join(', ')}), a Keras .h5/.keras model, or a TF.js model (model.json or its folder); default: inception_v3` },
  weights: {
    type: 'string',
    describe:
      'imagenet, random (seeded; its labels mean nothing) or a Keras .h5 weights file; default: imagenet, from ~/.keras/models or downloaded once (fails when neither works)',
  },
  seed: { type: 'number', default: 0, describe: 'Seed for --weights random' },
  'saved-model': { type: 'string', describe: 'Verify this SavedModel against the source model instead of exporting one' },
  preprocess: {
    type: 'string',
    choices: Object.keys(PREPROCESS_MODES),
    describe: "The model's pixel scaling, for the export and the reference; default: the source's own (inception for InceptionV3)",
  },
  images: { type: 'string', array: true, describe: 'Golden images: files or directories (JPEG/PNG/GIF/BMP)' },
  'out-dir': { type: 'string', default: DEFAULTS.outDir, describe: 'The export goes to OUT_DIR/<model>/1 (a TF Serving repository)' },
  'report-dir': { type: 'string', default: DEFAULTS.reportDir, describe: 'Where export-and-verify.json, .md and .svg are written' },
  tolerance: {
    type: 'number',
    describe: `Largest allowed difference of any class score, exported vs source (default ${DEFAULTS.tolerance}; ${DEFAULTS.onnxTolerance} with --backend onnx, ONNX Runtime against TF.js in float32)`,
  },
  'top-k': { type: 'number', default: DEFAULTS.topK, describe: 'Top classes that must agree per image (up to ties within the tolerance)' },
  'latency-budget-ms': {
    type: 'number',
    default: DEFAULTS.latencyBudgetMs,
    describe: 'Budget for the 95th percentile of one-image prediction time of the exported model',
  },
  backend: { type: 'string', choices: BACKENDS, default: 'auto', describe: 'Engines: auto runs the source model and the export on the same TF.js backend (tfjs-node if installed, else wasm); onnx runs the export on ONNX Runtime against the source on wasm; wasm or cpu' },
  deploy: {
    type: 'string',
    choices: DEPLOY_TARGETS,
    describe: 'Then deploy and run a smoke prediction: local (TF Serving repository + tensorsky serve) or vertex (GCS + Vertex AI)',
  },
  'project-id': { type: 'string', describe: '--deploy vertex: Google Cloud project' },
  bucket: { type: 'string', describe: '--deploy vertex: Cloud Storage bucket for the SavedModel' },
  region: { type: 'string', describe: '--deploy vertex: region (default europe-west1)' },
  'model-name': { type: 'string', describe: '--deploy vertex: model and endpoint name (default: the model name)' },
  'model-version': { type: 'string', describe: '--deploy vertex: version alias (default v1)' },
} as const satisfies Record<string, FlagSpec>;

export type VerifyFlagName = keyof typeof VERIFY_FLAGS;

/**
 * Turns parsed flag values (kebab-case keys; numbers may still be strings) into options. Paths are
 * resolved against `cwd`; `defaultImages` applies when --images is not given.
 */
export function optionsFromFlags(
  values: Readonly<Record<string, unknown>>,
  context: { cwd: string; defaultImages?: string },
): ExportAndVerifyOptions {
  const str = (name: VerifyFlagName) => {
    const v = values[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw flagError(name, `takes one value, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (name: VerifyFlagName, check: (n: number) => boolean, what: string) => {
    const v = values[name] ?? (VERIFY_FLAGS[name] as FlagSpec).default;
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    if (typeof v === 'boolean' || (typeof v === 'string' && v.trim() === '') || !Number.isFinite(n) || !check(n)) {
      throw flagError(name, `must be ${what}, got ${String(v)}`);
    }
    return n;
  };
  const choice = <T extends string>(name: VerifyFlagName, choices: readonly T[]) => {
    const v = str(name);
    if (v !== undefined && !choices.includes(v as T)) throw flagError(name, `must be one of ${choices.join(', ')}, got ${v}`);
    return v as T | undefined;
  };
  const resolve = (p: string | undefined) => (p === undefined ? undefined : path.resolve(context.cwd, p));

  const given = values.images;
  const images = (Array.isArray(given) ? given : given === undefined ? [] : [given]).map(String).filter(Boolean);
  if (images.length === 0) {
    if (!context.defaultImages) throw new VerifyOptionsError('no golden images: pass --images DIR (a folder of JPEG/PNG photos the model must classify)');
    images.push(context.defaultImages);
  }

  const deploy = choice('deploy', DEPLOY_TARGETS);
  const projectId = str('project-id');
  const bucket = str('bucket');
  if (deploy === 'vertex' && (!projectId || !bucket)) {
    throw new VerifyOptionsError('--deploy vertex needs --project_id and --bucket (and credentials: Application Default Credentials or TENSORSKY_ACCESS_TOKEN)');
  }
  const weights = str('weights');
  const model = str('model');
  const savedModel = str('saved-model');
  return {
    // A built-in application's name stays a name; a file path is resolved against the caller's folder.
    model: model !== undefined && isApplicationName(model) ? model : resolve(model),
    weights: weights === undefined || weights === 'imagenet' || weights === 'random' ? weights : path.resolve(context.cwd, weights),
    seed: num('seed', Number.isSafeInteger, 'an integer'),
    savedModel: resolve(savedModel),
    preprocess: choice('preprocess', Object.keys(PREPROCESS_MODES) as PreprocessMode[]),
    images: images.map((p) => path.resolve(context.cwd, p)),
    outDir: resolve(str('out-dir') ?? DEFAULTS.outDir)!,
    reportDir: resolve(str('report-dir') ?? DEFAULTS.reportDir)!,
    tolerance: num('tolerance', (n) => n >= 0, 'a number >= 0') ?? defaultTolerance(choice('backend', BACKENDS)),
    topK: num('top-k', (n) => Number.isInteger(n) && n >= 1, 'a positive integer'),
    latencyBudgetMs: num('latency-budget-ms', (n) => n > 0, 'a positive number of milliseconds'),
    backend: choice('backend', BACKENDS),
    deploy,
    vertex:
      deploy === 'vertex'
        ? { projectId: projectId!, bucket: bucket!, region: str('region'), modelName: str('model-name'), modelVersion: str('model-version') }
        : undefined,
  };
}
