// Request bodies for image models, built from what the serving signature expects, and split into
// requests that stay under the online prediction payload limit (Vertex AI: 1.5 MB per request).
import { imageValue, type ImageEncoding } from '@tensorsky/saved-model';

/** Vertex AI's online prediction request limit (and tensorsky serve's default --max_request_bytes). */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** The exporter's (and the tutorial's) input name. */
export const DEFAULT_INPUT_NAME = 'inputs';

export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
}

export interface ImageInstance {
  /** Where the image came from, for messages. */
  source: string;
  bytes: Uint8Array;
}

/** One row-format instance: {"inputs": "<web-safe base64>"} or {"inputs": {"b64": "<base64>"}}. */
export function imageInstance(bytes: Uint8Array, format: ImageEncoding, inputName = DEFAULT_INPUT_NAME): Record<string, unknown> {
  return { [inputName]: imageValue(bytes, format) };
}

/** Bytes of `{"instances":[...]}` as JSON.stringify writes it. */
function requestBytes(instanceBytes: number[]): number {
  const envelope = Buffer.byteLength('{"instances":[]}');
  return envelope + instanceBytes.reduce((sum, n) => sum + n, 0) + Math.max(0, instanceBytes.length - 1);
}

/**
 * Groups instances into requests of at most `maxRequestBytes` (JSON body size) and at most
 * `maxInstances` each, in order. An instance too large for a request of its own is an error naming it.
 */
export function splitIntoRequests<T extends { source: string; instance: unknown }>(
  items: readonly T[],
  options: { maxRequestBytes?: number; maxInstances?: number } = {},
): T[][] {
  const limit = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const maxInstances = options.maxInstances ?? Infinity;
  const batches: T[][] = [];
  let current: T[] = [];
  let sizes: number[] = [];
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item.instance));
    if (requestBytes([size]) > limit) {
      throw new PayloadTooLargeError(
        `${item.source} makes a ${formatMB(requestBytes([size]))} request (base64 adds a third to the file's size), over the ${formatMB(limit)} limit of one online prediction; resize or recompress it (e.g. a JPEG of at most 1024 px) and try again`,
      );
    }
    if (current.length > 0 && (requestBytes([...sizes, size]) > limit || current.length >= maxInstances)) {
      batches.push(current);
      current = [];
      sizes = [];
    }
    current.push(item);
    sizes.push(size);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function formatMB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(2)} MB`;
}
