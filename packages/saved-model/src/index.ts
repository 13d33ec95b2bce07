export * from './proto.js';
export * from './io.js';
export * from './summary.js';
