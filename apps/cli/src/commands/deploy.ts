// `tensorsky deploy`: the tutorial's deployment, automated. To Vertex AI (the successor of Cloud ML
// Engine): upload to gs://BUCKET/models/<model>/<version>/, register the version, deploy it to an
// endpoint and move traffic; or, without a bucket and project, publish into a local TF Serving
// repository that `tensorsky serve` watches.
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { progressReporter } from '../progress.js';
import { FlagError } from '../usage.js';
import { printPlan } from '../vertex-options.js';

const options = withSnakeAliases({
  'model-dir': { type: 'string', demandOption: true, describe: 'SavedModel directory (holds saved_model.pb)' },
  'model-name': { type: 'string', demandOption: true, describe: 'Model name, e.g. jean_inception' },
  'model-version': { type: 'string', demandOption: true, describe: 'Version: v1, v2, ... (Vertex AI alias) or a number' },
  target: {
    type: 'string',
    choices: ['vertex', 'local'],
    describe: 'vertex (Cloud Storage + Vertex AI) or local (TF Serving repository); default: vertex when --bucket or --project_id is given',
  },
  bucket: { type: 'string', describe: 'Cloud Storage bucket the SavedModel is uploaded to (vertex)' },
  'project-id': { type: 'string', describe: 'Google Cloud project ID (vertex; default: GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT, then gcloud config)' },
  region: { type: 'string', describe: 'Vertex AI region (vertex; default: CLOUDSDK_AI_REGION, GOOGLE_CLOUD_REGION, CLOUDSDK_COMPUTE_REGION, then gcloud config, then europe-west1)' },
  endpoint: { type: 'string', describe: 'Endpoint display name, created when missing (vertex; default: the model name)' },
  'machine-type': { type: 'string', default: 'n1-standard-2', describe: 'Machine type of the serving replicas (vertex)' },
  'min-replicas': { type: 'number', default: 1, describe: 'Replicas always running (vertex)' },
  'max-replicas': { type: 'number', describe: 'Replicas under load (vertex; default: --min_replicas)' },
  'autoscaling-cpu-target': { type: 'number', describe: 'CPU utilization, percent (1-100), above which replicas are added up to --max_replicas (vertex; Vertex AI default: 60)' },
  'accelerator-type': { type: 'string', describe: 'Accelerator on each replica, e.g. NVIDIA_TESLA_T4 or NVIDIA_L4 (vertex; use a GPU serving image with --container_image)' },
  'accelerator-count': { type: 'number', describe: 'Accelerators per replica (vertex; default 1 with --accelerator_type)' },
  'container-image': { type: 'string', describe: "Serving container (vertex; default: Vertex AI's prebuilt TensorFlow 2.15 CPU image)" },
  'model-base-path': { type: 'string', describe: 'TF Serving model repository: the version goes to DIR/<number>/ (local)' },
  force: { type: 'boolean', default: false, describe: 'Replace files or a version that differ from this model' },
  'dry-run': {
    type: 'boolean',
    default: false,
    describe: 'Print every REST call (method, URL, body); read-only calls are made, nothing is written; offline or without credentials, plans as for a fresh project',
  },
  timeout: { type: 'number', default: 60, describe: 'Minutes to wait for each Vertex AI operation (deploying takes 5-30)' },
  json: { type: 'boolean', default: false, describe: 'Print the result as JSON; progress goes to stderr as one JSON object per line (event, operation, state, elapsedMs)' },
  'api-root': { type: 'string', describe: 'Vertex AI API root URL (default: https://REGION-aiplatform.googleapis.com/; for private endpoints and tests)' },
  'storage-endpoint': { type: 'string', describe: 'Cloud Storage JSON API root URL (default: Google; for emulators)' },
} as const);

export class DeployCommandError extends Error {
  override name = 'DeployCommandError';
}

export function deployCommand(output: Output): CommandModule {
  return {
    command: 'deploy',
    describe: 'Deploy a SavedModel: Cloud Storage + Vertex AI endpoint, or a local TF Serving repository',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const args = argv as unknown as Record<string, unknown>;
      const str = (name: string) => args[name] as string | undefined;
      const dryRun = args['dry-run'] as boolean;
      const json = args.json as boolean;
      const cloudFlags = str('bucket') !== undefined || str('project-id') !== undefined;
      const target = str('target') ?? (cloudFlags ? 'vertex' : 'local');
      const progress = progressReporter('deploy', output, json);
      const log = progress.log;
      // Lazy: googleapis and @google-cloud/storage take a while to load and only deploy needs them.
      const deploy = await import('@tensorsky/deploy');

      if (target === 'local') {
        const basePath = str('model-base-path');
        if (!basePath) {
          throw new DeployCommandError('nowhere to deploy: give --model_base_path DIR (a TF Serving repository) for a local deployment, or --bucket and --project_id for Vertex AI');
        }
        if (cloudFlags) throw new DeployCommandError('--bucket and --project_id are for --target vertex; --target local publishes into --model_base_path');
        const result = await deploy.publishLocal({
          modelDir: str('model-dir')!,
          modelBasePath: basePath,
          modelVersion: str('model-version')!,
          force: args.force as boolean,
          dryRun,
          log,
        });
        if (json) return output.json(result);
        const verb = dryRun ? 'would publish' : result.action === 'unchanged' ? 'already published' : 'published';
        output.out(`${str('model-name')} version ${result.version} ${verb} at ${result.dir}`);
        output.out(`Serve it: tensorsky serve --model_base_path ${path.resolve(basePath)} --model_name ${str('model-name')}`);
        return;
      }

      const bucket = str('bucket');
      if (!bucket) throw new DeployCommandError('a Vertex AI deployment needs --bucket (or use --target local with --model_base_path)');
      const { project, region } = deploy.resolveCloudSettings({ projectId: str('project-id'), region: str('region') });
      const projectId = project.value;
      if (str('model-base-path') !== undefined) throw new DeployCommandError('--model_base_path is for --target local; Vertex AI deployments go through --bucket');
      const minReplicas = positiveInteger(args['min-replicas'], 'min-replicas');
      const maxReplicas = args['max-replicas'] === undefined ? minReplicas : positiveInteger(args['max-replicas'], 'max-replicas');
      if (maxReplicas < minReplicas) throw new FlagError('max-replicas', `(${maxReplicas}) must be at least --min_replicas (${minReplicas})`);
      const cpuTarget = args['autoscaling-cpu-target'] as number | undefined;
      if (cpuTarget !== undefined && !(Number.isInteger(cpuTarget) && cpuTarget >= 1 && cpuTarget <= 100)) {
        throw new FlagError('autoscaling-cpu-target', `must be a whole percentage from 1 to 100, got ${cpuTarget}`);
      }
      const acceleratorType = str('accelerator-type');
      if (acceleratorType !== undefined && !/^[A-Z][A-Z0-9_]*$/.test(acceleratorType)) {
        throw new FlagError('accelerator-type', `must be a Vertex AI accelerator name such as NVIDIA_TESLA_T4 or NVIDIA_L4, got ${JSON.stringify(acceleratorType)}`);
      }
      const acceleratorCount = args['accelerator-count'] === undefined ? undefined : positiveInteger(args['accelerator-count'], 'accelerator-count');
      if (acceleratorCount !== undefined && acceleratorType === undefined) throw new FlagError('accelerator-count', 'needs --accelerator_type (e.g. NVIDIA_TESLA_T4)');
      const timeout = args.timeout as number;
      if (!(timeout > 0)) throw new FlagError('timeout', `must be a positive number of minutes, got ${timeout}`);

      log(`project ${projectId} (${project.source}), region ${region.value} (${region.source})`);
      const calls: string[] = [];
      const result = await deploy.deployToVertex({
        modelDir: str('model-dir')!,
        modelName: str('model-name')!,
        modelVersion: str('model-version')!,
        projectId,
        bucket,
        region: region.value,
        endpointName: str('endpoint'),
        servingImage: str('container-image'),
        machineType: str('machine-type'),
        minReplicas,
        maxReplicas,
        autoscalingCpuTarget: cpuTarget,
        acceleratorType,
        acceleratorCount,
        force: args.force as boolean,
        dryRun,
        apiRoot: str('api-root'),
        storageEndpoint: str('storage-endpoint'),
        poll: { timeoutMs: timeout * 60_000 },
        onCall: dryRun ? (call) => calls.push(deploy.formatRestCall(call)) : undefined,
        onProgress: progress.onUpload,
        onOperation: progress.onOperation,
        log,
      });
      if (json) return output.json(dryRun ? { ...result, calls } : result);
      if (dryRun) return printPlan(output, calls, result.stateUnreadable);
      const version = result.versionAlias;
      output.out(`Deployed ${str('model-name')} ${version} (model ${result.model}, version ID ${result.modelVersionId})`);
      output.out(`Endpoint: ${result.endpoint} (deployed model ${result.deployedModelId})`);
      output.out(
        `Predict: tensorsky predict-cloud --image IMAGE --project_id ${projectId} --region ${region.value} --model_name ${str('model-name')} --model_version ${str('model-version')}`,
      );
    },
  };
}

function positiveInteger(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new FlagError(key, `must be a whole number of at least 1, got ${String(value)}`);
  return value;
}
