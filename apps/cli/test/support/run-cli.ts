// Runs the CLI in-process, as `tensorsky ARGV...`, and captures what it prints.
import { main } from '../../src/main.js';
import type { Output } from '../../src/output.js';

export interface Captured {
  code: number;
  out: string[];
  err: string[];
  // JSON documents as printed; tests read into them freely.
  json: any[];
}

export async function run(...argv: string[]): Promise<Captured> {
  const captured: Captured = { code: -1, out: [], err: [], json: [] };
  const output: Output = {
    out: (line) => captured.out.push(line),
    err: (line) => captured.err.push(line),
    json: (value) => captured.json.push(value),
  };
  captured.code = await main(argv, output);
  return captured;
}
