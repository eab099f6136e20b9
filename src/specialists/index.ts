export { clusterClasses, ClusteringConfig } from './cluster.js';
export type { Cluster, Clustering, ClusteringConfigInput } from './cluster.js';
export { predictionCovariance } from './covariance.js';
export { halfAndHalfSampler, restrictedTeacherLogits, specialFraction, specialistLabels, specialistSet } from './dataset.js';
export { applyDustbinOffset, dustbinOffset } from './dustbin.js';
export { adjustedRandIndex } from './score.js';
