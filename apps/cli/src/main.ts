import yargs from 'yargs';
import { deployCommand } from './commands/deploy.js';
import { exportCommand } from './commands/export.js';
import { inspectCommand } from './commands/inspect.js';
import { predictCommand } from './commands/predict.js';
import { predictCloudCommand } from './commands/predict-cloud.js';
import { serveCommand } from './commands/serve.js';
import { verifyCommand } from './commands/verify.js';
import { processOutput, type Output } from './output.js';

/** Runs the CLI and returns the process exit code: 0 ok, 1 failed, 2 usage error. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  // Commands report failure through process.exitCode; start each run clean (tests call main() repeatedly).
  process.exitCode = undefined;
  const parser = yargs(argv)
    .scriptName('tensorsky')
    .usage('$0 <command> [options]\n\nExport image classifiers to TensorFlow SavedModels, run and serve them.')
    .command(exportCommand(output))
    .command(inspectCommand(output))
    .command(predictCommand(output))
    .command(serveCommand(output))
    .command(verifyCommand(output))
    .command(deployCommand(output))
    .command(predictCloudCommand(output))
    .demandCommand(1, 'Name a command; see tensorsky --help.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      // Throwing stops yargs from running the command with flags it just rejected.
      if (err) throw err;
      throw new UsageError(msg.startsWith('Did you mean') ? `unknown command "${argv[0]}". ${msg}` : msg);
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof UsageError) {
      // yargs spreads a usage message over several lines ("Invalid values:\n  Argument: ..."): keep it on one.
      output.err(`tensorsky: ${err.message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ')} (see tensorsky --help)`);
      return 2;
    }
    output.err(`tensorsky: ${oneLine(err)}`);
    if (process.env.TENSORSKY_DEBUG && err instanceof Error && err.stack) output.err(err.stack);
    return 1;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

class UsageError extends Error {
  override name = 'UsageError';
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}
