// The repository's Dockerfile, which cannot be built here (no Docker daemon): linted with dockerfile-utils
// (the validator of the Docker language server), and checked for what the image promises: runtime
// dependencies only, a non-root user, the start script and healthcheck that container.test.ts runs.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');

/** Instructions as [KEYWORD, arguments], continuation lines joined, comments dropped. */
function instructions(text: string): [string, string][] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return [keyword.toUpperCase(), rest.join(' ')];
    });
}

const all = instructions(dockerfile);
const runtime = all.slice(all.findLastIndex(([keyword]) => keyword === 'FROM'));
const args = (keyword: string) => runtime.filter(([k]) => k === keyword).map(([, a]) => a);

describe('Dockerfile', () => {
  it('lints clean: no error and no warning', () => {
    expect(validate(dockerfile)).toEqual([]);
  });

  it('runs on a slim Node image, with runtime dependencies only, as a non-root user', () => {
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(image).toMatch(/^node:\d+(\.\d+)*-[a-z]+-slim$/);
    expect(runtime[0]).toEqual(['FROM', '${NODE_IMAGE}']);
    expect(args('RUN').join(' ')).toMatch(/npm ci --omit=dev /);
    const users = args('USER');
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('starts bin/container-start.js, checks health with bin/container-healthcheck.js, and exposes TF Serving ports and /models', () => {
    const entrypoint = JSON.parse(args('ENTRYPOINT')[0]) as string[];
    expect(entrypoint).toEqual(['node', 'apps/cli/bin/container-start.js']);
    const healthcheck = args('HEALTHCHECK')[0];
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
    expect(command).toEqual(['node', 'apps/cli/bin/container-healthcheck.js']);
    for (const script of [entrypoint[1], command[1]]) expect(existsSync(path.join(repoRoot, script))).toBe(true);
    expect(args('EXPOSE')).toEqual(['8500 8501']);
    expect(args('VOLUME')).toEqual(['["/models"]']);
    expect(args('ENV').join(' ')).toMatch(/MODEL_NAME=model .*MODEL_BASE_PATH=\/models/);
  });

  it('.dockerignore keeps local installs and builds out of the build context', () => {
    const ignored = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git']) expect(ignored).toContain(entry);
  });
});
