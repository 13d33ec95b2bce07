export * from './proto.js';
export * from './bundle.js';
export * from './io.js';
export * from './provenance.js';
export * from './summary.js';
export { tfOpDefs, parseOpDefs, attrValueCase, attrsWithDefaults, argDtypes, outputDtypes, type OpDefs } from './opdefs.js';
export * from './tensor.js';
export * from './builder.js';
export * from './validate.js';
