// `tensorsky predict-cloud --batch`: many images through a Vertex AI batch prediction job instead of an
// endpoint. Local images are uploaded to --output (those already there are skipped), the job runs on
// --replicas machines, and one result per image lands in predictions.jsonl and predictions.csv. An
// interrupted run is resumed by running the same command again: it re-attaches to its job.
import { predictionsToJson } from '@tensorsky/decode';
import type { Output } from '../output.js';
import { FlagError, UsageError } from '../usage.js';
import { printPlan } from '../vertex-options.js';

export const BATCH_OPTIONS = {
  batch: { type: 'boolean', default: false, describe: 'Use a Vertex AI batch prediction job (many images, no endpoint needed): --images and --output' },
  images: { type: 'string', describe: 'With --batch: a folder of images, or gs://BUCKET/FOLDER holding them' },
  output: { type: 'string', describe: 'With --batch: gs://BUCKET/FOLDER for the uploaded images, the instances and the job output' },
  'results-dir': { type: 'string', default: '.', describe: 'With --batch: where predictions.jsonl, predictions.csv and the resume state are written' },
  'machine-type': { type: 'string', default: 'n1-standard-2', describe: 'With --batch: machine type the job runs on' },
  replicas: { type: 'number', default: 1, describe: 'With --batch: machines the job runs on' },
  'dry-run': { type: 'boolean', default: false, describe: 'With --batch: print every call (method, URL, body); nothing is written' },
  'storage-endpoint': { type: 'string', describe: 'Cloud Storage JSON API root URL (default: Google; for emulators)' },
} as const;

export async function runBatchPrediction(args: Record<string, unknown>, output: Output, settings: { projectId: string; region: string }): Promise<void> {
  const str = (name: string) => args[name] as string | undefined;
  const json = args.json as boolean;
  const dryRun = args['dry-run'] as boolean;
  if (args.image !== undefined) throw new UsageError('--batch reads its images from --images DIR or gs://BUCKET/FOLDER, not --image');
  if (!str('images')) throw new UsageError('--batch needs --images: a folder of images or gs://BUCKET/FOLDER');
  if (!str('output')) throw new UsageError('--batch needs --output gs://BUCKET/FOLDER: where the job reads its instances and writes its predictions');
  if (!str('model-name') || !str('model-version')) throw new UsageError('--batch needs --model_name and --model_version as given to tensorsky deploy');
  if (str('endpoint') !== undefined) throw new UsageError('--batch runs a job on the model version, not on an endpoint: drop --endpoint');
  const replicas = args.replicas as number;
  if (!Number.isInteger(replicas) || replicas < 1) throw new FlagError('replicas', `must be a whole number of at least 1, got ${replicas}`);
  const inputFormat = str('input-format') as 'auto' | 'b64' | 'bytes';
  const log = (line: string) => output.err(`tensorsky predict-cloud: ${line}`);
  const { batchPredict } = await import('@tensorsky/predict-vertex');
  const result = await batchPredict({
    ...settings,
    modelName: str('model-name')!,
    modelVersion: str('model-version')!,
    images: str('images')!,
    output: str('output')!,
    resultsDir: str('results-dir'),
    machineType: str('machine-type'),
    replicas,
    top: args.top as number,
    labels: str('decode-preds-fn'),
    inputFormat,
    apiRoot: str('api-root'),
    storageEndpoint: str('storage-endpoint'),
    dryRun,
    // --json: progress as one JSON object a line on stderr, the result on stdout.
    log: json ? undefined : log,
    onEvent: json ? (event) => output.err(JSON.stringify(event)) : undefined,
  });
  if (json) {
    const { results, ...rest } = result;
    return output.json({ ...rest, predictions: results.map((r) => (r.error !== undefined ? { image: r.image, error: r.error } : { image: r.image, top: predictionsToJson(r.predictions!) })) });
  }
  if (dryRun) return printPlan(output, result.calls, result.stateUnreadable);
  const failed = result.results.filter((r) => r.error !== undefined);
  output.out(`${result.results.length - failed.length} of ${result.results.length} images predicted by ${result.job}`);
  for (const f of failed.slice(0, 5)) output.out(`failed: ${f.image}: ${f.error}`);
  if (failed.length > 5) output.out(`failed: ${failed.length - 5} more, see ${result.files!.jsonl}`);
  output.out(`Results: ${result.files!.jsonl}, ${result.files!.csv}`);
}
