// Export a bundle's models to ONNX (student, generalist, each specialist), a sidecar for the ensemble
// path, and a Triton model repository for the student:
//   npm run export -- --bundle models/default --format onnx --out exported [--verify]
// --verify runs every exported model in ONNX Runtime on the bundle's test split and compares it with
// the bundle's own forward pass (exit 1 if any model misses max |Δ| ≤ 1e-5 or 100% top-1 agreement).
import { z } from 'zod';
import { backendFlag, parseFlags, scriptArgs } from '../src/cli/index.js';
import { loadBundle } from '../src/bundle/index.js';
import { type Dataset, featuresOf, loadDataset, recordedDataset } from '../src/data/index.js';
import { initEngine } from '../src/engine/index.js';
import { exportBundle, verifyExport } from '../src/export/index.js';
import { markdownTable } from '../src/report/index.js';

const TOLERANCE = 1e-5;

const { values } = scriptArgs({
  options: {
    bundle: { type: 'string', default: 'models/default' },
    format: { type: 'string', default: 'onnx' },
    out: { type: 'string', default: 'exported' },
    verify: { type: 'boolean', default: false },
    backend: { type: 'string' },
  },
});
const backend = backendFlag(values.backend);
parseFlags(z.object({ format: z.literal('onnx', 'the only export format is onnx') }), values);
await initEngine({ backend });

// A bundle that is missing or damaged, or a dataset that cannot be read, is the user's to fix: one line, exit 1.
const fail = (error: Error): never => {
  console.error(`export: ${error.message}`);
  process.exit(1);
};
const started = performance.now();
const files = await exportBundle(values.bundle!, values.out!).catch(fail);
console.log(
  `exported ${values.bundle} to ${values.out}/ in ${((performance.now() - started) / 1000).toFixed(2)} s: ${
    files.join(', ')
  }`,
);

if (values.verify) {
  const bundle = await loadBundle(values.bundle!).catch(fail);
  const data = ((): Dataset => {
    try {
      return loadDataset(recordedDataset(bundle.manifest.dataset));
    } catch (error) {
      return fail(error as Error);
    }
  })();
  if (featuresOf(data.inputShape) !== featuresOf(bundle.manifest.dataset.inputShape)) {
    fail(new Error(`dataset ${data.name} as loaded here does not have the bundle's input size`));
  }
  const checks = await verifyExport(values.out!, bundle, data.test.x, data.test.n).catch(fail);
  bundle.dispose();
  console.log(
    `\nONNX Runtime against the bundle's forward pass on the ${data.name} test split (${data.test.n} rows):\n`,
  );
  console.log(
    markdownTable(['model', 'file', 'max |Δ| logits', 'max |Δ| probabilities', 'top-1 agreement'],
      checks.map((
        c,
      ) => [c.id, c.file, c.maxAbsLogits.toExponential(2), c.maxAbsProbabilities.toExponential(2),
        `${(c.top1Agreement * 100).toFixed(2)}%`]
      )),
  );
  const failed = checks.filter((c) =>
    c.maxAbsLogits > TOLERANCE || c.maxAbsProbabilities > TOLERANCE || c.top1Agreement < 1
  );
  if (failed.length > 0) {
    console.error(
      `\n${failed.length} model(s) miss max |Δ| ≤ ${TOLERANCE} or 100% top-1 agreement: ${
        failed.map((c) => c.id).join(', ')
      }`,
    );
    process.exit(1);
  }
}
