#!/usr/bin/env node
// `npm run bench`: runs every benchmark in its own Node process (so peak RSS is its own), collects the
// JSON each prints on its last stdout line, and writes dist/bench/bench.json + bench.md with the machine
// description. Figures are meant to be compared as ratios within one run; absolute times are noisy.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const only = process.argv.slice(2);

/** name → script in tools/bench; each prints one JSON object as its last stdout line. */
const benches = [
  ['export', 'export.mjs'],
  ['predict', 'predict.mjs'],
  ['engines', 'engines.mjs'],
  ['serve', 'serve.mjs'],
  ['warmup', 'warmup.mjs'],
].filter(([name]) => only.length === 0 || only.includes(name));

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  node: process.version,
};

const results = {};
for (const [name, script] of benches) {
  process.stderr.write(`bench ${name} ...\n`);
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, script)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 2 ** 20,
    timeout: 15 * 60_000,
  });
  const lines = (run.stdout ?? '').trim().split('\n');
  let parsed;
  try {
    parsed = JSON.parse(lines.at(-1) ?? '');
  } catch {
    parsed = { error: `no JSON result (exit ${run.status}${run.signal ? `, ${run.signal}` : ''})` };
  }
  results[name] = { ...parsed, wallSeconds: (Date.now() - started) / 1000 };
  process.stderr.write(`bench ${name}: ${JSON.stringify(results[name])}\n`);
}

const report = { date: new Date().toISOString(), machine, results };
const outDir = join(root, 'dist', 'bench');
mkdirSync(outDir, { recursive: true });
writeAtomic(join(outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
writeAtomic(join(outDir, 'bench.md'), toMarkdown(report));
console.log(JSON.stringify(report, null, 2));
process.exitCode = Object.values(results).some((r) => r.error) ? 1 : 0;

function writeAtomic(path, text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function toMarkdown({ date, machine: m, results: r }) {
  const out = [`# tensorsky benchmarks`, '', `${date} — ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`, ''];
  for (const [name, res] of Object.entries(r)) {
    out.push(`## ${name}`, '', '| figure | value |', '|---|---|');
    const tables = Object.entries(res).filter(([, v]) => Array.isArray(v) && v.length > 0 && v.every((row) => row && typeof row === 'object'));
    const scalars = Object.fromEntries(Object.entries(res).filter(([k]) => !tables.some(([t]) => t === k)));
    for (const [k, v] of Object.entries(flatten(scalars))) out.push(`| ${k} | ${typeof v === 'number' ? round(v) : v} |`);
    out.push('');
    // Arrays of records (serve's runs) as tables of their own.
    for (const [k, rows] of tables) {
      const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
      out.push(`### ${name}.${k}`, '', `| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`);
      for (const row of rows) out.push(`| ${columns.map((c) => (typeof row[c] === 'number' ? round(row[c]) : (row[c] ?? ''))).join(' | ')} |`);
      out.push('');
    }
  }
  return `${out.join('\n')}\n`;
}

function flatten(obj, prefix = '') {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v, key));
    else out[key] = Array.isArray(v) ? JSON.stringify(v) : v;
  }
  return out;
}

function round(v) {
  return Number.isInteger(v) ? v : Number(v.toPrecision(4));
}
