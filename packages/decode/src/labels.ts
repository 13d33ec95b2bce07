import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

export class LabelsError extends Error {
  override name = 'LabelsError';
}

export interface ClassLabel {
  readonly label: string;
  /** Stable class id when the labels carry one (ImageNet WordNet ids such as n01440764). */
  readonly id?: string;
}

export interface Labels {
  /** Preset name or file path, named in error messages. */
  readonly source: string;
  /** Label of each class, by class index; null for the `none` preset (classes are named by index). */
  readonly classes: readonly ClassLabel[] | null;
}

export const LABEL_PRESETS = ['inception', 'imagenet', 'transfert', 'none'] as const;
export type LabelPreset = (typeof LABEL_PRESETS)[number];

// The tutorial's fine-tuned fruit classifier, in the order of its training folders.
const TRANSFERT_LABELS = [
  'apple',
  'banana',
  'grape',
  'kiwi',
  'mango',
  'orange',
  'pineapple',
  'raspberry',
  'strawberry',
];

const IMAGENET_INDEX_URL = new URL('../data/imagenet_class_index.json', import.meta.url);
let imagenetLabels: Promise<Labels> | undefined;

export function isLabelPreset(spec: string): spec is LabelPreset {
  return (LABEL_PRESETS as readonly string[]).includes(spec);
}

/**
 * Labels from a preset name (inception, imagenet, transfert, none) or a labels file: text (one label
 * per line, line 1 = class 0), a JSON array of labels, or a Keras class index JSON
 * ({"0": ["n01440764", "tench"], ...}). A preset name wins over a file of the same name; write
 * ./none to read such a file.
 */
export async function loadLabels(spec: string): Promise<Labels> {
  switch (spec) {
    case 'inception':
    case 'imagenet':
      imagenetLabels ??= readLabelsFile(IMAGENET_INDEX_URL, 'imagenet');
      return imagenetLabels;
    case 'transfert':
      return labelsFromList(TRANSFERT_LABELS, 'transfert');
    case 'none':
      return { source: 'none', classes: null };
    default:
      return withImagenetIds(await readLabelsFile(spec, spec));
  }
}

/**
 * A labels file listing exactly ImageNet's labels in ImageNet's order (what `tensorsky export` writes
 * to assets/labels.txt for InceptionV3) gets ImageNet's WordNet ids, which plain text cannot carry.
 */
async function withImagenetIds(labels: Labels): Promise<Labels> {
  const { classes } = labels;
  if (!classes || classes.length !== 1000 || classes.some((c) => c.id !== undefined)) return labels;
  const imagenet = (await loadLabels('imagenet')).classes!;
  if (classes.some((c, i) => c.label !== imagenet[i].label)) return labels;
  return { source: labels.source, classes: imagenet };
}

async function readLabelsFile(file: string | URL, source: string): Promise<Labels> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new LabelsError(
        `labels file ${source} not found (give a preset: ${LABEL_PRESETS.join(', ')}, or the path of a labels file)`,
      );
    }
    if (code === 'EISDIR') throw new LabelsError(`labels file ${source} is a directory, not a file`);
    throw new LabelsError(`cannot read labels file ${source}: ${(err as Error).message}`);
  }
  return parseLabels(text, source);
}

/**
 * Labels from the contents of a labels file named `source`: JSON when the name ends in .json or the
 * text starts with [ or {, otherwise one label per line.
 */
export function parseLabels(text: string, source: string): Labels {
  const json = extname(source).toLowerCase() === '.json' || /^\s*[[{]/.test(stripBom(text));
  return json ? parseJsonLabels(text, source) : parseTextLabels(text, source);
}

/** Labels from a list of strings, e.g. the lines of a SavedModel's assets/labels.txt. */
export function labelsFromList(list: readonly string[], source = 'label list'): Labels {
  if (list.length === 0) throw new LabelsError(`${source}: no labels`);
  const classes = list.map((entry, index) => {
    if (typeof entry !== 'string' || entry.trim() === '') {
      throw new LabelsError(`${source}: label of class ${index} is empty or not a string`);
    }
    return { label: entry.trim() };
  });
  return { source, classes };
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parseTextLabels(text: string, source: string): Labels {
  const lines = stripBom(text).split(/\r?\n/).map((line) => line.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new LabelsError(`labels file ${source} is empty`);
  const blank = lines.indexOf('');
  if (blank >= 0) {
    // A blank line would shift every later label onto the wrong class index.
    throw new LabelsError(
      `labels file ${source}: line ${blank + 1} is empty (one label per line, line 1 = class 0)`,
    );
  }
  return { source, classes: lines.map((label) => ({ label })) };
}

function parseJsonLabels(text: string, source: string): Labels {
  const body = stripBom(text);
  if (body.trim() === '') throw new LabelsError(`labels file ${source} is empty`);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new LabelsError(`labels file ${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (Array.isArray(value)) {
    return { source, classes: labelsFromList(value as string[], `labels file ${source}`).classes };
  }
  if (value === null || typeof value !== 'object') {
    throw new LabelsError(
      `labels file ${source} must hold a JSON array of labels or a class index object ({"0": ["n01440764", "tench"], ...})`,
    );
  }
  return { source, classes: classIndexLabels(value as Record<string, unknown>, body, source) };
}

// Keras class index: {"<index>": [id, label]} (or {"<index>": label}), indices 0..n-1, each once.
function classIndexLabels(index: Record<string, unknown>, text: string, source: string): ClassLabel[] {
  const duplicate = duplicateTopLevelKey(text);
  if (duplicate !== undefined) {
    throw new LabelsError(`labels file ${source}: class index "${duplicate}" appears more than once`);
  }
  const keys = Object.keys(index);
  if (keys.length === 0) throw new LabelsError(`labels file ${source} holds an empty object`);
  const classes: ClassLabel[] = new Array(keys.length);
  for (const key of keys) {
    if (!/^(0|[1-9]\d*)$/.test(key)) {
      throw new LabelsError(`labels file ${source}: key "${key}" is not a class index (expected "0", "1", ...)`);
    }
    const classIndex = Number(key);
    if (classIndex >= keys.length) {
      const missing = firstMissingIndex(keys);
      throw new LabelsError(
        `labels file ${source}: class index ${missing} is missing (indices must run from 0 to ${keys.length - 1}, found ${key})`,
      );
    }
    classes[classIndex] = classIndexEntry(index[key], key, source);
  }
  return classes;
}

function classIndexEntry(entry: unknown, key: string, source: string): ClassLabel {
  if (typeof entry === 'string' && entry.trim() !== '') return { label: entry.trim() };
  if (
    Array.isArray(entry) &&
    entry.length === 2 &&
    entry.every((part) => typeof part === 'string' && part.trim() !== '')
  ) {
    return { id: entry[0].trim(), label: entry[1].trim() };
  }
  throw new LabelsError(
    `labels file ${source}: class ${key} must be ["<id>", "<label>"] or "<label>", got ${JSON.stringify(entry)}`,
  );
}

function firstMissingIndex(keys: readonly string[]): number {
  const present = new Set(keys.map(Number));
  let i = 0;
  while (present.has(i)) i++;
  return i;
}

/**
 * JSON.parse keeps only the last of repeated keys, which would silently drop a class; scan the
 * (already validated) JSON text for a key repeated in the top-level object.
 */
function duplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      let next = i + 1;
      while (/\s/.test(text[next] ?? '')) next++;
      if (text[next] !== ':') continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    }
  }
  return undefined;
}
