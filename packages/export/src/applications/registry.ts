// The built-in Keras applications (`--model inception_v3|mobilenet_v2|resnet50|xception|efficientnet_b0`): for each, its
// builder, Keras's default input size and preprocess_input mode, the ImageNet weights file Keras
// downloads (URL, md5 as Keras's get_file checks it, cache file name) and Keras's parameter count.
import type * as tf from '@tensorflow/tfjs';
import type { PreprocessMode } from '@tensorsky/preprocess';
import { buildEfficientNetB0, EFFICIENTNET_B0_INPUT_SHAPE } from './efficientnet-b0.js';
import { buildInceptionV3, INCEPTION_V3_INPUT_SHAPE } from './inception-v3.js';
import type { ApplicationOptions } from './layers.js';
import { buildMobileNetV2, MOBILENET_V2_INPUT_SHAPE } from './mobilenet-v2.js';
import { buildResNet50, RESNET50_INPUT_SHAPE } from './resnet50.js';
import { buildXception, XCEPTION_INPUT_SHAPE } from './xception.js';

const KERAS_APPLICATIONS_URL = 'https://storage.googleapis.com/tensorflow/keras-applications';

export interface ImagenetWeightsFile {
  url: string;
  /** md5 of the file as keras.applications passes it to get_file; null where Keras publishes none. */
  md5: string | null;
  fileName: string;
}

export interface KerasApplication {
  /** Keras's class name, for messages: 'InceptionV3'. */
  title: string;
  build(options?: ApplicationOptions): tf.LayersModel;
  inputShape: [number, number, number];
  /** keras.applications.<module>.preprocess_input. */
  preprocess: PreprocessMode;
  /** The include_top ImageNet weights. */
  imagenet: ImagenetWeightsFile;
  /** Total parameters of the 1000-class model, as Keras's model.summary() prints them. */
  params: number;
}

export const KERAS_APPLICATIONS = {
  inception_v3: {
    title: 'InceptionV3',
    build: buildInceptionV3,
    inputShape: INCEPTION_V3_INPUT_SHAPE,
    preprocess: 'inception',
    imagenet: {
      url: `${KERAS_APPLICATIONS_URL}/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5`,
      md5: '9a0d58056eeedaa3f26cb7ebd46da564',
      fileName: 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5',
    },
    params: 23_851_784,
  },
  mobilenet_v2: {
    title: 'MobileNetV2',
    build: buildMobileNetV2,
    inputShape: MOBILENET_V2_INPUT_SHAPE,
    preprocess: 'inception',
    imagenet: {
      url: `${KERAS_APPLICATIONS_URL}/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`,
      // keras.applications.mobilenet_v2 calls get_file without a file_hash.
      md5: null,
      fileName: 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5',
    },
    params: 3_538_984,
  },
  resnet50: {
    title: 'ResNet50',
    build: buildResNet50,
    inputShape: RESNET50_INPUT_SHAPE,
    preprocess: 'caffe',
    imagenet: {
      url: `${KERAS_APPLICATIONS_URL}/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5`,
      md5: '2cb95161c43110f7111970584f804107',
      fileName: 'resnet50_weights_tf_dim_ordering_tf_kernels.h5',
    },
    params: 25_636_712,
  },
  xception: {
    title: 'Xception',
    build: buildXception,
    inputShape: XCEPTION_INPUT_SHAPE,
    preprocess: 'inception',
    imagenet: {
      url: `${KERAS_APPLICATIONS_URL}/xception/xception_weights_tf_dim_ordering_tf_kernels.h5`,
      md5: '0a58e3b7378bc2990ea3b43d5981f1f6',
      fileName: 'xception_weights_tf_dim_ordering_tf_kernels.h5',
    },
    params: 22_910_480,
  },
  efficientnet_b0: {
    title: 'EfficientNetB0',
    build: buildEfficientNetB0,
    inputShape: EFFICIENTNET_B0_INPUT_SHAPE,
    // Its Rescaling and Normalization layers scale the [0, 255] pixels; preprocess_input is the identity.
    preprocess: 'none',
    imagenet: {
      url: 'https://storage.googleapis.com/keras-applications/efficientnetb0.h5',
      md5: '902e53a9f72be733fc0bcb005b3ebbac',
      fileName: 'efficientnetb0.h5',
    },
    params: 5_330_571,
  },
} as const satisfies Record<string, KerasApplication>;

export type ApplicationName = keyof typeof KERAS_APPLICATIONS;

export const APPLICATION_NAMES = Object.keys(KERAS_APPLICATIONS) as ApplicationName[];

export function isApplicationName(name: string): name is ApplicationName {
  return Object.hasOwn(KERAS_APPLICATIONS, name);
}
