// `tensorsky status`: what is deployed on Vertex AI in the project and region, and what keeps running
// (and billing): endpoints, their deployed models (model, version ID, aliases), traffic and replicas.
import type { DeployedModelStatus } from '@tensorsky/deploy';
import type { CommandModule } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { VERTEX_OPTIONS, vertexTarget } from '../vertex-options.js';

const options = withSnakeAliases({
  'model-name': { type: 'string', describe: 'Only the endpoints where this model is deployed' },
  ...VERTEX_OPTIONS,
  json: { type: 'boolean', default: false, describe: 'Print the endpoints as JSON' },
} as const);

export function statusCommand(output: Output): CommandModule {
  return {
    command: 'status',
    describe: 'List Vertex AI endpoints: deployed models, versions, traffic split and replicas',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const args = argv as unknown as Record<string, unknown>;
      const json = args.json as boolean;
      const { vertexStatus } = await import('@tensorsky/deploy');
      const target = await vertexTarget(args, json ? () => {} : (line) => output.err(`tensorsky status: ${line}`));
      const modelName = args['model-name'] as string | undefined;
      const endpoints = await vertexStatus({ ...target, modelName });
      if (json) return output.json({ endpoints });
      if (endpoints.length === 0) {
        output.out(modelName === undefined ? `No endpoints in project ${target.projectId}, region ${target.region}` : `${modelName} is not deployed on any endpoint`);
        return;
      }
      endpoints.forEach((endpoint, i) => {
        if (i > 0) output.out('');
        output.out(`Endpoint ${endpoint.displayName} (${endpoint.name})`);
        if (endpoint.deployedModels.length === 0) output.out('  nothing deployed');
        for (const d of endpoint.deployedModels) output.out(`  ${describeDeployment(d)}`);
      });
    },
  };
}

/** "deployed model 123: jean_inception version 2 (v2, default), 100% traffic, n1-standard-2 + 1 NVIDIA_TESLA_T4, 1-3 replicas, autoscaling at 60% CPU" */
function describeDeployment(d: DeployedModelStatus): string {
  const aliases = d.versionAliases.length > 0 ? ` (${d.versionAliases.join(', ')})` : '';
  const machine = `${d.machineType ?? 'automatic resources'}${d.acceleratorType ? ` + ${d.acceleratorCount ?? 1} ${d.acceleratorType}` : ''}`;
  const min = d.minReplicaCount ?? 1;
  const max = d.maxReplicaCount ?? min;
  const replicas = min === max ? `${min} replica${min === 1 ? '' : 's'}` : `${min}-${max} replicas`;
  const cpu = d.cpuTarget === undefined ? '' : `, autoscaling at ${d.cpuTarget}% CPU`;
  return `deployed model ${d.id}: ${d.modelName ?? d.model} version ${d.modelVersionId}${aliases}, ${d.traffic}% traffic, ${machine}, ${replicas}${cpu}`;
}
