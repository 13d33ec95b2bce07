// Small image SavedModels written at test time. writeImageShapeModel: serving_default takes one encoded
// image (a DT_STRING scalar, the bytes a {"b64": ...} carries) and returns the shape DecodeImage gives
// it, [height, width, 3]; its nodes follow TensorFlow's OpDefs for Placeholder, DecodeImage and Shape.
import { buildImageInputGraph } from '@tensorsky/export';
import { DataType, GraphBuilder, writeSavedModel, type NodeDef } from '@tensorsky/saved-model';

export async function writeImageShapeModel(dir: string): Promise<void> {
  const node: NodeDef[] = [
    { name: 'image_bytes', op: 'Placeholder', attr: { dtype: { type: DataType.DT_STRING }, shape: { shape: {} } } },
    {
      name: 'decoded',
      op: 'DecodeImage',
      input: ['image_bytes'],
      attr: { channels: { i: 3 }, dtype: { type: DataType.DT_UINT8 } },
    },
    {
      name: 'image_shape',
      op: 'Shape',
      input: ['decoded'],
      attr: { T: { type: DataType.DT_UINT8 }, out_type: { type: DataType.DT_INT32 } },
    },
  ];
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [
        {
          meta_info_def: { tags: ['serve'] },
          graph_def: { node, versions: { producer: 1645 } },
          signature_def: {
            serving_default: {
              inputs: { image_bytes: { name: 'image_bytes:0', dtype: DataType.DT_STRING, tensor_shape: {} } },
              outputs: { image_shape: { name: 'image_shape:0', dtype: DataType.DT_INT32, tensor_shape: { dim: [{ size: 3 }] } } },
              method_name: 'tensorflow/serving/predict',
            },
          },
        },
      ],
    },
  });
}

/**
 * An image batch SavedModel shaped like the tutorial's export, small: serving_default takes `inputs`
 * (DT_STRING [-1], image files) through the real serving input graph (DecodeImage and an 8x8 resize in
 * a while loop) and returns `outputs`, each image's mean colour [-1, 3] in [-1, 1].
 */
export async function writeImageBatchModel(dir: string): Promise<void> {
  const g = new GraphBuilder();
  const { input, images } = buildImageInputGraph(g, { inputFormat: 'bytes', height: 8, width: 8, preprocess: 'inception' });
  const outputs = g.mean(images, [1, 2], { name: 'mean_colour' });
  const signature = g.signature({ inputs: input }, { outputs });
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: g.toGraphDef(), signature_def: { serving_default: signature } }],
    },
  });
}
