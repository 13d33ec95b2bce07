// Usage errors: a command line tensorsky cannot run. main() prints them as one line naming the flag as
// typed, with a "did you mean" when the mistake looks like a typo, and exits 2.
import { existsSync } from 'node:fs';
import type { CommandLine, OptionAliases } from './command-line.js';
import { didYouMean } from './did-you-mean.js';
import { NAME_OR_FILE_FLAGS } from './options.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A bad value for one flag: main() puts the flag, as the user spelled it, in front of `problem`. */
export class FlagError extends UsageError {
  override name = 'FlagError';

  constructor(
    /** The option's key: `batch-size`. */
    readonly key: string,
    /** What is wrong, after the flag's name: `must be a positive integer, got 0`. */
    readonly problem: string,
  ) {
    super(`--${key} ${problem}`);
  }
}

/** The part of yargs' getOptions() the checks read; keys listed there include their aliases. */
export interface ParserOptions {
  alias: OptionAliases;
  key: Readonly<Record<string, unknown>>;
  boolean: readonly string[];
  number: readonly string[];
  choices: Readonly<Record<string, readonly string[]>>;
}

/**
 * Checks the flags yargs lets through: a flag with no value after it (yargs reads `--model_dir` alone
 * as '' and `--top` alone as the default), a number that is not one (yargs makes `--top abc` NaN), a
 * value outside the flag's choices, and a name that is a typo of a preset. Runs before yargs' own
 * validation, whose choices message names neither the flag as typed nor the value meant.
 */
export function checkFlags(args: Readonly<Record<string, unknown>>, options: ParserOptions, line: CommandLine): void {
  for (const flag of line.flags) {
    const key = line.keyOf(flag);
    if (key !== undefined && !options.boolean.includes(key) && !flag.value) throw new FlagError(key, 'needs a value');
  }
  for (const key of options.number) {
    if (Number.isNaN(args[key])) throw new FlagError(key, `must be a number, got ${JSON.stringify(line.find(key)?.value)}`);
  }
  for (const [key, choices] of Object.entries(options.choices)) {
    const bad = [args[key]].flat().find((value) => value !== undefined && !choices.includes(value as string));
    if (bad !== undefined) throw new FlagError(key, `must be one of ${choices.join(', ')}, got ${JSON.stringify(bad)}${suggestion(String(bad), choices)}`);
  }
  for (const [key, names] of Object.entries(NAME_OR_FILE_FLAGS)) {
    const value = args[key];
    if (!(key in options.key) || typeof value !== 'string' || names.includes(value) || existsSync(value)) continue;
    // Anything else may be a file the command reports missing itself; only a near miss of a name is a typo.
    const meant = didYouMean(value, names);
    if (meant) throw new FlagError(key, `${JSON.stringify(value)} is not ${names.join(', ')} or an existing file; did you mean ${meant}?`);
  }
}

/**
 * yargs' own usage messages, with flags named as typed and a suggestion for a mistyped command or
 * flag. `commands` are the command names, for `tensorsky exprot`.
 */
export function rewordYargsMessage(message: string, line: CommandLine, commands: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.*)$/s.exec(message);
  if (unknown) return unknownArguments(unknown[1].split(', '), line, commands);
  const missing = /^Missing required arguments?: (.*)$/s.exec(message);
  if (missing) return `missing ${missing[1].split(', ').map((key) => line.spelling(key)).join(', ')}`;
  // Other messages spread over several lines; keep them on one.
  return message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

function unknownArguments(names: string[], line: CommandLine, commands: readonly string[]): string {
  // A word in the command's place that is no command: yargs lists it among the unknown arguments.
  if (line.command !== undefined && !commands.includes(line.command) && names.includes(line.command)) {
    return `unknown command ${JSON.stringify(line.command)}${suggestion(line.command, commands)}`;
  }
  const flags = [...new Set(names.flatMap((name) => line.findByName(name)?.spelling ?? []))];
  const words = names.filter((name) => !line.findByName(name));
  const parts: string[] = [];
  if (flags.length === 1) {
    const name = flags[0].replace(/^--?/, '');
    const meant = didYouMean(name, line.declaredNames());
    parts.push(`unknown flag ${flags[0]}${meant ? `; did you mean --${meant}?` : ''}`);
  } else if (flags.length > 1) {
    parts.push(`unknown flags ${flags.join(', ')}`);
  }
  if (words.length > 0) parts.push(`unexpected argument${words.length > 1 ? 's' : ''} ${words.map((w) => JSON.stringify(w)).join(', ')}`);
  return parts.join('; ');
}

function suggestion(value: string, candidates: readonly string[]): string {
  const meant = didYouMean(value, candidates);
  return meant ? `; did you mean ${meant}?` : '';
}
