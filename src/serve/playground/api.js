/* global AbortSignal, fetch, performance */
// The server's API as the page uses it: same origin, JSON in and out, errors as { error, details }.

/**
 * Far longer than a healthy server takes to answer, so past it the server or a proxy in between
 * has hung, and the page says so instead of showing "classifying…" forever.
 */
const TIMEOUT_MS = 10_000;

async function errorOf(res) {
  try {
    const body = await res.json();
    return new Error(`${res.status}: ${body.error ?? res.statusText}`);
  } catch {
    return new Error(`${res.status}: ${res.statusText}`);
  }
}

/** What fetch throws before any answer, in words: the browser's own ("Failed to fetch") say nothing. */
function plainError(error) {
  if (error?.name === 'TimeoutError') return new Error(`no answer within ${TIMEOUT_MS / 1000} s`);
  if (error instanceof TypeError) return new Error('cannot reach the server');
  return error;
}

/**
 * fetch with the timeout, which also covers reading the body (`read`); throws the server's error
 * message for an error status.
 */
async function call(path, init, read) {
  try {
    const res = await fetch(path, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) throw await errorOf(res);
    return { res, body: await read(res) };
  } catch (error) {
    throw plainError(error);
  }
}

/** GET a JSON route; throws with the server's error message. */
export async function getJson(path) {
  return (await call(path, { headers: { accept: 'application/json' } }, (res) => res.json())).body;
}

/** GET a text route (the Prometheus metrics). */
export async function getText(path) {
  return (await call(path, {}, (res) => res.text())).body;
}

/**
 * One model's answer for one input, with the round trip as the browser saw it and the model's own
 * share (queue + batch), which the server reports in its Server-Timing header.
 *
 * @param {'student' | 'generalist' | 'ensemble' | 'members'} model
 * @param {ArrayLike<number>} x one input of the bundle's size
 * @param {{ topK?: number, temperature?: number, explain?: boolean }} options
 */
export async function predict(model, x, options = {}) {
  const started = performance.now();
  const { res, body } = await call(`/v1/models/${model}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: [Array.from(x)], ...options }),
  }, (res) => res.json());
  const roundTripMs = performance.now() - started;
  const serverMs = Number(/model;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1]);
  return { prediction: body.predictions[0], roundTripMs, serverMs: Number.isFinite(serverMs) ? serverMs : null };
}

/** POST a JSON body; returns the parsed answer, throws with the server's error message. */
export async function postJson(path, body, headers = {}) {
  return (await call(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body) }, (res) => res.json())).body;
}

/**
 * Prometheus text format → samples. Enough of the format for this server's own metrics: one
 * `name{label="value",…} number` per line, comments skipped.
 *
 * @example
 *   parsePrometheus('serve_tfjs_tensors 42\n'); // [{ name: 'serve_tfjs_tensors', labels: {}, value: 42 }]
 */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}
