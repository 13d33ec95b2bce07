// Deterministic random weights for `--weights random --seed N`.
//
// The point is a model whose outputs behave like a trained classifier's, so fidelity checks mean
// something: each photo gets a clearly peaked softmax, and different photos get different classes.
// - Conv and dense kernels are He-normal, made zero-sum per output unit. ReLU outputs share a large
//   positive mean; plain random kernels turn it into a per-channel constant that grows with depth until
//   every image maps to nearly the same feature vector. Zero-sum kernels cancel it (gain adjusted).
// - Batch-norm layers get non-trivial statistics, so a BN fold that swaps mean and variance or drops
//   epsilon changes the outputs.
// - A softmax classifier on top is calibrated on a few seeded synthetic images: its kernel is divided
//   by the per-feature spread and its bias removes the feature mean, then scaled to a logit std of 3.
//   Without this, the image-independent part of the random features picks the same top-1 class for
//   every photo. Calibration runs the model, so values agree across TF.js backends to float rounding.
//   The calibration images go through the model's preprocessing (a ResNet50 sees BGR minus means, an
//   EfficientNet raw [0, 255]), so the logits are calibrated for what photos will give.
import * as tf from '@tensorflow/tfjs';
import { preprocessImagesReference, type PreprocessMode } from '@tensorsky/preprocess';

/** He gain for zero-sum kernels: ReLU of N(0, s^2) has variance s^2 (1/2 - 1/(2 pi)), not s^2 / 2. */
const RELU_GAIN = Math.sqrt(2 / (1 - 1 / Math.PI));

/** Classifier logit standard deviation on the calibration images (top-1 probabilities ~0.15-0.99 on photos). */
const CLASSIFIER_LOGIT_STD = 3;
const CALIBRATION_IMAGES = 6;
/** Added to each feature's spread, as a fraction of the mean spread: keeps near-constant features from blowing up. */
const SPREAD_FLOOR = 0.25;

/**
 * Sets every weight of `model` from a PRNG seeded with `seed` (an integer), then calibrates a final
 * softmax Dense layer (see above). Each weight tensor gets its own stream derived from the seed and the
 * weight's name, so a layer's values do not depend on which other layers the model has.
 */
export async function randomWeights(model: tf.LayersModel, seed: number, preprocess: PreprocessMode = 'inception'): Promise<void> {
  if (!Number.isSafeInteger(seed)) {
    throw new RandomWeightsError(`--seed must be an integer, got ${seed}`);
  }
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    const values = weights.map((weight) => {
      // originalName ('conv2d_1/kernel') is stable; weight.name gets a per-process uniquifying suffix.
      const name = weight.originalName;
      const role = name.slice(name.lastIndexOf('/') + 1);
      const shape = weight.shape as number[];
      return tf.tensor(sampleWeight(role, shape, new SeededRandom(seed, name)), shape, 'float32');
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
  await calibrateClassifier(model, seed, preprocess);
}

function sampleWeight(role: string, shape: number[], rng: SeededRandom): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const fill = (sample: () => number) => {
    for (let i = 0; i < size; i++) out[i] = sample();
  };
  switch (role) {
    case 'kernel':
    case 'depthwise_kernel':
    case 'pointwise_kernel': {
      // fan_in of a [kh, kw, in, out] conv kernel is kh*kw*in; of a [kh, kw, in, mult] depthwise
      // kernel kh*kw; of a [in, out] dense kernel in.
      const fanIn = role === 'depthwise_kernel' ? shape[0] * shape[1] : size / shape[shape.length - 1];
      const std = RELU_GAIN / Math.sqrt(fanIn);
      fill(() => std * rng.normal());
      centerOverFanIn(out, fanIn, shape[shape.length - 1], std);
      break;
    }
    case 'gamma':
      fill(() => 0.8 + 0.4 * rng.uniform());
      break;
    case 'beta':
    case 'bias':
    case 'moving_mean':
      fill(() => 0.1 * rng.normal());
      break;
    case 'moving_variance':
    case 'variance':
      fill(() => 0.5 + rng.uniform());
      break;
    case 'mean':
      fill(() => 0.1 * rng.normal());
      break;
    case 'count':
      fill(() => 1000);
      break;
    default:
      fill(() => 0.05 * rng.normal());
  }
  return out;
}

/** Rescales a final softmax Dense layer so its logits vary with image content (see the file comment). */
async function calibrateClassifier(model: tf.LayersModel, seed: number, preprocess: PreprocessMode): Promise<void> {
  const classifier = model.layers[model.layers.length - 1];
  const inputShape = model.inputs[0].shape;
  const [, height, width, channels] = inputShape;
  const config = classifier.getConfig();
  if (
    model.inputs.length !== 1 ||
    classifier.getClassName() !== 'Dense' ||
    config.activation !== 'softmax' ||
    inputShape.length !== 4 ||
    !height || !width || !channels
  ) {
    return;
  }
  const features = tf.model({ inputs: model.inputs, outputs: classifier.input as tf.SymbolicTensor });
  const rng = new SeededRandom(seed, 'calibration images');
  const rows: tf.Tensor[] = [];
  for (let i = 0; i < CALIBRATION_IMAGES; i++) {
    // Synthetic images are drawn in the [-1, 1] space of 'inception' preprocessing; for any other, as pixels.
    const synthetic = syntheticImage(rng, height, width, channels);
    const image =
      preprocess === 'inception'
        ? tf.tensor(synthetic, [1, height, width, channels])
        : preprocessImagesReference(tf, [{ data: Uint8Array.from(synthetic, (v) => Math.round((v + 1) * 127.5)), height, width, channels }], {
            height,
            width,
            preprocess,
            channels: channels as 1 | 3,
          });
    rows.push(features.predict(image) as tf.Tensor);
    image.dispose();
  }
  const [kernel, bias] = classifier.getWeights();
  const [newKernel, newBias] = tf.tidy(() => {
    const f = tf.concat(rows).reshape([CALIBRATION_IMAGES, -1]);
    const mean = f.mean(0);
    const spread = f.sub(mean).square().mean(0).sqrt();
    const scaled = kernel.div(spread.add(spread.mean().mul(SPREAD_FLOOR)).reshape([-1, 1]));
    const centeredBias = tf.matMul(mean.reshape([1, -1]), scaled).reshape([-1]).neg();
    const logits = tf.matMul(f, scaled).add(centeredBias);
    const logitStd = logits.sub(logits.mean(1, true)).square().mean().sqrt();
    const gain = tf.scalar(CLASSIFIER_LOGIT_STD).div(logitStd);
    const weights = [scaled.mul(gain)];
    if (bias) weights.push(centeredBias.mul(gain));
    return weights;
  });
  classifier.setWeights(newBias ? [newKernel, newBias] : [newKernel]);
  // getWeights() returned the variables' own tensors: those must not be disposed here.
  tf.dispose([...rows, newKernel, newBias]);
}

/**
 * A smooth, photo-like image in [-1, 1] (the InceptionV3 input range): a random base colour plus six
 * random oriented sinusoids with per-channel amplitudes.
 */
function syntheticImage(rng: SeededRandom, height: number, width: number, channels: number): Float32Array {
  const base = Array.from({ length: channels }, () => 0.4 * rng.normal());
  const waves = Array.from({ length: 6 }, () => ({
    fx: (rng.uniform() - 0.5) * 0.2,
    fy: (rng.uniform() - 0.5) * 0.2,
    phase: rng.uniform() * 2 * Math.PI,
    amplitude: Array.from({ length: channels }, () => 0.25 * rng.normal()),
  }));
  const out = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sines = waves.map((w) => Math.sin(w.fx * x + w.fy * y + w.phase));
      for (let c = 0; c < channels; c++) {
        let v = base[c];
        for (let k = 0; k < waves.length; k++) v += waves[k].amplitude[c] * sines[k];
        out[(y * width + x) * channels + c] = Math.max(-1, Math.min(1, v));
      }
    }
  }
  return out;
}

/**
 * Makes each output unit's kernel sum to zero over its fan-in, then restores the standard deviation.
 * Inputs after ReLU share a large positive mean; a zero-sum kernel cancels it, so outputs respond to
 * image content instead of collapsing to the same vector for every image. Layout: fan-in outer,
 * outputs innermost ([kh, kw, in, out] / [in, out]); depthwise kernels center per channel alike.
 */
function centerOverFanIn(values: Float32Array, fanIn: number, units: number, std: number): void {
  const groups = values.length / (fanIn * units); // >1 only for depthwise [kh, kw, in, mult]
  for (let g = 0; g < groups; g++) {
    for (let unit = 0; unit < units; unit++) {
      let sum = 0;
      for (let i = 0; i < fanIn; i++) sum += values[index(g, i, unit)];
      const mean = sum / fanIn;
      let sq = 0;
      for (let i = 0; i < fanIn; i++) {
        const v = values[index(g, i, unit)] - mean;
        sq += v * v;
      }
      const scale = fanIn > 1 && sq > 0 ? std / Math.sqrt(sq / fanIn) : 1;
      for (let i = 0; i < fanIn; i++) {
        const k = index(g, i, unit);
        values[k] = fanIn > 1 ? (values[k] - mean) * scale : values[k];
      }
    }
  }
  function index(group: number, i: number, unit: number): number {
    return (i * groups + group) * units + unit;
  }
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 32-bit), seeded from (seed, stream name)
 * through a murmur3-style string hash. Not cryptographic; reproducible across platforms.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  constructor(seed: number, stream = '') {
    const h = hashString(stream, seed);
    this.a = h[0];
    this.b = h[1];
    this.c = h[2];
    this.d = h[3];
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const u = 1 - this.uniform(); // (0, 1]: log(u) is finite
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Four 32-bit words from a string and a numeric seed (cyrb128-style mixing). */
function hashString(text: string, seed: number): [number, number, number, number] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h1 = 1779033703 ^ lo;
  let h2 = 3144134277 ^ hi;
  let h3 = 1013904242 ^ lo;
  let h4 = 2773480762 ^ hi;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class RandomWeightsError extends Error {
  override name = 'RandomWeightsError';
}
