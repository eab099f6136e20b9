import { describe, expect, it } from 'vitest';
import { AbLedger, klDivergence } from '../../../src/serve/ab/ledger.js';

const p = (...values: number[]) => Float32Array.from(values);

describe('AbLedger', () => {
  it('reports request counts and latency percentiles per variant', () => {
    const ledger = new AbLedger(['student', 'ensemble']);
    for (let ms = 1; ms <= 100; ms++) ledger.served(`r${ms}`, 'student', [0], ms);
    const report = ledger.report();
    expect(report.student).toMatchObject({ requests: 100, latencyMs: { p50: 50, p90: 90, p99: 99 } });
    expect(report.ensemble).toMatchObject({ requests: 0, latencyMs: { p50: null, p90: null, p99: null }, feedback: { labelled: 0, accuracy: null } });
  });

  it('records shadow agreement and KL(served ‖ shadow) per instance', () => {
    const ledger = new AbLedger(['student', 'ensemble']);
    ledger.served('r1', 'student', [0, 1], 3);
    ledger.shadowed('r1', { variant: 'student', probabilities: [p(0.9, 0.1), p(0.2, 0.8)] }, { variant: 'ensemble', probabilities: [p(0.9, 0.1), p(0.6, 0.4)] });
    const shadow = ledger.report().student!.shadow.ensemble!;
    expect(shadow.compared).toBe(2);
    expect(shadow.agreement).toBe(0.5);
    expect(shadow.meanKl).toBeCloseTo(klDivergence(p(0.2, 0.8), p(0.6, 0.4)) / 2, 6);
  });

  it('scores feedback for the served and the shadow answer, once per request', () => {
    const ledger = new AbLedger(['student', 'ensemble']);
    ledger.served('r1', 'student', [0, 1], 3);
    ledger.shadowed('r1', { variant: 'student', probabilities: [p(0.9, 0.1), p(0.2, 0.8)] }, { variant: 'ensemble', probabilities: [p(0.9, 0.1), p(0.6, 0.4)] });
    expect(ledger.feedback('r1', [0, 1])).toBe('ok');
    expect(ledger.feedback('r1', [0, 1])).toBe('duplicate');
    expect(ledger.feedback('nope', [0])).toBe('unknown');
    ledger.served('r2', 'ensemble', [1], 3);
    expect(ledger.feedback('r2', [1, 1])).toBe('length');
    const report = ledger.report();
    expect(report.student!.feedback).toEqual({ labelled: 2, accuracy: 1 });
    expect(report.ensemble!.feedback).toEqual({ labelled: 2, accuracy: 0.5 });
  });

  it('KL is zero for equal distributions and finite when the shadow rules a class out', () => {
    expect(klDivergence(p(0.3, 0.7), p(0.3, 0.7))).toBeCloseTo(0, 9);
    expect(Number.isFinite(klDivergence(p(0.5, 0.5), p(1, 0)))).toBe(true);
  });
});
