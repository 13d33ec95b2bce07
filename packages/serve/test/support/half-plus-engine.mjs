// A tiny engine for serve's own tests (worker threads need JavaScript, hence .mjs): it runs the
// serving_default signature of TF Serving's half_plus_two / half_plus_three SavedModels, y = a * x + b,
// with a and b read from the checkpoint TensorFlow wrote. Test knobs (engine options): delayMs slows
// every predict, slowOn makes an input value take slowMs, failOn makes an input value an error, crashOn
// makes it kill the worker thread, trapOn makes it fail as a wasm engine out of memory does (a
// WebAssembly trap, after which every prediction of that engine fails, as TF.js's "strides[0] must be
// non-zero" did), loadSteps spreads a load over that many event-loop turns, during which a prediction
// must not start (the pool keeps a loading worker out of rotation; a prediction that starts anyway is
// an error).
import path from 'node:path';
import { readTensorBundle } from '@tensorsky/saved-model';
import { readSignatureMetadata } from '@tensorsky/serve';

export function createEngine(options) {
  const { delayMs = 0, slowOn, slowMs = 0, failOn, crashOn, trapOn, loadSteps = 0 } = options;
  let loading = 0;
  let trapped = false;
  return {
    async load(dir) {
      loading++;
      try {
        for (let i = 0; i < loadSteps; i++) await new Promise((r) => setTimeout(r, 1));
      } finally {
        loading--;
      }
      const signatures = await readSignatureMetadata(dir);
      const variables = readTensorBundle(path.join(dir, 'variables', 'variables'));
      const [a] = variables.get('a').read();
      const [b] = variables.get('b').read();
      return {
        signatures,
        async predict(signatureName, inputs) {
          if (loading > 0) throw new Error('a prediction started while this worker was loading a version');
          if (signatureName !== 'serving_default') throw Object.assign(new Error(`test engine runs serving_default only`), { status: 501 });
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          const x = inputs.x;
          if (x.values.includes(slowOn)) await new Promise((r) => setTimeout(r, slowMs));
          if (x.values.includes(crashOn)) process.exit(3);
          if (trapped) throw new Error('strides[0] must be non-zero');
          if (x.values.includes(trapOn)) {
            trapped = true;
            throw new WebAssembly.RuntimeError('memory access out of bounds');
          }
          if (x.values.includes(failOn)) throw new Error(`input ${failOn} is refused by the test engine`);
          const y = new Float32Array(x.values.length);
          for (let i = 0; i < y.length; i++) y[i] = a * x.values[i] + b;
          return { y: { dtype: 'DT_FLOAT', shape: x.shape, values: y } };
        },
      };
    },
  };
}
