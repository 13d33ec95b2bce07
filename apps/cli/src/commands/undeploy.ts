// `tensorsky undeploy`: stops what `tensorsky deploy` started on Vertex AI. Undeploys the model's
// version(s) from its endpoint (moving the traffic to what stays first), and on request deletes the
// endpoint and the model or version, so nothing keeps billing.
import type { CommandModule } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { progressReporter } from '../progress.js';
import { FlagError } from '../usage.js';
import { printPlan, VERTEX_OPTIONS, vertexTarget } from '../vertex-options.js';

const options = withSnakeAliases({
  'model-name': { type: 'string', demandOption: true, describe: 'Model name, as given to tensorsky deploy' },
  'model-version': { type: 'string', describe: 'Only this version (v1, 3, ...); default every version deployed on the endpoint' },
  endpoint: { type: 'string', describe: 'Endpoint display name (default: the model name, as deploy names it)' },
  'delete-endpoint': { type: 'boolean', default: false, describe: 'Then delete the endpoint (refused while other models are deployed on it)' },
  'delete-model': { type: 'boolean', default: false, describe: 'Then delete the model version (with --model_version) or the whole model from the registry' },
  ...VERTEX_OPTIONS,
  'dry-run': {
    type: 'boolean',
    default: false,
    describe: 'Print every REST call (method, URL, body); read-only calls are made, nothing is written; offline or without credentials, finds nothing deployed',
  },
  timeout: { type: 'number', default: 30, describe: 'Minutes to wait for each Vertex AI operation' },
  json: { type: 'boolean', default: false, describe: 'Print the result as JSON; progress goes to stderr as one JSON object per line (event, operation, state, elapsedMs)' },
} as const);

export function undeployCommand(output: Output): CommandModule {
  return {
    command: 'undeploy',
    describe: 'Undeploy a model from its Vertex AI endpoint; optionally delete the endpoint and the model',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const args = argv as unknown as Record<string, unknown>;
      const dryRun = args['dry-run'] as boolean;
      const json = args.json as boolean;
      const timeout = args.timeout as number;
      if (!(timeout > 0)) throw new FlagError('timeout', `must be a positive number of minutes, got ${timeout}`);
      const progress = progressReporter('undeploy', output, json);
      const log = progress.log;
      const deploy = await import('@tensorsky/deploy');
      const target = await vertexTarget(args, log);
      const calls: string[] = [];
      const result = await deploy.undeployFromVertex({
        ...target,
        modelName: args['model-name'] as string,
        modelVersion: args['model-version'] as string | undefined,
        endpointName: args.endpoint as string | undefined,
        deleteEndpoint: args['delete-endpoint'] as boolean,
        deleteModel: args['delete-model'] as boolean,
        dryRun,
        poll: { timeoutMs: timeout * 60_000 },
        onCall: dryRun ? (call) => calls.push(deploy.formatRestCall(call)) : undefined,
        onOperation: progress.onOperation,
        log,
      });
      if (json) return output.json(dryRun ? { ...result, calls } : result);
      if (dryRun) return printPlan(output, calls, result.stateUnreadable);
      const name = args['model-name'] as string;
      for (const u of result.undeployed) output.out(`Undeployed ${name} version ID ${u.modelVersionId} (deployed model ${u.deployedModelId}) from ${result.endpoint}`);
      if (result.trafficSplit) output.out(`Traffic: ${Object.entries(result.trafficSplit).map(([id, percent]) => `${id} ${percent}%`).join(', ')}`);
      if (result.deletedEndpoint) output.out(`Deleted endpoint ${result.endpoint}`);
      if (result.deleted) output.out(`Deleted ${result.deleted === result.model ? 'model' : 'model version'} ${result.deleted}`);
    },
  };
}
