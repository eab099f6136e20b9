// The bundle's public surface plus the internals its tests reach for.
export * from '../../src/bundle/index.js';
export { sha256 } from '../../src/files/index.js';
export { expectedWeightBytes } from '../../src/bundle/artifacts.js';
