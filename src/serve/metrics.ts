import cluster from 'node:cluster';
import * as tf from '@tensorflow/tfjs';
import { type Aggregator, AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram,
  Registry } from 'prom-client';
import type { ModelName } from './config.js';
import type { ModelSetHooks } from './runtime/model-set.js';
import { answerGather, gather } from './gather.js';

/** Model and variant labels for requests that name none (health, metrics, 404s). */
export const NONE = 'none';

const DEFAULT_GAUGES_NAMED_AS_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total',
  'nodejs_active_resources_total'];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * Default metrics the cluster primary must not sum over workers (prom-client's default is a sum,
 * and it drops the start time): a limit is the same in each worker, the earliest worker's start
 * stands for the server's, and the slowest worker's event-loop lag is the one to alert on.
 */
const CLUSTER_AGGREGATORS: Record<string, Aggregator> = {
  process_max_fds: 'max',
  process_start_time_seconds: 'min',
  nodejs_eventloop_lag_p50_seconds: 'max',
  nodejs_eventloop_lag_p90_seconds: 'max',
  nodejs_eventloop_lag_p99_seconds: 'max',
};

/**
 * The server's Prometheus metrics, in a registry of its own so two apps in one process (tests,
 * a reload) never share counters. Labels stay bounded: endpoints are route patterns, models
 * and variants come from fixed lists, specialists from the bundle.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'serve_requests_total',
    help: 'Requests answered, by route pattern, model, A/B variant and status',
    labelNames: ['endpoint', 'model', 'variant', 'code'] as const, registers: [this.registry] });
  readonly errors = new Counter({ name: 'serve_errors_total', help: 'Requests answered with status >= 400',
    labelNames: ['endpoint', 'model', 'variant', 'code'] as const, registers: [this.registry] });
  // By status too: a fast 400 or 503 must not pass for a fast answer.
  readonly latency = new Histogram({ name: 'serve_request_duration_seconds', help: 'Arrival to response, seconds',
    labelNames: ['endpoint', 'model', 'variant', 'code'] as const, buckets: LATENCY_BUCKETS,
    registers: [this.registry] });
  readonly queued = new Histogram({ name: 'serve_queue_duration_seconds',
    help: 'Time a request waited in its model queue before its batch ran, seconds', labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly modelTime = new Histogram({ name: 'serve_model_duration_seconds',
    help: 'Time one batch spent in the model, seconds', labelNames: ['model'] as const, buckets: LATENCY_BUCKETS,
    registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'serve_batch_size',
    help: 'Instances per model call after dynamic batching', labelNames: ['model'] as const, buckets: BATCH_BUCKETS,
    registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'serve_queue_depth', help: 'Requests waiting for a batch, per model',
    labelNames: ['model'] as const, registers: [this.registry] });
  readonly activations = new Counter({ name: 'serve_specialist_activations_total',
    help: 'Examples each specialist ran on', labelNames: ['specialist'] as const, registers: [this.registry] });
  readonly memberTime = new Histogram({ name: 'serve_member_duration_seconds',
    help: 'Time one batch spent in each member of the members model, seconds', labelNames: ['member'] as const,
    buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly activePerExample = new Histogram({ name: 'serve_active_specialists',
    help: 'Active specialists per ensemble example', buckets: [0, 1, 2, 3, 4, 6, 8, 16], registers: [this.registry] });
  readonly shadow = new Counter({ name: 'serve_shadow_total',
    help: 'Shadow runs by served and shadow variant and outcome (compared, dropped, failed)',
    labelNames: ['served', 'shadow', 'outcome'] as const, registers: [this.registry] });
  readonly inflight = new Gauge({ name: 'serve_inflight_requests', help: 'Requests being handled',
    registers: [this.registry] });
  readonly refused = new Counter({ name: 'serve_refused_requests_total',
    help: 'Requests answered before reaching the app: past the connection cap (connections), past the waiting limit ' +
      '(waiting), predicted to miss their deadline (late, 503), or past it while waiting for a turn (deadline, 504)',
    labelNames: ['reason'] as const, registers: [this.registry] });
  /**
   * The A/B report as counters: summed over workers and replicas (`sum by (variant)`), they are
   * the fleet's report, where /v1/ab/report is one process group's.
   */
  readonly ab = {
    answers: new Counter({ name: 'serve_ab_answers_total', help: 'A/B requests answered, by the variant that answered',
      labelNames: ['variant'] as const, registers: [this.registry] }),
    labelled: new Counter({ name: 'serve_ab_labelled_instances_total',
      help: 'Instances with feedback, by variant (served or in shadow)', labelNames: ['variant'] as const,
      registers: [this.registry] }),
    correct: new Counter({ name: 'serve_ab_correct_instances_total',
      help: 'Instances with feedback the variant got right: accuracy = correct / labelled',
      labelNames: ['variant'] as const, registers: [this.registry] }),
    compared: new Counter({ name: 'serve_ab_shadow_compared_instances_total',
      help: 'Instances answered by the served variant and run by a shadow', labelNames: ['served', 'shadow'] as const,
      registers: [this.registry] }),
    agreed: new Counter({ name: 'serve_ab_shadow_agreed_instances_total',
      help: "Of those, the instances where the shadow's top class was the served one's",
      labelNames: ['served', 'shadow'] as const, registers: [this.registry] }),
  };

  /** Requests waiting for a turn of the event loop (admission.ts), read at scrape time; the server sets it. */
  waitingDepth: () => number = () => 0;

  constructor() {
    // Read at scrape time: the number that a leak makes grow.
    new Gauge({ name: 'serve_tfjs_tensors', help: 'Live tfjs tensors', registers: [this.registry], collect() {
      this.set(tf.memory().numTensors);
    } });
    const waitingDepth = () => this.waitingDepth();
    new Gauge({ name: 'serve_waiting_requests',
      help: 'Requests read but not yet started, waiting for a turn of the event loop (--requests-per-turn)',
      registers: [this.registry], collect() {
      this.set(waitingDepth());
    } });
    collectDefaultMetrics({ register: this.registry });
    // Gauges may not end in _total (promtool check metrics fails on them); prom-client exports the
    // same counts as nodejs_active_{handles,requests,resources} too, which stay.
    for (const name of DEFAULT_GAUGES_NAMED_AS_COUNTERS) this.registry.removeSingleMetric(name);
    if (cluster.isWorker) {
      answerGather(METRICS, () => this.registry.getMetricsAsJSON());
      for (const [name, aggregator] of Object.entries(CLUSTER_AGGREGATORS)) {
        const metric = this.registry.getSingleMetric(name) as unknown as { aggregator: Aggregator } | undefined;
        if (metric) metric.aggregator = aggregator;
      }
    }
  }

  /** What the batchers and the ensemble report into. */
  hooks(): ModelSetHooks {
    return {
      onBatch: (model: ModelName, rows: number) => this.batchSize.observe({ model }, rows),
      onDepth: (model: ModelName, depth: number) => this.queueDepth.set({ model }, depth),
      onQueued: (model: ModelName, seconds: number) => this.queued.observe({ model }, seconds),
      onRun: (model: ModelName, seconds: number) => this.modelTime.observe({ model }, seconds),
      onMember: (member: string, seconds: number) => this.memberTime.observe({ member }, seconds),
      onActive: (active: string[][]) => {
        for (const set of active) {
          this.activePerExample.observe(set.length);
          for (const specialist of set) this.activations.inc({ specialist });
        }
      },
    };
  }

  observe(labels: { endpoint: string; model: string; variant: string; code: number }, seconds: number): void {
    const labelled = { ...labels, code: String(labels.code) };
    this.requests.inc(labelled);
    if (labels.code >= 400) this.errors.inc(labelled);
    this.latency.observe(labelled, seconds);
  }
}

// ── Cluster: each worker's /metrics answers for every worker ──────────────────────────────────
// A scraper behind the shared port reaches one worker at random; so a worker gathers every
// worker's registry through the primary (gather.ts) and aggregates them with prom-client. A worker
// that does not answer in time (one starting after a crash) is left out, so a scrape never fails
// for it.

const METRICS = 'metrics';

/** In a worker: every worker's metrics, aggregated; elsewhere this process's own. */
export async function metricsText(metrics: ServeMetrics): Promise<string> {
  if (!cluster.isWorker || !process.send) return metrics.registry.metrics();
  const parts = await gather(METRICS);
  return AggregatorRegistry.aggregate(parts as Awaited<ReturnType<Registry['getMetricsAsJSON']>>).metrics();
}
