import cluster from 'node:cluster';
import { stat } from 'node:fs/promises';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import { loadBundle } from '../bundle/index.js';
import { engineInfo, initEngine } from '../engine/index.js';
import { onnxLogits, type OnnxLogits } from '../export/index.js';
import { AB_LEDGER, AbLedger } from './ab/ledger.js';
import { ReceiptSigner } from './ab/receipt.js';
import { scoredAnswers } from './ab/scored.js';
import { AbSplit } from './ab/split.js';
import { allowedHostsOf, parseServeConfig, type ServeConfig, type ServeConfigInput } from './config.js';
import type { ServeContext } from './context.js';
import type { AppEnv } from './env.js';
import { errorHandler, notFoundHandler, validationHook } from './errors.js';
import { answerGather } from './gather.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger } from './logger.js';
import { metricsText, ServeMetrics } from './metrics.js';
import { headContentLength, hostCheck, observe, serverRequestId } from './middleware.js';
import { CanaryError, ModelSet } from './runtime/model-set.js';
import { ModelRegistry } from './runtime/registry.js';
import { abRoutes } from './routes/ab.js';
import { adminRoutes } from './routes/admin.js';
import { bundleRoutes } from './routes/bundle.js';
import { playgroundRoutes } from './routes/playground.js';
import { predictRoutes } from './routes/predict.js';
import { documentV2, v2Routes } from './routes/v2.js';
import { ANSWER_HEADERS, COMMON_RESPONSES, ErrorBody, jsonResponse, PUBLIC } from './schemas.js';

/** The routes written with plain Hono, in the OpenAPI document beside the schema-first ones. */
function documentRoutes(registry: OpenAPIHono['openAPIRegistry']): void {
  documentV2(registry);
  // This document is the one body that is JSON; the rest are text.
  const text = (type: string, description: string) => ({ description, headers: ANSWER_HEADERS,
    content: { [type]: { schema: { type: type === 'application/json' ? 'object' as const : 'string' as const } } } });
  const page = (path: string, operationId: string, summary: string, type: string, request?: { params: z.ZodObject }) =>
    registry.registerPath({ method: 'get', path, operationId, summary, ...PUBLIC, ...(request ? { request } : {}),
      responses: { 200: text(type, summary), ...COMMON_RESPONSES } });
  page('/metrics', 'metrics', 'Prometheus metrics (text exposition format 0.0.4)', 'text/plain');
  page('/openapi.json', 'openapi', 'This document', 'application/json');
  page('/', 'playground', 'The playground: draw or pick an input and compare the three models', 'text/html');
  registry.registerPath({
    method: 'get',
    path: '/playground/{file}',
    operationId: 'playgroundAsset',
    summary: 'A file of the playground (script, style)',
    ...PUBLIC,
    request: { params: z.object({ file: z.string() }) },
    responses: { 200: text('text/javascript', 'The file'), 404: jsonResponse(ErrorBody, 'No such file'),
      ...COMMON_RESPONSES },
  });
}

export interface CreateAppOptions extends ServeConfigInput {
  /** Where log lines go; by default pino on stdout at config.logLevel. */
  logger?: Logger;
}

export interface ServeApp {
  /** Call `app.fetch` from a server, or `app.request` in tests. */
  app: OpenAPIHono<AppEnv>;
  context: ServeContext;
  /**
   * Readiness off, new work refused (503), requests in flight finished (up to drainTimeoutMs),
   * models freed. True when nothing was cut short.
   */
  shutdown(): Promise<boolean>;
}

/** The engine is chosen once per process; an app made in a test or a worker picks it if nobody has. */
async function ensureEngine(config: ServeConfig, logger: Logger): Promise<void> {
  try {
    const info = engineInfo();
    // `npm start` trains a missing bundle first, and OpenBLAS keeps the threads it loaded with.
    if (info.backend === 'blas' && info.threads !== config.blasThreads) {
      logger.info({ threads: info.threads, asked: config.blasThreads },
        'OpenBLAS was loaded earlier in this process; serving with its thread count until restart');
    }
  } catch {
    await initEngine({ backend: config.backend, blasThreads: config.blasThreads, log: (line) => logger.info(line) });
  }
}

/**
 * Loads a bundle into a ModelSet that can serve every A/B arm and passes its canary; anything less
 * is an error and the set is freed (startup fails, or a reload keeps the old set).
 */
function modelLoader(config: ServeConfig, metrics: ServeMetrics,
  split: AbSplit): (bundleDir: string) => Promise<ModelSet> {
  return async (bundleDir) => {
    const bundle = await loadBundle(bundleDir);
    let studentLogits: OnnxLogits | undefined;
    try {
      if (config.studentRuntime === 'onnx' && bundle.student) {
        studentLogits = await onnxLogits(bundle.student, config.blasThreads);
      }
    } catch (error) {
      bundle.dispose();
      throw error;
    }
    const set = new ModelSet(bundle, config.batching, metrics.hooks(), studentLogits);
    const missing = split.variants.filter((variant) => !set.has(variant));
    if (missing.length > 0) {
      set.dispose();
      const reasons = missing.map((variant) => `${variant}: ${set.unavailable.get(variant)}`).join('; ');
      throw new Error(`${bundleDir} cannot serve every A/B arm (${reasons}): change --ab or the bundle`);
    }
    const problems = await set.canary();
    if (problems.length > 0) {
      set.dispose();
      throw new CanaryError(`${bundleDir} failed its canary prediction: ${problems.join('; ')}`, problems);
    }
    return set;
  };
}

/** Every route, the middleware in front of them, /metrics and the OpenAPI document. */
function honoApp(context: ServeContext): OpenAPIHono<AppEnv> {
  const { config, logger, metrics, lifecycle } = context;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // HSTS is off: this server speaks plain HTTP, and TLS (where there is any) ends in front of it.
  app.use(serverRequestId(), observe(metrics, lifecycle, logger), hostCheck(allowedHostsOf(config)),
    secureHeaders({ strictTransportSecurity: false }), headContentLength());
  app.route('/', predictRoutes(context));
  app.route('/', abRoutes(context));
  app.route('/', adminRoutes(context));
  app.route('/', v2Routes(context));
  app.route('/', bundleRoutes(context));
  app.route('/', playgroundRoutes());
  app.get('/metrics', async function prometheus(c) {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metricsText(metrics));
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  documentRoutes(app.openAPIRegistry);
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'distill-serve',
      version: '1',
      license: { name: 'MIT', url: 'https://spdx.org/licenses/MIT.html' },
      description:
        'Student, generalist, specialist-ensemble and members (an ensemble of full models) classifiers (Hinton et ' +
          'al. 2015), with A/B. The Open Inference Protocol v2 is served under /v2.',
    },
    servers: [{ url: '/', description: 'This server' }],
  });
  app.onError(errorHandler(logger));
  app.notFound(notFoundHandler(app.routes));
  return app;
}

/**
 * The whole server as a Hono app on a bundle folder, without a port: load, check, route.
 * Fails fast (before serving anything) on a bad config or a bundle that cannot serve every A/B arm.
 *
 * @example
 *   const { app, shutdown } = await createApp({ bundleDir: 'models/default', logLevel: 'silent' });
 *   const res = await app.request('/v2/health/ready');
 *   await shutdown();
 */
export async function createApp(options: CreateAppOptions): Promise<ServeApp> {
  const { logger: given, ...input } = options;
  const config = parseServeConfig(input);
  const logger = given ?? createLogger(config.logLevel);
  await ensureEngine(config, logger);
  const metrics = new ServeMetrics();
  const split = new AbSplit(config.ab);

  const loadModels = modelLoader(config, metrics, split);

  if (config.bundleRoot && !(await stat(config.bundleRoot).catch(() => undefined))?.isDirectory()) {
    throw new Error(`--bundle-root ${config.bundleRoot} is not a folder: reload could load nothing`);
  }
  const registry = new ModelRegistry(await loadModels(config.bundleDir), logger);
  const lifecycle = new Lifecycle();
  const context: ServeContext = { config, logger, metrics, lifecycle, registry, split,
    ledger: new AbLedger(split.variants, metrics.ab),
    receipts: new ReceiptSigner(config.abSecret, config.abReceiptTtlMs), scored: scoredAnswers(), loadModels };

  if (cluster.isWorker) answerGather(AB_LEDGER, () => context.ledger.snapshot());
  const app = honoApp(context);

  const set = registry.current;
  logger.info({ bundle: set.dir, name: set.manifest.name, classes: set.numClasses, inputSize: set.inputSize,
    unavailable: Object.fromEntries(set.unavailable), ab: config.ab, shadow: config.shadow }, 'models loaded');
  lifecycle.markReady();

  let shuttingDown: Promise<boolean> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      const clean = await lifecycle.drain(config.drainTimeoutMs);
      await registry.close();
      return clean;
    })();
    return shuttingDown;
  };
  return { app, context, shutdown };
}
