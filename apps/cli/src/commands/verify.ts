// `tensorsky verify`: the export-and-verify pipeline of @tensorsky/verify for users' own CI. Exports the
// model (or takes --saved_model), checks the graph against TensorFlow's op definitions, compares the
// SavedModel with the source model on golden images, checks latency, optionally deploys and runs a
// smoke prediction, and writes a JSON + Markdown + SVG report. Exits non-zero when a check fails.
import { exportAndVerify, optionsFromFlags, reportFailures, summaryLines, VERIFY_FLAGS, VerifyOptionsError, type ExportAndVerifyOptions } from '@tensorsky/verify';
import type { CommandModule, Options } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { FlagError, UsageError } from '../usage.js';

const options = withSnakeAliases({
  ...(VERIFY_FLAGS as Record<keyof typeof VERIFY_FLAGS, Options>),
  images: { ...VERIFY_FLAGS.images, demandOption: true } as Options,
  json: { type: 'boolean', default: false, describe: 'Print the report as JSON' } as Options,
});

export class VerifyFailedError extends Error {
  override name = 'VerifyFailedError';
}

export function verifyCommand(output: Output): CommandModule {
  return {
    command: 'verify',
    describe: 'Export a model and check the SavedModel before it ships: graph, golden images vs the source model, latency, optional deploy smoke test',
    builder: (y) => y.options(options),
    handler: async (argv) => {
      const verifyOptions = verifyOptionsFrom(argv);
      const result = await exportAndVerify({ ...verifyOptions, onProgress: (line) => output.err(`tensorsky verify: ${line}`) });
      if (argv.json) output.json(result.report);
      else {
        summaryLines(result).forEach((line) => output.out(line));
        for (const warning of result.report.warnings) output.err(`tensorsky verify: warning: ${warning}`);
      }
      if (!result.report.passed) {
        const failures = reportFailures(result.report);
        const more = failures.length > 1 ? ` (and ${failures.length - 1} more)` : '';
        throw new VerifyFailedError(`verification failed: ${failures[0]}${more}; see ${result.files.markdown}`);
      }
    },
  };
}

/** Flags that cannot run are usage errors: exit 2, the flag named as the user typed it. */
function verifyOptionsFrom(argv: Readonly<Record<string, unknown>>): ExportAndVerifyOptions {
  try {
    return optionsFromFlags(argv, { cwd: process.cwd() });
  } catch (err) {
    if (!(err instanceof VerifyOptionsError)) throw err;
    throw err.flag && err.problem ? new FlagError(err.flag, err.problem) : new UsageError(err.message);
  }
}
