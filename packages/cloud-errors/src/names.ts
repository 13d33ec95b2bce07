// What users name things (model, version, bucket, project, region) ends up in gs:// paths, local
// directories, REST URLs and Vertex AI filters, so every name is checked here before anything is sent.
// (DeployNameError keeps its name: the checks were deploy's before the TF Serving client shared them.)

export class DeployNameError extends Error {
  override name = 'DeployNameError';
}

// Model names become a GCS folder, a local directory and a Vertex AI display-name filter: keep them plain.
const MODEL_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
// Vertex AI's version alias format (Model.version_aliases); the tutorial's "v1" is one.
const VERSION_ALIAS = /^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$/;
// Cloud Storage bucket names (lowercase letters, digits, - _ and dots, 3-63 characters, start and end alphanumeric).
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
// Google Cloud project IDs: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter.
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
// Regions such as europe-west1, us-central1, northamerica-northeast2.
const REGION = /^[a-z]+(?:-[a-z]+)*\d+$/;

export function checkModelName(name: string): string {
  if (name.includes('..') || !MODEL_NAME.test(name)) {
    throw new DeployNameError(
      `invalid model name '${name}': use a letter then letters, digits, _ . or - (up to 128 characters, no '..'), e.g. jean_inception`,
    );
  }
  return name;
}

/** A model version as the tutorial names it ("v1") or a number ("3"). */
export interface ModelVersion {
  /** As given; also the GCS folder name. */
  name: string;
  /** The Vertex AI version alias: the name itself, or "v3" for "3". */
  alias: string;
  /** The TF Serving version number (a directory name under the model base path), when the name has one. */
  number?: number;
}

export function parseModelVersion(name: string): ModelVersion {
  const numbered = /^v?(\d{1,15})$/.exec(name);
  if (numbered) {
    const number = Number(numbered[1]);
    return { name, alias: `v${number}`, number };
  }
  if (!VERSION_ALIAS.test(name)) {
    throw new DeployNameError(
      `invalid model version '${name}': use a number (3), v and a number (v3), or a Vertex AI alias (lowercase letter first, then letters, digits or -)`,
    );
  }
  if (name === 'default') throw new DeployNameError(`model version 'default' is reserved for Vertex AI's default alias; use v1, v2, ...`);
  return { name, alias: name };
}

export function checkBucket(bucket: string): string {
  const name = bucket.replace(/^gs:\/\//, '').replace(/\/+$/, '');
  if (!BUCKET.test(name) || name.includes('..')) {
    throw new DeployNameError(`invalid bucket '${bucket}': give a Cloud Storage bucket name such as my-models (or gs://my-models)`);
  }
  return name;
}

/**
 * gs://BUCKET[/FOLDER] as its bucket and the object prefix of the folder ('' or ending in '/'). `what`
 * names the value in messages (a flag, an environment variable).
 */
export function parseGcsFolder(uri: string, what: string): { bucket: string; prefix: string } {
  const match = /^gs:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!match) throw new DeployNameError(`${what} ${uri} is not a Cloud Storage folder; give gs://BUCKET/FOLDER, e.g. gs://my-bucket/batch-1`);
  const bucket = checkBucket(match[1]!);
  const folder = (match[2] ?? '').replace(/\/+$/, '');
  if (folder.split('/').some((part) => part === '.' || part === '..')) {
    throw new DeployNameError(`${what} ${uri} has '.' or '..' in its path: give the folder itself`);
  }
  return { bucket, prefix: folder === '' ? '' : `${folder}/` };
}

export function checkProjectId(projectId: string): string {
  if (!PROJECT_ID.test(projectId)) {
    throw new DeployNameError(
      `invalid project ID '${projectId}': use the project ID (not its name or number), e.g. my-project-123; see gcloud projects list`,
    );
  }
  return projectId;
}

export function checkRegion(region: string): string {
  if (!REGION.test(region)) {
    throw new DeployNameError(`invalid region '${region}': use a Vertex AI region such as europe-west1 or us-central1`);
  }
  return region;
}
