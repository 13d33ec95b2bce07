// The local side of a deployment: the files of a SavedModel directory with the checksums Cloud Storage
// keeps (MD5 and CRC32C, base64), and what its serving signature expects, so clients can build requests.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { DataType, dataTypeName, getMetaGraph, readSavedModel, type GraphDef } from '@tensorsky/saved-model';

export class ModelDirError extends Error {
  override name = 'ModelDirError';
}

export interface LocalFile {
  /** Path inside the SavedModel directory, with forward slashes (saved_model.pb, variables/variables.index). */
  relativePath: string;
  absolutePath: string;
  size: number;
  /** Base64 MD5, as Cloud Storage reports md5Hash. */
  md5: string;
  /** Base64 big-endian CRC32C, as Cloud Storage reports crc32c. */
  crc32c: string;
}

/** The files of a SavedModel directory (saved_model.pb required), sorted, with their checksums. */
export async function listModelFiles(dir: string): Promise<LocalFile[]> {
  const root = path.resolve(dir);
  const stat = await fs.stat(root).catch(() => undefined);
  if (!stat?.isDirectory()) throw new ModelDirError(`model directory ${dir} does not exist; give --model_dir the folder that holds saved_model.pb`);
  const found: string[] = [];
  await walk(root, '', found);
  if (!found.includes('saved_model.pb')) {
    throw new ModelDirError(`${dir} has no saved_model.pb; give --model_dir the SavedModel folder itself (the one holding saved_model.pb and variables/)`);
  }
  found.sort();
  const files: LocalFile[] = [];
  for (const relativePath of found) {
    const absolutePath = path.join(root, ...relativePath.split('/'));
    files.push({ relativePath, absolutePath, ...(await checksums(absolutePath)) });
  }
  return files;
}

async function walk(root: string, prefix: string, found: string[]): Promise<void> {
  for (const entry of await fs.readdir(path.join(root, prefix), { withFileTypes: true })) {
    const relativePath = prefix ? `${prefix}/${entry.name}` : entry.name;
    const target = await fs.stat(path.join(root, relativePath));
    if (target.isDirectory()) await walk(root, relativePath, found);
    else if (target.isFile()) found.push(relativePath);
  }
}

async function checksums(file: string): Promise<{ size: number; md5: string; crc32c: string }> {
  const md5 = createHash('md5');
  const crc = new CRC32C();
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    md5.update(chunk as Buffer);
    crc.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, md5: md5.digest('base64'), crc32c: crc.toString() };
}

/**
 * How serving_default takes images: 'b64' when its one DT_STRING input is decoded by DecodeBase64 in the
 * graph (send web-safe base64 text, as in the tutorial), 'bytes' when the string is the image file itself
 * (send {"b64": standard base64}), 'tensor' for other signatures (numbers, several inputs).
 */
export type InputFormat = 'b64' | 'bytes' | 'tensor';

export interface ServingInput {
  /** Input alias of serving_default ("inputs"); undefined for several inputs. */
  inputName?: string;
  /** TensorFlow dtype name of that input. */
  dtype?: string;
  format: InputFormat;
  outputs: string[];
}

export async function describeServingInput(dir: string): Promise<ServingInput> {
  const { savedModel } = await readSavedModel(dir);
  const metaGraph = getMetaGraph(savedModel, ['serve']);
  const signature = metaGraph.signature_def?.serving_default;
  if (!signature) {
    const keys = Object.keys(metaGraph.signature_def ?? {});
    throw new ModelDirError(`${dir} has no serving_default signature (it has ${keys.join(', ') || 'none'}); TF Serving and Vertex AI call serving_default`);
  }
  const inputs = Object.entries(signature.inputs ?? {});
  const outputs = Object.keys(signature.outputs ?? {});
  if (inputs.length !== 1) return { format: 'tensor', outputs };
  const [inputName, info] = inputs[0];
  const dtype = dataTypeName(info.dtype ?? DataType.DT_INVALID);
  if (info.dtype !== DataType.DT_STRING) return { inputName, dtype, format: 'tensor', outputs };
  return { inputName, dtype, format: usesOp(metaGraph.graph_def, 'DecodeBase64') ? 'b64' : 'bytes', outputs };
}

function usesOp(graph: GraphDef | undefined, op: string): boolean {
  if (graph?.node?.some((n) => n.op === op)) return true;
  return graph?.library?.function?.some((f) => f.node_def?.some((n) => n.op === op)) ?? false;
}
