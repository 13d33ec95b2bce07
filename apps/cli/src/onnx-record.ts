// How export and inspect show assets.extra/model.onnx (export --onnx): the file, its inputs (the image
// front's output, and where the preprocessing steps run) and outputs.
import type { OnnxRecord } from '@tensorsky/predict-local';
import { ASSETS_EXTRA_DIR } from '@tensorsky/saved-model';

export function formatOnnxRecord(r: OnnxRecord, indent: string): string[] {
  const tensor = (t: { name: string; type: string; shape: number[] | null }) => `${t.name} ${t.type} [${t.shape?.join(', ') ?? '?'}]`;
  const mib = (r.bytes / 2 ** 20).toFixed(1);
  return [
    `${indent}ONNX: ${ASSETS_EXTRA_DIR}/${r.file} (${mib} MiB, ONNX opset ${r.opset}), the network after the image front, signature ${r.signature}`,
    ...r.inputs.map(
      (t) =>
        `${indent}  input ${tensor(t)}${t.layout ? ` ${t.layout}` : ''}${
          t.from === 'front' ? ' = the image front\'s output: each image decoded and resized, pixels 0-255 (the normalization steps run inside model.onnx)' : ' = signature input'
        }`,
    ),
    ...r.outputs.map((t) => `${indent}  output ${tensor(t)} = signature output ${t.signatureKey}`),
    `${indent}  front ops: ${r.frontOps.join(', ')}`,
  ];
}
