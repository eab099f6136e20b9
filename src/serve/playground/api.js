/* global fetch, performance */
// The server's API as the page uses it: same origin, JSON in and out, errors as { error, details }.

async function errorOf(res) {
  try {
    const body = await res.json();
    return new Error(`${res.status}: ${body.error ?? res.statusText}`);
  } catch {
    return new Error(`${res.status}: ${res.statusText}`);
  }
}

/** GET a JSON route; throws with the server's error message. */
export async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

/** GET a text route (the Prometheus metrics). */
export async function getText(path) {
  const res = await fetch(path);
  if (!res.ok) throw await errorOf(res);
  return res.text();
}

/**
 * One model's answer for one input, with the round trip as the browser saw it and the model's own
 * share (queue + batch), which the server reports in its Server-Timing header.
 *
 * @param {'student' | 'generalist' | 'ensemble'} model
 * @param {ArrayLike<number>} x one input of the bundle's size
 * @param {{ topK?: number, temperature?: number, explain?: boolean }} options
 */
export async function predict(model, x, options = {}) {
  const started = performance.now();
  const res = await fetch(`/v1/models/${model}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: [Array.from(x)], ...options }),
  });
  if (!res.ok) throw await errorOf(res);
  const body = await res.json();
  const roundTripMs = performance.now() - started;
  const serverMs = Number(/model;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1]);
  return { prediction: body.predictions[0], roundTripMs, serverMs: Number.isFinite(serverMs) ? serverMs : null };
}

/** POST a JSON body; returns the parsed answer and its headers, throws with the server's error message. */
export async function postJson(path, body, headers = {}) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body) });
  if (!res.ok) throw await errorOf(res);
  return res.json();
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
