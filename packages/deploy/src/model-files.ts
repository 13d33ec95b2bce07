// The local side of a deployment: the files of a SavedModel directory with the checksums Cloud Storage
// keeps (MD5 and CRC32C, base64), and what its serving signature expects, so clients can build requests.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { DEFAULT_SIGNATURE, describeSignature, getMetaGraph, imageInput, readSavedModel, signatureKeys, type ImageEncoding } from '@tensorsky/saved-model';

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

/** Size and the checksums Cloud Storage keeps (base64 MD5 and CRC32C) of a local file. */
export async function checksums(file: string): Promise<{ size: number; md5: string; crc32c: string }> {
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
 * How serving_default takes images (saved-model's one rule, ImageEncoding), or 'tensor' for a signature
 * that does not take one encoded image (numbers, text, several inputs). Recorded on the model version.
 */
export type InputFormat = ImageEncoding | 'tensor';

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
  if (!signatureKeys(metaGraph).includes(DEFAULT_SIGNATURE)) {
    throw new ModelDirError(`${dir} has no serving_default signature (it has ${signatureKeys(metaGraph).join(', ') || 'none'}); TF Serving and Vertex AI call serving_default`);
  }
  const { inputs, outputs } = describeSignature(metaGraph, DEFAULT_SIGNATURE);
  const aliases = outputs.map((o) => o.alias);
  if (inputs.length !== 1) return { format: 'tensor', outputs: aliases };
  const [input] = inputs;
  return { inputName: input.alias, dtype: input.dtype, format: imageInput(inputs)?.encoding ?? 'tensor', outputs: aliases };
}
