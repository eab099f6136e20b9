// Engine benchmark: the paper's MNIST teacher (784-1200-1200-10) trained and served on each
// available backend, beside the PyTorch peer run in the same invocation.
//   npm run bench:engine [-- --backends blas,wasm,cpu --runs 5 --budget 1 --threads 1 --no-peer]
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { benchEngine, benchOnnxServing, type EngineBenchResult, profileTrainingStep,
  runTorchPeer } from '../src/bench/index.js';
import { parseFlags, scriptArgs } from '../src/cli/index.js';
import { BACKENDS, chooseOpenBlasThreads, loadBlas } from '../src/engine/index.js';
import { type Cell, markdownTable } from '../src/report/index.js';
import { writeAtomic, writeJson } from '../src/files/index.js';

const Args = z.object({
  backends: z.string().transform((s) => s.split(',')).pipe(z.array(z.enum(BACKENDS))),
  runs: z.coerce.number().int().min(1),
  budget: z.coerce.number().positive(),
  threads: z.coerce.number().int().min(1),
  peer: z.boolean(),
  out: z.string(),
});

const { values } = scriptArgs({
  options: {
    backends: { type: 'string', default: 'blas,wasm,cpu' },
    runs: { type: 'string', default: '5' },
    budget: { type: 'string', default: '1' }, // seconds per timed run
    threads: { type: 'string', default: '1' }, // OpenBLAS and PyTorch threads: the peer's figure is for one
    'no-peer': { type: 'boolean', default: false },
    out: { type: 'string', default: 'reports/bench/engine' },
  },
});
const args = parseFlags(Args, { ...values, peer: !values['no-peer'] });

// Before anything loads OpenBLAS, which reads its thread count once.
const { threads } = chooseOpenBlasThreads(args.threads);
const results: EngineBenchResult[] = [];
for (const backend of args.backends) {
  if (backend === 'blas' && !loadBlas().ok) {
    console.log(`skip blas: ${(loadBlas() as { reason: string }).reason}`);
    continue;
  }
  // The stock backends are 100× slower: fewer, shorter runs keep the whole benchmark in minutes.
  const slow = backend === 'cpu' || backend === 'wasm';
  console.log(`measuring ${backend}…`);
  const result = await benchEngine(backend, { runs: slow ? Math.min(args.runs, 3) : args.runs, budget: args.budget });
  results.push(result);
  console.log(`  ${backend}: ${result.trainSgdExamplesPerSecond.toFixed(0)} examples/s (momentum SGD)`);
}

const peerScript = fileURLToPath(new URL('../../shared/peers/torch_mlp.py', import.meta.url));
const peer = args.peer ? runTorchPeer(peerScript, threads) : { skipped: '--no-peer' };
const blas = results.find((r) => r.backend === 'blas');
const profile = blas ? await profileTrainingStep() : undefined;
// ONNX Runtime as a serving backend for the exported student, beside the compiled forward it would replace.
const onnx = blas ?
  await benchOnnxServing(threads).catch((error: Error) => ({ skipped: error.message })) :
  { skipped: 'needs the blas engine to compare against' };

const rows: Cell[][] = results.map((
  r,
) => [r.backend, r.matmulGflops, r.trainSgdExamplesPerSecond, r.trainAdamExamplesPerSecond, r.predictBatch1Micros,
  r.predictBatch64Micros, r.layersPredictBatch1Micros, r.layersPredictBatch64Micros]
);
if ('torch' in peer) {
  rows.push([`pytorch ${peer.torch} (${peer.threads} thread)`, null, peer.trainSgdExamplesPerSecond,
    peer.trainAdamExamplesPerSecond, peer.predictBatch1Micros, peer.predictBatch64Micros, null, null]);
}
const table = markdownTable(['backend', 'matmul 128×1200×1200 GFLOP/s', 'train SGD ex/s', 'train Adam ex/s',
  'predict b=1 µs', 'predict b=64 µs', 'model.predict b=1 µs', 'model.predict b=64 µs'], rows);
const lines = ['# Engine benchmark: 784-1200-1200-10, batch 128', '',
  `Median of ${args.runs} runs (3 for wasm and cpu), ${threads} thread${
    threads === 1 ? '' : 's'
  } for OpenBLAS and PyTorch; ${new Date().toISOString().slice(0, 10)}.`, '', table, '',
  '"predict" is the path the server takes: on blas, a dense stack compiled to direct sgemm/sgemv calls ' +
  '(src/engine/forward.ts); elsewhere model.predict. "model.predict" is tfjs-layers on the same backend.'];
if (blas && 'torch' in peer) {
  lines.push('',
    `blas / PyTorch: training SGD ${(blas.trainSgdExamplesPerSecond / peer.trainSgdExamplesPerSecond).toFixed(2)}×, ` +
      `Adam ${(blas.trainAdamExamplesPerSecond / peer.trainAdamExamplesPerSecond).toFixed(2)}×; ` +
      `predict latency b=1 ${(blas.predictBatch1Micros / peer.predictBatch1Micros).toFixed(2)}×, b=64 ${
        (blas.predictBatch64Micros / peer.predictBatch64Micros).toFixed(2)
      }× (lower is better)`);
} else if ('skipped' in peer) {
  lines.push('', `PyTorch peer skipped: ${peer.skipped}`);
}
for (const stock of results.filter((r) => r.backend !== 'blas')) {
  if (blas) {
    lines.push(
      `blas / ${stock.backend}: training SGD ${
        (blas.trainSgdExamplesPerSecond / stock.trainSgdExamplesPerSecond).toFixed(0)
      }×`,
    );
  }
}
if (profile) {
  lines.push('',
    `One momentum-SGD step on blas: ${profile.stepMs.toFixed(1)} ms, of which BLAS calls ${
      profile.sgemmMs.toFixed(1)
    } ms ` +
      `(${(profile.sgemmShare * 100).toFixed(0)}%), everything else ${
        (profile.stepMs - profile.sgemmMs).toFixed(1)
      } ms; ` +
      `${profile.pageFaultsPerStep.toFixed(0)} page faults per step.`, '',
    markdownTable(['kernel (tf.profile, one step)', 'ms'], profile.kernels.map((k) => [k.name, k.ms])));
}
if ('onnxMicros' in onnx) {
  lines.push('',
    `Serving the exported student (${
      onnx.layers.join('-')
    }) in ONNX Runtime ${onnx.onnxRuntimeVersion} (CPU, ${onnx.threads} intra-op thread${
      onnx.threads === 1 ? '' : 's'
    }) ` + 'beside the compiled blas forward, host input to host logits, same run:', '',
    markdownTable(['batch', 'compiled forward µs', 'ONNX Runtime µs', 'ONNX Runtime / compiled'],
      Object.keys(onnx.compiledMicros).map((
        b,
      ) => [Number(b), onnx.compiledMicros[Number(b)], onnx.onnxMicros[Number(b)],
        onnx.onnxMicros[Number(b)] / onnx.compiledMicros[Number(b)]]
      )));
} else {
  lines.push('', `ONNX Runtime serving comparison skipped: ${onnx.skipped}`);
}
const markdown = `${lines.join('\n')}\n`;
console.log(`\n${markdown}`);
await writeJson(`${args.out}.json`, { date: new Date().toISOString(), results, peer, profile, onnx });
await writeAtomic(`${args.out}.md`, markdown);
console.log(`wrote ${args.out}.json and ${args.out}.md`);
