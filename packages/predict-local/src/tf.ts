// TF.js as predict-local uses it: the core ops and tfjs-converter's graph executor; backends are imported
// when chosen (model.ts). Importing these instead of the @tensorflow/tfjs bundle leaves out the layers API,
// data pipelines and the WebGL backend, about a third of a second of every cold start. They share the
// bundle's engine, so models loaded here and TF.js layers models (the export package) run on the same
// backend.

export * from '@tensorflow/tfjs-core';
export { loadGraphModel, registerOp } from '@tensorflow/tfjs-converter';
