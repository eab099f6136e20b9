import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from '@hono/zod-openapi';
import type { ModelEntry } from '../../bundle/index.js';
import { sha256 } from '../../files/index.js';
import { createRng, type Dataset, DatasetConfigSchema, featuresOf, loadDataset, sampleToFront, type Split,
  takeRows } from '../../data/index.js';
import type { ModelName } from '../config.js';
import { fail, zodDetails } from '../errors.js';
import type { ModelSet } from './model-set.js';
import { type BundleResponse, ClustersResponse, type ExamplesResponse } from '../schemas.js';

// What GET /v1/bundle, /v1/bundle/clusters and /v1/examples show of the serving bundle. The
// manifest is already in memory; clusters.json and the test examples are read on first use, once
// per loaded bundle, so neither start-up nor a reload pays for a page nobody opened.

const CLUSTERS_FILE = 'clusters.json';
/**
 * Past this clusters.json is not served: past ~200 classes the covariance is megabytes of JSON and a heatmap of it a
 * blur.
 */
const MAX_CLUSTERS_BYTES = 16 * 1024 * 1024;
/** Test examples kept per bundle: variety enough to click through, ~800 kB for MNIST. */
const POOL_SIZE = 256;

type Clusters = z.infer<typeof ClustersResponse>;
interface Pool {
  dataset: string;
  inputShape: number[];
  split: Split;
  /** Row of the test split that each pool row came from. */
  rows: number[];
}

/** A flat 784 is read as 28 × 28 row-major, as MNIST MLPs take it. */
function imageOf(inputShape: readonly number[]): { height: number; width: number } | null {
  const shape = inputShape.join('x');
  return ['28x28', '28x28x1', '784'].includes(shape) ? { height: 28, width: 28 } : null;
}

function summary(set: ModelSet, model: ModelName, entry: ModelEntry | undefined, metrics: Record<string, number>) {
  return {
    served: set.has(model),
    reason: set.unavailable.get(model) ?? null,
    parameters: entry?.architecture.parameters ?? null,
    sizes: entry?.architecture.sizes ?? null,
    metrics,
  };
}

/**
 * The manifest as a client wants to show it: dataset, each model's size and evaluation, the
 * specialists and their classes, the clustering, the whole-system metrics.
 *
 * @example
 *   bundleSummary(registry.current).dataset.image; // { height: 28, width: 28 } for MNIST
 */
export function bundleSummary(set: ModelSet): z.infer<typeof BundleResponse> {
  const m = set.manifest;
  const ensembleParameters = m.generalist.architecture.parameters +
    m.specialists.reduce((sum, s) => sum + s.architecture.parameters, 0);
  const membersParameters = m.members ?
    m.generalist.architecture.parameters + m.members.models.reduce((sum, s) => sum + s.architecture.parameters, 0) :
    null;
  return {
    name: m.name,
    createdAt: m.createdAt,
    dataset: { name: m.dataset.name, inputShape: m.dataset.inputShape, inputSize: set.inputSize,
      classNames: [...m.dataset.classNames], image: imageOf(m.dataset.inputShape) },
    models: {
      student: summary(set, 'student', m.student, m.student?.metrics ?? {}),
      generalist: summary(set, 'generalist', m.generalist, m.generalist.metrics),
      ensemble: { ...summary(set, 'ensemble', undefined, m.metrics), parameters: ensembleParameters },
      members: { ...summary(set, 'members', undefined, m.metrics), parameters: membersParameters },
    },
    members: m.members ?
      { averaging: m.members.averaging, ids: ['generalist', ...m.members.models.map((member) => member.id)] } :
      null,
    student: m.student ?
      { teacher: m.student.teacher, temperature: m.student.temperature, hardWeight: m.student.hardWeight } :
      null,
    specialists: m.specialists.map((s) => ({ id: s.id, classes: s.classes, dustbinOffset: s.dustbinOffset,
      cluster: s.cluster.index, metrics: s.metrics })
    ),
    clustering: m.clustering ?
      { method: m.clustering.method, clusters: m.clustering.clusters,
        transferExamples: m.clustering.transferExamples ?? null, metrics: m.clustering.metrics ?? {} } :
      null,
    combiner: m.combiner ?
      { solver: m.combiner.solver, iterations: m.combiner.iterations, tolerance: m.combiner.tolerance } :
      null,
    metrics: m.metrics,
    examples: DatasetConfigSchema.safeParse(m.dataset.config).success,
  };
}

/** Once per loaded bundle; a failure is not kept, so a fixed file is picked up on the next request. */
function memo<T>(cache: WeakMap<ModelSet, Promise<T>>, set: ModelSet, make: () => Promise<T>): Promise<T> {
  let value = cache.get(set);
  if (!value) {
    value = make();
    cache.set(set, value);
    value.catch(() => cache.delete(set));
  }
  return value;
}

const clustersCache = new WeakMap<ModelSet, Promise<Clusters>>();

/** clusters.json of the serving bundle, checked against the sha256 its manifest recorded at load. */
export function readClusters(set: ModelSet): Promise<Clusters> {
  return memo(clustersCache, set, async () => {
    const entry = set.manifest.files[CLUSTERS_FILE];
    if (!entry) fail(404, `this bundle has no ${CLUSTERS_FILE}`, { bundle: set.manifest.name });
    if (entry.bytes > MAX_CLUSTERS_BYTES) {
      fail(404, `${CLUSTERS_FILE} is too large to serve`, { bytes: entry.bytes, maxBytes: MAX_CLUSTERS_BYTES });
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(join(set.dir, CLUSTERS_FILE));
    } catch (error) {
      fail(409, `${CLUSTERS_FILE} cannot be read since the bundle was loaded: reload the bundle`, { file: CLUSTERS_FILE,
        reason: (error as Error).message });
    }
    if (sha256(bytes) !== entry.sha256) {
      fail(409, `${CLUSTERS_FILE} changed since the bundle was loaded: reload the bundle`, { file: CLUSTERS_FILE });
    }
    const parsed = ClustersResponse.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!parsed.success) {
      fail(500, `${CLUSTERS_FILE} is not in the format the pipeline writes`, zodDetails(parsed.error));
    }
    return parsed.data;
  });
}

const poolCache = new WeakMap<ModelSet, Promise<Pool>>();

/**
 * POOL_SIZE rows of the test split of the dataset the manifest names, spread evenly over it, after
 * checking the dataset still has the bundle's classes and input size.
 */
function examplePool(set: ModelSet): Promise<Pool> {
  return memo(poolCache, set, async () => {
    const config = DatasetConfigSchema.safeParse(set.manifest.dataset.config);
    if (!config.success) {
      fail(404, 'this bundle does not record a dataset this server can load, so it has no test examples', {
        dataset: set.manifest.dataset.name,
      });
    }
    let dataset: Dataset;
    let test: Split;
    try {
      dataset = loadDataset(config.data);
      test = dataset.test;
    } catch (error) {
      fail(404, `cannot load the test split of ${set.manifest.dataset.name}: ${(error as Error).message}`, {
        dataset: set.manifest.dataset.name,
      });
    }
    if (featuresOf(dataset.inputShape) !== set.inputSize ||
      dataset.classNames.join('\n') !== set.classNames.join('\n')) {
      fail(409, `dataset ${dataset.name} as loaded here does not match the bundle's input size and classes`, {
        dataset: dataset.name,
      });
    }
    const size = Math.min(POOL_SIZE, test.n);
    const rows = Array.from({ length: size }, (_, i) => Math.floor((i * test.n) / size));
    return { dataset: set.manifest.dataset.name, inputShape: dataset.inputShape, split: takeRows(test, rows), rows };
  });
}

/**
 * `count` distinct test examples (fewer if the pool is smaller): the same ones for the same seed.
 *
 * @example
 *   (await drawExamples(set, 1, 7)).examples[0].label; // e.g. '3'
 */
export async function drawExamples(set: ModelSet, count: number,
  seed?: number): Promise<z.infer<typeof ExamplesResponse>> {
  const pool = await examplePool(set);
  const random = seed === undefined ? Math.random : createRng(seed);
  const order = Array.from({ length: pool.split.n }, (_, i) => i);
  const n = sampleToFront(order, count, random);
  const f = pool.split.features;
  const examples = order.slice(0, n).map((i) => ({
    row: pool.rows[i],
    class: pool.split.y[i],
    label: set.classNames[pool.split.y[i]],
    x: Array.from(pool.split.x.subarray(i * f, (i + 1) * f)),
  }));
  return { dataset: pool.dataset, split: 'test', inputShape: pool.inputShape, examples };
}
