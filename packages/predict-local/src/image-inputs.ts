// The image limits of a request, checked before any engine runs: the inputs that reach an image decoder
// are read as the signature wants them (web-safe base64 or the file's bytes) and their headers checked
// together (count, pixels per image and in total), so a refusal names the instance, whatever the engine.
import { ImageInputError, checkRequestImages, type ImageLimits } from '@tensorsky/image';
import { Base64Error, decodeBase64WebSafe } from '@tensorsky/saved-model';
import { PredictLocalError } from './errors.js';
import type { InputValue } from './io.js';
import type { TensorInfoSummary } from './local-model.js';
import * as tf from './tf.js';

/** Throws PredictLocalError naming the instance when the images of `inputs` exceed `limits`. */
export async function checkImageInputs(inputs: Record<string, InputValue>, specs: readonly TensorInfoSummary[], limits: ImageLimits): Promise<void> {
  for (const spec of specs) {
    if (!spec.encoding || !Object.hasOwn(inputs, spec.name)) continue;
    const { values, batched } = await stringElements(inputs[spec.name]);
    const name = (i: number) => (batched ? `instance ${i}` : 'the image') + (specs.length > 1 ? ` of input '${spec.name}'` : '');
    const images = values.map((value, i) => {
      if (spec.encoding !== 'b64') return value;
      try {
        return decodeBase64WebSafe(value);
      } catch (err) {
        if (err instanceof Base64Error) throw new PredictLocalError(`${name(i)} is not web-safe base64 text (${err.message})`);
        throw err;
      }
    });
    try {
      checkRequestImages(images, limits, name);
    } catch (err) {
      if (err instanceof ImageInputError) throw new PredictLocalError(err.message);
      throw err;
    }
  }
}

/** The elements of a string input in order, and whether it is a batch (not a scalar). */
async function stringElements(value: InputValue): Promise<{ values: Uint8Array[]; batched: boolean }> {
  const bytes = (v: unknown): Uint8Array => (typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array));
  if (value instanceof tf.Tensor) return { values: value.dtype === 'string' ? ((await value.bytes()) as Uint8Array[]) : [], batched: value.rank > 0 };
  if (typeof value === 'string' || value instanceof Uint8Array) return { values: [bytes(value)], batched: false };
  const values: Uint8Array[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'string' || v instanceof Uint8Array) values.push(bytes(v));
  };
  walk(value);
  return { values, batched: true };
}
