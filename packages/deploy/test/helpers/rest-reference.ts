// The aiplatform v1 REST reference, machine-readable: googleapis generates its TypeScript declarations
// from Google's discovery document, one interface per REST schema, each field with its type and the
// reference's description ("Required. ..."). The Vertex AI double checks request bodies against it:
// unknown fields, wrong JSON types and missing required fields are rejected as the real API does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface FieldSpec {
  type: 'string' | 'number' | 'boolean' | 'any' | 'object' | 'map';
  /** Schema name for objects (and map values that are objects). */
  ref?: string;
  /** Value type of a map. */
  mapValue?: FieldSpec;
  array: boolean;
  /** The reference's description starts with "Required.". */
  required: boolean;
}

export type Schemas = Map<string, Map<string, FieldSpec>>;

const PREFIX = 'Schema$GoogleCloudAiplatformV1';
let cached: Schemas | undefined;

/** Every Schema$GoogleCloudAiplatformV1* of googleapis' aiplatform v1 declarations, keyed without the prefix. */
export function aiplatformSchemas(): Schemas {
  if (cached) return cached;
  const googleapisDir = path.dirname(createRequire(import.meta.url).resolve('googleapis/package.json'));
  const source = readFileSync(path.join(googleapisDir, 'build/src/apis/aiplatform/v1.d.ts'), 'utf8');
  const schemas: Schemas = new Map();
  const interfacePattern = /^ {4}export interface Schema\$(\w+) \{\n([\s\S]*?)^ {4}\}/gm;
  for (const [, name, body] of source.matchAll(interfacePattern)) {
    const fields = new Map<string, FieldSpec>();
    // A field: its doc comment, then "name?: type;" where type may span lines ({ [key: string]: T; } | null).
    const fieldPattern = /\/\*\*\n([\s\S]*?)\*\/\n {8}(\w+)\?: ([\s\S]*?);\n(?= {8}(?:\/\*\*|\w)|$)/g;
    for (const [, doc, field, type] of body.matchAll(fieldPattern)) {
      const description = doc.replace(/^\s*\* ?/gm, '').trim();
      fields.set(field, { ...parseType(type), required: description.startsWith('Required.') });
    }
    schemas.set(name.startsWith('GoogleCloudAiplatformV1') ? name.slice('GoogleCloudAiplatformV1'.length) : name, fields);
  }
  if (!schemas.has('Model') || !schemas.has('DeployModelRequest')) throw new Error('could not read the aiplatform v1 schemas from googleapis');
  cached = schemas;
  return schemas;
}

function parseType(raw: string): Omit<FieldSpec, 'required'> {
  const type = raw.replace(/\s+/g, ' ').replace(/ \| null$/, '').trim();
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { type: 'map', array: false, mapValue: { ...parseType(map[1]), required: false } };
  const array = type.endsWith('[]');
  const element = array ? type.slice(0, -2) : type;
  if (element.startsWith('Schema$')) {
    const ref = element.slice('Schema$'.length);
    return { type: 'object', ref: ref.startsWith('GoogleCloudAiplatformV1') ? ref.slice('GoogleCloudAiplatformV1'.length) : ref, array };
  }
  if (element === 'string' || element === 'number' || element === 'boolean') return { type: element, array };
  return { type: 'any', array };
}

/**
 * Problems with `body` as the JSON of schema `name` (e.g. "Model"): unknown fields, JSON types that do
 * not match, required fields missing (unless `partial`: a PATCH sends only the fields of its update
 * mask). Paths are written like the API's errors ("model.containerSpec").
 */
export function bodyProblems(name: string, body: unknown, at = '', partial = false): string[] {
  const schema = aiplatformSchemas().get(name);
  if (!schema) return [`${at || 'body'}: no schema ${PREFIX}${name} in the REST reference`];
  if (!isObject(body)) return [`${at || 'body'}: expected a JSON object for ${name}`];
  const problems: string[] = [];
  for (const [field, value] of Object.entries(body)) {
    const spec = schema.get(field);
    const where = at ? `${at}.${field}` : field;
    if (!spec) {
      problems.push(`Unknown name "${field}" at '${at || 'body'}': Cannot find field.`);
      continue;
    }
    if (value === null) continue;
    problems.push(...valueProblems(spec, value, where, partial));
  }
  if (partial) return problems;
  for (const [field, spec] of schema) {
    if (spec.required && (body[field] === undefined || body[field] === null || body[field] === '')) {
      problems.push(`${at ? `${at}.` : ''}${field} is required`);
    }
  }
  return problems;
}

function valueProblems(spec: Omit<FieldSpec, 'required'>, value: unknown, where: string, partial: boolean): string[] {
  if (spec.array) {
    if (!Array.isArray(value)) return [`${where}: expected a list`];
    return value.flatMap((v, i) => valueProblems({ ...spec, array: false }, v, `${where}[${i}]`, partial));
  }
  switch (spec.type) {
    case 'any':
      return [];
    case 'object':
      return bodyProblems(spec.ref!, value, where, partial);
    case 'map':
      if (!isObject(value)) return [`${where}: expected a map (JSON object)`];
      return Object.entries(value).flatMap(([k, v]) => valueProblems(spec.mapValue!, v, `${where}[${JSON.stringify(k)}]`, partial));
    default:
      // proto3 JSON also accepts 64-bit integers as strings; the reference types those as string already.
      return typeof value === spec.type ? [] : [`${where}: expected a ${spec.type}, got ${JSON.stringify(value)}`];
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
