// All command output goes through here so tests can capture it and --json stays machine-readable.
export interface Output {
  out(line: string): void;
  err(line: string): void;
  json(value: unknown): void;
}

export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
};
