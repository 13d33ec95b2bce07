// The decode step of the serving input (--jpeg_dct): which TensorFlow op decodes an image, so that the
// served model sees a JPEG's pixels as its training pipeline did.
//
// TensorFlow 2.x runs every image decode op with one kernel (DecodeImageV2Op in
// tensorflow/core/kernels/image/decode_image_op.cc), which picks the decoder by the file's magic bytes.
// For a JPEG it sets libjpeg's IDCT: DecodeImage always JDCT_IFAST ("The TensorFlow-chosen default for
// JPEG decoding is IFAST"); DecodeJpeg JDCT_IFAST for dct_method "" or "INTEGER_FAST" and JDCT_ISLOW for
// "INTEGER_ACCURATE". PIL, sharp and most training pipelines decode with ISLOW, a few levels away from IFAST.
//
// - 'fast': DecodeImage for every image (what TF Serving did before this option existed).
// - 'accurate' (default): DecodeJpeg(dct_method="INTEGER_ACCURATE") for JPEGs. DecodeJpeg alone cannot
//   take every image the input accepts: the same kernel refuses BMPs under DecodeJpeg ("Trying to decode
//   BMP format using a wrong op") and animated GIFs ("Got N frames, but animated gifs can only be decoded
//   by tf.io.decode_gif or tf.io.decode_image"), which DecodeImage(expand_animations=false) decodes to
//   their first frame. So the graph dispatches on the magic bytes as tf.io.decode_image did in TF 1.x
//   (python/ops/image_ops_impl.py): is_jpeg = Equal(Substr(contents, 0, 3), b"\xff\xd8\xff") — tf.io.is_jpeg,
//   the three bytes ClassifyFileFormat tests, so both sides agree on what a JPEG is — and
//   cond(is_jpeg, DecodeJpeg, DecodeImage) as TF1's control_flow_ops.cond builds it: Switch per branch,
//   Merge of the two results. Plain ops, no function library, so every TF Serving runs it, inside the
//   while loop like the rest of the decode.
import { DataType, type GraphBuilder, type GraphTensor } from '@tensorsky/saved-model';

export const JPEG_DCT_METHODS = ['accurate', 'fast'] as const;
export type JpegDct = (typeof JPEG_DCT_METHODS)[number];

/** The first three bytes of every JPEG (SOI + the next marker's 0xff), as decode_image_op.cc and tf.io.is_jpeg test. */
const JPEG_MAGIC = new Uint8Array([0xff, 0xd8, 0xff]);

export interface DecodeStepOptions {
  channels: number;
  jpegDct: JpegDct;
  /** The pivot of the while loop the decode runs in: Consts made here depend on it, as in TensorFlow's loops. */
  loopPivot?: GraphTensor;
}

/**
 * Decodes one encoded image (a DT_STRING scalar) to uint8 [height, width, channels]; GIFs give their
 * first frame. Inside a while loop, pass its pivot: a Const without inputs would run outside the loop's frame.
 */
export function decodeImageStep(g: GraphBuilder, encoded: GraphTensor, options: DecodeStepOptions): GraphTensor {
  const { channels } = options;
  if (options.jpegDct === 'fast') return g.decodeImage(encoded, { channels, expandAnimations: false });
  return g.withScope('decode_image', () => {
    const isJpeg = g.withScope('is_jpeg', () => {
      const [pos, len, magic] = g.withControlDependencies(options.loopPivot ? [options.loopPivot] : [], () => [
        g.constant('Substr/pos', new Int32Array([0]), []),
        g.constant('Substr/len', new Int32Array([3]), []),
        g.constant('Equal/y', JPEG_MAGIC, [], DataType.DT_STRING),
      ]);
      const head = g.apply('Substr', [encoded, pos, len], {}, { name: 'Substr' });
      return g.apply('Equal', [head, magic], {}, { name: 'Equal' });
    });
    return g.withScope('cond_jpeg', () => {
      const [, forJpeg] = g.switch(encoded, isJpeg, { name: 'Switch' });
      const [forOthers] = g.switch(encoded, isJpeg, { name: 'Switch_1' });
      const jpeg = g.decodeJpeg(forJpeg, { channels, dctMethod: 'INTEGER_ACCURATE', name: 'DecodeJpeg' });
      const other = g.decodeImage(forOthers, { channels, expandAnimations: false, name: 'DecodeImage' });
      // Merge's inputs in cond's order: false branch, then true branch.
      const [image] = g.merge([other, jpeg], { name: 'Merge' });
      return image;
    });
  });
}
