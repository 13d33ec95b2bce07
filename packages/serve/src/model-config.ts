// TF Serving's --model_config_file: a ModelServerConfig in protobuf text format (what TF Serving reads)
// or the same message as JSON. Only model_config_list is supported; custom_model_config is TF Serving's
// plugin hook and has no meaning here.
import fs from 'node:fs/promises';
import path from 'node:path';

export type VersionPolicy =
  | { kind: 'latest'; numVersions: number }
  | { kind: 'all' }
  | { kind: 'specific'; versions: number[] };

export interface ModelConfig {
  name: string;
  /** Absolute path of the directory holding numbered version directories. */
  basePath: string;
  versionPolicy: VersionPolicy;
  /** Label (stable, canary) to version number. */
  versionLabels: Record<string, number>;
}

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

export const DEFAULT_VERSION_POLICY: VersionPolicy = { kind: 'latest', numVersions: 1 };

/** Model names appear in URLs and metric labels: no path separators, no "..", nothing invisible. */
export function modelNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 256) return 'it is longer than 256 characters';
  if (name.includes('/') || name.includes('\\')) return 'it contains a slash';
  if (name.includes('..')) return 'it contains ".."';
  if (/[\s\p{Cc}:%?#]/u.test(name)) return 'it contains whitespace, control characters or one of : % ? #';
  return undefined;
}

/**
 * Reads a model config file. JSON when it starts with "{", else protobuf text format. Relative
 * base_path values are resolved against the config file's directory.
 */
export async function readModelConfigFile(file: string): Promise<ModelConfig[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ModelConfigError(`cannot read model config file ${file}: ${(err as Error).message}`);
  }
  return parseModelConfig(text, file);
}

/** Parses a ModelServerConfig (text format or JSON); `origin` names the file in errors and anchors relative paths. */
export function parseModelConfig(text: string, origin: string): ModelConfig[] {
  const isJson = text.trimStart().startsWith('{');
  let root: Message;
  if (isJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ModelConfigError(`${origin}: invalid JSON: ${(err as Error).message}`);
    }
    root = jsonMessage(parsed, origin);
  } else {
    root = new TextFormatParser(text, origin).parseMessage();
  }
  return modelConfigs(root, origin);
}

// A parsed message: field name to its values (repeated fields have several), with the line for errors.
type Value = string | number | boolean | Message;
interface Message {
  fields: Map<string, { values: Value[]; where: string }>;
  where: string;
}

function modelConfigs(root: Message, origin: string): ModelConfig[] {
  checkFields(root, ['model_config_list', 'custom_model_config']);
  if (root.fields.has('custom_model_config')) throw new ModelConfigError(`${where(root, 'custom_model_config')}: custom_model_config is not supported; use model_config_list`);
  const list = optionalMessage(root, 'model_config_list');
  if (!list) throw new ModelConfigError(`${origin}: no model_config_list; write model_config_list { config { name: '...' base_path: '...' } }`);
  checkFields(list, ['config']);
  const configs = messages(list, 'config').map((config) => modelConfig(config, origin));
  if (configs.length === 0) throw new ModelConfigError(`${origin}: model_config_list has no config entries`);
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.name)) throw new ModelConfigError(`${origin}: model '${c.name}' is configured twice`);
    seen.add(c.name);
  }
  return configs;
}

function modelConfig(config: Message, origin: string): ModelConfig {
  checkFields(config, ['name', 'base_path', 'model_platform', 'model_type', 'model_version_policy', 'version_labels', 'logging_config']);
  const name = requiredString(config, 'name');
  const problem = modelNameProblem(name);
  if (problem) throw new ModelConfigError(`${where(config, 'name')}: model name '${name}' is not allowed: ${problem}`);
  const basePath = requiredString(config, 'base_path');
  const platform = optionalScalar(config, 'model_platform') ?? 'tensorflow';
  if (platform !== 'tensorflow') {
    throw new ModelConfigError(`${where(config, 'model_platform')}: model_platform '${String(platform)}' is not supported; only 'tensorflow' SavedModels are served`);
  }
  const labels: Record<string, number> = {};
  for (const entry of messages(config, 'version_labels')) {
    checkFields(entry, ['key', 'value']);
    const key = requiredString(entry, 'key');
    labels[key] = versionNumber(optionalScalar(entry, 'value'), entry.where);
  }
  return {
    name,
    basePath: path.resolve(path.dirname(path.resolve(origin)), basePath),
    versionPolicy: versionPolicy(optionalMessage(config, 'model_version_policy')),
    versionLabels: labels,
  };
}

function versionPolicy(policy: Message | undefined): VersionPolicy {
  if (!policy) return DEFAULT_VERSION_POLICY;
  checkFields(policy, ['latest', 'all', 'specific']);
  const kinds = [...policy.fields.keys()];
  if (kinds.length !== 1) throw new ModelConfigError(`${policy.where}: model_version_policy needs exactly one of latest, all, specific`);
  const latest = optionalMessage(policy, 'latest');
  if (latest) {
    checkFields(latest, ['num_versions']);
    const n = optionalScalar(latest, 'num_versions') ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ModelConfigError(`${latest.where}: num_versions must be a positive integer`);
    return { kind: 'latest', numVersions: n };
  }
  const all = optionalMessage(policy, 'all');
  if (all) {
    checkFields(all, []);
    return { kind: 'all' };
  }
  const specific = optionalMessage(policy, 'specific') as Message;
  checkFields(specific, ['versions']);
  const versions = (specific.fields.get('versions')?.values ?? []).map((v) => versionNumber(v, specific.where));
  if (versions.length === 0) throw new ModelConfigError(`${specific.where}: specific policy lists no versions`);
  return { kind: 'specific', versions };
}

function checkFields(message: Message, allowed: string[]): void {
  for (const [name, { where }] of message.fields) {
    if (!allowed.includes(name)) {
      throw new ModelConfigError(`${where}: unknown field '${name}'${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`);
    }
  }
}

function where(message: Message, field: string): string {
  return message.fields.get(field)?.where ?? message.where;
}

function messages(message: Message, field: string): Message[] {
  return (message.fields.get(field)?.values ?? []).map((v) => {
    if (!isMessage(v)) throw new ModelConfigError(`${where(message, field)}: '${field}' must be a message { ... }`);
    return v;
  });
}

function optionalMessage(message: Message, field: string): Message | undefined {
  const all = messages(message, field);
  if (all.length > 1) throw new ModelConfigError(`${where(message, field)}: '${field}' is given more than once`);
  return all[0];
}

function optionalScalar(message: Message, field: string): string | number | boolean | undefined {
  const entry = message.fields.get(field);
  if (!entry) return undefined;
  if (entry.values.length > 1) throw new ModelConfigError(`${entry.where}: '${field}' is given more than once`);
  const [value] = entry.values;
  if (isMessage(value)) throw new ModelConfigError(`${entry.where}: '${field}' must be a value, not a message`);
  return value;
}

function requiredString(message: Message, field: string): string {
  const value = optionalScalar(message, field);
  if (typeof value !== 'string' || value === '') throw new ModelConfigError(`${where(message, field)}: '${field}' must be a non-empty string`);
  return value;
}

function versionNumber(value: Value | undefined, at: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ModelConfigError(`${at}: version numbers must be non-negative integers, got ${String(value)}`);
  return n;
}

function isMessage(v: Value | undefined): v is Message {
  return typeof v === 'object' && v !== null;
}

// ---------------------------------------------------------------------------------------------
// JSON: the proto3 JSON mapping of the same message (snake_case or lowerCamelCase field names; maps
// such as version_labels as objects; repeated fields as lists).

function jsonMessage(value: unknown, at: string): Message {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelConfigError(`${at}: expected a JSON object`);
  const fields: Message['fields'] = new Map();
  for (const [key, v] of Object.entries(value)) {
    const name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const fieldAt = `${at}: ${name}`;
    let values: Value[];
    if (name === 'version_labels' && v && typeof v === 'object' && !Array.isArray(v)) {
      values = Object.entries(v).map(([k, n]) => ({
        fields: new Map<string, { values: Value[]; where: string }>([
          ['key', { values: [k], where: fieldAt }],
          ['value', { values: [jsonScalar(n, fieldAt)], where: fieldAt }],
        ]),
        where: fieldAt,
      }));
    } else {
      values = (Array.isArray(v) ? v : [v]).map((item) =>
        typeof item === 'object' && item !== null ? jsonMessage(item, fieldAt) : jsonScalar(item, fieldAt),
      );
    }
    fields.set(name, { values, where: fieldAt });
  }
  return { fields, where: at };
}

function jsonScalar(v: unknown, at: string): string | number | boolean {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  throw new ModelConfigError(`${at}: unexpected ${v === null ? 'null' : typeof v}`);
}

// ---------------------------------------------------------------------------------------------
// Protobuf text format: `field: value`, `field { ... }` (or `field: { ... }`, `< ... >`), repeated fields
// by repetition or `[a, b]`, '...' or "..." strings with C escapes, # comments, optional , or ; separators.

class TextFormatParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly origin: string,
  ) {}

  parseMessage(close?: string): Message {
    const message: Message = { fields: new Map(), where: this.where() };
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) {
        if (close) this.fail(`missing '${close}'`);
        return message;
      }
      if (close && this.text[this.pos] === close) {
        this.pos++;
        return message;
      }
      const at = this.where();
      const name = this.identifier();
      this.skipSpace();
      const colon = this.text[this.pos] === ':';
      if (colon) this.pos++;
      this.skipSpace();
      const values: Value[] = [];
      const c = this.text[this.pos];
      if (c === '{' || c === '<') {
        this.pos++;
        values.push(this.parseMessage(c === '{' ? '}' : '>'));
      } else if (!colon) {
        this.fail(`expected ':' or '{' after '${name}'`);
      } else if (c === '[') {
        this.pos++;
        for (;;) {
          this.skipSpace();
          if (this.text[this.pos] === ']') break;
          values.push(this.scalar());
          this.skipSpace();
          if (this.text[this.pos] === ',') this.pos++;
          else if (this.text[this.pos] !== ']') this.fail(`expected ',' or ']'`);
        }
        this.pos++;
      } else {
        values.push(this.scalar());
      }
      const entry = message.fields.get(name);
      if (entry) entry.values.push(...values);
      else message.fields.set(name, { values, where: at });
      this.skipSpace();
      if (this.text[this.pos] === ',' || this.text[this.pos] === ';') this.pos++;
    }
  }

  private scalar(): string | number | boolean {
    const c = this.text[this.pos];
    if (c === '"' || c === "'") {
      let s = '';
      // Adjacent string literals concatenate, as in C and protobuf text format.
      while (this.text[this.pos] === '"' || this.text[this.pos] === "'") {
        s += this.quoted();
        this.skipSpace();
      }
      return s;
    }
    const m = /^[-+]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/.exec(this.text.slice(this.pos));
    if (m) {
      this.pos += m[0].length;
      return Number(m[0]);
    }
    const word = this.identifier();
    if (word === 'true' || word === 'True') return true;
    if (word === 'false' || word === 'False') return false;
    return word; // an enum value name
  }

  private quoted(): string {
    const quote = this.text[this.pos++];
    let s = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      if (c === quote) return s;
      if (c !== '\\') {
        s += c;
        continue;
      }
      const e = this.text[this.pos++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '?': '?' };
      if (e in simple) s += simple[e];
      else if (/[0-7]/.test(e)) {
        const oct = /^[0-7]{1,3}/.exec(this.text.slice(this.pos - 1))![0];
        this.pos += oct.length - 1;
        s += String.fromCharCode(parseInt(oct, 8));
      } else if (e === 'x') {
        const hex = /^[0-9a-fA-F]{1,2}/.exec(this.text.slice(this.pos))?.[0];
        if (!hex) this.fail('bad \\x escape');
        this.pos += hex.length;
        s += String.fromCharCode(parseInt(hex, 16));
      } else this.fail(`unknown escape '\\${e}'`);
    }
  }

  private identifier(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(this.text.slice(this.pos, this.pos + 256));
    if (!m) this.fail(`expected a field name, found '${this.text.slice(this.pos, this.pos + 10).split('\n')[0]}'`);
    this.pos += m[0].length;
    return m[0];
  }

  private skipSpace(): void {
    for (;;) {
      const m = /^(?:\s+|#[^\n]*)/.exec(this.text.slice(this.pos, this.pos + 4096));
      if (!m) return;
      this.pos += m[0].length;
    }
  }

  private where(): string {
    const line = this.text.slice(0, this.pos).split('\n').length;
    return `${this.origin}:${line}`;
  }

  private fail(message: string): never {
    throw new ModelConfigError(`${this.where()}: ${message}`);
  }
}
