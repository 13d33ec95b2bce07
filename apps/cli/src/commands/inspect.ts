import type { CommandModule } from 'yargs';
import type { Output } from '../output.js';

export function inspectCommand(output: Output): CommandModule {
  return {
    command: 'inspect <dir>',
    describe: 'Show a SavedModel: tags, signatures, ops, constants, variables',
    builder: (y) =>
      y
        .positional('dir', { type: 'string', describe: 'SavedModel directory (holds saved_model.pb)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
    handler: async () => {
      output.err('inspect: not implemented yet');
      process.exitCode = 1;
    },
  };
}
