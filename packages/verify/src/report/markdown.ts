// The report as text for people: the Markdown file (and CI job summaries), and the few lines a CI log
// ends with (the verdict, each check, each failure, where the report is).
import path from 'node:path';
import type { ClassScore, ExportAndVerifyResult, VerifyReport } from './types.js';

/** One line per failed check problem, prefixed with the check name. */
export function reportFailures(report: VerifyReport): string[] {
  return report.checks.filter((c) => c.status === 'failed').flatMap((c) => (c.problems.length > 0 ? c.problems : [c.summary]).map((p) => `${c.name}: ${p}`));
}

/** What CI logs show at the end: the verdict, each check, each failure, where the report is. */
export function summaryLines({ report, files }: ExportAndVerifyResult): string[] {
  const lines = [`export-and-verify ${report.passed ? 'PASSED' : 'FAILED'}: ${report.model.name}, weights ${report.model.weights ?? 'unknown'}, SavedModel ${report.savedModel.dir}`];
  for (const c of report.checks) lines.push(`  ${c.status === 'passed' ? 'ok  ' : c.status === 'failed' ? 'FAIL' : 'skip'} ${c.name}: ${c.summary}`);
  const failures = reportFailures(report);
  if (failures.length > 0) lines.push('Failed because:', ...failures.map((f) => `  - ${f}`));
  lines.push(`Report: ${files.markdown}, ${files.json}, ${files.chart}`);
  return lines;
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

function formatDiff(diff: number | undefined): string {
  if (diff === undefined) return '';
  if (!Number.isFinite(diff)) return String(diff);
  return diff === 0 ? '0' : diff.toExponential(2);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
