import { describe, expect, it } from 'vitest';
import { chooseOpenBlasKernels, chooseOpenBlasThreads, cpuFlags, engineInfo, initEngine,
  loadBlas } from '../../src/engine/index.js';

const ZEN4 =
  'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16\n';
const HASWELL = 'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n';

describe('chooseOpenBlasKernels', () => {
  it('reads the flags line of /proc/cpuinfo', () => {
    expect(cpuFlags(ZEN4).has('avx512bw')).toBe(true);
    expect(cpuFlags(HASWELL).has('avx512f')).toBe(false);
    expect(cpuFlags('').size).toBe(0);
  });

  it('asks for the SkylakeX kernels where the CPU has every AVX-512 subset they use', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(chooseOpenBlasKernels(env, cpuFlags(ZEN4))).toMatchObject({ coreType: 'SkylakeX' });
    expect(env.OPENBLAS_CORETYPE).toBe('SkylakeX');
  });

  it('leaves OpenBLAS to decide on a CPU without AVX-512', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(chooseOpenBlasKernels(env, cpuFlags(HASWELL))).toBeUndefined();
    expect(env.OPENBLAS_CORETYPE).toBeUndefined();
  });

  it("never overrides a user's OPENBLAS_CORETYPE", () => {
    const env: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: 'Haswell' };
    expect(chooseOpenBlasKernels(env, cpuFlags(ZEN4))).toEqual({ coreType: 'Haswell',
      reason: 'OPENBLAS_CORETYPE set by the user' });
    expect(env.OPENBLAS_CORETYPE).toBe('Haswell');
  });

  it.skipIf(!loadBlas().ok)('names the kernels in the engine info of this process', async () => {
    await initEngine({ backend: 'blas', log: () => {} });
    const load = loadBlas();
    const chosen = load.ok ? load.kernels : undefined;
    expect(engineInfo().blasLibrary).toBe(chosen ? `OpenBLAS (nblas), ${chosen.coreType} kernels` : 'OpenBLAS (nblas)');
    if (cpuFlags().has('avx512bw') && cpuFlags().has('avx512vl')) expect(process.env.OPENBLAS_CORETYPE).toBeTruthy();
  });
});

describe('chooseOpenBlasThreads', () => {
  it('sets OPENBLAS_NUM_THREADS to what the caller asks for when the user has not', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(chooseOpenBlasThreads(1, env)).toEqual({ threads: 1, reason: 'asked for by the caller' });
    expect(env.OPENBLAS_NUM_THREADS).toBe('1');
  });

  it("never overrides a user's OPENBLAS_NUM_THREADS", () => {
    const env: NodeJS.ProcessEnv = { OPENBLAS_NUM_THREADS: '2' };
    expect(chooseOpenBlasThreads(1, env)).toEqual({ threads: 2, reason: 'OPENBLAS_NUM_THREADS set by the user' });
    expect(env.OPENBLAS_NUM_THREADS).toBe('2');
  });

  it('treats an unusable OPENBLAS_NUM_THREADS as unset', () => {
    const env: NodeJS.ProcessEnv = { OPENBLAS_NUM_THREADS: 'lots' };
    expect(chooseOpenBlasThreads(1, env).threads).toBe(1);
    expect(env.OPENBLAS_NUM_THREADS).toBe('1');
  });
});
