import { describe, expect, it } from 'vitest';
import { InstanceRow } from '../../src/serve/schemas.js';

describe('InstanceRow', () => {
  it('passes a row of finite numbers through as the same array, uncopied', () => {
    const row = [0, 0.5, -3, 1e30];
    const parsed = InstanceRow.safeParse(row);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toBe(row);
  });

  it('names each bad value by its index, as z.array(z.number()) did', () => {
    const parsed = InstanceRow.safeParse([1, 'x', 2, null, true]);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['1',
      'Invalid input: expected number, received string'], ['3', 'Invalid input: expected number, received null'], ['4',
      'Invalid input: expected number, received boolean']]);
  });

  it('refuses non-finite numbers, which JSON cannot carry but a direct caller can', () => {
    expect(InstanceRow.safeParse([1, Number.NaN]).error?.issues[0]).toMatchObject({ path: [1],
      message: 'Invalid input: expected number, received a non-finite number' });
    expect(InstanceRow.safeParse([Infinity]).success).toBe(false);
    expect(InstanceRow.safeParse([-Infinity]).success).toBe(false);
  });

  it('stops at ten issues per row, so a row of 784 strings gives a readable error', () => {
    const parsed = InstanceRow.safeParse(Array.from({ length: 784 }, () => 'x'));
    expect(parsed.error?.issues).toHaveLength(10);
  });

  it('leaves an empty row to the bundle check, which knows the input size', () => {
    expect(InstanceRow.safeParse([]).success).toBe(true);
  });

  it('refuses a row that is not an array', () => {
    for (const row of ['1,2', 3, null, { 0: 1 }]) {
      const parsed = InstanceRow.safeParse(row);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0].message).toMatch(/expected an array of numbers/);
    }
  });
});
