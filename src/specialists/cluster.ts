import { kmeans } from 'ml-kmeans';
import type { Matrix } from 'ml-matrix';
import { z } from 'zod';

export const ClusteringConfig = z.object({
  /** K for K-means: how many specialists to train (the paper used 61 on JFT's 15k classes). */
  clusters: z.number().int().positive(),
  /** Seeded K-means++ restarts; the run with the lowest inertia is kept. */
  restarts: z.number().int().positive().default(10),
  seed: z.number().int().default(1),
  /**
   * Smaller clusters are dropped, leaving their classes uncovered: a class the generalist never confuses needs no
   * specialist.
   */
  minSize: z.number().int().positive().default(2),
  /** Larger clusters are split by 2-means until they fit: a specialist should stay small (0 = no limit). */
  maxSize: z.number().int().min(0).default(0),
  /**
   * Each class may join up to this many clusters, its own and those holding the most of its confusion: the paper's
   * gains grow with the number of specialists covering a class.
   */
  overlap: z.number().int().positive().default(1),
  /**
   * A further cluster must hold at least this share of the class's confusion (its positive covariance with the
   * other classes), so a class joins the groups it is confused with and not one where it meets a stray confuser;
   * a class confused evenly with three groups has a third in each. Default 0.2, applied where it is read rather
   * than by the schema, so configs that leave it out keep the pipeline stage hashes they had before it existed.
   */
  overlapShare: z.number().min(0).max(1).optional(),
  /**
   * Scale each covariance column to unit length before K-means. Raw columns are dominated by
   * magnitude: every class the generalist is sure of has a near-zero column, and they all fall into
   * one cluster whatever they are confused with. Unit columns compare confusion patterns instead.
   */
  normalize: z.boolean().default(true),
});
export type ClusteringConfig = z.infer<typeof ClusteringConfig>;
const DEFAULT_OVERLAP_SHARE = 0.2;
export type ClusteringConfigInput = z.input<typeof ClusteringConfig>;

export interface Cluster {
  id: string;
  /** Class ids, ascending. */
  classes: number[];
}

export interface Clustering {
  clusters: Cluster[];
  /**
   * Each class's cluster after size splitting and before overlap or minSize dropping: for the heatmap order and for
   * scoring against true groups.
   */
  assignment: number[];
  inertia: number;
}

const squared = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0);

function bestOf(points: number[][], k: number, restarts: number,
  seed: number): { clusters: number[]; centroids: number[][]; inertia: number } {
  let best: { clusters: number[]; centroids: number[][]; inertia: number } | undefined;
  for (let r = 0; r < restarts; r++) {
    const result = kmeans(points, Math.min(k, points.length), { initialization: 'kmeans++', seed: seed + r * 7919,
      maxIterations: 300 });
    const inertia = points.reduce((s, p, i) => s + squared(p, result.centroids[result.clusters[i]]), 0);
    if (!best || inertia < best.inertia) best = { clusters: result.clusters, centroids: result.centroids, inertia };
  }
  return best!;
}

/** Splits a cluster of class ids in two by 2-means until every part fits under maxSize. */
function splitToFit(members: number[], points: number[][], maxSize: number, seed: number): number[][] {
  if (maxSize === 0 || members.length <= maxSize) return [members];
  const { clusters } = bestOf(members.map((c) => points[c]), 2, 3, seed);
  const halves = [members.filter((_, i) => clusters[i] === 0), members.filter((_, i) => clusters[i] === 1)];
  // Identical points cannot be separated by distance: halve by position instead.
  if (halves.some((h) => h.length === 0)) {
    halves.splice(0, 2, members.slice(0, members.length >> 1), members.slice(members.length >> 1));
  }
  return halves.flatMap((h, i) => splitToFit(h, points, maxSize, seed + i + 1));
}

/** Per class, the share of its confusion (positive covariance with other classes) each group holds. */
function confusionShares(covariance: Matrix, assignment: number[], groupCount: number): number[][] {
  return assignment.map((_, c) => {
    const shares = new Array<number>(groupCount).fill(0);
    let total = 0;
    assignment.forEach((k, j) => {
      const confusion = j === c ? 0 : Math.max(0, covariance.get(c, j));
      shares[k] += confusion;
      total += confusion;
    });
    return shares.map((share) => (total > 0 ? share / total : 0));
  });
}

/** Adds each class to up to overlap − 1 further groups: those holding most of its confusion, each ≥ overlapShare. */
function joinConfusedClusters(groups: number[][], assignment: number[], covariance: Matrix,
  config: ClusteringConfig): void {
  const shares = confusionShares(covariance, assignment, groups.length);
  const minShare = config.overlapShare ?? DEFAULT_OVERLAP_SHARE;
  shares.forEach((ofClass, c) => {
    // Groups already full are passed over before counting, so a class reaches the next group that qualifies.
    const roomy = (k: number) => config.maxSize === 0 || groups[k].length < config.maxSize;
    const further = ofClass.map((share, k) => ({ k, share }))
      .filter(({ k, share }) => k !== assignment[c] && share > 0 && share >= minShare && roomy(k))
      .sort((a, b) => b.share - a.share).slice(0, config.overlap - 1);
    for (const { k } of further) groups[k].push(c);
  });
}

/**
 * Groups classes the generalist confuses: K-means (K-means++, seeded restarts, lowest inertia
 * kept) on the columns of the prediction covariance matrix, each class being the point given by
 * its column, so classes whose probabilities co-vary land together.
 *
 * @example
 *   const { clusters } = clusterClasses(predictionCovariance(probs, 10), { clusters: 3 });
 */
export function clusterClasses(covariance: Matrix, configInput: ClusteringConfigInput): Clustering {
  const config = ClusteringConfig.parse(configInput);
  const classes = covariance.columns;
  const points = Array.from({ length: classes }, (_, c) => {
    const column = covariance.getColumn(c);
    if (!config.normalize) return column;
    const norm = Math.hypot(...column);
    return norm > 0 ? column.map((v) => v / norm) : column;
  });
  const { clusters: primary, centroids, inertia } = bestOf(points, config.clusters, config.restarts, config.seed);

  let groups: number[][] = centroids.map((_, k) => primary.flatMap((cluster, c) => (cluster === k ? [c] : [])));
  groups = groups.flatMap((g, k) => splitToFit(g, points, config.maxSize, config.seed + 101 * k)).filter((g) =>
    g.length > 0
  );
  const assignment = new Array<number>(classes).fill(0);
  groups.forEach((g, k) => {
    for (const c of g) assignment[c] = k;
  });

  if (config.overlap > 1) joinConfusedClusters(groups, assignment, covariance, config);
  const kept = groups.filter((g) => g.length >= config.minSize).map((g) => [...g].sort((a, b) => a - b));
  return {
    clusters: kept.map((classesOf, i) => ({ id: `s${i}`, classes: classesOf })),
    assignment,
    inertia,
  };
}
