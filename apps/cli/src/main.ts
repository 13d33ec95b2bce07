import { readFileSync } from 'node:fs';
import yargs, { type Arguments, type CommandModule } from 'yargs';
import { CommandLine } from './command-line.js';
import { deployCommand } from './commands/deploy.js';
import { exportCommand } from './commands/export.js';
import { inspectCommand } from './commands/inspect.js';
import { predictCommand } from './commands/predict.js';
import { predictCloudCommand } from './commands/predict-cloud.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { undeployCommand } from './commands/undeploy.js';
import { verifyCommand } from './commands/verify.js';
import { processOutput, type Output } from './output.js';
import { checkFlags, FlagError, rewordYargsMessage, UsageError, type ParserOptions } from './usage.js';

const COMPLETION_COMMAND = 'completion';

/** Runs the CLI and returns the process exit code: 0 ok, 1 failed, 2 usage error. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  // Commands report failure through process.exitCode; start each run clean (tests call main() repeatedly).
  process.exitCode = undefined;
  const line = new CommandLine(argv);
  const commands: CommandModule<any, any>[] = [
    exportCommand(output),
    inspectCommand(output),
    runCommand(output),
    predictCommand(output),
    serveCommand(output),
    verifyCommand(output),
    deployCommand(output),
    undeployCommand(output),
    statusCommand(output),
    predictCloudCommand(output),
  ];
  const commandNames = [...commands.map((c) => String(c.command).split(' ')[0]), COMPLETION_COMMAND];
  const parser = yargs(argv);
  for (const command of commands) parser.command(command);
  parser
    .scriptName('tensorsky')
    .usage('$0 <command> [options]\n\nExport image classifiers to TensorFlow SavedModels, run and serve them.')
    .demandCommand(1, 'no command given')
    .strict()
    .help()
    .alias('h', 'help')
    .version('version', 'Print the version of tensorsky', cliVersion())
    .completion(COMPLETION_COMMAND, 'Print a shell completion script: tensorsky completion >> ~/.bashrc')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    // Before yargs' validation, whose messages name flags by key (model-dir) rather than as typed.
    .middleware((args: Arguments, instance?: unknown) => {
      if (args.help || args.version) return;
      // yargs passes middleware its instance, whose getOptions() has the chosen command's options; @types/yargs lacks both.
      const options = (instance as { getOptions(): ParserOptions }).getOptions();
      line.learn(Object.keys(options.key), options.alias);
      checkFlags(args, options, line);
    }, true)
    .fail((msg, err) => {
      // Throwing stops yargs from running the command with flags it just rejected.
      if (err) throw err;
      throw new UsageError(rewordYargsMessage(msg, line, commandNames));
    });

  // With a callback, yargs hands over what it would print (help, version, completions) instead of printing it.
  let printed = '';
  try {
    await parser.parseAsync(argv, {}, (_err, _args, text) => {
      printed = text;
    });
  } catch (err) {
    output.err(`tensorsky: ${err instanceof UsageError ? usageLine(err, line, commandNames) : oneLine(err)}`);
    if (process.env.TENSORSKY_DEBUG && err instanceof Error && err.stack) output.err(err.stack);
    return err instanceof UsageError ? 2 : 1;
  }
  if (printed) output.out(printed);
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** `--top must be ... (see tensorsky predict --help)`, the flag spelled as the user typed it. */
function usageLine(err: UsageError, line: CommandLine, commandNames: string[]): string {
  const message = err instanceof FlagError ? `${line.spelling(err.key)} ${err.problem}` : err.message;
  const help = line.command !== undefined && commandNames.includes(line.command) ? `tensorsky ${line.command} --help` : 'tensorsky --help';
  return `${message} (see ${help})`;
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** This package's version: package.json is one level above src/ and dist/ alike. */
function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
