// The onnx engine's on-disk cache: for a SavedModel signature already loaded once on this machine, the
// network as ONNX Runtime optimized it (its graph in network.onnx, its weights in network.onnx.data,
// which ORT maps from the page cache instead of copying) and the image front as a small GraphDef. A hit
// skips reading the SavedModel, the translation and ORT's optimization: the cold start is then mostly
// the first predict. Entries live in the user cache dir (TENSORSKY_CACHE_DIR, else
// $XDG_CACHE_HOME/tensorsky, else ~/.cache/tensorsky), under onnx/<key>; TENSORSKY_ONNX_CACHE=0 turns the
// cache off. The key covers the SavedModel's bytes, the signature, the translator's code, ORT's version,
// the CPU (ORT's optimized kernels and weight layouts are specific to it) and the optimization level;
// not the thread count or spinning, which change how the session runs, not the optimized graph.
// Entries are written to a temp dir and renamed into place; one that does not read back is removed and
// the model translated again.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { DataType, decodeMessage, encodeMessage, type FrozenGraph, type NodeDef, type TensorSpec } from '@tensorsky/saved-model';
import type { SignatureInfo } from '../local-model.js';
import type { OnnxFeed } from '../onnx/index.js';
import { translatorDigest } from './network-digest.js';
import type { OnnxRuntime } from './onnxruntime.js';

const FORMAT = 1;
const ENTRY = 'entry.json';
const FRONT = 'front.pb';
const NETWORK = 'network.onnx';
const NETWORK_DATA = 'network.onnx.data';
/** The optimization the cached graph had; loading it optimizes nothing more (doing it again slows it down). */
const OPTIMIZATION = 'all';

/** What a cache entry records besides the network: enough to run the signature without its SavedModel. */
interface EntryRecord {
  format: number;
  key: string;
  signature: SignatureInfo;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  producer: number;
  /** ONNX inputs: the front's tensors first (`boundary` of them), then graph inputs the network reads. */
  feeds: OnnxFeed[];
  boundary: number;
  inputNames: string[];
  outputNames: string[];
  /** Byte sizes of the entry's files. */
  sizes: Record<string, number>;
}

/** A network read back from the cache. */
export interface CachedNetwork {
  /** The front's nodes and the signature's inputs and outputs (no network nodes, no constants). */
  graph: FrozenGraph;
  signature: SignatureInfo;
  feeds: OnnxFeed[];
  boundary: number;
  inputNames: string[];
  outputNames: string[];
  session: Ort.InferenceSession;
  /** Time ORT took to create the session from the entry. */
  sessionMs: number;
}

/** Where one signature's entry is (or would be) for this SavedModel, ORT and machine. */
export interface OnnxCacheSlot {
  dir: string;
  key: string;
}

/** Whether engine onnx's cache is on (TENSORSKY_ONNX_CACHE is not 0/off/false/no). */
export function onnxCacheEnabled(): boolean {
  return cacheRoot() !== undefined;
}

/** Where savedModelDigest remembers digests (see there), or undefined when the cache is off. */
export function digestMemoDir(): string | undefined {
  const root = cacheRoot();
  return root && path.join(root, 'digests');
}

function cacheRoot(): string | undefined {
  const off = process.env.TENSORSKY_ONNX_CACHE?.trim().toLowerCase();
  if (off === '0' || off === 'off' || off === 'false' || off === 'no') return undefined;
  const explicit = process.env.TENSORSKY_CACHE_DIR?.trim();
  if (explicit) return path.resolve(explicit);
  const xdg = process.env.XDG_CACHE_HOME?.trim();
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'tensorsky');
}

/** The CPU as ORT's kernels see it: model name and (on Linux) the instruction-set flags. */
function cpuIdentity(): string {
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    // not Linux: the model name stands for the CPU
  }
  return `${os.arch()} ${os.cpus()[0]?.model ?? ''} ${flags}`;
}

/** The cache slot of this signature, or undefined when the cache is off. `digest` is savedModelDigest(dir). */
export async function onnxCacheSlot(ort: OnnxRuntime, digest: string, tags: readonly string[], signatureKey: string): Promise<OnnxCacheSlot | undefined> {
  const root = cacheRoot();
  if (!root) return undefined;
  const parts = {
    format: FORMAT,
    savedModel: digest,
    tags: [...tags].sort(),
    signature: signatureKey,
    translator: await translatorDigest(),
    ort: (ort.env as { versions?: Record<string, string> }).versions ?? {},
    platform: process.platform,
    cpu: cpuIdentity(),
    optimization: OPTIMIZATION,
  };
  const key = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
  return { dir: path.join(root, 'onnx', key), key };
}

/**
 * The cached network of `slot`: undefined when there is no entry; an Error (one line, the entry removed)
 * when it exists but does not read back (truncated, foreign, or ORT refuses it).
 */
export async function readCachedNetwork(
  ort: OnnxRuntime,
  slot: OnnxCacheSlot,
  options: Ort.InferenceSession.SessionOptions,
): Promise<CachedNetwork | Error | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(slot.dir, ENTRY), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const record = JSON.parse(text) as EntryRecord;
    if (record.format !== FORMAT || record.key !== slot.key) throw new Error('written for another model');
    for (const [name, size] of Object.entries(record.sizes)) {
      const actual = (await fs.stat(path.join(slot.dir, name))).size;
      if (actual !== size) throw new Error(`${name} has ${actual} bytes, ${size} were written`);
    }
    const front = decodeMessage('GraphDef', await fs.readFile(path.join(slot.dir, FRONT)));
    const started = performance.now();
    const session = await ort.InferenceSession.create(path.join(slot.dir, NETWORK), { ...options, graphOptimizationLevel: 'disabled' });
    const sessionMs = performance.now() - started;
    const names = (want: string[], have: readonly string[]) => want.length === have.length && want.every((n) => have.includes(n));
    if (!names(record.inputNames, session.inputNames) || !names(record.outputNames, session.outputNames)) {
      await session.release();
      throw new Error('its network has other inputs or outputs than its record');
    }
    const graph: FrozenGraph = {
      nodes: (front.node ?? []) as NodeDef[],
      constants: new Map(),
      functions: [],
      inputs: record.inputs,
      outputs: record.outputs,
      producer: record.producer,
    };
    return { graph, signature: record.signature, feeds: record.feeds, boundary: record.boundary, inputNames: record.inputNames, outputNames: record.outputNames, session, sessionMs };
  } catch (err) {
    await fs.rm(slot.dir, { recursive: true, force: true }).catch(() => {});
    return new Error(`the cached ONNX network in ${slot.dir} is unusable (${firstLine(err)}); removed it and translated the model again`);
  }
}

/** Why a signature's network cannot be cached (its front or inputs carry values the record cannot hold), or undefined. */
export function uncacheable(graph: FrozenGraph, frontNodes: readonly NodeDef[]): string | undefined {
  if (frontNodes.some((n) => graph.constants.has(n.name))) return 'its image front reads variables';
  if ([...graph.inputs, ...graph.outputs].some((s) => s.defaultValue !== undefined)) return 'an input has a default value';
  if ([...graph.inputs, ...graph.outputs].some((s) => s.dtype === DataType.DT_INVALID)) return 'a tensor has no dtype';
  return undefined;
}

/** What a new entry records (the network itself comes from the session that writes it). */
export interface NewEntry {
  graph: FrozenGraph;
  frontNodes: readonly NodeDef[];
  signature: SignatureInfo;
  feeds: OnnxFeed[];
  boundary: number;
  inputNames: string[];
  outputNames: string[];
}

/**
 * Creates the session of a network (its bytes, or an ONNX file's path) and, when `slot` is given, has ORT write the
 * optimized network into a new cache entry. Returns the session and, if the entry could not be written,
 * one line saying why (the session is then created without the cache).
 */
export async function createSessionWritingCache(
  ort: OnnxRuntime,
  network: Uint8Array | string,
  options: Ort.InferenceSession.SessionOptions,
  slot: OnnxCacheSlot | undefined,
  entry: NewEntry,
): Promise<{ session: Ort.InferenceSession; written: boolean; note?: string }> {
  const create = (o: Ort.InferenceSession.SessionOptions) =>
    typeof network === 'string' ? ort.InferenceSession.create(network, o) : ort.InferenceSession.create(network, o);
  const reason = slot && uncacheable(entry.graph, entry.frontNodes);
  if (!slot || reason) {
    return { session: await create(options), written: false, ...(reason ? { note: `not cached: ${reason}` } : {}) };
  }
  const parent = path.dirname(slot.dir);
  let staging: string | undefined;
  try {
    await fs.mkdir(parent, { recursive: true });
    staging = path.join(parent, `.staging-${slot.key}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(staging);
  } catch (err) {
    if (staging) await fs.rm(staging, { recursive: true, force: true }).catch(() => {});
    return { session: await create(options), written: false, note: `the ONNX cache in ${parent} cannot be written (${firstLine(err)})` };
  }
  const extra = (options.extra ?? {}) as { session?: Record<string, unknown> };
  let session: Ort.InferenceSession;
  try {
    session = await create({
      ...options,
      graphOptimizationLevel: OPTIMIZATION,
      optimizedModelFilePath: path.join(staging, NETWORK),
      // ORT warns that an NCHWc-optimized model is specific to this CPU: the key says so already.
      logSeverityLevel: 3,
      extra: {
        ...extra,
        session: {
          ...extra.session,
          optimized_model_external_initializers_file_name: NETWORK_DATA,
          optimized_model_external_initializers_min_size_in_bytes: '1024',
          // Weights already in the layout the kernels use: the first run does not pack them.
          save_external_prepacked_constant_initializers: '1',
        },
      },
    });
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => {});
    return { session: await create(options), written: false, note: `the ONNX cache entry could not be written (${firstLine(err)})` };
  }
  try {
    const front = encodeMessage('GraphDef', { node: [...entry.frontNodes], versions: { producer: entry.graph.producer } });
    await fs.writeFile(path.join(staging, FRONT), front);
    const sizes: Record<string, number> = {};
    for (const name of [NETWORK, NETWORK_DATA, FRONT]) {
      try {
        sizes[name] = (await fs.stat(path.join(staging, name))).size;
      } catch {
        if (name !== NETWORK_DATA) throw new Error(`ONNX Runtime did not write ${name}`);
      }
    }
    const record: EntryRecord = {
      format: FORMAT,
      key: slot.key,
      signature: entry.signature,
      inputs: entry.graph.inputs,
      outputs: entry.graph.outputs,
      producer: entry.graph.producer,
      feeds: entry.feeds,
      boundary: entry.boundary,
      inputNames: entry.inputNames,
      outputNames: entry.outputNames,
      sizes,
    };
    await fs.writeFile(path.join(staging, ENTRY), JSON.stringify(record));
    try {
      await fs.rename(staging, slot.dir);
    } catch (err) {
      // Another process wrote the same entry first: theirs is as good as ours.
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await fs.rm(staging, { recursive: true, force: true });
    }
    return { session, written: true };
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => {});
    return { session, written: false, note: `the ONNX cache entry could not be written (${firstLine(err)})` };
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
