import type { Logger } from 'pino';
import type { AbLedger } from './ab/ledger.js';
import type { ReceiptSigner } from './ab/receipt.js';
import type { ScoredAnswers } from './ab/scored.js';
import type { AbSplit } from './ab/split.js';
import type { ServeConfig } from './config.js';
import type { Lifecycle } from './lifecycle.js';
import type { ServeMetrics } from './metrics.js';
import type { ModelSet } from './runtime/model-set.js';
import type { ModelRegistry } from './runtime/registry.js';

/** Everything the routes share: one per app, passed to each route-group factory. */
export interface ServeContext {
  config: ServeConfig;
  logger: Logger;
  metrics: ServeMetrics;
  lifecycle: Lifecycle;
  registry: ModelRegistry;
  split: AbSplit;
  ledger: AbLedger;
  receipts: ReceiptSigner;
  /** Answers already scored: across the cluster's workers when there are several. */
  scored: ScoredAnswers;
  /** Loads and checks a bundle into a ModelSet without putting it in service. */
  loadModels: (bundleDir: string) => Promise<ModelSet>;
}
