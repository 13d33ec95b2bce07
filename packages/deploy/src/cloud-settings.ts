// Which Google Cloud project and Vertex AI region a command uses when its flags do not say: the
// environment (Google's client-library variables and gcloud's CLOUDSDK_* overrides), then gcloud's own
// configuration, read from its file (never by running gcloud): CONFIG_DIR/configurations/config_<active>,
// the INI file `gcloud config set project P` writes. Every value says where it came from.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ini from 'ini';

/** Vertex AI's region when nothing names one. */
export const DEFAULT_REGION = 'europe-west1';

export interface CloudSetting {
  value: string;
  /** Where the value came from: `--project_id`, `GOOGLE_CLOUD_PROJECT`, `gcloud config (FILE)`, `default`. */
  source: string;
}

export interface CloudSettings {
  project: CloudSetting;
  region: CloudSetting;
}

export interface CloudSettingsOptions {
  /** The flags' values, when given. */
  projectId?: string;
  region?: string;
  env?: NodeJS.ProcessEnv;
  /** Home directory, for gcloud's default configuration folder; default os.homedir(). */
  home?: string;
}

export class CloudSettingsError extends Error {
  override name = 'CloudSettingsError';
}

/** Project variables, in the order they are read: the client libraries', then gcloud's overrides. */
const PROJECT_VARIABLES = ['GOOGLE_CLOUD_PROJECT', 'CLOUDSDK_CORE_PROJECT', 'GCLOUD_PROJECT'];
/** Region variables: gcloud's Vertex AI override, Google's generic one, then gcloud's compute region. */
const REGION_VARIABLES = ['CLOUDSDK_AI_REGION', 'GOOGLE_CLOUD_REGION', 'CLOUDSDK_COMPUTE_REGION'];

/**
 * The project and region: each from its flag, else the environment, else gcloud's active configuration
 * ([core] project; [ai] region, else [compute] region); the region defaults to DEFAULT_REGION. No
 * project anywhere is an error naming all three places.
 */
export function resolveCloudSettings(options: CloudSettingsOptions = {}): CloudSettings {
  const env = options.env ?? process.env;
  const configFile = gcloudConfigFile(env, options.home ?? os.homedir());
  const config = readConfigFile(configFile);
  const fromEnv = (names: readonly string[]): CloudSetting | undefined => {
    const name = names.find((n) => env[n]?.trim());
    return name ? { value: env[name]!.trim(), source: name } : undefined;
  };
  const fromConfig = (section: string, key: string): CloudSetting | undefined => {
    const value = config?.[section]?.[key];
    return typeof value === 'string' && value.trim() ? { value: value.trim(), source: `gcloud config (${configFile})` } : undefined;
  };

  const project =
    (options.projectId !== undefined ? { value: options.projectId, source: '--project_id' } : undefined) ??
    fromEnv(PROJECT_VARIABLES) ??
    fromConfig('core', 'project');
  if (!project) {
    throw new CloudSettingsError(
      `no Google Cloud project: give --project_id, set ${PROJECT_VARIABLES.slice(0, 2).join(' or ')}, or run \`gcloud config set project PROJECT_ID\` (tensorsky reads ${configFile})`,
    );
  }
  const region =
    (options.region !== undefined ? { value: options.region, source: '--region' } : undefined) ??
    fromEnv(REGION_VARIABLES) ??
    fromConfig('ai', 'region') ??
    fromConfig('compute', 'region') ?? { value: DEFAULT_REGION, source: 'default' };
  return { project, region };
}

/** gcloud's configuration folder: CLOUDSDK_CONFIG, else %APPDATA%\gcloud on Windows, else ~/.config/gcloud. */
function gcloudConfigDir(env: NodeJS.ProcessEnv, home: string): string {
  if (env.CLOUDSDK_CONFIG) return env.CLOUDSDK_CONFIG;
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'gcloud');
  return path.join(home, '.config', 'gcloud');
}

/** The active configuration's file: CLOUDSDK_ACTIVE_CONFIG_NAME, else the name in active_config, else "default". */
function gcloudConfigFile(env: NodeJS.ProcessEnv, home: string): string {
  const dir = gcloudConfigDir(env, home);
  const name = env.CLOUDSDK_ACTIVE_CONFIG_NAME?.trim() || readText(path.join(dir, 'active_config'))?.trim() || 'default';
  return path.join(dir, 'configurations', `config_${name}`);
}

/** gcloud's INI file as sections of properties; undefined when there is none. */
function readConfigFile(file: string): Record<string, Record<string, unknown>> | undefined {
  const text = readText(file);
  return text === undefined ? undefined : (ini.parse(text) as Record<string, Record<string, unknown>>);
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    // Absent or unreadable: as if gcloud had never been configured on this machine.
    return undefined;
  }
}
