export { clusterClasses, ClusteringConfig } from './cluster.js';
export type { Cluster, Clustering, ClusteringConfigInput } from './cluster.js';
export { predictionCovariance } from './covariance.js';
export { halfAndHalfSampler, restrictedTeacherLogits, sampledSpecialFraction, specialFraction, specialistLabels,
  specialistSet } from './sampling.js';
export { dustbinOffset, fitDustbinOffset } from './dustbin.js';
export { adjustedRandIndex } from './score.js';
