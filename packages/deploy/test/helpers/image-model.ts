// A small image classifier SavedModel written at test time, shaped like the tutorial's export:
// serving_default takes `inputs` (DT_STRING [-1]: web-safe base64 image files, or the files themselves)
// and returns `outputs` (DT_FLOAT [-1, 1000], softmax over ImageNet's classes). The network is a fixed
// linear layer over each image's mean colour, behind the real serving input graph (DecodeBase64,
// DecodeImage, ResizeBilinear in a while loop), so predictions depend on the image and are cheap to run.
import { buildImageInputGraph } from '@tensorsky/export';
import { GraphBuilder, validateGraph, writeSavedModel, type ImageEncoding } from '@tensorsky/saved-model';

export const IMAGE_MODEL_CLASSES = 1000;

export async function writeImageClassifier(dir: string, inputFormat: ImageEncoding = 'b64', seed = 1): Promise<void> {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, { inputFormat, height: 24, width: 24, preprocess: 'inception' });
  const meanColour = g.mean(images, [1, 2], { name: 'head/mean_colour' });
  const weights = new Float32Array(3 * IMAGE_MODEL_CLASSES);
  const bias = new Float32Array(IMAGE_MODEL_CLASSES);
  for (let k = 0; k < IMAGE_MODEL_CLASSES; k++) {
    for (let c = 0; c < 3; c++) weights[c * IMAGE_MODEL_CLASSES + k] = 6 * Math.sin(0.37 * k * seed + 1.3 * c + seed);
    bias[k] = Math.cos(0.11 * k + seed);
  }
  const logits = g.add(
    g.matMul(meanColour, g.constant('head/kernel', weights, [3, IMAGE_MODEL_CLASSES]), { name: 'head/matmul' }),
    g.constant('head/bias', bias, [IMAGE_MODEL_CLASSES]),
    { name: 'head/logits' },
  );
  const outputs = g.softmax(logits, { name: 'head/probabilities' });
  const graphDef = g.toGraphDef();
  const signature = g.signature({ inputs: input }, { outputs });
  const issues = validateGraph(graphDef, undefined, { signatures: { serving_default: signature } }).issues;
  if (issues.length > 0) throw new Error(`test image model is not a valid TensorFlow graph: ${issues.map((i) => i.message).join('; ')}`);
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: graphDef, signature_def: { serving_default: signature } }],
    },
  });
}
