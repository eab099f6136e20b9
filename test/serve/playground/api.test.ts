import { afterEach, describe, expect, it, vi } from 'vitest';

type Api = {
  parsePrometheus: (text: string) => { name: string; labels: Record<string, string>; value: number }[];
  getJson: (path: string) => Promise<unknown>;
};
const { getJson, parsePrometheus } =
  (await import(new URL('../../../src/serve/playground/api.js', import.meta.url).href)) as Api;

describe('parsePrometheus', () => {
  it('reads samples with and without labels, skipping comments', () => {
    const text = ['# HELP serve_requests_total Requests answered', '# TYPE serve_requests_total counter',
      'serve_requests_total{endpoint="/v1/models/:model/predict",model="student",variant="none",code="200"} 12',
      'serve_tfjs_tensors 42', 'serve_batch_size_bucket{le="+Inf",model="ensemble"} 3',
      'odd_label{msg="a \\"quoted\\" value"} 1e-3', ''].join('\n');
    expect(parsePrometheus(text)).toEqual([{ name: 'serve_requests_total',
      labels: { endpoint: '/v1/models/:model/predict', model: 'student', variant: 'none', code: '200' }, value: 12 }, {
      name: 'serve_tfjs_tensors',
      labels: {},
      value: 42,
    }, { name: 'serve_batch_size_bucket', labels: { le: '+Inf', model: 'ensemble' }, value: 3 }, { name: 'odd_label',
      labels: { msg: 'a \\"quoted\\" value' }, value: 0.001 }]);
  });
});

describe('a request that fails before the server answers', () => {
  afterEach(() => vi.unstubAllGlobals());

  // What fetch throws when its AbortSignal.timeout fires, and when the network is down.
  it.each([
    [new DOMException('signal timed out', 'TimeoutError'), 'no answer within 10 s'],
    [new TypeError('Failed to fetch'), 'cannot reach the server'],
  ])('says so in words: %s', async (thrown, message) => {
    const fetch = vi.fn(() => Promise.reject(thrown));
    vi.stubGlobal('fetch', fetch);
    await expect(getJson('/v1/bundle')).rejects.toThrow(new Error(message));
    expect((fetch.mock.calls[0] as unknown[])[1]).toMatchObject({ signal: expect.any(AbortSignal) });
  });
});
