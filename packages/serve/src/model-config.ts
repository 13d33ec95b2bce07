// TF Serving's --model_config_file: a ModelServerConfig in protobuf text format (what TF Serving reads)
// or the same message as JSON. Only model_config_list is supported; custom_model_config is TF Serving's
// plugin hook and has no meaning here.
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigFileError, checkFields, isMessage, messages, optionalMessage, optionalScalar, parseTextFormat, requiredString, where, type Message, type Value } from './text-format.js';

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

export class ModelConfigError extends ConfigFileError {
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
    try {
      root = parseTextFormat(text, origin);
    } catch (err) {
      // TF Serving's words for a file that is not a ModelServerConfig, which its tests look for.
      throw new ModelConfigError(`Error parsing text-format tensorflow.serving.ModelServerConfig: ${(err as Error).message}`);
    }
  }
  return asModelConfigError(() => modelConfigs(root, origin, path.dirname(path.resolve(origin))));
}

/**
 * The ModelServerConfig of a HandleReloadConfigRequest, decoded to a plain object (protobufjs's
 * toObject with snake_case keys, int64 as strings). As TF Serving's ValidateModelConfigList requires,
 * base paths must be absolute: there is no file to anchor relative ones.
 */
export function modelConfigsFromObject(config: unknown, origin: string): ModelConfig[] {
  return asModelConfigError(() => modelConfigs(jsonMessage(config, origin), origin, null));
}

function asModelConfigError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigFileError && !(err instanceof ModelConfigError)) throw new ModelConfigError(err.message);
    throw err;
  }
}

/** `anchor`: the directory relative base paths are resolved against; null: they are refused. */
function modelConfigs(root: Message, origin: string, anchor: string | null): ModelConfig[] {
  checkFields(root, ['model_config_list', 'custom_model_config']);
  if (root.fields.has('custom_model_config')) throw new ModelConfigError(`${where(root, 'custom_model_config')}: custom_model_config is not supported; use model_config_list`);
  const list = optionalMessage(root, 'model_config_list');
  if (!list) throw new ModelConfigError(`${origin}: no model_config_list; write model_config_list { config { name: '...' base_path: '...' } }`);
  checkFields(list, ['config']);
  const configs = messages(list, 'config').map((config) => modelConfig(config, anchor));
  if (configs.length === 0) throw new ModelConfigError(`${origin}: model_config_list has no config entries`);
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.name)) throw new ModelConfigError(`${origin}: model '${c.name}' is configured twice`);
    seen.add(c.name);
  }
  return configs;
}

function modelConfig(config: Message, anchor: string | null): ModelConfig {
  checkFields(config, ['name', 'base_path', 'model_platform', 'model_type', 'model_version_policy', 'version_labels', 'logging_config']);
  const name = requiredString(config, 'name');
  const problem = modelNameProblem(name);
  if (problem) throw new ModelConfigError(`${where(config, 'name')}: model name '${name}' is not allowed: ${problem}`);
  const basePath = requiredString(config, 'base_path');
  if (anchor === null && !path.isAbsolute(basePath)) {
    throw new ModelConfigError(`Expected model ${name} to have an absolute path or URI; got base_path()=${basePath}`);
  }
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
    basePath: path.resolve(anchor ?? '/', basePath),
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

function versionNumber(value: Value | undefined, at: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new ModelConfigError(`${at}: version numbers must be non-negative integers, got ${String(value)}`);
  return n;
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
