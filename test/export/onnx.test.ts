import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle, type LoadedBundle, saveBundle } from '../../src/bundle/index.js';
import { generateSynthetic, type SyntheticConfig } from '../../src/data/index.js';
import { initEngine } from '../../src/engine/index.js';
import { denseLayers, exportBundle, mlpToOnnx, type ModelCheck, onnxRuntime, SIDECAR_FILE,
  verifyExport } from '../../src/export/index.js';
import { sha256 } from '../../src/files/index.js';
import { buildMlp } from '../../src/nets/index.js';
import { draft, tempDir } from '../bundle/helpers.js';

const SYNTHETIC: SyntheticConfig = {
  superclasses: 3,
  finePerSuperclass: 2,
  inputSize: 12,
  trainPerClass: 20,
  validationPerClass: 5,
  testPerClass: 50,
  superSeparation: 6,
  fineSeparation: 2,
  modesPerClass: 1,
  seed: 4,
};

let dir: string;
beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: () => {} });
  dir = await tempDir();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A bundle of the paper's nets (dropout, max-norm) on a synthetic dataset, so it has a test split to check on. */
async function syntheticBundle(folder: string) {
  const data = generateSynthetic(SYNTHETIC);
  const net = (seed: number, dropout: number) => ({ kind: 'mlp' as const, hidden: [16, 16], inputDropout: dropout,
    hiddenDropout: dropout, maxNorm: 3.5, seed });
  await saveBundle(folder, {
    dataset: { name: 'synthetic', inputShape: [SYNTHETIC.inputSize], classNames: data.classNames,
      config: { name: 'synthetic', ...SYNTHETIC } },
    generalist: { model: buildMlp(net(1, 0.5), SYNTHETIC.inputSize, data.numClasses), kind: 'mlp', metrics: {} },
    specialists: [{ id: 's0', model: buildMlp(net(2, 0), SYNTHETIC.inputSize, 3), classes: [0, 1], dustbinOffset: -1.3,
      cluster: { index: 0 } }],
    student: { model: buildMlp(net(3, 0), SYNTHETIC.inputSize, data.numClasses), teacher: 'generalist', temperature: 20,
      hardWeight: 0.1 },
    combiner: { solver: 'em', iterations: 50, tolerance: 1e-6 },
    metrics: {},
  });
  return data;
}

describe('ONNX export', () => {
  let bundle: LoadedBundle;
  let checks: ModelCheck[];
  let files: string[];
  const out = () => join(dir, 'exported');

  beforeAll(async () => {
    const data = await syntheticBundle(join(dir, 'bundle'));
    files = await exportBundle(join(dir, 'bundle'), out());
    bundle = await loadBundle(join(dir, 'bundle'));
    checks = await verifyExport(out(), bundle, data.test.x, data.test.n);
  }, 60_000);
  afterAll(() => bundle.dispose());

  it('writes every model, the sidecar and a Triton repository for the student', async () => {
    expect(files.sort()).toEqual([SIDECAR_FILE, 'generalist.onnx', 'specialists/s0.onnx', 'student.onnx',
      'triton/student/1/model.onnx', 'triton/student/config.pbtxt', 'triton/student/labels.txt']);
    expect((await readdir(out(), { recursive: true })).filter((f) => f.includes('.'))).toHaveLength(files.length);
  });

  it("matches the bundle's forward pass in ONNX Runtime on the test split: max |Δ| ≤ 1e-5, every top-1 class the " +
    "same", () => {
    expect(checks.map((c) => c.id)).toEqual(['generalist', 'student', 's0']);
    for (const check of checks) {
      expect(check.rows, check.id).toBe(SYNTHETIC.superclasses * SYNTHETIC.finePerSuperclass * SYNTHETIC.testPerClass);
      expect(check.maxAbsLogits, check.id).toBeLessThanOrEqual(1e-5);
      expect(check.maxAbsProbabilities, check.id).toBeLessThanOrEqual(1e-5);
      expect(check.top1Agreement, check.id).toBe(1);
    }
  });

  it("applies a specialist's dustbin offset to its probabilities but not to its logits", async () => {
    const ort = await onnxRuntime();
    const session = await ort.InferenceSession.create(join(out(), 'specialists/s0.onnx'));
    const x = new Float32Array(SYNTHETIC.inputSize).fill(0.5);
    const result = await session.run({ input: new ort.Tensor('float32', x, [1, SYNTHETIC.inputSize]) });
    const logits = Array.from(result.logits.data as Float32Array);
    expect(logits).toHaveLength(3);
    const shifted = [logits[0], logits[1], logits[2] - 1.3];
    const total = shifted.reduce((sum, z) => sum + Math.exp(z), 0);
    const probabilities = Array.from(result.probabilities.data as Float32Array);
    shifted.forEach((z, i) => expect(probabilities[i]).toBeCloseTo(Math.exp(z) / total, 6));
    await session.release();
  });

  it('describes the ensemble path in the sidecar: classes, ' +
    'clusters, dustbin offsets, combiner, checksums', async () => {
    const side = JSON.parse(await readFile(join(out(), SIDECAR_FILE), 'utf8'));
    expect(side.opset).toBe(13);
    expect(side.input).toMatchObject({ name: 'input', datatype: 'FP32', shape: [-1, SYNTHETIC.inputSize] });
    expect(side.classNames).toEqual(bundle.manifest.dataset.classNames);
    expect(side.specialists).toEqual([{ id: 's0', file: 'specialists/s0.onnx', classes: [0, 1], dustbinOffset: -1.3,
      cluster: 0 }]);
    expect(side.student).toMatchObject({ file: 'student.onnx', teacher: 'generalist', temperature: 20 });
    expect(side.combiner).toEqual(bundle.manifest.combiner);
    for (const [path, entry] of Object.entries(side.files) as [string, { sha256: string; bytes: number }][]) {
      const bytes = await readFile(join(out(), path));
      expect({ path, sha256: sha256(bytes), bytes: bytes.length }).toEqual({ path, ...entry });
    }
  });

  it("writes the fields Triton requires, matching the ONNX graph's own input and outputs", async () => {
    const config = await readFile(join(out(), 'triton/student/config.pbtxt'), 'utf8');
    const field = (name: string) => [...config.matchAll(new RegExp(`^\\s*${name}: (.+)$`, 'gm'))].map((m) => m[1]);
    // the model's name is its folder's
    expect(field('name')).toEqual(['"student"', '"input"', '"logits"', '"probabilities"']);
    expect(field('platform')).toEqual(['"onnxruntime_onnx"']);
    expect(Number(field('max_batch_size')[0])).toBeGreaterThan(0); // and so dims leave the batch dimension out
    expect(field('data_type')).toEqual(['TYPE_FP32', 'TYPE_FP32', 'TYPE_FP32']);
    expect(field('dims')).toEqual([`[ ${SYNTHETIC.inputSize} ]`, '[ 6 ]', '[ 6 ]']);
    expect(field('label_filename')).toEqual(['"labels.txt"']);
    const labels = (await readFile(join(out(), 'triton/student/labels.txt'), 'utf8')).trimEnd().split('\n');
    expect(labels).toEqual(bundle.manifest.dataset.classNames);
    const ort = await onnxRuntime();
    const session = await ort.InferenceSession.create(join(out(), 'triton/student/1/model.onnx'));
    expect([session.inputNames, session.outputNames]).toEqual([['input'], ['logits', 'probabilities']]);
    await session.release();
  });

  it('replaces an earlier export whole, leaving no file of it behind', async () => {
    await writeFile(join(out(), 'stale.onnx'), 'left over');
    await exportBundle(join(dir, 'bundle'), out());
    expect(await readdir(out())).not.toContain('stale.onnx');
  });
});

describe('what the exporter refuses', () => {
  it('names a layer it cannot translate', () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'tanh', name: 'squash' }),
        tf.layers.dense({ units: 2 })],
    });
    expect(() => denseLayers(model)).toThrow(/cannot export .* to ONNX: layer squash uses activation tanh/);
    model.dispose();
  });

  it('refuses a model whose last layer is not linear, and exports one without biases', async () => {
    const relu = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' })] });
    expect(() => denseLayers(relu)).toThrow(/must end in a linear Dense layer/);
    const plain = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3, useBias: false,
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const ort = await onnxRuntime();
    const session = await ort.InferenceSession.create(
      mlpToOnnx(plain, { name: 'plain', docString: '', producerVersion: 'test' }),
    );
    const x = Float32Array.of(1, -2, 0.5, 3);
    const out = await session.run({ input: new ort.Tensor('float32', x, [1, 4]) });
    const expected = tf.tidy(() => Array.from((plain.predict(tf.tensor2d(x, [1, 4])) as tf.Tensor).dataSync()));
    Array.from(out.logits.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    await session.release();
    relu.dispose();
    plain.dispose();
  });

  it(
    'exits 2 naming --format for a format it does not write, before loading anything; 1 with one line for a missing ' +
      'bundle',
    () => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/export.ts', '--format', 'tflite',
        '--bundle', '/nonexistent'], { encoding: 'utf8', timeout: 60_000 });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/--format: the only export format is onnx/);
      const missing = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/export.ts', '--bundle',
        join(dir, 'no-such-bundle'), '--out', join(dir, 'no-out')], { encoding: 'utf8', timeout: 60_000 });
      expect([missing.status, missing.stderr.trim().split('\n').at(-1)]).toEqual([1,
        expect.stringMatching(/^export: .*no-such-bundle.*no bundle here/)]);
    },
    60_000,
  );

  it('exports the tiny five-class bundle too, its specialists of several sizes', async () => {
    await saveBundle(join(dir, 'tiny'), draft(1));
    const files = await exportBundle(join(dir, 'tiny'), join(dir, 'tiny-onnx'));
    expect(files.filter((f) => f.startsWith('specialists/'))).toEqual(['specialists/s0.onnx', 'specialists/s1.onnx']);
  });
});
