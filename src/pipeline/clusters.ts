import { predictLogits, softmaxRowsAt } from '../distill/index.js';
import { heatmapSpec, renderSvg } from '../report/index.js';
import { writeAtomic, writeJson } from '../files/index.js';
import { adjustedRandIndex, type Cluster, clusterClasses, predictionCovariance } from '../specialists/index.js';
import { type StageContext, stageDir } from './context.js';
import { loadModel } from '../bundle/index.js';

const MAX_HEATMAP_CLASSES = 200;

export interface ClustersResult {
  clusters: Cluster[];
  assignment: number[];
  covariance: number[][];
  transferExamples: number;
  /** Against the true superclasses, where the dataset has them (synthetic). */
  adjustedRandIndex?: number;
  coveredClasses: number;
  /**
   * What clustering held: the predicted distributions (rows × classes float32) and the covariance
   * (classes² float64), and how far the process's resident memory grew while it ran.
   */
  memory?: { predictionsBytes: number; covarianceBytes: number; rssGrowthBytes: number };
}

/**
 * Stage 2: run the generalist on held-out rows (labels unused; `clusters.split`), take the
 * covariance of its predicted distributions and cluster its columns; also draws the covariance
 * reordered by cluster.
 */
export async function runClustersStage(ctx: StageContext): Promise<ClustersResult> {
  const { config, dataset } = ctx;
  const rssBefore = process.memoryUsage().rss;
  const generalist = await loadModel(stageDir(ctx, 'generalist', 'model'));
  const rows = config.clusters.split === 'validation' && dataset.validation.n > 0 ? dataset.validation : dataset.train;
  const requested = config.clusters.transferExamples;
  const n = requested > 0 ? Math.min(requested, rows.n) : rows.n;
  const probabilities = softmaxRowsAt(predictLogits(generalist, rows.x.subarray(0, n * rows.features), n),
    dataset.numClasses, 1);
  generalist.dispose();
  const covariance = predictionCovariance(probabilities, dataset.numClasses);
  const clustering = clusterClasses(covariance, config.clusters.clustering);
  const result: ClustersResult = {
    clusters: clustering.clusters,
    assignment: clustering.assignment,
    covariance: covariance.to2DArray(),
    transferExamples: n,
    adjustedRandIndex: dataset.superclassOf ?
      adjustedRandIndex(clustering.assignment, dataset.superclassOf) :
      undefined,
    coveredClasses: new Set(clustering.clusters.flatMap((c) => c.classes)).size,
    memory: { predictionsBytes: probabilities.byteLength, covarianceBytes: dataset.numClasses ** 2 * 8,
      rssGrowthBytes: Math.max(0, process.memoryUsage().rss - rssBefore) },
  };
  await writeJson(stageDir(ctx, 'clusters', 'clusters.json'), result);
  const order = Array.from({ length: dataset.numClasses }, (_, c) => c).sort((a, b) =>
    clustering.assignment[a] - clustering.assignment[b] || a - b
  );
  // Past a few hundred classes a heatmap is a blur of a million cells; the JSON has the matrix.
  if (dataset.numClasses <= MAX_HEATMAP_CLASSES) {
    const svg = await renderSvg(
      heatmapSpec(result.covariance, dataset.classNames, order,
        `${dataset.name}: covariance of the generalist's predictions, by cluster`),
    );
    await writeAtomic(stageDir(ctx, 'clusters', 'heatmap.svg'), svg);
  }
  ctx.log(
    `clusters: ${result.clusters.length} specialists covering ${result.coveredClasses}/${dataset.numClasses} classes` +
      (result.adjustedRandIndex !== undefined ?
        `, adjusted Rand index vs superclasses ${result.adjustedRandIndex.toFixed(3)}` :
        '') +
      `: ${
        result.clusters.slice(0, 8).map((c) =>
          `[${c.classes.map((k) => dataset.classNames[k]).join(' ')}]`
        ).join(' ')
      }${result.clusters.length > 8 ? ' …' : ''}`,
  );
  return result;
}
