// The repository's entry point (apps/ci/bin/export-and-verify.js, run by `nx run ci:export-and-verify`):
// @tensorsky/verify with the flags of `tensorsky verify`, parsed with node:util, plus environment variables
// for the inputs that key the Nx cache (TENSORSKY_MODEL, TENSORSKY_WEIGHTS, TENSORSKY_SEED,
// TENSORSKY_IMAGES, several paths joined like PATH).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exportAndVerify, optionsFromFlags, summaryLines, VERIFY_FLAGS, type ExportAndVerifyResult, type VerifyFlagName } from '@tensorsky/verify';

/** Flags that may come from the environment instead (a flag wins). */
export const FLAG_ENV: Partial<Record<VerifyFlagName, string>> = {
  model: 'TENSORSKY_MODEL',
  weights: 'TENSORSKY_WEIGHTS',
  seed: 'TENSORSKY_SEED',
  images: 'TENSORSKY_IMAGES',
};

export interface CliContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Golden images when neither --images nor TENSORSKY_IMAGES is given. */
  defaultImages?: string;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Runs export-and-verify from command-line arguments; returns the exit code (0 passed, 1 failed, 2 usage). */
export async function runCli(argv: string[], context: CliContext): Promise<number> {
  let values: Record<string, unknown>;
  try {
    const parsed = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(
          // Every flag takes a value; numbers are checked by optionsFromFlags.
          Object.entries(VERIFY_FLAGS).map(([name, spec]) => [name, { type: 'string', multiple: 'array' in spec }]),
        ),
      },
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values;
  } catch (err) {
    context.err(`export-and-verify: ${(err as Error).message.split('\n')[0]}; see --help`);
    return 2;
  }
  if (values.help) {
    usage().forEach((line) => context.out(line));
    return 0;
  }
  for (const [flag, variable] of Object.entries(FLAG_ENV)) {
    const fromEnv = context.env[variable!];
    if (values[flag] === undefined && fromEnv) values[flag] = flag === 'images' ? fromEnv.split(path.delimiter) : fromEnv;
  }

  let result: ExportAndVerifyResult;
  try {
    const options = optionsFromFlags(values, { cwd: context.cwd, defaultImages: context.defaultImages });
    result = await exportAndVerify({ ...options, onProgress: (line) => context.err(`export-and-verify: ${line}`) });
  } catch (err) {
    context.err(`export-and-verify: ${(err as Error).message.split('\n')[0]}`);
    return 1;
  }
  summaryLines(result).forEach((line) => context.out(line));
  for (const warning of result.report.warnings) context.err(`export-and-verify: warning: ${warning}`);
  return result.report.passed ? 0 : 1;
}

function usage(): string[] {
  const lines = ['Usage: node apps/ci/bin/export-and-verify.js [options]', '', 'Export a model and check the SavedModel against the source model (see `tensorsky verify --help`).', ''];
  for (const [name, spec] of Object.entries(VERIFY_FLAGS)) {
    const extras = [
      'choices' in spec ? `one of ${spec.choices.join(', ')}` : '',
      'default' in spec ? `default ${spec.default}` : '',
      FLAG_ENV[name as VerifyFlagName] ? `env ${FLAG_ENV[name as VerifyFlagName]}` : '',
    ].filter(Boolean);
    lines.push(`  --${name} ${'array' in spec ? 'VALUE...' : 'VALUE'}`, `      ${spec.describe}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}`);
  }
  return lines;
}
