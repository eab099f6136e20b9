import { describe, expect, it } from 'vitest';
import { AbSplit, hashUnit } from '../../../src/serve/ab/split.js';

describe('AbSplit', () => {
  it('sends a key to the same variant every time', () => {
    const split = new AbSplit([{ variant: 'student', weight: 50 }, { variant: 'ensemble', weight: 50 }]);
    for (let user = 0; user < 50; user++) {
      const first = split.pick(`user-${user}`);
      for (let again = 0; again < 5; again++) expect(split.pick(`user-${user}`)).toBe(first);
    }
  });

  it('splits sequential keys in proportion to the weights, within 5 standard deviations', () => {
    const split = new AbSplit([{ variant: 'student', weight: 1 }, { variant: 'generalist', weight: 3 }, {
      variant: 'ensemble',
      weight: 6,
    }]);
    const n = 20_000;
    const counts = { student: 0, generalist: 0, ensemble: 0, members: 0 };
    for (let i = 0; i < n; i++) counts[split.pick(`user-${i}`)]++;
    for (const [variant, p] of [['student', 0.1], ['generalist', 0.3], ['ensemble', 0.6]] as const) {
      expect(Math.abs(counts[variant] - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    }
  });

  it('places keyless requests at random in the same proportions, and never in a zero-weight arm', () => {
    const split = new AbSplit([{ variant: 'student', weight: 100 }, { variant: 'ensemble', weight: 0 }]);
    for (let i = 0; i < 1000; i++) expect(split.pick(undefined)).toBe('student');
    expect(split.others('student')).toEqual(['ensemble']);
  });

  it('hashes keys into [0, 1)', () => {
    const values = Array.from({ length: 1000 }, (_, i) => hashUnit(String(i)));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
  });
});
