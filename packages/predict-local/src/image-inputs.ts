// The images of a request, for what the engines cannot say: the inputs that reach an image decoder are
// read as the signature wants them (web-safe base64 or the file's bytes); their headers are checked
// against the limits before any engine runs (count, pixels per image and in total), and when a decoder
// fails inside a batch, the instance that fails alone is named. Whatever the engine.
import { ImageInputError, checkRequestImages, classifyImageFormat, decodePixels, type ImageLimits } from '@tensorsky/image';
import { Base64Error, decodeBase64WebSafe } from '@tensorsky/saved-model';
import { PredictLocalError } from './errors.js';
import { isFlatTensor, type InputValue } from './io.js';
import { OpError } from './kernels/index.js';
import type { TensorInfoSummary } from './local-model.js';
import * as tf from './tf.js';

/** The images of one input, as its decoder gets them, and how a message names image i. */
export interface InputImages {
  bytes: Uint8Array[];
  name: (index: number) => string;
}

/** The images of the inputs that reach a decoder; PredictLocalError names an instance that is not base64. */
export async function readImageInputs(inputs: Record<string, InputValue>, specs: readonly TensorInfoSummary[]): Promise<InputImages[]> {
  const found: InputImages[] = [];
  for (const spec of specs) {
    if (!spec.encoding || !Object.hasOwn(inputs, spec.name)) continue;
    const { values, batched } = await stringElements(inputs[spec.name]);
    const name = (i: number) => (batched ? `instance ${i}` : 'the image') + (specs.length > 1 ? ` of input '${spec.name}'` : '');
    const bytes = values.map((value, i) => {
      if (spec.encoding !== 'b64') return value;
      try {
        return decodeBase64WebSafe(value);
      } catch (err) {
        if (err instanceof Base64Error) throw new PredictLocalError(`${name(i)} is not web-safe base64 text (${err.message})`);
        throw err;
      }
    });
    found.push({ bytes, name });
  }
  return found;
}

/** Throws PredictLocalError naming the instance when the images exceed `limits`. */
export function checkImageLimits(images: readonly InputImages[], limits: ImageLimits): void {
  for (const { bytes, name } of images) {
    try {
      checkRequestImages(bytes, limits, name);
    } catch (err) {
      if (err instanceof ImageInputError) throw new PredictLocalError(err.message);
      throw err;
    }
  }
}

/**
 * A decode op's error (OpError) for a batch says nothing of which image it was: decodes the images one
 * by one (their headers passed the limits) and returns the error naming the first that fails, else `err`.
 */
export async function blameInstance(images: readonly InputImages[], limits: ImageLimits, err: unknown): Promise<unknown> {
  if (!(err instanceof OpError) || images.every((input) => input.bytes.length < 2)) return err;
  for (const { bytes, name } of images) {
    for (const [i, image] of bytes.entries()) {
      const format = classifyImageFormat(image);
      if (!format) continue;
      try {
        await decodePixels(image, format, { maxPixels: limits.maxImagePixels });
      } catch (cause) {
        if (cause instanceof ImageInputError) return new OpError(`${name(i)}: ${err.message}`);
        throw cause;
      }
    }
  }
  return err;
}

/** The elements of a string input in order, and whether it is a batch (not a scalar). */
async function stringElements(value: InputValue): Promise<{ values: Uint8Array[]; batched: boolean }> {
  const bytes = (v: unknown): Uint8Array => (typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array));
  if (value instanceof tf.Tensor) return { values: value.dtype === 'string' ? ((await value.bytes()) as Uint8Array[]) : [], batched: value.rank > 0 };
  if (typeof value === 'string' || value instanceof Uint8Array) return { values: [bytes(value)], batched: false };
  if (isFlatTensor(value)) {
    const strings = Array.from(value.values as ArrayLike<unknown>).filter((v) => typeof v === 'string' || v instanceof Uint8Array);
    return { values: strings.map(bytes), batched: value.shape.length > 0 };
  }
  const values: Uint8Array[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'string' || v instanceof Uint8Array) values.push(bytes(v));
  };
  walk(value);
  return { values, batched: true };
}
