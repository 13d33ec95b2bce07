// Emscripten pthread worker for tfjs-backend-wasm's threaded build (started by src/wasm-backend.ts).
// The package ships the worker only as a string, which browsers turn into a blob: URL; Node's
// worker_threads need a file, so this one runs that string. Its newlines are escaped first, as
// tfjs-backend-wasm does before making the blob (the string contains "\n" inside string literals).
'use strict';
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
