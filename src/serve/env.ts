import type { IncomingMessage } from 'node:http';
import type { RequestIdVariables } from 'hono/request-id';
import type { ModelName } from './config.js';

// Its own module, holding types only: the routes, the error handler and the context all name it,
// and none of them should import the others for it.

/** Per-request values: handlers name the model and A/B variant so the metrics can label them. */
export type AppEnv = {
  /** Node's request, under @hono/node-server; absent when a test calls app.request. */
  Bindings: { incoming?: IncomingMessage };
  Variables: RequestIdVariables & {
    /** When the request arrived (performance.now()): its deadline and latency count from here. */
    arrivedAt: number;
    model?: ModelName;
    variant?: ModelName;
  };
};
