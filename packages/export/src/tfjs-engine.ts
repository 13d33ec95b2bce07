// One place that chooses the TensorFlow.js backend for model building, weight loading and prediction.
//
// Preference: tfjs-node (native TensorFlow) when it can be imported, else the wasm backend, else the
// pure-JS cpu backend (~30x slower than wasm for InceptionV3). Under Node tfjs-backend-wasm starts single
// threaded (tfjs turns wasm threads off in Node); an application that also runs exports registers
// predict-local's threaded start first (setWasmThreads), and models built here then use it too.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export type TfjsBackend = 'wasm' | 'cpu';

export interface InitTfjsOptions {
  /** Receives one-line notices (e.g. falling back to cpu). Default: written to stderr. */
  onNotice?: (message: string) => void;
}

let initialized: { requested: TfjsBackend | undefined; backend: Promise<string> } | undefined;

/**
 * Sets up TF.js once and returns the name of the active backend ('tensorflow' for tfjs-node,
 * 'wasm' or 'cpu'). Without `backend`, keeps whatever an earlier call chose. Asking for 'wasm'
 * falls back to 'cpu' with a notice when the wasm module cannot be initialized.
 */
export function initTfjs(backend?: TfjsBackend, options: InitTfjsOptions = {}): Promise<string> {
  if (initialized && (backend === undefined || backend === initialized.requested)) {
    return initialized.backend;
  }
  const onNotice = options.onNotice ?? ((message: string) => process.stderr.write(`tensorsky: ${message}\n`));
  const result = { requested: backend, backend: selectBackend(backend, onNotice) };
  initialized = result;
  // A failed initialization must not be cached: the next call tries again.
  result.backend.catch(() => {
    if (initialized === result) initialized = undefined;
  });
  return result.backend;
}

async function selectBackend(requested: TfjsBackend | undefined, onNotice: (message: string) => void): Promise<string> {
  if (requested === undefined && (await importTfjsNode())) {
    if (await trySetBackend('tensorflow')) return 'tensorflow';
  }
  if (requested !== 'cpu') {
    if (await trySetBackend('wasm')) return 'wasm';
    onNotice('the TF.js wasm backend could not be initialized; falling back to the much slower cpu backend');
  }
  if (!(await trySetBackend('cpu'))) {
    throw new TfjsEngineError('no TensorFlow.js backend could be initialized (tried wasm and cpu)');
  }
  // The cpu backend prints a multi-line "install tfjs-node" banner on first use; the caller already
  // chose cpu (or got our one-line notice), so mark the banner as shown.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return 'cpu';
}

/** tfjs-node is optional (its native binding does not install everywhere); absence is not an error. */
async function importTfjsNode(): Promise<boolean> {
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
    return tf.findBackendFactory('tensorflow') != null;
  } catch {
    return false;
  }
}

async function trySetBackend(name: string): Promise<boolean> {
  try {
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

export class TfjsEngineError extends Error {
  override name = 'TfjsEngineError';
}
