// Project and region from flags, then the environment, then gcloud's configuration file, written here as
// `gcloud config set` writes it (CONFIG_DIR/active_config names the configuration;
// CONFIG_DIR/configurations/config_<name> is an INI file with [core] project, [compute]/[ai] region).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudSettingsError, resolveCloudSettings } from '../src/cloud-settings.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-gcloud-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A gcloud configuration folder with configurations `default` and `work`, `work` active. */
function gcloudDir(name: string, work: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(path.join(dir, 'configurations'), { recursive: true });
  writeFileSync(path.join(dir, 'active_config'), 'work');
  writeFileSync(path.join(dir, 'configurations', 'config_default'), '[core]\nproject = default-project\n');
  writeFileSync(path.join(dir, 'configurations', 'config_work'), work);
  return dir;
}

const WORK = '[core]\naccount = jean@example.com\nproject = jean-project\n\n[compute]\nregion = us-central1\nzone = us-central1-a\n';

describe('resolveCloudSettings', () => {
  it('reads the active gcloud configuration when no flag or variable names them', () => {
    const dir = gcloudDir('active', WORK);
    const settings = resolveCloudSettings({ env: { CLOUDSDK_CONFIG: dir } });
    const file = path.join(dir, 'configurations', 'config_work');
    expect(settings).toEqual({
      project: { value: 'jean-project', source: `gcloud config (${file})` },
      region: { value: 'us-central1', source: `gcloud config (${file})` },
    });
  });

  it('prefers [ai] region to [compute] region, and CLOUDSDK_ACTIVE_CONFIG_NAME to active_config', () => {
    const dir = gcloudDir('ai', `${WORK}\n[ai]\nregion = europe-west4\n`);
    expect(resolveCloudSettings({ env: { CLOUDSDK_CONFIG: dir } }).region.value).toBe('europe-west4');
    const other = resolveCloudSettings({ env: { CLOUDSDK_CONFIG: dir, CLOUDSDK_ACTIVE_CONFIG_NAME: 'default' } });
    expect(other.project.value).toBe('default-project');
    expect(other.region).toEqual({ value: 'europe-west1', source: 'default' });
  });

  it('takes the environment over the file, and the flags over both', () => {
    const dir = gcloudDir('env', WORK);
    const env = { CLOUDSDK_CONFIG: dir, GOOGLE_CLOUD_PROJECT: 'env-project', CLOUDSDK_CORE_PROJECT: 'sdk-project', CLOUDSDK_COMPUTE_REGION: 'asia-east1' };
    expect(resolveCloudSettings({ env })).toEqual({
      project: { value: 'env-project', source: 'GOOGLE_CLOUD_PROJECT' },
      region: { value: 'asia-east1', source: 'CLOUDSDK_COMPUTE_REGION' },
    });
    expect(resolveCloudSettings({ env: { ...env, GOOGLE_CLOUD_PROJECT: ' ' } }).project).toEqual({ value: 'sdk-project', source: 'CLOUDSDK_CORE_PROJECT' });
    expect(resolveCloudSettings({ env, projectId: 'flag-project', region: 'us-east1' })).toEqual({
      project: { value: 'flag-project', source: '--project_id' },
      region: { value: 'us-east1', source: '--region' },
    });
  });

  it('finds ~/.config/gcloud from the home directory', () => {
    const home = path.join(scratch, 'home');
    const dir = path.join(home, '.config', 'gcloud');
    mkdirSync(path.join(dir, 'configurations'), { recursive: true });
    writeFileSync(path.join(dir, 'configurations', 'config_default'), '[core]\nproject = home-project\n');
    expect(resolveCloudSettings({ env: {}, home }).project.value).toBe('home-project');
  });

  it('without a project anywhere, names the flag, the variables and the gcloud file it read', () => {
    const dir = path.join(scratch, 'never-configured');
    const fail = () => resolveCloudSettings({ env: { CLOUDSDK_CONFIG: dir } });
    expect(fail).toThrow(CloudSettingsError);
    expect(fail).toThrow(
      `no Google Cloud project: give --project_id, set GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT, or run \`gcloud config set project PROJECT_ID\` (tensorsky reads ${path.join(dir, 'configurations', 'config_default')})`,
    );
  });
});
