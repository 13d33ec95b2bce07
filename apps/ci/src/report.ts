// The export-and-verify report: what was checked, what failed and why, per image. Written as JSON (for
// machines), Markdown (for people and CI job summaries) and an SVG chart, each atomically.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { renderChartSvg } from './chart.js';
import type { LatencyStats } from './golden.js';

export const REPORT_BASENAME = 'export-and-verify';

export type CheckName = 'export' | 'graph' | 'signature' | 'golden' | 'latency' | 'deploy';

export interface CheckResult {
  name: CheckName;
  status: 'passed' | 'failed' | 'skipped';
  /** One line: what was checked and the outcome. */
  summary: string;
  /** One line per problem found. */
  problems: string[];
}

export interface ClassScore {
  index: number;
  label: string;
  score: number;
}

export interface ImageResult {
  /** Path as found. */
  image: string;
  bytes: number;
  passed: boolean;
  /** Why the image could not be compared (unreadable, a model failed on it). */
  error?: string;
  maxAbsDiff?: number;
  top1Agree?: boolean;
  topKAgree?: boolean;
  /** Classes in both top-k lists. */
  topKOverlap?: number;
  reference?: ClassScore;
  exported?: ClassScore;
  /** One-image prediction time of the exported model (base64 string in, scores out). */
  latencyMs?: number;
  /** The source model on the decoded, resized pixels. */
  referenceMs?: number;
}

export interface DeployReport {
  target: 'local' | 'vertex';
  /** Where predictions were sent. */
  url?: string;
  /** The version that answered (local: the repository version; vertex: the model version ID). */
  version?: string;
  image?: string;
  maxAbsDiff?: number;
  top1Agree?: boolean;
  latencyMs?: number;
}

export interface VerifyReport {
  passed: boolean;
  /** What people reading the verdict must know, e.g. that random weights make the labels meaningless. */
  warnings: string[];
  startedAt: string;
  durationMs: number;
  model: {
    /** 'inception_v3' or the model file's name. */
    name: string;
    /** Where the weights came from: imagenet, random (seed N), a file, model file. */
    weights?: string;
    preprocess?: string;
    inputShape?: [number, number, number];
    classes?: number;
  };
  savedModel: {
    dir: string;
    /** False when an existing SavedModel was verified (--saved-model). */
    exported: boolean;
    nodes?: number;
    bytes?: number;
    exportMs?: number;
  };
  settings: { tolerance: number; topK: number; latencyBudgetMs: number; backend: string; images: string[] };
  checks: CheckResult[];
  images: ImageResult[];
  latency?: LatencyStats & { budgetMs: number; warmupMs?: number };
  deploy?: DeployReport;
}

export interface ReportFiles {
  json: string;
  markdown: string;
  chart: string;
}

/** Writes export-and-verify.{json,md,svg} into `dir`. */
export async function writeReport(report: VerifyReport, dir: string): Promise<ReportFiles> {
  await fs.mkdir(dir, { recursive: true });
  const files: ReportFiles = {
    json: path.join(dir, `${REPORT_BASENAME}.json`),
    markdown: path.join(dir, `${REPORT_BASENAME}.md`),
    chart: path.join(dir, `${REPORT_BASENAME}.svg`),
  };
  await writeAtomically(files.chart, renderChartSvg(report));
  await writeAtomically(files.markdown, formatMarkdown(report, path.basename(files.chart)));
  await writeAtomically(files.json, `${JSON.stringify(report, null, 2)}\n`);
  return files;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await fs.writeFile(temp, text);
    await fs.rename(temp, file);
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/** One line per failed check problem, prefixed with the check name. */
export function reportFailures(report: VerifyReport): string[] {
  return report.checks.filter((c) => c.status === 'failed').flatMap((c) => (c.problems.length > 0 ? c.problems : [c.summary]).map((p) => `${c.name}: ${p}`));
}

export function formatMarkdown(report: VerifyReport, chartFile?: string): string {
  const { model, savedModel, settings } = report;
  const lines = [
    `# Export and verify: ${report.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `- Model: ${model.name}${model.weights ? `, weights ${model.weights}` : ''}${model.preprocess ? `, preprocessing ${model.preprocess}` : ''}`,
    `- SavedModel: \`${savedModel.dir}\`${savedModel.exported ? ` (exported${savedModel.nodes ? `: ${savedModel.nodes} nodes` : ''}${savedModel.bytes ? `, ${(savedModel.bytes / 2 ** 20).toFixed(1)} MiB` : ''}${savedModel.exportMs !== undefined ? `, ${seconds(savedModel.exportMs)}` : ''})` : ' (given)'}`,
    `- Settings: tolerance ${settings.tolerance}, top-${settings.topK}, latency budget ${settings.latencyBudgetMs} ms (p95), backend ${settings.backend}`,
    `- Run: ${report.startedAt}, ${seconds(report.durationMs)}`,
  ];
  if (report.warnings.length > 0) lines.push('', ...report.warnings.map((w) => `> **Warning:** ${w}`));
  const failures = reportFailures(report);
  if (failures.length > 0) lines.push('', '## Why it failed', '', ...failures.map((f) => `- ${f}`));

  lines.push('', '## Checks', '', '| check | result | details |', '|---|---|---|');
  for (const c of report.checks) lines.push(`| ${c.name} | ${c.status === 'passed' ? 'pass' : c.status === 'failed' ? '**FAIL**' : 'skipped'} | ${cell(c.summary)} |`);

  if (report.images.length > 0) {
    lines.push(
      '',
      '## Golden images',
      '',
      `| image | max abs diff | top-1 | top-${settings.topK} overlap | source top-1 | exported top-1 | latency |`,
      '|---|---:|---|---:|---|---|---:|',
    );
    for (const r of report.images) {
      if (r.error) {
        lines.push(`| ${cell(path.basename(r.image))} | | **error** | | ${cell(r.error)} | | |`);
        continue;
      }
      lines.push(
        `| ${cell(path.basename(r.image))} | ${formatDiff(r.maxAbsDiff)} | ${r.top1Agree ? 'agree' : '**differ**'} | ${r.topKOverlap ?? ''}/${settings.topK}${r.topKAgree ? '' : ' **differ**'} | ${classCell(r.reference)} | ${classCell(r.exported)} | ${r.latencyMs === undefined ? '' : `${Math.round(r.latencyMs)} ms`} |`,
      );
    }
  }
  if (report.latency) {
    const l = report.latency;
    lines.push(
      '',
      `Latency of the exported model, one image per call: median ${Math.round(l.medianMs)} ms, p95 ${Math.round(l.p95Ms)} ms, max ${Math.round(l.maxMs)} ms over ${l.count} images${l.warmupMs !== undefined ? ` (first call, not counted: ${Math.round(l.warmupMs)} ms)` : ''}; budget ${l.budgetMs} ms.`,
    );
  }
  if (report.deploy) {
    const d = report.deploy;
    lines.push('', '## Deployment smoke test', '', `- Target: ${d.target}${d.url ? ` at ${d.url}` : ''}${d.version ? `, version ${d.version}` : ''}`);
    if (d.image) {
      lines.push(
        `- ${path.basename(d.image)}: max abs diff ${formatDiff(d.maxAbsDiff)} vs the local prediction, top-1 ${d.top1Agree ? 'agrees' : 'differs'}${d.latencyMs !== undefined ? `, ${Math.round(d.latencyMs)} ms` : ''}`,
      );
    }
  }
  if (chartFile) lines.push('', `![per-image agreement and latency](${chartFile})`);
  return `${lines.join('\n')}\n`;
}

function classCell(c: ClassScore | undefined): string {
  return c ? `${cell(c.label)} (${c.index}) ${c.score.toFixed(4)}` : '';
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function formatDiff(diff: number | undefined): string {
  if (diff === undefined) return '';
  if (!Number.isFinite(diff)) return String(diff);
  return diff === 0 ? '0' : diff.toExponential(2);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
