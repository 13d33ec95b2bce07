// The report's chart, as hand-written SVG (no charting dependency): per image, the largest score
// difference exported vs source on a log scale against the tolerance, and the exported model's latency
// against the budget. Passing bars are green, failing ones red.
import path from 'node:path';
import type { VerifyReport } from './types.js';

const PASS = '#2e7d32';
const FAIL = '#c62828';
const GRID = '#e0e0e0';
const TEXT = '#212121';
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const LEFT = 80;
const RIGHT = 24;
const PANEL_HEIGHT = 170;
/** Narrowest column per image, and narrowest chart (so the panel titles fit). */
const COLUMN = 64;
const MIN_WIDTH = 680;
/** Differences are drawn from 1e-9 (anything smaller, including 0, sits on the floor). */
const DIFF_FLOOR_EXP = -9;

export function renderChartSvg(report: VerifyReport): string {
  const images = report.images;
  const n = Math.max(images.length, 1);
  const column = Math.max(COLUMN, (MIN_WIDTH - LEFT - RIGHT) / n);
  const width = Math.round(LEFT + RIGHT + n * column);
  const top1 = 48;
  const top2 = top1 + PANEL_HEIGHT + 70;
  const height = top2 + PANEL_HEIGHT + 80;
  const barWidth = Math.min(column * 0.6, 48);
  const x = (i: number) => LEFT + i * column + (column - barWidth) / 2;
  const parts: string[] = [];
  const text = (tx: number, ty: number, content: string, style: { anchor?: 'middle' | 'end'; fill?: string; transform?: string } = {}) =>
    parts.push(
      `<text x="${r(tx)}" y="${r(ty)}" ${FONT} font-size="11" fill="${style.fill ?? TEXT}"${style.anchor ? ` text-anchor="${style.anchor}"` : ''}${style.transform ? ` transform="${style.transform}"` : ''}>${escapeXml(content)}</text>`,
    );
  const line = (x1: number, y1: number, x2: number, y2: number, stroke: string, extra = '') =>
    parts.push(`<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${stroke}" ${extra}/>`);

  const title = `export-and-verify: ${report.passed ? 'PASSED' : 'FAILED'} (${report.model.name}${report.model.weights ? `, weights ${report.model.weights}` : ''})`;
  parts.push(`<text x="${LEFT}" y="22" ${FONT} font-size="14" font-weight="bold" fill="${report.passed ? PASS : FAIL}">${escapeXml(title)}</text>`);

  // Panel 1: max |exported - source| per image, log10 scale.
  const { tolerance } = report.settings;
  const diffs = images.map((im) => im.maxAbsDiff).filter((d): d is number => d !== undefined && Number.isFinite(d) && d > 0);
  const topExp = Math.max(0, Math.ceil(Math.log10(Math.max(tolerance || 1e-9, ...diffs, 1e-9))));
  const yDiff = (d: number) => {
    const e = d > 0 && Number.isFinite(d) ? Math.min(topExp, Math.max(DIFF_FLOOR_EXP, Math.log10(d))) : d > 0 ? topExp : DIFF_FLOOR_EXP;
    return top1 + PANEL_HEIGHT - ((e - DIFF_FLOOR_EXP) / (topExp - DIFF_FLOOR_EXP)) * PANEL_HEIGHT;
  };
  text(LEFT, top1 - 10, `max |exported - source| class score per image (log scale); dashed: tolerance ${tolerance}; ✓/✗ top-1 agreement`);
  for (let e = DIFF_FLOOR_EXP; e <= topExp; e++) {
    line(LEFT, yDiff(10 ** e), width - RIGHT, yDiff(10 ** e), GRID);
    text(LEFT - 8, yDiff(10 ** e) + 4, `1e${e}`, { anchor: 'end' });
  }
  if (tolerance > 0) line(LEFT, yDiff(tolerance), width - RIGHT, yDiff(tolerance), FAIL, 'stroke-dasharray="6 4" stroke-width="1.5"');
  images.forEach((im, i) => {
    if (im.maxAbsDiff === undefined) {
      text(x(i) + barWidth / 2, top1 + PANEL_HEIGHT - 4, 'error', { anchor: 'middle', fill: FAIL });
      return;
    }
    const y = yDiff(im.maxAbsDiff);
    const ok = im.maxAbsDiff <= tolerance;
    parts.push(`<rect x="${r(x(i))}" y="${r(y)}" width="${r(barWidth)}" height="${r(top1 + PANEL_HEIGHT - y)}" fill="${ok ? PASS : FAIL}"><title>${escapeXml(`${path.basename(im.image)}: ${im.maxAbsDiff}`)}</title></rect>`);
    text(x(i) + barWidth / 2, y - 4, im.top1Agree ? '✓' : '✗', { anchor: 'middle', fill: im.top1Agree ? PASS : FAIL });
  });
  line(LEFT, top1 + PANEL_HEIGHT, width - RIGHT, top1 + PANEL_HEIGHT, TEXT);

  // Panel 2: latency per image, linear scale from 0.
  const budget = report.settings.latencyBudgetMs;
  const latencies = images.map((im) => im.latencyMs ?? 0);
  const maxMs = niceCeiling(Math.max(budget, ...latencies) * 1.1);
  const yMs = (ms: number) => top2 + PANEL_HEIGHT - (Math.min(ms, maxMs) / maxMs) * PANEL_HEIGHT;
  text(LEFT, top2 - 10, `exported model latency per image (ms, one image per call); dashed: budget ${budget} ms (p95)`);
  for (let i = 0; i <= 4; i++) {
    const ms = (maxMs / 4) * i;
    line(LEFT, yMs(ms), width - RIGHT, yMs(ms), GRID);
    text(LEFT - 8, yMs(ms) + 4, String(Math.round(ms)), { anchor: 'end' });
  }
  line(LEFT, yMs(budget), width - RIGHT, yMs(budget), FAIL, 'stroke-dasharray="6 4" stroke-width="1.5"');
  images.forEach((im, i) => {
    if (im.latencyMs === undefined) return;
    const y = yMs(im.latencyMs);
    parts.push(`<rect x="${r(x(i))}" y="${r(y)}" width="${r(barWidth)}" height="${r(top2 + PANEL_HEIGHT - y)}" fill="${im.latencyMs <= budget ? PASS : FAIL}"><title>${escapeXml(`${path.basename(im.image)}: ${Math.round(im.latencyMs)} ms`)}</title></rect>`);
  });
  line(LEFT, top2 + PANEL_HEIGHT, width - RIGHT, top2 + PANEL_HEIGHT, TEXT);

  // Image names under the second panel, slanted so long names fit.
  images.forEach((im, i) => {
    const tx = x(i) + barWidth / 2;
    const ty = top2 + PANEL_HEIGHT + 14;
    text(tx, ty, shorten(path.basename(im.image), 16), { anchor: 'end', transform: `rotate(-35 ${r(tx)} ${r(ty)})` });
  });

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** A round axis maximum at least `value`: 1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6 or 8 times a power of ten (quarters stay round). */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10].find((m) => m * power >= value) ?? 10) * power;
}

function shorten(name: string, max: number): string {
  return name.length <= max ? name : `${name.slice(0, max - 1)}…`;
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
