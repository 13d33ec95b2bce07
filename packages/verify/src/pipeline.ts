// export-and-verify: export the model (or take a given SavedModel), then check it the way CI should
// before anything is deployed. The checks are the list in checks.ts, run here in order by one loop: each
// reports what it found, and one that cannot let the rest go on has them reported as skipped. The report
// says which failed and why, and is written (JSON, Markdown, SVG) whatever happened.
import path from 'node:path';
import { expandImagePaths } from '@tensorsky/preprocess';
import { CHECKS } from './checks.js';
import { DEFAULTS, defaultTolerance, type ExportAndVerifyOptions } from './options.js';
import type { ExportAndVerifyResult, VerifyReport } from './report/types.js';
import { writeReport } from './report/write.js';
import { errorLine, type Check, type CheckOutcome, type VerifyRun } from './run.js';

/** Problems listed per check in the report before the rest are summarised as "and N more". */
const MAX_PROBLEMS = 20;

export async function exportAndVerify(options: ExportAndVerifyOptions): Promise<ExportAndVerifyResult> {
  const started = Date.now();
  const log = options.onProgress ?? (() => {});
  const settings = {
    tolerance: options.tolerance ?? defaultTolerance(options.backend),
    topK: options.topK ?? DEFAULTS.topK,
    latencyBudgetMs: options.latencyBudgetMs ?? DEFAULTS.latencyBudgetMs,
    backend: options.backend ?? 'auto',
    images: options.images,
  };
  const report: VerifyReport = {
    passed: false,
    warnings: [],
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    model: { name: options.model ? path.basename(options.model) : 'inception_v3' },
    savedModel: { dir: options.savedModel ?? '', exported: !options.savedModel },
    settings,
    checks: [],
    images: [],
  };
  const imagePaths = await expandImagePaths(options.images);
  if (imagePaths.length === 0) throw new Error(`no JPEG/PNG/GIF/BMP images found in ${options.images.join(', ')}`);

  const run: VerifyRun = { options, settings, report, log, imagePaths };
  try {
    let stopped: string | undefined;
    for (const check of CHECKS.filter((c) => c.enabled?.(options) ?? true)) {
      const outcome: CheckOutcome = stopped === undefined ? await runCheck(check, run) : { status: 'skipped', summary: stopped };
      const problems = outcome.problems ?? [];
      const shown = problems.length > MAX_PROBLEMS ? [...problems.slice(0, MAX_PROBLEMS), `and ${problems.length - MAX_PROBLEMS} more`] : problems;
      report.checks.push({ name: check.name, status: outcome.status, summary: outcome.summary, problems: shown });
      log(`${check.name}: ${outcome.status === 'passed' ? 'ok' : outcome.status === 'failed' ? 'FAILED' : 'skipped'}: ${outcome.summary}`);
      for (const p of shown) log(`  ${p}`);
      stopped ??= outcome.stop;
    }
    report.passed = report.checks.every((c) => c.status !== 'failed');
    report.durationMs = Date.now() - started;
    const files = await writeReport(report, options.reportDir);
    log(`report: ${files.markdown} (also .json, .svg)`);
    return { report, files };
  } finally {
    run.exported?.dispose();
    run.reference?.dispose();
  }
}

/** A check that throws has failed with that error; its `stopsOnError` says whether the rest can go on. */
async function runCheck(check: Check, run: VerifyRun): Promise<CheckOutcome> {
  try {
    return await check.run(run);
  } catch (err) {
    return { status: 'failed', summary: errorLine(err), stop: check.stopsOnError };
  }
}
