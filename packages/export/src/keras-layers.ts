// Keras layers that TF.js does not have, registered with TF.js's serialization so that Keras configs
// naming them load (Keras .h5 and .keras files, TF.js layers-models) and the built-in applications can
// use them. Each computes what Keras computes, and the converter emits the same arithmetic as TF ops.
import * as tf from '@tensorflow/tfjs';

/** Keras's backend.epsilon(), which Normalization divides by at least. */
export const KERAS_EPSILON = 1e-7;

interface NormalizationArgs {
  name?: string;
  axis?: number | number[] | null;
  mean?: number | number[] | null;
  variance?: number | number[] | null;
  invert?: boolean;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
  dtype?: tf.DataType;
  trainable?: boolean;
}

/**
 * keras.layers.Normalization over the last axis: (x - mean) / max(sqrt(variance), epsilon). Its mean and
 * variance are the layer's (non-trainable) weights mean, variance and count, as adapt() sets them and
 * .h5/.keras files store them, or constants from its config.
 */
export class KerasNormalization extends tf.layers.Layer {
  static className = 'Normalization';
  private readonly axis: number | number[] | null;
  private readonly configMean: number | number[] | null;
  private readonly configVariance: number | number[] | null;
  private meanWeight?: tf.LayerVariable;
  private varianceWeight?: tf.LayerVariable;

  constructor(args: NormalizationArgs) {
    super(args);
    if (args.invert) throw new Error(`Normalization layer '${args.name ?? ''}' has invert=True; only the forward normalization is supported`);
    this.axis = args.axis ?? -1;
    this.configMean = args.mean ?? null;
    this.configVariance = args.variance ?? null;
    if ((this.configMean === null) !== (this.configVariance === null)) {
      throw new Error(`Normalization layer '${args.name ?? ''}' sets only one of mean and variance`);
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const axes = Array.isArray(this.axis) ? this.axis : [this.axis];
    if (axes.length !== 1 || (axes[0] !== -1 && axes[0] !== shape.length - 1)) {
      throw new Error(`Normalization layer '${this.name}' normalizes axis ${JSON.stringify(this.axis)}; only the last axis is supported`);
    }
    if (this.configMean === null) {
      const channels = shape[shape.length - 1] as number;
      // Keras adds mean, variance, count (count is int64 in Keras; only the first two are used).
      this.meanWeight = this.addWeight('mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
      this.varianceWeight = this.addWeight('variance', [channels], 'float32', tf.initializers.ones(), undefined, false);
      this.addWeight('count', [], 'float32', tf.initializers.zeros(), undefined, false);
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const mean = this.meanWeight ? this.meanWeight.read() : tf.tensor(this.configMean!);
      const variance = this.varianceWeight ? this.varianceWeight.read() : tf.tensor(this.configVariance!);
      return tf.div(tf.sub(x, mean), tf.maximum(tf.sqrt(variance), KERAS_EPSILON));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis, mean: this.configMean, variance: this.configVariance };
  }
}

tf.serialization.registerClass(KerasNormalization);

// Keras 3 activations TF.js lacks, under the names Keras 3 writes into configs (keras/src/activations/
// __init__.py: ALL_OBJECTS_DICT, with 'hard_swish' an alias of hard_silu that normalizeKerasConfig maps)
// as TF.js camel-cases them when it reads a config ('hard_silu' → 'hardSilu'). Formulas of Keras 3's
// TensorFlow backend (keras/src/backend/tensorflow/nn.py).

/** hard_silu(x) = x * hard_sigmoid(x), Keras 3's hard_sigmoid(x) = relu6(x + 3) / 6. */
export class KerasHardSilu extends tf.serialization.Serializable {
  static className = 'hardSilu';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)));
  }
  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

/** The leaky_relu activation (not the LeakyReLU layer): tf.nn.leaky_relu(x, alpha=0.2), Keras 3's fixed negative_slope. */
export class KerasLeakyRelu extends tf.serialization.Serializable {
  static className = 'leakyRelu';
  static readonly negativeSlope = 0.2;
  apply(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, KerasLeakyRelu.negativeSlope);
  }
  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

tf.serialization.registerClass(KerasHardSilu);
tf.serialization.registerClass(KerasLeakyRelu);
