import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions,
  type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TurnBudget, Waiting } from './turn-budget.js';

// Admission at the connection level, before hono: what must be decided without reading a body.

const ARRIVED = Symbol('arrivedAt');
const ARRIVED_DRAINING = Symbol('arrivedWhileDraining');
/** Set on a request that sent Expect: 100-continue: its client waits for the 100 before its body. */
const EXPECTS_CONTINUE = Symbol('expectsContinue');
/** While a request waits for its turn: answers it as the queue would when Node's request timeout fires first. */
const TIMED_OUT_WAITING = Symbol('timedOutWaiting');
const OVER_CAP = Symbol('overCap');
const ERROR_PENDING = Symbol('framingErrorPending');
const ANSWERED = Symbol('answeredAtConnection');
const ENDS_ON_CLOSE = Symbol('endsOnClose');
/** Set while a refused request's unread body is being discarded on a connection kept open. */
const DISCARDING = Symbol('discardingRefusedBody');
type Stamped = IncomingMessage & { [ARRIVED]?: number; [ARRIVED_DRAINING]?: boolean; [EXPECTS_CONTINUE]?: boolean;
  [TIMED_OUT_WAITING]?: () => void };
type Marked = Socket & { [OVER_CAP]?: boolean };

/** When Node parsed the request's headers (performance.now()): deadlines count from here, not from the handler. */
export function arrivedAt(incoming: IncomingMessage | undefined): number | undefined {
  return (incoming as Stamped | undefined)?.[ARRIVED];
}

/**
 * Whether the server was draining when the request's headers arrived: a request that came before the drain began is
 * served even if it waited for its turn past that moment; undefined for a request no admission server saw.
 */
export function arrivedWhileDraining(incoming: IncomingMessage | undefined): boolean | undefined {
  return (incoming as Stamped | undefined)?.[ARRIVED_DRAINING];
}

/**
 * Why a request was answered before it reached the app: past the connection cap, past the waiting
 * limit, predicted to miss its deadline (503), or past it while waiting (504).
 */
export type Refusal = 'connections' | 'waiting' | 'late' | 'deadline';

/** Liveness, readiness and scrapes: answered whatever the load, since a probe that times out restarts a healthy pod. */
export const PROBE_PATH = /^\/(?:v2\/health\/(?:live|ready)|metrics)(?:\?|$)/;

export interface AdmissionOptions {
  /** Open connections per process; a request on one past the cap is answered 503 and its connection closed. */
  maxConnections: number;
  /** The request deadline: headers and body must have arrived within it. */
  deadlineMs: number;
  /** The largest body any route takes: an Expect: 100-continue past it is refused before the body is sent. */
  maxBodyBytes: number;
  /** How many API requests a turn of the event loop starts; the rest wait their turn in order. */
  budget: TurnBudget;
  isDraining: () => boolean;
  /** Requests in flight, for the drain: a request waiting for its turn counts from its arrival. */
  inflight: { begin(): void; end(): void };
  onRefuse?: (reason: Refusal) => void;
  /** Each accepted connection (a draining server waits for quiet before it stops listening). */
  onConnection?: () => void;
  /** An answer given at the connection to bytes that never became a request for the app (431, 400, 408, 501). */
  onConnectionAnswer?: (status: number, message: string) => void;
}

/**
 * A JSON error body and its headers: with `close`, Connection: close; without, no Connection
 * header, so Node keeps the connection exactly when the client asked to.
 */
function errorJson(body: unknown, extra: Record<string, string> = {},
  close = true): { text: string; headers: Record<string, string> } {
  const text = JSON.stringify(body);
  return { text,
    headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)),
      'X-Content-Type-Options': 'nosniff', ...(close ? { Connection: 'close' } : {}), ...extra } };
}

/** A complete JSON error response as raw bytes, for sockets Node's response object no longer covers. */
function rawJson(status: number, reason: string, body: unknown): string {
  const { text, headers } = errorJson(body);
  return `HTTP/1.1 ${status} ${reason}\r\n${
    Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')
  }\r\n\r\n${text}`;
}

/** The cheapest answer a refused request can get: the app never reads its body; `close` unless told otherwise. */
function refuse(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {},
  close = true): void {
  const { text, headers } = errorJson(body, extra, close);
  res.writeHead(status, headers);
  res.end(text);
}

/** Parser failures Node would answer with an empty body, as the API's JSON errors. */
const FRAMING_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request headers too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request not received within the deadline'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'chunk extensions too large'],
};

type WithResponse = Socket & { _httpMessage?: ServerResponse; [ERROR_PENDING]?: boolean;
  [ANSWERED]?: { status: number; message: string }; [ENDS_ON_CLOSE]?: Set<() => void>; [DISCARDING]?: boolean };

/**
 * What the request's connection was answered when its body could not be read (a 408 at the
 * deadline, a 400 for broken chunking, …): its handler then fails reading the body, and that is
 * this answer, not a client that hung up.
 */
export function answeredAtConnection(incoming: IncomingMessage | undefined):
  { status: number; message: string } | undefined {
  return (incoming?.socket as WithResponse | undefined)?.[ANSWERED];
}

function answerFramingError(error: NodeJS.ErrnoException, socket: WithResponse, options: AdmissionOptions,
  { requestInApp }: { requestInApp: boolean }): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = FRAMING_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'malformed HTTP request'];
  socket[ANSWERED] = { status, message };
  // A request the app is reading is recorded by the app when its read fails; any other is counted here.
  if (!requestInApp) options.onConnectionAnswer?.(status, message);
  socket.end(rawJson(status, reason, { error: message, details: { code: error.code ?? null } }));
}

/** Calls `then` once every response queued on the socket has been sent (Node answers pipelined requests in order). */
function afterPendingAnswers(socket: WithResponse, then: () => void): void {
  const pending = socket._httpMessage;
  if (!pending) return then();
  // Node hands the socket to the next queued response in its own 'finish' listener, which runs before this one.
  pending.once('finish', () => setImmediate(() => afterPendingAnswers(socket, then)));
  pending.once('close', () => pending.writableFinished || socket.destroy());
}

function answerClientError(error: NodeJS.ErrnoException, socket: WithResponse, options: AdmissionOptions): void {
  if (socket[ERROR_PENDING]) return; // the parser stays failed: later bytes add nothing to the answer
  // The body of a request already answered (refused) stopped arriving: it gets no second answer.
  if (socket[DISCARDING] && error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.destroy();
    return;
  }
  const inResponse = socket._httpMessage;
  // A request still waiting for its turn has its body unread (or, after Expect, unsent) because of
  // our queue, not the client: it gets the queue's 504, counted as such, not a 408.
  const waiting = (inResponse?.req as Stamped | undefined)?.[TIMED_OUT_WAITING];
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && waiting && socket.writable) {
    waiting();
    return;
  }
  // The client hung up mid-request (a reset, or its end of the stream before the body's): nobody
  // is left to answer, and the request the app was reading is recorded as 499 there.
  if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
    socket.destroy();
    return;
  }
  // Bad bytes after complete requests on one connection (pipelining): those are answered first,
  // then the error, so one bad request never costs the good ones before it their answers.
  if (inResponse?.req?.complete && error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket[ERROR_PENDING] = true;
    afterPendingAnswers(socket, () => answerFramingError(error, socket, options, { requestInApp: false }));
    return;
  }
  if (inResponse?.headersSent) socket.destroy();
  else answerFramingError(error, socket, options, { requestInApp: inResponse !== undefined });
}

/** Sends the 100 Continue a client is waiting for, once the request is taken on: never before a refusal. */
function continueIfExpected(req: IncomingMessage, res: ServerResponse): void {
  if ((req as Stamped)[EXPECTS_CONTINUE] && !res.headersSent) res.writeContinue();
}

/**
 * Hands the request to the app; while draining its answer closes the connection, so keep-alive clients reconnect
 * elsewhere rather than into a reset.
 */
function answerClosingIfDraining(req: IncomingMessage, res: ServerResponse, listener: RequestListener,
  options: AdmissionOptions): void {
  // Checked when the headers go out, not when the request starts: a drain may begin while the model runs.
  continueIfExpected(req, res);
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    if (options.isDraining()) res.setHeader('Connection', 'close');
    return writeHead(...args);
  }) as ServerResponse['writeHead'];
  listener(req, res);
}

/**
 * Ends the request's count in flight once: when its answer closes, or when its connection does,
 * since a response Node queued behind others on a connection that then closes never emits 'close'
 * itself, and a drain would wait for it forever.
 */
function endInflightOnce(req: IncomingMessage, res: ServerResponse,
  inflight: AdmissionOptions['inflight']): () => void {
  const ends = endsOnClose(req.socket as WithResponse);
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    ends.delete(end);
    inflight.end();
  };
  ends.add(end);
  res.once('close', end);
  return end;
}

/** The socket's unfinished requests' ends, all run when it closes: one listener per socket, however many pipelined. */
function endsOnClose(socket: WithResponse): Set<() => void> {
  let ends = socket[ENDS_ON_CLOSE];
  if (!ends) {
    const pending = new Set<() => void>();
    socket.once('close', () => [...pending].forEach((end) => end()));
    ends = socket[ENDS_ON_CLOSE] = pending;
  }
  return ends;
}

/** The body's length as its headers declare it (0 with neither header); undefined when chunked or unreadable. */
function declaredBodyBytes(req: IncomingMessage): number | undefined {
  if (req.headers['transfer-encoding'] !== undefined) return undefined;
  const length = Number(req.headers['content-length'] ?? 0);
  return Number.isFinite(length) ? length : undefined;
}

/**
 * Decides whether a refused request's connection stays open, and prepares it if so: closing it
 * would send the client back through accept, one connection per turn, behind everyone. Node reads
 * and discards the unread body once the answer is sent, so only a body of known length within the
 * limit is worth reading; a draining server closes every connection. While the body is discarded
 * the socket is marked, so that a body which stops arriving ends the connection rather than
 * drawing a second answer.
 */
function keepConnectionIfSafe(req: IncomingMessage, options: AdmissionOptions): boolean {
  const length = declaredBodyBytes(req);
  const keep = !options.isDraining() && length !== undefined && length <= options.maxBodyBytes;
  if (keep && !req.complete) {
    const socket = req.socket as WithResponse;
    socket[DISCARDING] = true;
    req.once('end', () => (socket[DISCARDING] = false));
  }
  return keep;
}

const REFUSAL_OF = { full: 'waiting', late: 'late', stale: 'deadline' } as const satisfies Record<string, Refusal>;

/** What a request refused before it started is answered: status, body, headers. */
function refusalOf(reason: 'full' | 'late' | 'stale', predictedMs: number | undefined, waitedMs: number,
  options: AdmissionOptions): [number, unknown, Record<string, string>] {
  if (reason === 'full') {
    return [503, { error: 'overloaded: too many requests waiting to start',
      details: { maxWaiting: options.budget.maxWaiting } }, { 'Retry-After': '1' }];
  }
  if (reason === 'late') {
    return [503, { error: 'overloaded: the requests ahead would keep this one past its deadline',
      details: { predictedMs: Math.round(predictedMs ?? 0), deadlineMs: options.deadlineMs } }, { 'Retry-After': '1' }];
  }
  return [504, { error: 'deadline exceeded', details: { waitedMs: Math.round(waitedMs) } }, {}];
}

/**
 * A request held for a later turn: started as it arrived, or refused: its queue full, the turns
 * ahead of it predicted to pass its deadline (late), or its deadline passed while it waited (stale).
 */
function waitingRequest(req: IncomingMessage, res: ServerResponse, listener: RequestListener,
  options: AdmissionOptions): Waiting {
  const waitedMs = () => performance.now() - (arrivedAt(req) ?? performance.now());
  const ended = endInflightOnce(req, res, options.inflight);
  let settled = false; // started or refused: a request leaves the queue once
  const settle = () => {
    settled = true;
    (req as Stamped)[TIMED_OUT_WAITING] = undefined; // not delete: the request keeps its shape
  };
  const refuseNow = (reason: 'full' | 'late' | 'stale', predictedMs: number | undefined, forceClose: boolean) => {
    if (settled) return;
    settle();
    ended();
    if (req.socket.destroyed) return;
    options.onRefuse?.(REFUSAL_OF[reason]);
    const [status, body, headers] = refusalOf(reason, predictedMs, waitedMs(), options);
    // A client still waiting for 100 Continue has not sent its body and may never: nothing to read.
    const close = forceClose || (req as Stamped)[EXPECTS_CONTINUE] === true || !keepConnectionIfSafe(req, options);
    refuse(res, status, body, headers, close);
  };
  (req as Stamped)[TIMED_OUT_WAITING] = () => refuseNow('stale', undefined, true);
  return {
    // A chunked body's length is unknown until read: it counts as the largest allowed.
    bytes: declaredBodyBytes(req) ?? options.maxBodyBytes,
    start: () => {
      settle();
      const startedAt = performance.now();
      // Only answers: a 5xx refusal at the deadline says nothing of how long answering takes.
      res.once('finish', () => res.statusCode < 500 && options.budget.served(performance.now() - startedAt));
      answerClosingIfDraining(req, res, listener, options);
    },
    leftMs: () => (req.socket.destroyed || settled ? 0 : options.deadlineMs - waitedMs()),
    refuse: (reason, predictedMs) => refuseNow(reason, predictedMs, false),
  };
}

/**
 * An HTTP server for hono's node adapter (its request listener) that stamps each request's
 * arrival, caps open connections with fast 503s instead of a queue in socket buffers, starts a
 * bounded number of requests per turn of the event loop so new connections are accepted, times out
 * headers and bodies at the deadline, and answers framing errors as JSON.
 */
export function admissionServer(
  options: AdmissionOptions,
): (serverOptions: ServerOptions, listener: RequestListener) => Server {
  return (serverOptions, listener) => {
    const server = createServer({
      ...serverOptions,
      // The app answers a missing Host with a JSON 400 (hostCheck); Node's own answer has no body.
      requireHostHeader: false,
      // A request still arriving when its deadline passes could only be answered 504: stop reading it.
      requestTimeout: options.deadlineMs,
      headersTimeout: options.deadlineMs,
      // Node checks those timeouts on this interval (30 s by default, six deadlines).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.round(options.deadlineMs / 10))),
    }, function onRequest(req, res) {
      (req as Stamped)[ARRIVED] = performance.now();
      (req as Stamped)[ARRIVED_DRAINING] = options.isDraining();
      const probe = PROBE_PATH.test(req.url ?? '');
      if (!probe && (req.socket as Marked)[OVER_CAP]) {
        options.onRefuse?.('connections');
        refuse(res, 503, { error: 'overloaded: too many open connections',
          details: { maxConnections: options.maxConnections } }, { 'Retry-After': '1' });
        return;
      }
      if (probe) answerClosingIfDraining(req, res, listener, options);
      else {
        options.inflight.begin();
        options.budget.admit(waitingRequest(req, res, listener, options));
      }
    });
    let open = 0;
    server.on('connection', (socket: Marked) => {
      options.budget.connectionAccepted();
      options.onConnection?.();
      open++;
      socket.once('close', () => open--);
      if (open > options.maxConnections) socket[OVER_CAP] = true;
    });
    // Node sends 100 Continue to any Expect: 100-continue on its own; a body that will be refused
    // should not be sent at all: for its size here, and by admission (full, late) before it starts.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if ((declaredBodyBytes(req) ?? 0) > options.maxBodyBytes) {
        options.onConnectionAnswer?.(413, 'request body too large');
        refuse(res, 413, { error: 'request body too large', details: { maxBytes: options.maxBodyBytes } });
        return;
      }
      (req as Stamped)[EXPECTS_CONTINUE] = true;
      server.listeners('request').forEach((listener) => (listener as RequestListener)(req, res));
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: WithResponse) =>
      answerClientError(error, socket, options));
    // Node drops a CONNECT without a word when nothing listens for it; this is no proxy.
    server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
      options.onConnectionAnswer?.(501, 'CONNECT is not supported: this is no proxy');
      socket.end(rawJson(501, 'Not Implemented', { error: 'CONNECT is not supported: this is no proxy',
        details: null }));
    });
    // Node's default for an Expect it cannot meet is an empty 417.
    server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
      options.onConnectionAnswer?.(417, 'unsupported Expect header');
      refuse(res, 417, { error: 'unsupported Expect header: only 100-continue is understood', details: null });
    });
    return server;
  };
}
