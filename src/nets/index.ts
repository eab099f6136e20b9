export { buildMlp, MlpConfig, parameterCount } from './mlp.js';
export { specialistFromGeneralist } from './surgery.js';
export { FastDropout } from './dropout.js';
export { capUnitNorms, enforceConstraints, UnitNormCap, useExactMaxNorm } from './constraint.js';
