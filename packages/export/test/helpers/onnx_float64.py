# A float64 evaluation, in numpy, of the ONNX network predict-local's onnx engine hands to ONNX Runtime:
# the reference both float32 engines are measured against (onnx-engine.test.ts). It implements only the
# ops of a translated InceptionV3 (Conv as im2col + matmul, pools with explicit pads, count_include_pad=0
# average), in plain numpy, so it shares no code with ONNX Runtime or TF.js.
# Usage: python3 onnx_float64.py DIR, where DIR holds graph.json (nodes, initializers' files, input and
# output names), input.bin (the network input, float32) and the initializers (float32 / int64). Writes
# DIR/reference.bin: the output in float64.
import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

folder = sys.argv[1]
graph = json.load(open(f'{folder}/graph.json'))
TYPES = {1: np.float32, 6: np.int32, 7: np.int64}
values = {}
for name, init in graph['initializers'].items():
    data = np.fromfile(f"{folder}/{init['file']}", TYPES[init['dataType']]).reshape(init['dims'])
    values[name] = data.astype(np.float64) if data.dtype == np.float32 else data


def windows(x, attrs, fill):
    """[N, C, Ho, Wo, kh, kw] views of x (NCHW) under ONNX pads [top, left, bottom, right] and strides."""
    kh, kw = attrs['kernel_shape']
    sh, sw = attrs.get('strides', [1, 1])
    top, left, bottom, right = attrs.get('pads', [0, 0, 0, 0])
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    return sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def conv(x, w, b, attrs):
    if attrs.get('group', 1) != 1 or attrs.get('dilations', [1, 1]) != [1, 1]:
        raise ValueError('grouped or dilated Conv is not implemented here')
    v = windows(x, attrs, 0.0)
    n, c, ho, wo, kh, kw = v.shape
    y = v.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw) @ w.reshape(w.shape[0], -1).T
    y = y.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def average_pool(x, attrs):
    if attrs.get('count_include_pad'):
        raise ValueError('count_include_pad=1 is not implemented here')
    sums = windows(x, attrs, 0.0).sum(axis=(4, 5))
    counts = windows(np.ones((1, 1) + x.shape[2:]), attrs, 0.0).sum(axis=(4, 5))
    return sums / counts


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


OPS = {
    'Div': lambda i, a: i[0] / i[1],
    'Sub': lambda i, a: i[0] - i[1],
    'Add': lambda i, a: i[0] + i[1],
    'Mul': lambda i, a: i[0] * i[1],
    'Transpose': lambda i, a: i[0].transpose(a['perm']),
    'Conv': lambda i, a: conv(i[0], i[1], i[2] if len(i) > 2 else None, a),
    'Relu': lambda i, a: np.maximum(i[0], 0.0),
    'MaxPool': lambda i, a: windows(i[0], a, -np.inf).max(axis=(4, 5)),
    'AveragePool': lambda i, a: average_pool(i[0], a),
    'Concat': lambda i, a: np.concatenate(i, axis=a['axis']),
    'GlobalAveragePool': lambda i, a: i[0].mean(axis=(2, 3), keepdims=True),
    'Squeeze': lambda i, a: np.squeeze(i[0], axis=tuple(int(d) for d in i[1])),
    'Gemm': lambda i, a: (i[0].T if a.get('transA') else i[0]) @ (i[1].T if a.get('transB') else i[1]) + (i[2] if len(i) > 2 else 0.0),
    'MatMul': lambda i, a: i[0] @ i[1],
    'Softmax': lambda i, a: softmax(i[0], a.get('axis', -1)),
}

x = np.fromfile(f'{folder}/input.bin', np.float32).reshape(graph['inputDims']).astype(np.float64)
outputs = []
for image in range(x.shape[0]):
    env = {**values, graph['input']: x[image:image + 1]}
    for node in graph['nodes']:
        if node['op'] not in OPS:
            raise ValueError(f"op {node['op']} is not implemented here")
        env[node['output'][0]] = OPS[node['op']]([env[name] for name in node['input']], node['attrs'])
    outputs.append(env[graph['output']])
np.concatenate(outputs).astype(np.float64).tofile(f'{folder}/reference.bin')
