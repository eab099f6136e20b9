import { describe, expect, it } from 'vitest';
import { serverLatency } from '../../loadtest/overload.js';

const series = (code: string, buckets: Record<string, number>, count: number, endpoint = '/v1/models/:model/predict') =>
  [
    ...Object.entries(buckets).map(([le, n]) =>
      `serve_request_duration_seconds_bucket{le="${le}",endpoint="${endpoint}",` +
        `model="ensemble",variant="none",code="${code}"} ${n}`
    ),
    `serve_request_duration_seconds_count{endpoint="${endpoint}",model="ensemble",variant="none",code="${code}"} ` +
      `${count}`,
  ].join('\n');

describe('serverLatency', () => {
  it('counts 2xx over the first bucket at or past the deadline, ignoring other codes and routes', () => {
    const text = ['# HELP serve_request_duration_seconds Arrival to response, seconds',
      series('200', { 1: 90, 2.5: 95, 5: 97, 10: 100, '+Inf': 100 }, 100), series('503', { 1: 5, 5: 5, '+Inf': 5 }, 5),
      series('200', { 1: 0, 5: 0, '+Inf': 7 }, 7, '/v2/models/:name/infer')].join('\n');
    expect(serverLatency(text, '/v1/models/:model/predict', 5)).toEqual({ answered: 100, overBound: 3,
      boundSeconds: 5 });
    expect(serverLatency(text, '/v1/models/:model/predict', 3)).toEqual({ answered: 100, overBound: 3,
      boundSeconds: 5 });
    expect(serverLatency(text, '/v1/models/:model/predict', 20)).toBeNull();
    expect(serverLatency('', '/v1/models/:model/predict', 5)).toBeNull();
  });
});
