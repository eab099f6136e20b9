import { describe, expect, it } from 'vitest';
import { checkBudgets, parseBudgets, percentile, type Measurement } from '../../loadtest/index.js';

const measurement = (p99: number, errors = 0, rps = 100): Measurement => ({
  connections: 8,
  seconds: 1,
  ok: rps,
  rps,
  errors,
  timeouts: 0,
  non2xx: 0,
  statusCodes: { 200: rps },
  latencyMs: { mean: p99 / 2, p50: p99 / 2, p90: p99 * 0.8, p99, p999: p99 * 1.5, max: p99 * 2 },
});

describe('parseBudgets', () => {
  it('reads metrics, units, an endpoint and a load level', () => {
    expect(parseBudgets('p99=20ms, errors=0,student:p99.9@32=0.1s,rps=50')).toEqual([{ text: 'p99=20ms',
      endpoint: undefined, connections: undefined, metric: 'p99', limit: 20 }, { text: 'errors=0', endpoint: undefined,
      connections: undefined, metric: 'errors', limit: 0 }, { text: 'student:p99.9@32=0.1s', endpoint: 'student',
      connections: 32, metric: 'p99.9', limit: 100 }, { text: 'rps=50', endpoint: undefined, connections: undefined,
      metric: 'rps', limit: 50 }]);
  });

  it('names every malformed item', () => {
    expect(() => parseBudgets('p98=20ms,errors=1ms')).toThrow(
      /"p98=20ms" is not[\s\S]*"errors=1ms": errors is a count/,
    );
  });
});

describe('checkBudgets', () => {
  const cells = [{ endpoint: 'student', connections: 8, measurement: measurement(10) }, { endpoint: 'student',
    connections: 32, measurement: measurement(30, 2) }, { endpoint: 'ensemble', connections: 32,
    measurement: measurement(40, 0, 20) }];

  it('holds every cell to an unscoped budget, and only the named ones to a scoped one', () => {
    const p99 = checkBudgets(parseBudgets('p99=25ms'), cells);
    expect(p99.map((v) => [v.endpoint, v.connections, v.ok])).toEqual([['student', 8, true], ['student', 32, false], [
      'ensemble',
      32,
      false,
    ]]);
    const scoped = checkBudgets(parseBudgets('student:p99@8=25ms'), cells);
    expect(scoped).toEqual([{ budget: 'student:p99@8=25ms', endpoint: 'student', connections: 8, value: 10, limit: 25,
      ok: true }]);
  });

  it('treats errors and p-values as ceilings and rps as a floor', () => {
    expect(checkBudgets(parseBudgets('errors=0'), cells).map((v) => v.ok)).toEqual([true, false, true]);
    expect(checkBudgets(parseBudgets('rps=50'), cells).map((v) => v.ok)).toEqual([true, true, false]);
  });

  it('fails a budget that matches nothing, so a misspelt endpoint cannot pass', () => {
    expect(checkBudgets(parseBudgets('studnet:p99=25ms'), cells)).toEqual([{ budget: 'studnet:p99=25ms',
      endpoint: 'studnet', connections: 0, value: null, limit: 25, ok: false }]);
  });
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 99), percentile(sorted, 99.9),
      percentile(new Float64Array(0), 50)]).toEqual([50, 99, 100, null]);
  });
});
