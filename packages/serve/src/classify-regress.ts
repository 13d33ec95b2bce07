// TF Serving's Classify, Regress and MultiInference, free of HTTP and gRPC: tf.Examples go to a
// signature's "inputs" as a DT_STRING tensor of serialized Examples (each prefixed with the context's
// bytes, which merges them: util.cc's InputToSerializedExampleTensor), and the signature's outputs become
// classes and scores or regression values. The signature and output rules, their order and their
// messages are those of tensorflow_serving/servables/tensorflow/classifier.cc, regressor.cc and
// multi_inference.cc (with the method-name check off, TF Serving's default).
import type { SignatureMetadata } from './engine.js';
import { ServeError, invalidArgument, shown } from './errors.js';
import type { VersionSpec } from './manager.js';
import { DEFAULT_SIGNATURE, type PredictionService } from './service.js';
import type { Tensor } from './tensor.js';

export const CLASSIFY_METHOD_NAME = 'tensorflow/serving/classify';
export const REGRESS_METHOD_NAME = 'tensorflow/serving/regress';

/** A request's tf.Examples, serialized, and the context they share (tensorflow.serving.Input). */
export interface ExampleInput {
  examples: Uint8Array[];
  context?: Uint8Array;
}

export interface Class {
  /** "" when the signature has no "classes" output. */
  label: string;
  /** 0 when the signature has no "scores" output. */
  score: number;
}

/** One list of classes per example. */
export type ClassificationResult = Class[][];
/** One value per example. */
export type RegressionResult = number[];

export interface ExampleRequest {
  model: string;
  spec: VersionSpec;
  /** "" for serving_default. */
  signatureName: string;
  input: ExampleInput;
  signal?: AbortSignal;
}

export interface ExampleAnswer<R> {
  version: number;
  /** The signature run (serving_default when the request named none). */
  signatureName: string;
  result: R;
}

type Method = 'classify' | 'regress';

/** The inputs and outputs a method reads from a signature (PreProcessClassification / PreProcessRegression). */
interface MethodTensors {
  input: string;
  outputs: string[];
}

/** A signature in a message, in place of TF Serving's SignatureDef.DebugString(). */
function described(name: string, signature: SignatureMetadata): string {
  const keys = (m: Record<string, unknown>) => `{${Object.keys(m).join(', ')}}`;
  return `${name} (method_name "${signature.method_name}", inputs ${keys(signature.inputs)}, outputs ${keys(signature.outputs)})`;
}

function classificationTensors(name: string, signature: SignatureMetadata): MethodTensors {
  const outputs = Object.keys(signature.outputs);
  if (Object.keys(signature.inputs).length !== 1) throw invalidArgument('Expected one input Tensor.');
  if (outputs.length !== 1 && outputs.length !== 2) throw invalidArgument(`Expected one or two output Tensors, found ${outputs.length}`);
  if (!('inputs' in signature.inputs)) throw invalidArgument(`No classification inputs found in SignatureDef: ${described(name, signature)}`);
  const wanted = ['classes', 'scores'].filter((alias) => alias in signature.outputs);
  if (wanted.length === 0) {
    throw invalidArgument(`Expected classification signature outputs to contain at least one of "classes" or "scores". Signature was: ${described(name, signature)}`);
  }
  return { input: 'inputs', outputs: wanted };
}

function regressionTensors(name: string, signature: SignatureMetadata): MethodTensors {
  if (Object.keys(signature.inputs).length !== 1) throw invalidArgument('Expected one input Tensor.');
  if (Object.keys(signature.outputs).length !== 1) throw invalidArgument('Expected one output Tensor.');
  if (!('inputs' in signature.inputs)) throw invalidArgument(`No regression inputs found in SignatureDef: ${described(name, signature)}`);
  if (!('outputs' in signature.outputs)) throw invalidArgument(`No regression outputs found in SignatureDef: ${described(name, signature)}`);
  return { input: 'inputs', outputs: ['outputs'] };
}

const METHOD_TENSORS: Record<Method, (name: string, signature: SignatureMetadata) => MethodTensors> = {
  classify: classificationTensors,
  regress: regressionTensors,
};

/** The signature input's tensor: one serialized Example per element, the context's bytes first. */
function examplesTensor(input: ExampleInput, signature: SignatureMetadata, alias: string): Tensor {
  if (input.examples.length === 0) throw invalidArgument('Input is empty.');
  const dtype = signature.inputs[alias].dtype;
  // TF Serving feeds the strings whatever the signature declares; the engines here take inputs as
  // declared, so a signature declaring another dtype (half_plus_three's regress, a defect) is refused.
  if (dtype !== 'DT_STRING') throw invalidArgument(`input '${alias}' of the signature has dtype ${dtype}; it must be DT_STRING to take serialized tf.Examples`);
  const { context } = input;
  const values = context?.length
    ? input.examples.map((example) => {
        const merged = new Uint8Array(context.length + example.length);
        merged.set(context);
        merged.set(example, context.length);
        return merged;
      })
    : input.examples;
  return { dtype: 'DT_STRING', shape: [values.length], values };
}

function dims(t: Tensor): string {
  return `[${t.shape.join(',')}]`;
}

/** PostProcessClassificationResult: classes (DT_STRING) and scores (DT_FLOAT), each [batch_size, num_classes]. */
function classificationResult(outputs: Record<string, Tensor>, numExamples: number): ClassificationResult {
  const { classes, scores } = outputs;
  for (const [t, dtype, what] of [
    [classes, 'DT_STRING', 'classes'],
    [scores, 'DT_FLOAT', 'scores'],
  ] as const) {
    if (!t) continue;
    if (t.shape.length !== 2) throw invalidArgument(`Expected Tensor shape: [batch_size num_classes] but got ${dims(t)}`);
    if (t.dtype !== dtype) throw invalidArgument(`Expected ${what} Tensor of ${dtype}. Got: ${t.dtype}`);
    if (t.shape[0] !== numExamples) throw invalidArgument(`Expected ${what} output batch size of ${numExamples}. Got: ${t.shape[0]}`);
  }
  if (classes && scores && classes.shape[1] !== scores.shape[1]) {
    throw invalidArgument(`Tensors class and score should match in dim_size(1). Got ${classes.shape[1]} vs. ${scores.shape[1]}`);
  }
  const numClasses = (classes ?? scores)?.shape[1] ?? 0;
  const decoder = new TextDecoder();
  return Array.from({ length: numExamples }, (_, i) =>
    Array.from({ length: numClasses }, (_, c) => ({
      label: classes ? decoder.decode((classes.values as Uint8Array[])[i * numClasses + c]) : '',
      score: scores ? (scores.values as Float32Array)[i * numClasses + c] : 0,
    })),
  );
}

/** PostProcessRegressionResult: a DT_FLOAT output of shape [batch_size] or [batch_size, 1]. */
function regressionResult(outputs: Record<string, Tensor>, numExamples: number): RegressionResult {
  const t = outputs.outputs;
  if (!(t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1))) {
    throw invalidArgument(`Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got ${dims(t)}`);
  }
  if (t.shape[0] !== numExamples) throw invalidArgument(`Input batch size did not match output batch size: ${numExamples} vs. ${t.shape[0]}`);
  if (t.dtype !== 'DT_FLOAT') throw invalidArgument(`Expected output Tensor of DT_FLOAT.  Got: ${t.dtype}`);
  return Array.from(t.values as Float32Array);
}

const RESULTS = { classify: classificationResult, regress: regressionResult };

/** Runs one method on a signature of the version `spec` resolves to. */
async function runMethod<M extends Method>(
  service: PredictionService,
  method: M,
  request: ExampleRequest,
  notFound: (name: string) => ServeError,
): Promise<ExampleAnswer<ReturnType<(typeof RESULTS)[M]>>> {
  let tensors: MethodTensors | undefined;
  const run = await service.runSignature({
    model: request.model,
    spec: request.spec,
    signatureName: request.signatureName,
    signatureNotFound: notFound,
    inputs: (signature, name) => {
      tensors = METHOD_TENSORS[method](name, signature);
      return { [tensors.input]: examplesTensor(request.input, signature, tensors.input) };
    },
    signal: request.signal,
  });
  const outputs = Object.fromEntries(tensors!.outputs.map((alias) => [alias, run.outputs[alias]]));
  const result = RESULTS[method](outputs, request.input.examples.length) as ReturnType<(typeof RESULTS)[M]>;
  return { version: run.version, signatureName: run.signatureName, result };
}

/** GetClassificationSignatureDef's and GetRegressionSignatureDef's answer to an unknown signature. */
const noSignature = (name: string) => invalidArgument(`No signature was found with the name: ${shown(name)}`);

/** TF Serving's Classify (REST :classify, gRPC Classify). */
export function classify(service: PredictionService, request: ExampleRequest): Promise<ExampleAnswer<ClassificationResult>> {
  return runMethod(service, 'classify', request, noSignature);
}

/** TF Serving's Regress (REST :regress, gRPC Regress). */
export function regress(service: PredictionService, request: ExampleRequest): Promise<ExampleAnswer<RegressionResult>> {
  return runMethod(service, 'regress', request, noSignature);
}

export interface InferenceTask {
  /** The model of the task's ModelSpec ("" when it has none). */
  model: string;
  signatureName: string;
  methodName: string;
}

export type InferenceResult =
  | { model: string; signatureName: string; classification: ClassificationResult }
  | { model: string; signatureName: string; regression: RegressionResult };

export interface MultiInferenceRequest {
  tasks: InferenceTask[];
  /** The version of the first task's ModelSpec: every task runs on that version (multi_inference_helper.cc). */
  spec: VersionSpec;
  input: ExampleInput;
  signal?: AbortSignal;
}

/**
 * TF Serving's MultiInference: several classify/regress signatures of one model version on the same
 * examples, checked as a whole before any runs; results in the order of the tasks.
 */
export async function multiInference(service: PredictionService, request: MultiInferenceRequest): Promise<{ version: number; results: InferenceResult[] }> {
  const model = request.tasks[0]?.model ?? '';
  const { version, signatures } = service.versionSignatures(model, request.spec);
  const names = new Set<string>();
  const methods: Method[] = [];
  for (const task of request.tasks) {
    if (task.model === '') throw invalidArgument('Found ModelSpec with an empty model name.');
    if (task.model !== model) throw invalidArgument('All ModelSpecs in a MultiInferenceRequest must access the same model name.');
    const name = task.signatureName || DEFAULT_SIGNATURE;
    if (names.has(name)) throw invalidArgument(`Duplicate evaluation of signature: ${shown(name)}`);
    names.add(name);
    const signature = signatures[name];
    if (!signature) throw invalidArgument(`Requested signature not found in model graph: ${shown(name)}`);
    const method = task.methodName === CLASSIFY_METHOD_NAME ? 'classify' : task.methodName === REGRESS_METHOD_NAME ? 'regress' : undefined;
    if (!method) throw new ServeError(501, `Unsupported signature method_name: ${shown(task.methodName)}`, 'UNIMPLEMENTED');
    METHOD_TENSORS[method](name, signature);
    methods.push(method);
  }
  if (request.input.examples.length === 0) throw invalidArgument('Input is empty.');
  const pinned: VersionSpec = { kind: 'version', version };
  const gone = (name: string) => invalidArgument(`Requested signature not found in model graph: ${shown(name)}`);
  const answers = await Promise.all(
    request.tasks.map((task, i) =>
      runMethod(service, methods[i], { model, spec: pinned, signatureName: task.signatureName, input: request.input, signal: request.signal }, gone),
    ),
  );
  const results = answers.map((answer, i): InferenceResult => {
    const base = { model, signatureName: answer.signatureName };
    return methods[i] === 'classify' ? { ...base, classification: answer.result as ClassificationResult } : { ...base, regression: answer.result as RegressionResult };
  });
  return { version, results };
}
