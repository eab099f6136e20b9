import { readFileSync } from 'node:fs';

/** The AVX-512 subsets OpenBLAS's SkylakeX kernels use; Zen 4 and Intel since Skylake-SP have them all. */
const SKYLAKEX_FLAGS = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];

/** Which OpenBLAS kernels the engine asked for, and why; `undefined` when it left OpenBLAS to decide. */
export interface KernelChoice {
  coreType: string;
  reason: string;
}

/** The CPU's feature flags (Linux); empty where /proc/cpuinfo cannot be read. */
export function cpuFlags(cpuinfo = readCpuinfo()): Set<string> {
  const line = cpuinfo.split('\n').find((l) => l.startsWith('flags'));
  return new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Debian's OpenBLAS 0.3.21 predates Zen 4: it detects it as Haswell and runs AVX2 kernels, at about
 * half the sgemm throughput the CPU's AVX-512 units give (`npm run bench:engine` on 2026-12-02:
 * teacher training at one thread 5,192 examples/s with AVX2 kernels, 7,030 with OPENBLAS_CORETYPE=SkylakeX;
 * reports/bench/). Where every flag SkylakeX's kernels need is present, ask for those kernels;
 * OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, so this must run before nblas is required.
 * A user's own OPENBLAS_CORETYPE always wins.
 */
export function chooseOpenBlasKernels(env: NodeJS.ProcessEnv = process.env, flags = cpuFlags()): KernelChoice
  | undefined {
  if (env.OPENBLAS_CORETYPE) return { coreType: env.OPENBLAS_CORETYPE, reason: 'OPENBLAS_CORETYPE set by the user' };
  if (!SKYLAKEX_FLAGS.every((flag) => flags.has(flag))) return undefined;
  env.OPENBLAS_CORETYPE = 'SkylakeX';
  return { coreType: 'SkylakeX',
    reason: 'the CPU has AVX-512; OpenBLAS builds that predate it would pick AVX2 kernels' };
}

/** How many threads OpenBLAS runs, and who decided. */
export interface ThreadChoice {
  threads: number;
  reason: string;
}

/**
 * Sets OPENBLAS_NUM_THREADS to `wanted` for an OpenBLAS that has not loaded yet (it reads the
 * variable once, at load). A user's own OPENBLAS_NUM_THREADS always wins. Serving asks for one:
 * at serving batch sizes a second thread costs more to wake and join than it saves, and its
 * spin-wait after each call takes the core the HTTP stack needs (`--cpu-prof` of the quick
 * bundle's student under load: 22 µs of BLAS per request with 2 threads, 6.5 µs with 1).
 */
export function chooseOpenBlasThreads(wanted: number, env: NodeJS.ProcessEnv = process.env): ThreadChoice {
  const own = Number(env.OPENBLAS_NUM_THREADS);
  if (Number.isInteger(own) && own > 0) return { threads: own, reason: 'OPENBLAS_NUM_THREADS set by the user' };
  env.OPENBLAS_NUM_THREADS = String(wanted);
  return { threads: wanted, reason: 'asked for by the caller' };
}
