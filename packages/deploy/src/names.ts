// Where deploy puts things on Google Cloud: the GCS folder of a model version, the serving image of a
// region, and names quoted inside Vertex AI filters. The name checks themselves are @tensorsky/cloud-errors'.
import { checkModelName, type ModelVersion } from '@tensorsky/cloud-errors';

/** The folder a SavedModel version is uploaded to, relative to the bucket: models/<model>/<version>/. */
export function modelPrefix(modelName: string, version: ModelVersion): string {
  return `models/${checkModelName(modelName)}/${version.name}/`;
}

/**
 * Vertex AI's prebuilt TensorFlow 2 CPU serving container from the artifact registry closest to the
 * region (us-, europe- and asia- registries hold the same images).
 */
export function defaultServingImage(region: string): string {
  const registry = region.startsWith('europe-') || region.startsWith('me-') || region.startsWith('africa-')
    ? 'europe'
    : region.startsWith('asia-') || region.startsWith('australia-')
      ? 'asia'
      : 'us';
  return `${registry}-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest`;
}

/** Double quotes and backslashes would break out of a Vertex AI filter string; names are checked, this is belt and braces. */
export function filterString(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
