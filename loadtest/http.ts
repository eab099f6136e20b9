// Plain HTTP for the A/B run, where every answer is read (autocannon only counts them): one
// request with a timeout, and a bounded pool that runs a fixed number of tasks before a deadline.

/** One request may take this long before it is abandoned as failed. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T>(url: string, init: RequestInit): Promise<JsonResponse<T>> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(
      `${init.method ?? 'GET'} ${url}: ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
    );
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

export function postJson<T = unknown>(url: string, body: unknown,
  headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  return call<T>(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body) });
}

export function getJson<T = unknown>(url: string): Promise<JsonResponse<T>> {
  return call<T>(url, { method: 'GET' });
}

/** The body of a failed answer, for a message: the server's `{ error }` when it sent one. */
export function describe(response: JsonResponse): string {
  const error = (response.body as { error?: unknown } | null)?.error;
  return `${response.status}${typeof error === 'string' ? ` ${error}` : ''}`;
}

/**
 * Runs task(0) … task(count − 1), at most `concurrency` at once, and fails (after the tasks in
 * flight settle) on the first task that throws or once `deadlineMs` has passed: bounded in count
 * and in time.
 *
 * @example
 *   await pool(10_000, 8, 60_000, async (i) => { await postJson(url, bodyOf(i)); });
 */
export async function pool(count: number, concurrency: number, deadlineMs: number,
  task: (index: number) => Promise<void>): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (next < count && !failure) {
      if (performance.now() > deadline) {
        failure = new Error(`gave up after ${Math.round(deadlineMs / 1000)} s with ${next} of ${count} requests sent`);
        break;
      }
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failure ??= error as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) throw failure;
}
