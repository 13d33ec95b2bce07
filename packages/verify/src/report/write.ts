// Writes the report as JSON (for machines), Markdown (for people and CI job summaries) and an SVG
// chart, each atomically, so that a reader never sees half a file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { renderChartSvg } from './chart.js';
import { formatMarkdown } from './markdown.js';
import type { ReportFiles, VerifyReport } from './types.js';

export const REPORT_BASENAME = 'export-and-verify';

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
