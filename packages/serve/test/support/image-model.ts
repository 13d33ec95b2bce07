// A small image SavedModel written at test time: serving_default takes one encoded image (a DT_STRING
// scalar, the bytes a {"b64": ...} carries) and returns the shape DecodeImage gives it, [height, width, 3].
// Its nodes follow TensorFlow's OpDefs for Placeholder, DecodeImage and Shape.
import { DataType, writeSavedModel, type NodeDef } from '@tensorsky/saved-model';

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
