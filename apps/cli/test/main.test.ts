import { describe, it, expect } from 'vitest';
import { main } from '../src/main.js';
import type { Output } from '../src/output.js';

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), json: (v) => lines.push(JSON.stringify(v)) };
}

describe('tensorsky usage errors', () => {
  it('rejects an invalid choice with exit code 2 before running the command', async () => {
    const out = capture();
    const code = await main(['export', '--model_dir', '/nonexistent/never-created', '--input-format', 'jpeg'], out);
    expect(code).toBe(2);
    expect(out.errors).toHaveLength(1);
    expect(out.errors[0]).toMatch(/^tensorsky: .*input-format/i);
  });

  it('reports a missing required flag with exit code 2', async () => {
    const out = capture();
    expect(await main(['export'], out)).toBe(2);
    expect(out.errors[0]).toMatch(/model[-_]dir/);
  });

  it('names an unknown command', async () => {
    const out = capture();
    expect(await main(['exprot'], out)).toBe(2);
    expect(out.errors.join('\n')).toMatch(/exprot/);
  });

  it('does not carry one run\'s failure into the next', async () => {
    process.exitCode = 1;
    const out = capture();
    expect(await main(['--help'], out)).toBe(0);
  });
});
