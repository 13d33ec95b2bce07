// Keras 2 (tf.keras 2.x) model configs written out by hand, as model.to_json() emits them, plus
// deterministic weight values for them. Used for full-model .h5 files and TF.js layers-model folders.

type Json = Record<string, unknown>;

const glorot = { class_name: 'GlorotUniform', config: { seed: null } };
const zeros = { class_name: 'Zeros', config: {} };
const ones = { class_name: 'Ones', config: {} };
const noRegularizers = {
  kernel_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  bias_constraint: null,
};

function layer(className: string, name: string, config: Json, inbound: string[]): Json {
  return {
    class_name: className,
    config: { name, trainable: true, dtype: 'float32', ...config },
    name,
    inbound_nodes: inbound.length === 0 ? [] : [inbound.map((source) => [source, 0, 0, {}])],
  };
}

export const kerasLayer = {
  input: (name: string, shape: number[]): Json => ({
    class_name: 'InputLayer',
    config: { batch_input_shape: [null, ...shape], dtype: 'float32', sparse: false, ragged: false, name },
    name,
    inbound_nodes: [],
  }),
  conv2d: (name: string, from: string, filters: number, kernel: [number, number], o: { strides?: number; useBias?: boolean; activation?: string } = {}) =>
    layer('Conv2D', name, {
      filters,
      kernel_size: kernel,
      strides: [o.strides ?? 1, o.strides ?? 1],
      padding: 'same',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      groups: 1,
      activation: o.activation ?? 'linear',
      use_bias: o.useBias ?? true,
      kernel_initializer: glorot,
      bias_initializer: zeros,
      ...noRegularizers,
    }, [from]),
  depthwiseConv2d: (name: string, from: string) =>
    layer('DepthwiseConv2D', name, {
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: 'same',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      groups: 1,
      activation: 'linear',
      use_bias: false,
      bias_initializer: zeros,
      bias_regularizer: null,
      activity_regularizer: null,
      bias_constraint: null,
      depth_multiplier: 1,
      depthwise_initializer: glorot,
      depthwise_regularizer: null,
      depthwise_constraint: null,
    }, [from]),
  batchNorm: (name: string, from: string) =>
    layer('BatchNormalization', name, {
      axis: [3],
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
      beta_initializer: zeros,
      gamma_initializer: ones,
      moving_mean_initializer: zeros,
      moving_variance_initializer: ones,
      beta_regularizer: null,
      gamma_regularizer: null,
      beta_constraint: null,
      gamma_constraint: null,
    }, [from]),
  relu6: (name: string, from: string) =>
    layer('ReLU', name, { max_value: 6.0, negative_slope: 0.0, threshold: 0.0 }, [from]),
  activation: (name: string, from: string, activation: string) => layer('Activation', name, { activation }, [from]),
  add: (name: string, from: string[]) => layer('Add', name, {}, from),
  globalAveragePooling2d: (name: string, from: string) =>
    layer('GlobalAveragePooling2D', name, { data_format: 'channels_last', keepdims: false }, [from]),
  dropout: (name: string, from: string, rate: number) =>
    layer('Dropout', name, { rate, noise_shape: null, seed: null }, [from]),
  dense: (name: string, from: string, units: number, activation: string) =>
    layer('Dense', name, {
      units,
      activation,
      use_bias: true,
      kernel_initializer: glorot,
      bias_initializer: zeros,
      ...noRegularizers,
    }, [from]),
  lstm: (name: string, from: string) =>
    layer('LSTM', name, { units: 4, activation: 'tanh', recurrent_activation: 'sigmoid', return_sequences: false }, [from]),
};

export function functionalConfig(name: string, layers: Json[], input: string, output: string): Json {
  return {
    class_name: 'Functional',
    config: { name, layers, input_layers: [[input, 0, 0]], output_layers: [[output, 0, 0]] },
  };
}

/**
 * A small fine-tuned-style classifier (MobileNet-like block with a residual add, 3 classes):
 * input 32x32x3 -> conv 3x3/2 -> BN -> ReLU6 -> depthwise 3x3 -> BN -> relu -> conv 1x1 (+bias)
 * -> add(re_lu_1) -> GAP -> dropout -> dense softmax.
 */
export function smallClassifierConfig(): Json {
  const L = kerasLayer;
  return functionalConfig(
    'flowers_small',
    [
      L.input('input_1', [32, 32, 3]),
      L.conv2d('conv2d_1', 'input_1', 8, [3, 3], { strides: 2, useBias: false }),
      L.batchNorm('batch_normalization_1', 'conv2d_1'),
      L.relu6('re_lu_1', 'batch_normalization_1'),
      L.depthwiseConv2d('depthwise_conv2d_1', 're_lu_1'),
      L.batchNorm('batch_normalization_2', 'depthwise_conv2d_1'),
      L.activation('activation_1', 'batch_normalization_2', 'relu'),
      L.conv2d('conv2d_2', 'activation_1', 8, [1, 1]),
      L.add('add_1', ['conv2d_2', 're_lu_1']),
      L.globalAveragePooling2d('global_average_pooling2d_1', 'add_1'),
      L.dropout('dropout_1', 'global_average_pooling2d_1', 0.2),
      L.dense('dense_1', 'dropout_1', 3, 'softmax'),
    ],
    'input_1',
    'dense_1',
  );
}

export interface NamedWeight {
  layer: string;
  /** Keras weight role: kernel, bias, gamma, beta, moving_mean, moving_variance, depthwise_kernel. */
  role: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Weights of smallClassifierConfig() in Keras's order (layers with weights in model.layers order,
 * each layer's weights trainable first). Values are deterministic and distinct per tensor; variances
 * are positive.
 */
export function smallClassifierWeights(): NamedWeight[] {
  const spec: [string, string, number[]][] = [
    ['conv2d_1', 'kernel', [3, 3, 3, 8]],
    ['batch_normalization_1', 'gamma', [8]],
    ['batch_normalization_1', 'beta', [8]],
    ['batch_normalization_1', 'moving_mean', [8]],
    ['batch_normalization_1', 'moving_variance', [8]],
    ['depthwise_conv2d_1', 'depthwise_kernel', [3, 3, 8, 1]],
    ['batch_normalization_2', 'gamma', [8]],
    ['batch_normalization_2', 'beta', [8]],
    ['batch_normalization_2', 'moving_mean', [8]],
    ['batch_normalization_2', 'moving_variance', [8]],
    ['conv2d_2', 'kernel', [1, 1, 8, 8]],
    ['conv2d_2', 'bias', [8]],
    ['dense_1', 'kernel', [8, 3]],
    ['dense_1', 'bias', [3]],
  ];
  return spec.map(([layerName, role, shape], t) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      // A smooth, tensor-specific pattern in about [-1, 1]; variances stay in [0.5, 1.5].
      const v = Math.sin(0.7 * i + 1.3 * t + 0.1);
      data[i] = role === 'moving_variance' ? 1 + 0.5 * v : v;
    }
    return { layer: layerName, role, shape, data };
  });
}

/** The layers of a Keras file for weights given in Keras order (weightless layers included). */
export function h5LayersFor(layerNames: string[], weights: NamedWeight[]) {
  return layerNames.map((name) => ({
    name,
    weights: weights
      .filter((w) => w.layer === name)
      .map((w) => ({ name: `${name}/${w.role}:0`, shape: w.shape, data: w.data })),
  }));
}

export function configLayerNames(config: Json): string[] {
  return ((config.config as Json).layers as Json[]).map((l) => (l.config as Json).name as string);
}
