// A classifier SavedModel on tf.Examples, written at test time (TF Serving's test models have scores
// only): ParseExample reads a float "x" ([1], required), string "labels" ([2], required) and a float "s"
// ([], default 0.5). Signatures (nodes follow TensorFlow's OpDefs):
// - classify: classes = labels, scores = [x, 1 - x]
// - classes_only: classes = labels
// - scores_1d: scores = s, shaped [batch] where Classify wants [batch, num_classes]
// - regress_s: outputs = s
import { DataType, tensorProto, writeSavedModel, type NodeDef, type SignatureDef, type TensorInfo } from '@tensorsky/saved-model';

const T = (type: DataType) => ({ type });
const constNode = (name: string, dtype: DataType, shape: number[], values: unknown[]): NodeDef => ({
  name,
  op: 'Const',
  attr: { dtype: T(dtype), value: { tensor: tensorProto(dtype, shape, values as never) } },
});
const info = (name: string, dtype: DataType): TensorInfo => ({ name, dtype, tensor_shape: { unknown_rank: true } });

export async function writeExampleClassifierModel(dir: string): Promise<void> {
  const node: NodeDef[] = [
    { name: 'tf_example', op: 'Placeholder', attr: { dtype: T(DataType.DT_STRING), shape: { shape: { unknown_rank: true } } } },
    constNode('names', DataType.DT_STRING, [0], []),
    constNode('key_x', DataType.DT_STRING, [], ['x']),
    constNode('key_labels', DataType.DT_STRING, [], ['labels']),
    constNode('key_s', DataType.DT_STRING, [], ['s']),
    constNode('default_x', DataType.DT_FLOAT, [0], []),
    constNode('default_labels', DataType.DT_STRING, [0], []),
    constNode('default_s', DataType.DT_FLOAT, [], [0.5]),
    {
      name: 'parse',
      op: 'ParseExample',
      input: ['tf_example', 'names', 'key_x', 'key_labels', 'key_s', 'default_x', 'default_labels', 'default_s'],
      attr: {
        Nsparse: { i: 0 },
        Ndense: { i: 3 },
        sparse_types: { list: {} },
        Tdense: { list: { type: [DataType.DT_FLOAT, DataType.DT_STRING, DataType.DT_FLOAT] } },
        dense_shapes: { list: { shape: [{ dim: [{ size: 1 }] }, { dim: [{ size: 2 }] }, {}] } },
      },
    },
    constNode('one', DataType.DT_FLOAT, [], [1]),
    { name: 'complement', op: 'Sub', input: ['one', 'parse'], attr: { T: T(DataType.DT_FLOAT) } },
    constNode('axis', DataType.DT_INT32, [], [1]),
    { name: 'scores', op: 'ConcatV2', input: ['parse', 'complement', 'axis'], attr: { N: { i: 2 }, T: T(DataType.DT_FLOAT), Tidx: T(DataType.DT_INT32) } },
  ];
  const inputs = { inputs: info('tf_example:0', DataType.DT_STRING) };
  const classes = info('parse:1', DataType.DT_STRING);
  const signature = (method: string, outputs: Record<string, TensorInfo>): SignatureDef => ({ method_name: `tensorflow/serving/${method}`, inputs, outputs });
  await writeSavedModel(dir, {
    savedModel: {
      saved_model_schema_version: 1,
      meta_graphs: [
        {
          meta_info_def: { tags: ['serve'] },
          graph_def: { node, versions: { producer: 1645 } },
          signature_def: {
            classify: signature('classify', { classes, scores: info('scores:0', DataType.DT_FLOAT) }),
            classes_only: signature('classify', { classes }),
            scores_1d: signature('classify', { scores: info('parse:2', DataType.DT_FLOAT) }),
            regress_s: signature('regress', { outputs: info('parse:2', DataType.DT_FLOAT) }),
          },
        },
      ],
    },
  });
}
