// What the commands' options share. Seed-style snake_case flags (--model_dir) are accepted next to
// kebab-case ones (--model-dir).
import { LABEL_PRESETS } from '@tensorsky/decode';
import type { Options } from 'yargs';

/** Adds the snake_case spelling of every kebab-case option as an alias. */
export function withSnakeAliases<T extends Record<string, Options>>(options: T): T {
  const out: Record<string, Options> = {};
  for (const [name, opt] of Object.entries(options)) {
    const snake = name.replaceAll('-', '_');
    const alias = ([] as string[]).concat(opt.alias ?? []);
    out[name] = snake === name ? opt : { ...opt, alias: [...alias, snake] };
  }
  return out as T;
}

/** --image, shared by predict and predict-cloud. */
export const IMAGE_OPTION = {
  type: 'string',
  array: true,
  demandOption: true,
  describe: 'Image files, directories (their JPEG/PNG/GIF/BMP files) or globs; repeat or list several',
} as const satisfies Options;

/**
 * Flags that take a name or a file (the same across commands), with their names: a value that is
 * neither but close to a name is reported as a typo ("did you mean imagenet?").
 */
export const NAME_OR_FILE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  weights: ['imagenet', 'random'],
  'decode-preds-fn': LABEL_PRESETS,
  labels: LABEL_PRESETS,
};
