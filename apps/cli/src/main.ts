import yargs from 'yargs';
import { inspectCommand } from './commands/inspect.js';
import { serveCommand } from './commands/serve.js';
import { processOutput, type Output } from './output.js';

/** Runs the CLI and returns the process exit code: 0 ok, 1 failed, 2 usage error. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  let usageError: string | undefined;
  const parser = yargs(argv)
    .scriptName('tensorsky')
    .usage('$0 <command> [options]\n\nExport image classifiers to TensorFlow SavedModels, run and serve them.')
    .command(inspectCommand(output))
    .command(serveCommand(output))
    .demandCommand(1, 'Name a command; see tensorsky --help.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      usageError = msg;
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    output.err(`tensorsky: ${oneLine(err)}`);
    if (process.env.TENSORSKY_DEBUG && err instanceof Error && err.stack) output.err(err.stack);
    return 1;
  }
  if (usageError) {
    output.err(`tensorsky: ${usageError}`);
    return 2;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}
