// Child process for wasm-threads.test.ts: loads a SavedModel on the wasm backend with the thread count
// given, predicts the input file's values once, and prints the threads used and the output as JSON.
// It must then exit by itself (the pool's workers must not keep the process alive).
import fs from 'node:fs';
import { loadModel, wasmThreads } from '../../dist/index.js';

const [dir, inputFile, threads] = process.argv.slice(2);
const { shape, values } = JSON.parse(fs.readFileSync(inputFile, 'utf8'));
const model = await loadModel(dir, { backend: 'wasm', threads: Number(threads) });
const input = new Float32Array(values);
const { y } = await model.predict({ x: nest(input, shape) });
model.dispose();
console.log(JSON.stringify({ backend: model.backend, threads: wasmThreads(), shape: y.shape, y: Array.from(y.data) }));

function nest(flat, dims) {
  if (dims.length === 1) return Array.from(flat.subarray(0, dims[0]));
  const stride = dims.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.subarray(i * stride), dims.slice(1)));
}
