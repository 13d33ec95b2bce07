// An engine for serve's JSON tests (worker threads need JavaScript, hence .mjs): every signature
// answers with its inputs, input i as output i, untouched, so a test sees exactly what the server read
// from a request and how it writes a tensor back.
import { readSignatureMetadata } from '@tensorsky/serve';

export function createEngine() {
  return {
    async load(dir) {
      const signatures = await readSignatureMetadata(dir);
      return {
        signatures,
        async predict(signatureName, inputs) {
          const signature = signatures[signatureName];
          const outputs = Object.keys(signature.outputs);
          return Object.fromEntries(Object.keys(signature.inputs).map((alias, i) => [outputs[i], inputs[alias]]));
        },
      };
    },
  };
}
