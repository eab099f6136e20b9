import cluster from 'node:cluster';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ModelName } from '../config.js';
import type { ServeContext } from '../context.js';
import type { AppEnv } from '../env.js';
import { fail, validationHook } from '../errors.js';
import { deadlineOf, jsonBody, refuseWhileDraining } from '../middleware.js';
import type { ModelSet } from '../runtime/model-set.js';
import { type PredictOutcome, predictWith } from '../runtime/predictions.js';
import type { Lease } from '../runtime/registry.js';
import { AB_LEDGER, type LedgerSnapshot, reportOf } from '../ab/ledger.js';
import { gather } from '../gather.js';
import { AbPredictResponse, AbReport, COMMON_RESPONSES, ERROR_RESPONSES, ErrorBody, feedbackRequest, FeedbackResponse,
  header, jsonResponse, predictRequest, PUBLIC } from '../schemas.js';

/** Class names or indices → indices of `set`; 400 naming the first that is neither. */
function labelIndices(set: ModelSet, label: number | string | (number | string)[]): number[] {
  return (Array.isArray(label) ? label : [label]).map((value, i) => {
    const index = typeof value === 'number' ? value : set.classNames.indexOf(value);
    if (index < 0 || index >= set.numClasses) {
      fail(400, `label ${JSON.stringify(value)} is not a class of this bundle`, [{ path: `label.${i}`,
        message: `use 0..${set.numClasses - 1} or a class name` }]);
    }
    return index;
  });
}

/**
 * Runs the same rows through every other A/B variant after the served answer has gone, and records
 * how far each is from it. Shadow work only takes queue room that real traffic is not using
 * (Batcher.offer), and holds its own lease so a reload cannot free the models under it.
 */
function shadowRun(ctx: ServeContext, lease: Lease, answerId: string, served: ModelName,
  outcome: PredictOutcome): void {
  const others = ctx.split.others(served).filter((variant) => lease.set.has(variant));
  const deadlineAt = performance.now() + ctx.config.batching.deadlineMs;
  const runs = others.map((shadow) => {
    const labels = { served, shadow };
    const pending = lease.set.offer(shadow, outcome.item, deadlineAt);
    if (!pending) {
      ctx.metrics.shadow.inc({ ...labels, outcome: 'dropped' });
      return Promise.resolve();
    }
    return pending.then((raw) => {
      ctx.ledger.shadowed(answerId, { variant: served, probabilities: outcome.raw.map((p) => p.probabilities) }, {
        variant: shadow,
        probabilities: raw.map((p) => p.probabilities),
      });
      ctx.metrics.shadow.inc({ ...labels, outcome: 'compared' });
    }, (error: unknown) => {
      ctx.metrics.shadow.inc({ ...labels, outcome: 'failed' });
      ctx.logger.warn({ err: error, answerId, served, shadow }, 'shadow run failed');
    });
  });
  void Promise.all(runs).finally(() => lease.release());
}

type Guards = readonly [ReturnType<typeof refuseWhileDraining>, ReturnType<typeof jsonBody>];

/** POST /v1/ab/predict, POST /v1/ab/feedback, GET /v1/ab/report. */
export function abRoutes(ctx: ServeContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const guards: Guards = [refuseWhileDraining(ctx.lifecycle), jsonBody(ctx.config.limits.maxBodyBytes)];
  addPredict(app, ctx, guards);
  addFeedback(app, ctx, guards);
  addReport(app, ctx);
  return app;
}

/** The answer of the variant this client is assigned, with a receipt for its feedback. */
function addPredict(app: OpenAPIHono<AppEnv>, ctx: ServeContext, guards: Guards): void {
  const predict = createRoute({
    method: 'post',
    path: '/v1/ab/predict',
    middleware: [guards[0], guards[1]] as const,
    operationId: 'abPredict',
    ...PUBLIC,
    summary: 'Classify with the A/B variant this client is assigned (sticky per x-ab-key); x-model-variant names it',
    request: {
      headers: z.object({
        'x-ab-key': z.string().optional().openapi({
          description:
            'Any stable id of the client: the same key always gets the same variant; without one, each request is ' +
              'assigned at random',
        }),
      }),
      body: { content: { 'application/json': { schema: predictRequest(ctx.config.limits.maxInstances) } },
        required: true },
    },
    responses: {
      200: jsonResponse(AbPredictResponse, 'Predictions from the assigned variant', {
        'x-model-variant': header('The variant that answered: student, generalist or ensemble'),
      }),
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(predict, async function abPredict(c) {
    const started = performance.now();
    const variant: ModelName = ctx.split.pick(c.req.header('x-ab-key') || undefined);
    c.set('model', variant);
    c.set('variant', variant);
    c.header('x-model-variant', variant);
    const { instances, topK } = c.req.valid('json');
    const lease = ctx.registry.acquire();
    try {
      const outcome = await predictWith(lease.set, variant, instances, topK,
        deadlineOf(c, ctx.config.batching.deadlineMs));
      const requestId = c.get('requestId');
      const { receipt, answer } = ctx.receipts.issue(variant, outcome.predictions.map((p) => p.class));
      ctx.ledger.served(answer, performance.now() - started);
      if (ctx.config.shadow) shadowRun(ctx, ctx.registry.share(lease), answer.answerId, variant, outcome);
      return c.json({ model: variant, variant, bundle: lease.set.manifest.name, requestId, receipt,
        predictions: outcome.predictions }, 200);
    } finally {
      lease.release();
    }
  });
}

/** Feedback on an earlier answer, by its receipt: once per answer, only on answers this service issued. */
function addFeedback(app: OpenAPIHono<AppEnv>, ctx: ServeContext, guards: Guards): void {
  const feedback = createRoute({
    method: 'post',
    path: '/v1/ab/feedback',
    middleware: [guards[0], guards[1]] as const,
    operationId: 'abFeedback',
    ...PUBLIC,
    summary: 'Record the true label(s) of an earlier A/B answer, by the receipt that answer carried',
    request: {
      body: { content: { 'application/json': { schema: feedbackRequest(ctx.config.limits.maxInstances) } },
        required: true },
    },
    responses: {
      ...ERROR_RESPONSES,
      200: jsonResponse(FeedbackResponse, 'Recorded'),
      403: jsonResponse(ErrorBody,
        'The receipt was not issued by this service (forged or altered), or the Host is not one this server answers ' +
          'to'),
      409: jsonResponse(ErrorBody, 'That answer already has feedback'),
      410: jsonResponse(ErrorBody, 'The receipt has expired'),
    },
  });
  app.openapi(feedback, async function abFeedback(c) {
    const { receipt: given, label } = c.req.valid('json');
    const receipt = ctx.receipts.open(given);
    if (receipt === 'forged') {
      fail(403, 'this receipt was not issued by this service', [{ path: 'receipt',
        message: 'send back the receipt of an A/B answer unchanged' }]);
    }
    if (receipt === 'expired') fail(410, 'this receipt has expired', { ttlMs: ctx.config.abReceiptTtlMs });
    const labels = labelIndices(ctx.registry.current, label);
    if (labels.length !== receipt.classes.length) {
      fail(400, 'give one label per instance of the answer (a bare label for a one-instance answer)', {
        labels: labels.length,
        instances: receipt.classes.length });
    }
    if (!(await ctx.scored.claim(receipt.answerId, receipt.expiresAt))) {
      fail(409, 'that answer already has feedback', { answerId: receipt.answerId });
    }
    ctx.ledger.feedback(receipt, labels);
    return c.json({ recorded: labels.length }, 200);
  });
}

function addReport(app: OpenAPIHono<AppEnv>, ctx: ServeContext): void {
  const report = createRoute({
    method: 'get',
    path: '/v1/ab/report',
    operationId: 'abReport',
    ...PUBLIC,
    summary: 'Per variant: requests, latency percentiles, shadow agreement and KL, accuracy on feedback',
    responses: { 200: jsonResponse(AbReport, 'The report since start-up (latencies: the last 10,000 per variant)'),
      ...COMMON_RESPONSES },
  });
  app.openapi(report, async function abReport(c) {
    // With --workers, every worker's counts: the client reached one of them, but asked about the server.
    const variants = cluster.isWorker ? reportOf((await gather(AB_LEDGER)) as LedgerSnapshot[]) : ctx.ledger.report();
    return c.json({ arms: [...ctx.split.arms], shadow: ctx.config.shadow, variants: variants as Record<string, never> },
      200);
  });
}
