// Kernels for the TensorFlow ops tfjs-converter lacks (and for Cast and ResizeNearestNeighbor, which it
// computes differently), one family per file, registered with tfjs-converter from this list.
import * as tf from '../tf.js';
import { BASE64_KERNELS } from './base64.js';
import { CAST_KERNEL } from './cast.js';
import { DECODE_IMAGE_KERNELS } from './decode-kernels.js';
import { STRING_KERNELS } from './strings.js';
import type { Kernel } from './kernel.js';
import { PARSE_EXAMPLE_KERNELS } from './parse-example.js';
import { RESIZE_KERNELS } from './resize.js';

export { OpError } from './kernel.js';
export { withDecodeLimits } from './decode-image.js';

const KERNELS: readonly Kernel[] = [...BASE64_KERNELS, CAST_KERNEL, ...DECODE_IMAGE_KERNELS, ...PARSE_EXAMPLE_KERNELS, ...RESIZE_KERNELS, ...STRING_KERNELS];

/** Ops executed by our kernels. */
export const CUSTOM_OPS: ReadonlySet<string> = new Set(KERNELS.map((k) => k.op));

/** The kernels by op, for running a node outside tfjs-converter (engines/image-front.ts). */
export const CUSTOM_KERNELS: ReadonlyMap<string, Kernel> = new Map(KERNELS.map((k) => [k.op, k]));

/** Those of them whose kernels are async (they read string bytes, or decode with sharp). */
export const ASYNC_CUSTOM_OPS: ReadonlySet<string> = new Set(KERNELS.filter((k) => k.async).map((k) => k.op));

let registered = false;

/** Registers the kernels with tfjs-converter; must run before a graph using them is loaded. */
export function registerCustomOps(): void {
  if (registered) return;
  registered = true;
  for (const kernel of KERNELS) tf.registerOp(kernel.op, kernel.run);
}
