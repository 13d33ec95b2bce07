// `tensorsky predict-cloud`: the tutorial's remote prediction script. Images go to a Vertex AI endpoint
// (found from the model name and version given to deploy, or named with --endpoint) or to a TensorFlow
// Serving REST API (--url, e.g. tensorsky serve), in requests under the 1.5 MB limit, and the class
// scores are decoded like `tensorsky predict` does. What tensorsky serve says about the model (random
// weights) is passed on; Vertex AI cannot tell. With --batch, a Vertex AI batch prediction job instead
// (predict-batch.ts).
import { formatPredictionsTable, formatPredictionsText, predictionsToJson } from '@tensorsky/decode';
import type { CommandModule } from 'yargs';
import { IMAGE_OPTION, withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { FlagError, UsageError } from '../usage.js';
import { BATCH_OPTIONS, runBatchPrediction } from './predict-batch.js';

const options = withSnakeAliases({
  // Required unless --batch (which reads --images).
  image: { ...IMAGE_OPTION, demandOption: false },
  url: { type: 'string', describe: 'TF Serving REST API root, e.g. http://localhost:8501 (instead of Vertex AI)' },
  'project-id': { type: 'string', describe: 'Google Cloud project ID (Vertex AI; default: GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT, then gcloud config)' },
  region: { type: 'string', describe: 'Vertex AI region (default: CLOUDSDK_AI_REGION, GOOGLE_CLOUD_REGION, CLOUDSDK_COMPUTE_REGION, then gcloud config, then europe-west1)' },
  'model-name': { type: 'string', describe: 'Model name as deployed' },
  'model-version': { type: 'string', describe: 'Version as deployed (v1, ...); with --url: a version number or label, default the latest' },
  endpoint: { type: 'string', describe: 'Vertex AI endpoint ID or resource name (default: where the model version is deployed)' },
  'decode-preds-fn': { type: 'string', default: 'inception', describe: 'Labels: inception (ImageNet), transfert, none (class indices) or a labels file' },
  top: { type: 'number', default: 5, describe: 'How many classes to show per image' },
  'input-format': {
    type: 'string',
    choices: ['auto', 'b64', 'bytes'],
    default: 'auto',
    describe: "How the model takes images: b64 (web-safe base64 text, the tutorial's export) or bytes ({\"b64\": ...}); auto asks the server or reads deploy's labels",
  },
  timeout: { type: 'number', default: 60, describe: 'Seconds to wait for each request' },
  json: { type: 'boolean', default: false, describe: 'Print JSON' },
  table: { type: 'boolean', default: false, describe: 'Print a table per image instead of the tutorial text' },
  'api-root': { type: 'string', describe: 'Vertex AI API root URL (default: https://REGION-aiplatform.googleapis.com/; for private endpoints and tests)' },
  ...BATCH_OPTIONS,
} as const);

export class PredictCloudCommandError extends Error {
  override name = 'PredictCloudCommandError';
}

/** Project and region for Vertex AI (flags, environment, gcloud's configuration). */
async function resolveSettings(projectId: string | undefined, region: string | undefined) {
  const { CloudSettingsError, resolveCloudSettings } = await import('@tensorsky/deploy');
  try {
    return resolveCloudSettings({ projectId, region });
  } catch (err) {
    throw err instanceof CloudSettingsError ? new PredictCloudCommandError(`${err.message}; or call a TF Serving server with --url`) : err;
  }
}

export function predictCloudCommand(output: Output): CommandModule {
  return {
    command: 'predict-cloud',
    describe: 'Classify images with a model deployed on Vertex AI, or served over TF Serving REST (--url)',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const args = argv as unknown as Record<string, unknown>;
      const str = (name: string) => args[name] as string | undefined;
      const top = args.top as number;
      if (!Number.isInteger(top) || top < 1) throw new FlagError('top', `must be a whole number of at least 1, got ${top}`);
      const timeout = args.timeout as number;
      if (!(timeout > 0)) throw new FlagError('timeout', `must be a positive number of seconds, got ${timeout}`);
      const url = str('url');
      if (args.batch) {
        if (url !== undefined) throw new PredictCloudCommandError('--batch runs a Vertex AI batch prediction job; drop --url (a TF Serving server is called image by image)');
        const { project, region } = await resolveSettings(str('project-id'), str('region'));
        return runBatchPrediction(args, output, { projectId: project.value, region: region.value });
      }
      if (args.image === undefined) throw new UsageError('missing --image');
      const { predictCloud } = await import('@tensorsky/predict-cloud');

      let target: Parameters<typeof predictCloud>[0]['target'];
      if (url !== undefined) {
        if (str('project-id') !== undefined || str('endpoint') !== undefined) throw new PredictCloudCommandError('--url calls a TF Serving server directly; drop --project_id and --endpoint');
        if (!str('model-name')) throw new PredictCloudCommandError('--url needs --model_name: the name the server serves the model under');
        target = { kind: 'tf-serving', url, modelName: str('model-name')!, modelVersion: str('model-version') };
      } else {
        if (!str('endpoint') && !(str('model-name') && str('model-version'))) {
          throw new PredictCloudCommandError('name the model: --model_name and --model_version as given to tensorsky deploy, or --endpoint ID (or call a TF Serving server with --url)');
        }
        const { project, region } = await resolveSettings(str('project-id'), str('region'));
        const { VertexBackend } = await import('@tensorsky/predict-vertex');
        target = new VertexBackend({
          projectId: project.value,
          region: region.value,
          endpoint: str('endpoint'),
          modelName: str('model-name'),
          modelVersion: str('model-version'),
          apiRoot: str('api-root'),
        });
      }

      const result = await predictCloud({
        images: args.image as string[],
        target,
        labels: str('decode-preds-fn'),
        top,
        inputFormat: str('input-format') as 'auto' | 'b64' | 'bytes',
        timeoutMs: timeout * 1000,
      });
      if (args.json) {
        output.json({
          target: result.target,
          ...(result.modelVersion ? { modelVersion: result.modelVersion } : {}),
          requests: result.requests,
          warnings: result.warnings,
          predictions: result.images.map((i) => ({ image: i.file, top: predictionsToJson(i.predictions) })),
        });
        return;
      }
      for (const warning of result.warnings) output.err(`tensorsky: warning: ${warning}`);
      result.images.forEach((image, i) => {
        if (i > 0) output.out('');
        output.out(image.file);
        const text = args.table ? formatPredictionsTable(image.predictions) : formatPredictionsText(image.predictions);
        text.split('\n').forEach((line) => output.out(line));
      });
    },
  };
}
