#!/usr/bin/env node
// `npx nx run ci:export-and-verify` runs this (after building the workspace). Golden images default to
// the repository's fixture photos (packages/fixtures/images; TENSORSKY_IMAGES or --images for others).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../dist/cli.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

process.exitCode = await runCli(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  defaultImages: path.join(repoRoot, 'packages', 'fixtures', 'images'),
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
