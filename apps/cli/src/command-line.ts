// The command line as the user typed it, so that errors name a flag the way it was spelled
// (`--model_dir`, `--model-dir`) rather than by yargs' key (`model-dir`).

/** One flag as typed: `--name`, `--name=value` or `-n`, with the value written after it, if any. */
export interface TypedFlag {
  /** The flag as typed, without a value: `--model_dir`. */
  spelling: string;
  /** Its name: `model_dir`. */
  name: string;
  /** `--name=value`'s value, else the next word unless it is another flag; undefined when there is none. */
  value: string | undefined;
}

/** Each option key of the running command with its aliases, as yargs lists them. */
export type OptionAliases = Readonly<Record<string, readonly string[]>>;

export class CommandLine {
  readonly flags: readonly TypedFlag[];
  /** The first word that is not a flag: the command's name, when it is one (top-level flags take no value). */
  readonly command: string | undefined;
  /** The option key of every name yargs accepts for the running command's options. */
  private keys = new Map<string, string>();

  constructor(argv: readonly string[]) {
    const end = argv.indexOf('--');
    const words = end === -1 ? argv : argv.slice(0, end);
    this.flags = words.flatMap((word, i) => {
      if (!isFlag(word)) return [];
      const eq = word.indexOf('=');
      const spelling = eq === -1 ? word : word.slice(0, eq);
      const next = words[i + 1];
      const value = eq !== -1 ? word.slice(eq + 1) : next === undefined || isFlag(next) ? undefined : next;
      return [{ spelling, name: spelling.replace(/^--?/, ''), value }];
    });
    this.command = words.find((word) => !isFlag(word));
  }

  /** Learns the running command's options (every name, and the aliases of each key) once yargs has chosen the command. */
  learn(names: readonly string[], aliases: OptionAliases): void {
    this.keys.clear();
    const add = (name: string, key: string) => {
      // yargs also takes the camelCase of every name (--modelDir for --model-dir).
      this.keys.set(name, key);
      this.keys.set(camelCase(name), key);
    };
    for (const name of names) add(name, name);
    for (const [key, keyAliases] of Object.entries(aliases)) for (const alias of keyAliases) add(alias, key);
  }

  /** The names the running command's flags are declared with (kebab-case and snake_case), for suggestions. */
  declaredNames(): string[] {
    return [...this.keys.keys()].filter((name) => name === name.toLowerCase());
  }

  /** The option key of a typed flag, if the running command has that option. */
  keyOf(flag: TypedFlag): string | undefined {
    return this.keys.get(flag.name);
  }

  /** The typed flag of option `key` (or of the option `key` is an alias of); the last one, whose value yargs keeps. */
  find(key: string): TypedFlag | undefined {
    const option = this.keys.get(key) ?? key;
    return this.flags.findLast((flag) => this.keyOf(flag) === option);
  }

  /** The typed flag yargs names `name` in its messages: the flag's name or its camelCase. */
  findByName(name: string): TypedFlag | undefined {
    return this.flags.find((flag) => flag.name === name || camelCase(flag.name) === name);
  }

  /** How the user wrote option `key`'s flag; when not typed, its snake_case spelling, the tutorial's. */
  spelling(key: string): string {
    return this.find(key)?.spelling ?? `--${key.replaceAll('-', '_')}`;
  }
}

/** `-x` and `--name` are flags; `-` (stdin) and negative numbers are values. */
function isFlag(word: string): boolean {
  return /^-[^\d.-]|^--./.test(word);
}

function camelCase(name: string): string {
  return name.replace(/-+([^-])/g, (_, letter: string) => letter.toUpperCase());
}
