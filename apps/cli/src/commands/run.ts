// `tensorsky run`: saved_model_cli run. Runs any signature of a SavedModel on tensors given on the
// command line and prints every output (numpy style, or --json), or writes them as .npy files.
import { describeSavedModelSignature, readSavedModel, toBase64 } from '@tensorsky/saved-model';
import type { OutputTensor } from '@tensorsky/predict-local';
import type { CommandModule } from 'yargs';
import { withSnakeAliases } from '../options.js';
import type { Output } from '../output.js';
import { formatNumpy, nested, readRunInputs, writeNpyOutputs } from '../run-tensors.js';
import { FlagError } from '../usage.js';

interface RunArgs {
  dir: string;
  'tag-set': string;
  'signature-def': string;
  inputs?: string;
  'input-exprs'?: string;
  'input-images'?: string;
  outdir?: string;
  overwrite: boolean;
  json: boolean;
  backend: 'auto' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';
}

const options = withSnakeAliases({
  dir: { type: 'string', demandOption: true, describe: 'SavedModel directory (holds saved_model.pb)' },
  'tag-set': { type: 'string', default: 'serve', describe: 'MetaGraphDef tag-set, comma-separated' },
  'signature-def': { type: 'string', default: 'serving_default', describe: 'SignatureDef key to run' },
  inputs: { type: 'string', describe: "KEY=FILE.npy, several separated by ';' (numpy.save's format)" },
  'input-exprs': { type: 'string', describe: "KEY=Python literal, e.g. 'x=[[1.0],[2.0]]'; several separated by ';'" },
  'input-images': { type: 'string', describe: "KEY=IMAGE[,IMAGE...] for an input that takes encoded images, e.g. 'inputs=cat.jpg,dog.jpg'" },
  outdir: { type: 'string', describe: 'Write each output as OUTDIR/KEY.npy instead of printing it' },
  overwrite: { type: 'boolean', default: false, describe: 'Replace existing .npy files in --outdir' },
  json: { type: 'boolean', default: false, describe: 'Print JSON: each output with dtype, shape and values' },
  backend: {
    type: 'string',
    choices: ['auto', 'tensorflow', 'onnx', 'wasm', 'cpu'] as const,
    default: 'auto',
    describe: 'Engine that runs the graph',
  },
} as const);

export function runCommand(output: Output): CommandModule<object, RunArgs> {
  return {
    command: 'run',
    describe: 'Run a signature on tensors given on the command line, like saved_model_cli run',
    builder: (y) => y.options(options),
    handler: async (args) => {
      if (args.inputs === undefined && args['input-exprs'] === undefined && args['input-images'] === undefined) {
        throw new FlagError('inputs', 'or --input_exprs or --input_images is needed: say what to feed the signature');
      }
      const tags = args['tag-set'].split(',').map((t) => t.trim()).filter(Boolean);
      // The inputs are read and checked against the signature before the (possibly large) model loads.
      const signature = describeSavedModelSignature(await readSavedModel(args.dir), args['signature-def'], tags);
      const inputs = await readRunInputs(args, signature.inputs);
      const { loadModel } = await import('@tensorsky/predict-local');
      const model = await loadModel(args.dir, { backend: args.backend, tags, signature: args['signature-def'] });
      try {
        const outputs = await model.predict(inputs);
        if (args.outdir !== undefined) {
          const files = await writeNpyOutputs(args.outdir, outputs, args.overwrite);
          if (args.json) output.json({ signature: model.signature.key, backend: model.backend, files });
          else for (const file of files) output.out(`Output written to ${file}`);
        } else if (args.json) {
          output.json({ signature: model.signature.key, backend: model.backend, outputs: Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, jsonTensor(t)])) });
        } else {
          for (const [key, t] of Object.entries(outputs)) output.out(`Result for output key ${key}:\n${formatNumpy(t)}`);
        }
      } finally {
        model.dispose();
      }
    },
  };
}

/** An output as JSON: nested values; bytes as {"b64": ...} (TF Serving's convention for binary strings). */
function jsonTensor(t: OutputTensor): { dtype: string; shape: number[]; values: unknown } {
  const flat = Array.from(t.data as ArrayLike<number | Uint8Array>, (v) => (v instanceof Uint8Array ? { b64: toBase64(v, 'standard') } : t.dtype === 'DT_BOOL' ? v !== 0 : v));
  return { dtype: t.dtype, shape: t.shape, values: nested(flat, t.shape) };
}
