export { BACKEND_ENV, BACKENDS, engineInfo, initEngine, parseBackendChoice } from './select.js';
export type { BackendChoice, BackendName, EngineInfo, EngineOptions } from './select.js';
export { BLAS_BACKEND, fastKernels } from './blas-backend.js';
export { compileDenseForward, type DenseForward, type DenseStep, denseSteps } from './forward.js';
export { chooseOpenBlasKernels, chooseOpenBlasThreads, cpuFlags, type KernelChoice,
  type ThreadChoice } from './cpu-kernels.js';
export { type HeapChoice, keepFreedMemory, YOUNG_GENERATION_FLAG, youngGenerationSized } from './heap.js';
export { loadBlas } from './nblas.js';
export { createOptimizer, FusedAdamOptimizer, FusedMomentumOptimizer, updateInPlace } from './optimizers.js';
export type { OptimizerConfig } from './optimizers.js';
