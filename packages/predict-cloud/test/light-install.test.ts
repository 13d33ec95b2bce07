// A user who only calls TF Serving installs @tensorsky/predict-cloud and gets no Google library: packed
// like a release (npm pack of predict-cloud and the workspace packages it depends on), installed offline
// into an empty folder outside the repository, as tools/check-published.mjs installs every package.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const work = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-light-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', input: '', maxBuffer: 64 << 20, env: { ...process.env, npm_config_loglevel: 'error' } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${result.stderr}`);
  return result.stdout;
}

/** The workspace folders of `name` and of every @tensorsky package it depends on (dependencies only). */
function workspaceClosure(name: string): string[] {
  const byName = new Map<string, { dir: string; dependencies: Record<string, string> }>();
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(path.join(repoRoot, group))) {
      const file = path.join(repoRoot, group, entry, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      byName.set(manifest.name, { dir: path.join(group, entry), dependencies: manifest.dependencies ?? {} });
    }
  }
  const found = new Set<string>();
  const visit = (pkg: string) => {
    if (found.has(pkg) || !byName.has(pkg)) return;
    found.add(pkg);
    Object.keys(byName.get(pkg)!.dependencies).forEach(visit);
  };
  visit(name);
  return [...found].map((pkg) => byName.get(pkg)!.dir);
}

describe('installing the TF Serving client', () => {
  it('installs @tensorsky/predict-cloud from its tarballs without googleapis or @google-cloud/storage', () => {
    const workspaces = workspaceClosure('@tensorsky/predict-cloud');
    expect(workspaces).toContain('packages/cloud-errors');
    expect(workspaces).not.toContain('packages/deploy');
    const tarballs = path.join(work, 'tarballs');
    mkdirSync(tarballs);
    run('npm', ['pack', '--pack-destination', tarballs, ...workspaces.flatMap((w) => ['--workspace', w])], repoRoot);
    const consumer = path.join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const files = readdirSync(tarballs).map((f) => path.join(tarballs, f));
    run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...files], consumer);

    const modules = path.join(consumer, 'node_modules');
    expect(existsSync(path.join(modules, '@tensorsky', 'predict-cloud', 'package.json'))).toBe(true);
    for (const heavy of ['googleapis', '@google-cloud/storage', 'google-auth-library', '@tensorsky/deploy']) {
      expect(existsSync(path.join(modules, heavy)), `${heavy} was installed`).toBe(false);
    }
    // And the installed client loads (the published dist, plain Node resolution).
    const probe = "const m = await import('@tensorsky/predict-cloud'); console.log(typeof m.TfServingBackend, typeof m.predictCloud);";
    expect(run(process.execPath, ['--input-type=module', '-e', probe], consumer).trim()).toBe('function function');
  }, 300_000);
});
