// model.layers order of Keras's InceptionV3, transcribed from a model.summary() printed by Keras 2.0.6
// (TensorFlow 1.2.1 backend), the Keras generation that wrote the ImageNet weights file and whose names
// it uses. In that summary the top was GlobalAveragePooling2D + Dense added by hand (same graph as
// include_top=True), shown here under the application's names avg_pool and predictions.
// Abbreviations: c = conv2d_, b = batch_normalization_, a = activation_, mp = max_pooling2d_,
// ap = average_pooling2d_, cc = concatenate_. Names without a prefix are literal.
const SUMMARY = `
input_1
c1 b1 a1 c2 b2 a2 c3 b3 a3 mp1 c4 b4 a4 c5 b5 a5 mp2
c9 b9 a9 c7 c10 b7 b10 a7 a10 ap1 c6 c8 c11 c12 b6 b8 b11 b12 a6 a8 a11 a12 mixed0
c16 b16 a16 c14 c17 b14 b17 a14 a17 ap2 c13 c15 c18 c19 b13 b15 b18 b19 a13 a15 a18 a19 mixed1
c23 b23 a23 c21 c24 b21 b24 a21 a24 ap3 c20 c22 c25 c26 b20 b22 b25 b26 a20 a22 a25 a26 mixed2
c28 b28 a28 c29 b29 a29 c27 c30 b27 b30 a27 a30 mp3 mixed3
c35 b35 a35 c36 b36 a36 c32 c37 b32 b37 a32 a37 c33 c38 b33 b38 a33 a38 ap4 c31 c34 c39 c40 b31 b34 b39 b40 a31 a34 a39 a40 mixed4
c45 b45 a45 c46 b46 a46 c42 c47 b42 b47 a42 a47 c43 c48 b43 b48 a43 a48 ap5 c41 c44 c49 c50 b41 b44 b49 b50 a41 a44 a49 a50 mixed5
c55 b55 a55 c56 b56 a56 c52 c57 b52 b57 a52 a57 c53 c58 b53 b58 a53 a58 ap6 c51 c54 c59 c60 b51 b54 b59 b60 a51 a54 a59 a60 mixed6
c65 b65 a65 c66 b66 a66 c62 c67 b62 b67 a62 a67 c63 c68 b63 b68 a63 a68 ap7 c61 c64 c69 c70 b61 b64 b69 b70 a61 a64 a69 a70 mixed7
c73 b73 a73 c74 b74 a74 c71 c75 b71 b75 a71 a75 c72 c76 b72 b76 a72 a76 mp4 mixed8
c81 b81 a81 c78 c82 b78 b82 a78 a82 c79 c80 c83 c84 ap8 c77 b79 b80 b83 b84 c85 b77 a79 a80 a83 a84 b85 a77 mixed9_0 cc1 a85 mixed9
c90 b90 a90 c87 c91 b87 b91 a87 a91 c88 c89 c92 c93 ap9 c86 b88 b89 b92 b93 c94 b86 a88 a89 a92 a93 b94 a86 mixed9_1 cc2 a94 mixed10
avg_pool predictions
`;

const PREFIXES: [RegExp, string][] = [
  [/^c(\d+)$/, 'conv2d_'],
  [/^b(\d+)$/, 'batch_normalization_'],
  [/^a(\d+)$/, 'activation_'],
  [/^mp(\d+)$/, 'max_pooling2d_'],
  [/^ap(\d+)$/, 'average_pooling2d_'],
  [/^cc(\d+)$/, 'concatenate_'],
];

export const KERAS_INCEPTION_V3_LAYER_ORDER: string[] = SUMMARY.trim()
  .split(/\s+/)
  .map((token) => {
    for (const [pattern, prefix] of PREFIXES) {
      const match = pattern.exec(token);
      if (match) return prefix + match[1];
    }
    return token;
  });
