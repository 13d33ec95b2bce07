// TF Serving's REST bodies for :classify and :regress (tensorflow_serving/util/json_tensor.cc,
// FillClassifyRegressRequestFromJson and MakeJsonFromClassificationResult/RegressionResult):
// {"signature_name": ..., "context": {...}, "examples": [{...}, ...]}, each example an object of
// features whose values are a JSON value or a list of them; answers {"results": ...}.
import { Base64Error, encodeExample, fromStandardBase64, type FeatureValues } from '@tensorsky/saved-model';
import { classify, regress, type ClassificationResult, type ExampleInput, type RegressionResult } from './classify-regress.js';
import { invalidArgument, shown } from './errors.js';
import { JsonFloat, JsonNumber } from './json.js';
import type { VersionSpec } from './manager.js';
import type { PredictionService } from './service.js';

export interface ExampleBody {
  /** "" when the body names none (serving_default). */
  signatureName: string;
  input: ExampleInput;
}

type Kind = 'bytes' | 'float' | 'int64';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** rapidjson's type names, as TF Serving's messages print them. */
function jsonType(v: unknown): string {
  if (v === null) return 'Null';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (Array.isArray(v)) return 'Array';
  if (v instanceof JsonNumber) return 'Number';
  return typeof v === 'string' ? 'String' : 'Object';
}

/** One feature's JSON values (AddValueToFeature): the first value fixes the kind, the others must match it. */
function featureValues(name: string, content: unknown): FeatureValues {
  const items = Array.isArray(content) ? content : [content];
  let kind: Kind | undefined;
  const bytes: Uint8Array[] = [];
  const floats: number[] = [];
  const ints: bigint[] = [];
  const unexpected = (v: unknown) => invalidArgument(`Feature: ${shown(name)} has element with unexpected JSON type: ${jsonType(v)}`);
  const as = (k: Kind) => {
    if (kind !== undefined && kind !== k) throw invalidArgument(`Unexpected element type in feature: ${shown(name)} expecting type: ${kind}`);
    kind = k;
  };
  for (const v of items) {
    if (typeof v === 'boolean') {
      as('int64');
      ints.push(v ? 1n : 0n);
    } else if (typeof v === 'string') {
      as('bytes');
      bytes.push(new TextEncoder().encode(v));
    } else if (v instanceof JsonNumber) {
      // rapidjson: a number with a fraction or exponent (or NaN, Infinity, or beyond uint64) is a double.
      const integer = v.isInteger ? BigInt(v.text) : undefined;
      if (integer === undefined || integer < INT64_MIN || integer > UINT64_MAX) {
        as('float');
        floats.push(Math.fround(v.value));
      } else {
        as('int64');
        if (integer > INT64_MAX) throw invalidArgument(`Feature: ${shown(name)} has uint64_t element. Only int64_t is supported.`);
        ints.push(integer);
      }
    } else if (isObject(v) && Object.keys(v).length === 1 && typeof v.b64 === 'string') {
      as('bytes');
      try {
        bytes.push(fromStandardBase64(v.b64));
      } catch (err) {
        if (!(err instanceof Base64Error)) throw err;
        throw invalidArgument(`Unable to base64 decode the "b64" value of feature ${shown(name)} (standard alphabet A-Z a-z 0-9 + / with optional = padding)`);
      }
    } else {
      throw unexpected(v);
    }
  }
  if (kind === 'bytes') return { bytesList: bytes };
  if (kind === 'float') return { floatList: floats };
  if (kind === 'int64') return { int64List: ints };
  return {};
}

/** MakeExampleFromJsonObject: a JSON object of features as a serialized tf.Example. */
function exampleFromJson(value: unknown, where: string): Uint8Array {
  if (!isObject(value)) throw invalidArgument(`Example must be JSON object but got JSON ${jsonType(value)} (${where})`);
  const features: Record<string, FeatureValues> = {};
  for (const [name, content] of Object.entries(value)) features[name] = featureValues(name, content);
  return encodeExample(features);
}

/** Reads a :classify or :regress body. */
export function readExampleBody(body: unknown, method: 'classify' | 'regress'): ExampleBody {
  if (!isObject(body)) throw invalidArgument(`the request body must be a JSON object with "examples" (a list of tf.Example objects); got JSON ${jsonType(body)}`);
  const signatureName = body.signature_name ?? '';
  if (typeof signatureName !== 'string') throw invalidArgument("not formatted correctly. 'signature_name' key must be a string value.");
  const context = 'context' in body ? exampleFromJson(body.context, '"context"') : undefined;
  if (!('examples' in body)) throw invalidArgument(`When method is ${method}, key 'examples' is expected and was not found`);
  const { examples } = body;
  if (!Array.isArray(examples)) throw invalidArgument("Expecting 'examples' value to be an list/array");
  if (examples.length === 0) throw invalidArgument("'examples' value is an empty array");
  return { signatureName, input: { examples: examples.map((e, i) => exampleFromJson(e, `example ${i}`)), context } };
}

/** MakeJsonFromClassificationResult: {"results": [[[label, score], ...], ...]}, one list per example. */
export function classificationJson(result: ClassificationResult): unknown {
  if (result.length === 0) throw invalidArgument('Cannot convert empty ClassificationResults to JSON');
  return { results: result.map((classes) => classes.map((c) => [c.label, new JsonFloat(c.score, 'float')])) };
}

/** MakeJsonFromRegressionResult: {"results": [value, ...]}, one per example. */
export function regressionJson(result: RegressionResult): unknown {
  if (result.length === 0) throw invalidArgument('Cannot convert empty RegressionResults to JSON');
  return { results: result.map((v) => new JsonFloat(v, 'float')) };
}

/** POST .../models/{m}[/versions/{v}|/labels/{l}]:classify or :regress: the JSON answer. */
export async function answerExampleRequest(
  service: PredictionService,
  method: 'classify' | 'regress',
  model: string,
  spec: VersionSpec,
  body: unknown,
  signal?: AbortSignal,
): Promise<unknown> {
  const { signatureName, input } = readExampleBody(body, method);
  const request = { model, spec, signatureName, input, signal };
  return method === 'classify' ? classificationJson((await classify(service, request)).result) : regressionJson((await regress(service, request)).result);
}
