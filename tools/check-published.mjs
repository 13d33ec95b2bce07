#!/usr/bin/env node
// What a user of the published packages gets, checked from outside the repository: every import in a
// package's src is declared in its package.json; every publishable package packs (after a build), installs
// from its tarball into an empty folder in the OS temp dir (with one google-auth-library major), imports,
// and type-checks a small TypeScript consumer against the published .d.ts (no `@tensorsky/source`
// condition there); each package README's example runs; and the installed `tensorsky` bin exports,
// inspects and predicts on a shipped photo.
// Dependencies come from npm's cache when they are there (--prefer-offline). Flags: --keep (leave the folder).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const started = Date.now();
const say = (line) => process.stdout.write(`[check-published ${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
const failures = [];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/** The workspace packages that are published (not private), from their package.json files. */
function publishedPackages() {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(path.join(repoRoot, group))
      .map((name) => path.join(repoRoot, group, name))
      .filter((dir) => existsSync(path.join(dir, 'package.json')))
      .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) }))
      .filter(({ manifest }) => !manifest.private),
  );
}

function sourceFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Bare specifiers imported (statically, dynamically or as types) by a package's shipped code. */
function importedPackages(dir) {
  const found = new Set();
  const shipped = ['src', 'bin'].map((sub) => path.join(dir, sub)).filter(existsSync);
  for (const file of shipped.flatMap(sourceFiles)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gm)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      const parts = specifier.split('/');
      found.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return found;
}

/** The major versions of package `name` installed anywhere in `dir`'s node_modules (npm's own listing). */
function installedMajors(dir, name) {
  // npm ls exits 1 over unrelated problems (an unmet optional peer); its JSON lists the tree all the same.
  const listing = spawnSync('npm', ['ls', name, '--all', '--json'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  const tree = JSON.parse(listing.stdout || '{}');
  const majors = new Set();
  const visit = (node) => {
    for (const [dependency, child] of Object.entries(node.dependencies ?? {})) {
      if (dependency === name && child.version) majors.add(child.version.split('.')[0]);
      visit(child);
    }
  };
  visit(tree);
  return majors;
}

/** The first ```js block of the README's "## Example" section. */
function readmeExample(dir) {
  const readme = path.join(dir, 'README.md');
  if (!existsSync(readme)) return undefined;
  const section = readFileSync(readme, 'utf8').split(/^## Example/m)[1];
  return section && /```js\n([\s\S]*?)```/.exec(section)?.[1];
}

const packages = publishedPackages();
say(`${packages.length} published packages: ${packages.map(({ manifest }) => manifest.name).join(', ')}`);

// 1. Declared imports. Optional engines loaded by a computed specifier (tfjs-node) are not matched.
for (const { dir, manifest } of packages) {
  const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies }));
  for (const name of importedPackages(dir)) {
    if (name !== manifest.name && !declared.has(name)) failures.push(`${manifest.name} imports ${name} but does not declare it in dependencies`);
  }
  for (const file of ['LICENSE', 'README.md']) {
    if (!existsSync(path.join(dir, file))) failures.push(`${manifest.name} has no ${file}`);
  }
  for (const field of ['repository', 'engines', 'keywords', 'description']) {
    if (!manifest[field]) failures.push(`${manifest.name} has no "${field}" in package.json`);
  }
  if (!readmeExample(dir) && manifest.name !== '@tensorsky/cli') failures.push(`${manifest.name}'s README has no \`## Example\` with a js block`);
}

// 2. Build (cached) and pack.
const work = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-published-'));
// Engine onnx's cache goes with the rest of the check, not into the user's ~/.cache.
process.env.TENSORSKY_CACHE_DIR ??= path.join(work, 'cache');
say(`working in ${work}`);
try {
  run('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: repoRoot });
  const tarballs = path.join(work, 'tarballs');
  mkdirSync(tarballs);
  const packed = JSON.parse(
    run('npm', ['pack', '--json', '--pack-destination', tarballs, ...packages.flatMap(({ dir }) => ['--workspace', path.relative(repoRoot, dir)])], {
      cwd: repoRoot,
      input: '',
      env: { ...process.env, npm_config_loglevel: 'error' },
    }).replace(/^[^[]*/, ''),
  );
  for (const entry of packed) {
    const { dir, manifest } = packages.find((candidate) => candidate.manifest.name === entry.name);
    const files = entry.files.map((file) => file.path);
    const required = ['LICENSE', 'README.md', 'package.json', ...(manifest.exports ? ['dist/index.js', 'dist/index.d.ts', 'src/index.ts'] : [])];
    for (const file of required.filter((file) => !files.includes(file))) failures.push(`${entry.name}'s tarball lacks ${file}`);
    // Source maps either ship their sources or are not shipped.
    for (const map of files.filter((file) => file.endsWith('.map'))) {
      for (const source of JSON.parse(readFileSync(path.join(dir, map), 'utf8')).sources) {
        const shipped = path.posix.join(path.posix.dirname(map), source);
        if (!files.includes(shipped)) failures.push(`${entry.name}: ${map} points at ${shipped}, which is not in the tarball`);
      }
    }
    if (files.some((file) => file.startsWith('test/') || file.endsWith('.tsbuildinfo'))) failures.push(`${entry.name}'s tarball ships tests or build info`);
  }
  say(`packed ${packed.length} tarballs (${packed.map((entry) => `${entry.name} ${(entry.size / 1024).toFixed(0)} kB`).join(', ')})`);

  // 3. Install into an empty project outside the repository.
  const consumer = path.join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  const tgz = readdirSync(tarballs).map((file) => path.join(tarballs, file));
  const typesNode = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).devDependencies['@types/node'];
  // onnxruntime-node's install script would fetch a CUDA provider (not reachable offline, not needed for
  // its CPU engine); users skip it the same way (README of @tensorsky/predict-local).
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tgz, `@types/node@${typesNode}`], {
    cwd: consumer,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  say('installed the tarballs into an empty project');

  // 3b. One google-auth-library major for googleapis and @google-cloud/storage (two would need their
  // credentials built twice, each by its own copy).
  const authMajors = installedMajors(consumer, 'google-auth-library');
  if (authMajors.size !== 1) failures.push(`a user install has google-auth-library majors ${[...authMajors].join(', ') || 'none'}; pin googleapis and @google-cloud/storage to versions that share one`);
  else say(`one google-auth-library major installed (${[...authMajors][0]})`);

  // 4. Import each package (plain Node resolution: the published exports, not the sources).
  for (const { manifest } of packages.filter(({ manifest }) => manifest.exports)) {
    const probe = `const m = await import(${JSON.stringify(manifest.name)}); if (Object.keys(m).length === 0) throw new Error('no exports'); console.log(Object.keys(m).length);`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: consumer, encoding: 'utf8' });
    if (result.status !== 0) failures.push(`import ${manifest.name} failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`);
    else say(`import ${manifest.name}: ${result.stdout.trim()} exports`);
  }

  // 5. Type-check a consumer against the published types.
  const libraries = packages.filter(({ manifest }) => manifest.types);
  writeFileSync(
    path.join(consumer, 'consumer.ts'),
    [
      ...libraries.map(({ manifest }, i) => `import * as lib${i} from '${manifest.name}';`),
      `import { decodeTopK, labelsFromList, type Prediction } from '@tensorsky/decode';`,
      `import { readSavedModel, type LoadedSavedModel } from '@tensorsky/saved-model';`,
      `const top: Prediction[] = decodeTopK(new Float32Array([0.1, 0.7, 0.2]), labelsFromList(['a', 'b', 'c']), 2);`,
      `const model: Promise<LoadedSavedModel> = readSavedModel('model');`,
      `export const everything = [${libraries.map((_, i) => `lib${i}`).join(', ')}, top, model];`,
      '',
    ].join('\n'),
  );
  // skipLibCheck as TF.js asks of its users (its .d.ts files need DOM and WebGPU types that clash); an
  // undeclared dependency of ours is caught by step 1, and the consumer's own uses are fully checked.
  const compilerOptions = { target: 'ES2022', lib: ['ES2023'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] };
  writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
  const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { encoding: 'utf8' });
  if (tsc.status !== 0) failures.push(`the TypeScript consumer does not type-check:\n${tsc.stdout}${tsc.stderr}`);
  else say('a TypeScript consumer type-checks against the published types');

  // 6. Each README's example, as a user would paste it.
  for (const { dir, manifest } of packages) {
    const example = readmeExample(dir);
    if (!example) continue;
    const t0 = Date.now();
    const result = spawnSync(process.execPath, ['--input-type=module'], { cwd: consumer, input: example, encoding: 'utf8', timeout: 180_000 });
    if (result.status !== 0) failures.push(`${manifest.name}'s README example failed (${result.status ?? result.signal}): ${(result.stderr || result.stdout).trim().split('\n').slice(-4).join(' | ')}`);
    else say(`${manifest.name} README example ran in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${result.stdout.trim().split('\n')[0]}`);
  }

  // 7. The installed bin, on a photo shipped in the repository.
  const photo = path.join(consumer, 'cat.jpg');
  copyFileSync(path.join(repoRoot, 'packages', 'fixtures', 'images', 'cat.jpg'), photo);
  const bin = (args) => execFileSync('npx', ['--no-install', 'tensorsky', ...args], { cwd: consumer, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  bin(['--version']);
  bin(['export', '--model_dir', 'models/m/1', '--weights', 'random', '--seed', '1']);
  const inspected = JSON.parse(bin(['inspect', 'models/m/1', '--json']));
  if (!JSON.stringify(inspected).includes('serving_default')) failures.push('tensorsky inspect shows no serving_default signature');
  const predicted = bin(['predict', '--image', 'cat.jpg', '--model_path', 'models/m/1', '--top', '3']);
  if (!/Predicted/.test(predicted)) failures.push(`tensorsky predict printed no prediction: ${predicted}`);
  const engine = JSON.parse(bin(['predict', '--image', 'cat.jpg', '--model_path', 'models/m/1', '--json']));
  if (engine.backend !== 'onnx') failures.push(`the installed tensorsky predicted on ${engine.backend}, not onnx (${engine.fallback ?? 'no fallback note'})`);
  say('the installed tensorsky bin exported, inspected and predicted');
} catch (error) {
  failures.push(String(error?.message ?? error));
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  for (const failure of failures) process.stderr.write(`check-published: ${failure}\n`);
  process.exitCode = 1;
} else {
  say('all published packages pack, install, import, type-check and run');
}
