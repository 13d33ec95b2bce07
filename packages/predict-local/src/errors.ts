// The errors of predict-local: bad models or inputs (PredictLocalError) and ops no engine here runs.
export class PredictLocalError extends Error {
  override name = 'PredictLocalError';
}

/** The signature uses ops neither tfjs-converter nor our kernels implement. */
export class UnsupportedOpsError extends PredictLocalError {
  override name = 'UnsupportedOpsError';
  constructor(readonly ops: string[]) {
    super(
      `the local executor cannot run ops ${ops.join(', ')}; install @tensorflow/tfjs-node to run this model with TensorFlow itself (backend 'tensorflow')`,
    );
  }
}
