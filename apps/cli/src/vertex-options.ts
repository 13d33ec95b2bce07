// What the Vertex AI commands (deploy, undeploy, status) share: where they work (project, region, API
// root, from flags, environment or gcloud's configuration), and how a dry run prints its plan.
import type { Options } from 'yargs';
import type { Output } from './output.js';

export const VERTEX_OPTIONS = {
  'project-id': { type: 'string', describe: 'Google Cloud project ID (default: GOOGLE_CLOUD_PROJECT, CLOUDSDK_CORE_PROJECT, then gcloud config)' },
  region: { type: 'string', describe: 'Vertex AI region (default: CLOUDSDK_AI_REGION, GOOGLE_CLOUD_REGION, CLOUDSDK_COMPUTE_REGION, then gcloud config, then europe-west1)' },
  'api-root': { type: 'string', describe: 'Vertex AI API root URL (default: https://REGION-aiplatform.googleapis.com/; for private endpoints and tests)' },
} as const satisfies Record<string, Options>;

/** Project and region as resolveCloudSettings finds them, said on stderr with where each came from. */
export async function vertexTarget(args: Record<string, unknown>, log: (line: string) => void): Promise<{ projectId: string; region: string; apiRoot?: string }> {
  const { resolveCloudSettings } = await import('@tensorsky/deploy');
  const { project, region } = resolveCloudSettings({ projectId: args['project-id'] as string | undefined, region: args.region as string | undefined });
  log(`project ${project.value} (${project.source}), region ${region.value} (${region.source})`);
  return { projectId: project.value, region: region.value, apiRoot: args['api-root'] as string | undefined };
}

/** A dry run's calls, after a line saying whether they were planned from the real state. */
export function printPlan(output: Output, calls: readonly string[], stateUnreadable: string | undefined): void {
  output.out(
    stateUnreadable === undefined
      ? 'Dry run: the GET calls below were made; nothing was written. Calls:'
      : 'Dry run, planned as for a fresh project (the current state could not be read); nothing was written. Calls:',
  );
  calls.forEach((call) => output.out(call));
}
