// Reading and writing SavedModel directories: saved_model.pb, variables/, assets/ and assets.extra/.
// Writes are atomic: everything goes into a staging directory next to the target, which is renamed into
// place under the target's lock (staging.ts).
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import protobuf from 'protobufjs';
import { decodeMessage, messageType, type MetaGraphDef, type SavedModel } from './proto.js';
import { lockTarget, stagingPath, TargetLockError, type TargetLock } from './staging.js';

export const SAVED_MODEL_PB = 'saved_model.pb';
export const VARIABLES_DIR = 'variables';
export const ASSETS_DIR = 'assets';
/** Files that travel with the model but that TensorFlow does not load (TF Serving reads its warmup requests there). */
export const ASSETS_EXTRA_DIR = 'assets.extra';

/** A SavedModel that cannot be read or written; the message is one line saying what is wrong. */
export class SavedModelError extends Error {
  override name = 'SavedModelError';
}

export interface LoadedSavedModel {
  /** Absolute path of the SavedModel directory. */
  dir: string;
  savedModel: SavedModel;
  /** File names under assets/, sorted. */
  assetFiles: string[];
  /** File names under variables/, sorted. */
  variableFiles: string[];
  /** Size of saved_model.pb. */
  pbBytes: number;
}

export interface SavedModelContents {
  savedModel: SavedModel;
  /** assets/<name> files; strings are written as UTF-8. */
  assets?: Record<string, Uint8Array | string>;
  /** variables/<name> files (variables.index, variables.data-00000-of-00001). */
  variables?: Record<string, Uint8Array>;
  /** assets.extra/<name> files, e.g. tensorsky_provenance.json; strings are written as UTF-8. */
  assetsExtra?: Record<string, Uint8Array | string>;
}

export interface WriteSavedModelOptions {
  /** Replace an existing non-empty directory. */
  overwrite?: boolean;
  /** The target's lock, when the caller took it (lockTarget) before its own work; otherwise taken here. */
  lock?: TargetLock;
  /**
   * Runs on the complete SavedModel in its staging directory, before it moves into place: files it adds
   * are written with the model (e.g. export --onnx's assets.extra/model.onnx, translated from the written
   * graph). Its error is thrown as it is, and nothing is left at DIR.
   */
  beforeMove?: (stagedDir: string) => Promise<void>;
}

/** An error of the beforeMove hook, passed through writeSavedModel unwrapped. */
class HookError extends Error {
  constructor(readonly original: unknown) {
    super('beforeMove failed');
  }
}

/**
 * Reads DIR/saved_model.pb (or the .pb file given directly) and lists variables/ and assets/.
 * Bytes fields of the result are views into the file buffer, not copies.
 */
export async function readSavedModel(location: string): Promise<LoadedSavedModel> {
  const target = path.resolve(location);
  const targetStat = await statOrUndefined(target);
  if (!targetStat) {
    throw new SavedModelError(`no SavedModel at ${location}: saved_model.pb not found (${location} does not exist)`);
  }

  let dir = target;
  let pbPath = path.join(target, SAVED_MODEL_PB);
  if (!targetStat.isDirectory()) {
    if (target.endsWith('.pbtxt')) throw textFormatError(location);
    dir = path.dirname(target);
    pbPath = target;
  }
  const pbStat = await statOrUndefined(pbPath);
  if (!pbStat) {
    if (await statOrUndefined(path.join(dir, 'saved_model.pbtxt'))) throw textFormatError(location);
    throw new SavedModelError(`no SavedModel at ${location}: saved_model.pb not found`);
  }
  if (pbStat.isDirectory()) throw new SavedModelError(`${pbPath} is a directory, not a saved_model.pb file`);

  let bytes: Buffer;
  try {
    bytes = await fs.readFile(pbPath);
  } catch (err) {
    throw new SavedModelError(`cannot read ${pbPath}: ${errorMessage(err)}`, { cause: err });
  }
  const savedModel = decodeSavedModel(pbPath, bytes);
  return {
    dir,
    savedModel,
    assetFiles: await listFileNames(path.join(dir, ASSETS_DIR)),
    variableFiles: await listFileNames(path.join(dir, VARIABLES_DIR)),
    pbBytes: bytes.length,
  };
}

function decodeSavedModel(pbPath: string, bytes: Uint8Array): SavedModel {
  const notSavedModel = (why: string) => new SavedModelError(`${pbPath} is not a SavedModel (${why})`);
  if (bytes.length === 0) throw notSavedModel('empty file');
  let savedModel: SavedModel;
  try {
    savedModel = decodeMessage('SavedModel', bytes);
  } catch (err) {
    throw notSavedModel(`not a valid protobuf: ${errorMessage(err)}`);
  }
  // protobufjs decodes some garbage without complaint (unknown fields are kept aside), so also
  // require what every SavedModel has.
  const problem = structureProblem(savedModel);
  if (problem) throw notSavedModel(problem);
  return savedModel;
}

/** What a SavedModel lacks of the minimum TensorFlow loads: a MetaGraphDef, each with a GraphDef. */
function structureProblem(savedModel: SavedModel): string | undefined {
  const metaGraphs = savedModel.meta_graphs ?? [];
  if (metaGraphs.length === 0) return 'no meta graphs';
  const index = metaGraphs.findIndex((metaGraph) => !metaGraph.graph_def);
  return index >= 0 ? `meta graph ${index} has no graph_def` : undefined;
}

function textFormatError(location: string): SavedModelError {
  return new SavedModelError(
    `cannot read SavedModel at ${location}: the text format (saved_model.pbtxt) is not supported; ` +
      'save it as binary saved_model.pb',
  );
}

/** The MetaGraphDef whose tag-set equals `tags` (order does not matter), as TensorFlow's loader picks it. */
export function getMetaGraph(savedModel: SavedModel, tags: string[] = ['serve']): MetaGraphDef {
  const wanted = tagSetKey(tags);
  const metaGraphs = savedModel.meta_graphs ?? [];
  const found = metaGraphs.find((mg) => tagSetKey(mg.meta_info_def?.tags ?? []) === wanted);
  if (found) return found;
  const available = metaGraphs.map((mg) => `"${(mg.meta_info_def?.tags ?? []).join(',')}"`).join(', ');
  throw new SavedModelError(
    `no MetaGraphDef with tag-set "${tags.join(',')}" in this SavedModel; available tag-sets: ${available || 'none'}`,
  );
}

function tagSetKey(tags: string[]): string {
  return [...new Set(tags)].sort().join('\n');
}

/**
 * Writes a SavedModel directory atomically: DIR appears complete or not at all. variables/ is always
 * created (empty for a frozen graph), assets/ and assets.extra/ only when there are files for them. A
 * non-empty DIR is replaced only with `overwrite`, and the old one is restored if the replacement fails.
 */
export async function writeSavedModel(
  dir: string,
  contents: SavedModelContents,
  options: WriteSavedModelOptions = {},
): Promise<void> {
  const target = path.resolve(dir);
  const assets = Object.entries(contents.assets ?? {});
  const variables = Object.entries(contents.variables ?? {});
  const assetsExtra = Object.entries(contents.assetsExtra ?? {});
  for (const [name] of assets) checkFileName(ASSETS_DIR, name);
  for (const [name] of variables) checkFileName(VARIABLES_DIR, name);
  for (const [name] of assetsExtra) checkFileName(ASSETS_EXTRA_DIR, name);
  const problem = structureProblem(contents.savedModel);
  if (problem) throw new SavedModelError(`refusing to write ${dir}: not a SavedModel (${problem})`);

  let temp: string | undefined;
  let ownLock: TargetLock | undefined;
  try {
    // Refuse before doing any work; moveIntoPlace checks again, as the directory may change meanwhile.
    await targetState(target, options);
    const pb = encodeSavedModel(contents.savedModel);
    if (!options.lock) ownLock = await lockTarget(target);
    temp = stagingPath(target, 'incoming');
    await fs.mkdir(temp);
    await writeSynced(path.join(temp, SAVED_MODEL_PB), pb);
    await fs.mkdir(path.join(temp, VARIABLES_DIR));
    for (const [name, data] of variables) await writeSynced(path.join(temp, VARIABLES_DIR, name), data);
    if (assets.length > 0) {
      await fs.mkdir(path.join(temp, ASSETS_DIR));
      for (const [name, data] of assets) await writeSynced(path.join(temp, ASSETS_DIR, name), data);
    }
    if (assetsExtra.length > 0) {
      await fs.mkdir(path.join(temp, ASSETS_EXTRA_DIR));
      for (const [name, data] of assetsExtra) await writeSynced(path.join(temp, ASSETS_EXTRA_DIR, name), data);
    }
    if (options.beforeMove) {
      const staged = temp;
      await options.beforeMove(staged).catch((err: unknown) => {
        throw new HookError(err);
      });
    }
    await moveIntoPlace(temp, target, options);
  } catch (err) {
    if (temp) await fs.rm(temp, { recursive: true, force: true });
    if (err instanceof HookError) throw err.original;
    if (err instanceof SavedModelError || err instanceof TargetLockError) throw err;
    throw new SavedModelError(`cannot write SavedModel to ${dir}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await ownLock?.release();
  }
}

function checkFileName(folder: string, name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new SavedModelError(
      `invalid file name ${JSON.stringify(name)} for ${folder}/: use a plain file name without path separators`,
    );
  }
}

type TargetState = 'absent' | 'empty' | 'non-empty';

async function targetState(target: string, options: WriteSavedModelOptions): Promise<TargetState> {
  const stat = await statOrUndefined(target);
  if (!stat) return 'absent';
  if (!stat.isDirectory()) {
    throw new SavedModelError(`cannot write SavedModel to ${target}: it exists and is not a directory`);
  }
  if ((await fs.readdir(target)).length === 0) return 'empty';
  if (!options.overwrite) {
    throw new SavedModelError(
      `refusing to overwrite ${target}: the directory is not empty (pass overwrite to replace it)`,
    );
  }
  return 'non-empty';
}

async function moveIntoPlace(temp: string, target: string, options: WriteSavedModelOptions): Promise<void> {
  const state = await targetState(target, options);
  if (state === 'empty') await fs.rmdir(target);
  if (state !== 'non-empty') {
    await fs.rename(temp, target);
    return;
  }
  const aside = stagingPath(target, 'retired');
  await fs.rename(target, aside);
  try {
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rename(aside, target);
    throw err;
  }
  await fs.rm(aside, { recursive: true, force: true }).catch((err: unknown) => {
    throw new SavedModelError(
      `wrote ${target}, but could not remove the previous model moved to ${aside}: ${errorMessage(err)}`,
    );
  });
}

/** Writes and fsyncs, so a rename never publishes a file whose data is still only in the page cache. */
async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Encodes into one buffer allocated up front. protobufjs 8 otherwise grows its buffer by doubling and
 * copying, which for a 100 MB model keeps several stale copies alive until GC. Over-allocating costs
 * address space only: pages never written are never resident.
 */
function encodeSavedModel(savedModel: SavedModel): Uint8Array {
  const initial = protobuf.Writer.initialBufferSize;
  let writer: protobuf.Writer;
  try {
    protobuf.Writer.initialBufferSize = Math.min(encodedSizeBound(savedModel), MAX_PROTO_BYTES);
    writer = protobuf.Writer.create();
  } finally {
    protobuf.Writer.initialBufferSize = initial;
  }
  return messageType('SavedModel')
    .encode(savedModel as unknown as protobuf.Message, writer)
    .finish(true);
}

/** Protobuf messages are limited to 2 GiB; beyond that protobufjs would grow the buffer itself. */
const MAX_PROTO_BYTES = 2 ** 31;

/** Upper bound of the wire size: each value plus at most 16 bytes of tag, length prefix or varint. */
function encodedSizeBound(value: unknown): number {
  if (value instanceof Uint8Array) return value.length + 16;
  if (typeof value === 'string') return value.length * 3 + 16;
  if (value === null || typeof value !== 'object') return 16;
  let size = 16;
  if (Array.isArray(value)) {
    for (const item of value) size += encodedSizeBound(item);
  } else {
    // Map keys are encoded too; message field names are not, so counting them only overestimates.
    for (const [key, item] of Object.entries(value)) size += key.length * 3 + encodedSizeBound(item);
    // Unknown fields kept by protobufjs's decoder (a non-enumerable property) are written back too.
    size += encodedSizeBound((value as { $unknowns?: Uint8Array[] }).$unknowns);
  }
  return size;
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(file);
  } catch (err) {
    if (isErrnoCode(err, 'ENOENT') || isErrnoCode(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

async function listFileNames(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (err) {
    if (isErrnoCode(err, 'ENOENT') || isErrnoCode(err, 'ENOTDIR')) return [];
    throw new SavedModelError(`cannot list ${dir}: ${errorMessage(err)}`, { cause: err });
  }
}

function isErrnoCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
