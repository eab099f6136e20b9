import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { resolveTopK, toBatchItem, topClasses } from '../../src/serve/runtime/predictions.js';

const rejection = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof HTTPException) {
      return { status: error.status, message: error.message, details: (error.cause as { details: unknown }).details };
    }
    throw error;
  }
  throw new Error('did not throw');
};

describe('request rows', () => {
  it('packs instances row-major as float32', () => {
    const item = toBatchItem([[1, 2], [3, 4.5]], 2);
    expect(item.rows).toBe(2);
    expect(Array.from(item.x)).toEqual([1, 2, 3, 4.5]);
  });

  it('lists every bad row by path, not just the first', () => {
    const { status, details } = rejection(() => toBatchItem([[1, 2], [1], [1, 2, 3], [1e39, 0]], 2));
    expect(status).toBe(400);
    expect(details).toEqual([{ path: 'instances.1', message: 'has 1 values, the model takes 2' }, { path: 'instances.2',
      message: 'has 3 values, the model takes 2' }, { path: 'instances.3.0',
      message: 'is outside the float32 range' }]);
  });

  it('defaults topK to 5 (or the class count) and refuses more than the classes', () => {
    expect(resolveTopK(undefined, 10)).toBe(5);
    expect(resolveTopK(undefined, 3)).toBe(3);
    expect(rejection(() => resolveTopK(11, 10)).status).toBe(400);
  });

  it('ranks classes best first, ties by lower class', () => {
    expect(topClasses(Float32Array.from([0.1, 0.4, 0.1, 0.4]), 3)).toEqual([1, 3, 0]);
  });
});
