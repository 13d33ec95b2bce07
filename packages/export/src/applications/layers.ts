// What the Keras application builders share: their options, argument checks, Keras 2.0's automatic
// layer names, and a typed `apply` (TF.js's Layer.apply returns a union).
import * as tf from '@tensorflow/tfjs';

export interface ApplicationOptions {
  /** Number of output classes of the 'predictions' layer (default 1000, the ImageNet classes). */
  classes?: number;
  /** Input shape [height, width, 3] (default: the application's ImageNet size). */
  inputShape?: [number, number, number];
  /** Add the global average pooling + softmax Dense 'predictions' head. Default true. */
  includeTop?: boolean;
}

export function applyLayer(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(x) as tf.SymbolicTensor;
}

/** Keras's own checks (imagenet_utils.obtain_input_shape): 3 channels, at least `minSize` pixels a side. */
export function checkApplicationOptions(application: string, inputShape: [number, number, number], classes: number, minSize: number): void {
  const [height, width, channels] = inputShape;
  if (channels !== 3 || height < minSize || width < minSize) {
    throw new ApplicationError(
      `${application} input shape must be [height, width, 3] with height and width >= ${minSize}, got [${inputShape.join(', ')}]`,
    );
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new ApplicationError(`${application} classes must be a positive integer, got ${classes}`);
  }
}

/** Keras 2.0 auto-names layers `<snake_class>_<n>` with one counter per class, starting at 1. */
export class KerasNamer {
  private readonly counters = new Map<string, number>();
  next(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}_${n}`;
  }
}

export class ApplicationError extends Error {
  override name = 'ApplicationError';
}
