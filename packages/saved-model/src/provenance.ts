// Where an exported model's weights came from, recorded inside the SavedModel directory as
// assets.extra/tensorsky_provenance.json. TensorFlow ignores assets.extra/ (TF Serving reads only its
// warmup requests file there), so the record travels with the model without changing how it loads.
// One schema, one reader and one wording of the random-weights warning for every tool.
import fs from 'node:fs/promises';
import path from 'node:path';
import { ASSETS_EXTRA_DIR, SavedModelError } from './io.js';

export const PROVENANCE_FILE = 'tensorsky_provenance.json';
/** The layout version of the file; a reader refuses a newer one rather than guess. */
export const PROVENANCE_SCHEMA = 1;

/**
 * assets.extra/tensorsky_provenance.json. File names are base names, not paths: the record describes the
 * model wherever it is copied, and md5s (hex) identify the files' content.
 */
export interface Provenance {
  schema: typeof PROVENANCE_SCHEMA;
  /** The package that wrote the SavedModel: @tensorsky/export and its version. */
  exporter: { name: string; version: string };
  /** When the SavedModel was exported, ISO 8601 in UTC. */
  exportedAt: string;
  model: ModelProvenance;
  weights: WeightsProvenance;
  /**
   * The IDCT the serving graph decodes JPEGs with (export --jpeg_dct): 'accurate' (libjpeg's ISLOW, as PIL
   * and sharp decode) or 'fast' (IFAST, TensorFlow's DecodeImage). Absent in records written before the option.
   */
  jpegDct?: 'accurate' | 'fast';
}

export type ModelProvenance =
  /** An architecture built into the exporter, e.g. inception_v3. */
  | { kind: 'built-in'; name: string }
  /** A Keras .h5 model, or a TF.js layers model (file and md5 of its model.json). */
  | { kind: 'file'; name: string; file: string; md5: string };

export type WeightsProvenance =
  /** Keras's ImageNet weights file, as verified against its published md5. */
  | { kind: 'imagenet'; file: string; md5: string }
  /** A Keras .h5 weights file. */
  | { kind: 'file'; file: string; md5: string }
  /** Seeded random weights: the model computes, but its labels mean nothing. */
  | { kind: 'random'; seed: number }
  /** The weights saved in the model file itself. */
  | { kind: 'model-file' };

/** What a SavedModel's provenance says, for tools that show it: the record when there is one, and what to warn about. */
export interface ProvenanceCheck {
  provenance?: Provenance;
  warnings: string[];
}

export function serializeProvenance(provenance: Provenance): string {
  return `${JSON.stringify(provenance, null, 2)}\n`;
}

/** The provenance of the SavedModel in `dir`, or undefined when it has none (e.g. written by TensorFlow). */
export async function readProvenance(dir: string): Promise<Provenance | undefined> {
  const file = path.join(dir, ASSETS_EXTRA_DIR, PROVENANCE_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new SavedModelError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseProvenance(text, file);
}

/** Parses and checks the file's content; `source` names it in errors. */
export function parseProvenance(text: string, source: string): Provenance {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SavedModelError(`${source} is not JSON: ${(err as Error).message}`);
  }
  const problem = provenanceProblem(value);
  if (problem) throw new SavedModelError(`${source} is not a tensorsky provenance record: ${problem}`);
  return value as Provenance;
}

/** The warning to show wherever the model's predictions are shown, or undefined when its weights were trained. */
export function weightsWarning(weights: WeightsProvenance): string | undefined {
  return weights.kind === 'random' ? `this model has random weights (seed ${weights.seed}): its labels mean nothing` : undefined;
}

/** readProvenance for display: never throws, a record that cannot be read becomes a warning itself. */
export async function checkProvenance(dir: string): Promise<ProvenanceCheck> {
  let provenance: Provenance | undefined;
  try {
    provenance = await readProvenance(dir);
  } catch (err) {
    return { warnings: [`where this model's weights came from is unknown: ${(err as Error).message}`] };
  }
  const warning = provenance && weightsWarning(provenance.weights);
  return { provenance, warnings: warning ? [warning] : [] };
}

function provenanceProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (value.schema !== PROVENANCE_SCHEMA) {
    return typeof value.schema === 'number' && value.schema > PROVENANCE_SCHEMA
      ? `schema ${value.schema} is newer than this reader's (${PROVENANCE_SCHEMA}); update tensorsky`
      : `schema must be ${PROVENANCE_SCHEMA}, got ${JSON.stringify(value.schema)}`;
  }
  const { exporter, model, weights } = value;
  if (!isObject(exporter) || !isString(exporter.name) || !isString(exporter.version)) return 'exporter must be {name, version}';
  if (!isString(value.exportedAt) || Number.isNaN(Date.parse(value.exportedAt))) return 'exportedAt must be an ISO date';
  if (!isObject(model) || !isString(model.name)) return 'model must have a name';
  if (model.kind === 'file' ? !isString(model.file) || !isString(model.md5) : model.kind !== 'built-in') {
    return "model must be {kind: 'built-in', name} or {kind: 'file', name, file, md5}";
  }
  if (value.jpegDct !== undefined && value.jpegDct !== 'accurate' && value.jpegDct !== 'fast') return "jpegDct must be 'accurate' or 'fast'";
  if (!isObject(weights)) return 'weights must be an object';
  switch (weights.kind) {
    case 'imagenet':
    case 'file':
      return isString(weights.file) && isString(weights.md5) ? undefined : `weights of kind ${weights.kind} need file and md5`;
    case 'random':
      return Number.isSafeInteger(weights.seed) ? undefined : 'random weights need an integer seed';
    case 'model-file':
      return undefined;
    default:
      return `unknown weights kind ${JSON.stringify(weights.kind)}; expected imagenet, file, random or model-file`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
