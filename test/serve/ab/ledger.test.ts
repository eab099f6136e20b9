import { describe, expect, it } from 'vitest';
import { ServeMetrics } from '../../../src/serve/metrics.js';
import { AbLedger, klDivergence } from '../../../src/serve/ab/ledger.js';
import { ScoredMap } from '../../../src/serve/ab/scored.js';

const p = (...values: number[]) => Float32Array.from(values);
const FAR = Date.now() + 3600_000;
const answer = (answerId: string, variant: 'student' | 'ensemble', classes: number[], expiresAt = FAR) => ({ answerId,
  variant, classes, expiresAt });

describe('ScoredMap', () => {
  it('lets an answer be claimed once until its receipt expires, whatever order feedback comes in', () => {
    const scored = new ScoredMap();
    const now = Date.now();
    expect(scored.claimNow('late', now + 5000, now)).toBe(true);
    expect(scored.claimNow('soon', now + 1000, now)).toBe(true);
    expect(scored.claimNow('soon', now + 1000, now + 999)).toBe(false);
    expect(scored.claimNow('late', now + 5000, now + 4999)).toBe(false);
    // the signer refuses an expired receipt before this
    expect(scored.claimNow('late', now + 5000, now + 5001)).toBe(true);
  });
});

describe('AbLedger', () => {
  it('reports request counts and latency percentiles per variant', () => {
    const ledger = new AbLedger(['student', 'ensemble']);
    for (let ms = 1; ms <= 100; ms++) ledger.served(answer(`r${ms}`, 'student', [0]), ms);
    const report = ledger.report();
    expect(report.student).toMatchObject({ requests: 100, latencyMs: { p50: 50, p90: 90, p99: 99 } });
    expect(report.ensemble).toMatchObject({ requests: 0, latencyMs: { p50: null, p90: null, p99: null },
      feedback: { labelled: 0, accuracy: null } });
  });

  it('records shadow agreement and KL(served ‖ shadow) per instance', () => {
    const ledger = new AbLedger(['student', 'ensemble']);
    ledger.served(answer('r1', 'student', [0, 1]), 3);
    ledger.shadowed('r1', { variant: 'student', probabilities: [p(0.9, 0.1), p(0.2, 0.8)] }, { variant: 'ensemble',
      probabilities: [p(0.9, 0.1), p(0.6, 0.4)] });
    const shadow = ledger.report().student!.shadow.ensemble!;
    expect(shadow.compared).toBe(2);
    expect(shadow.agreement).toBe(0.5);
    expect(shadow.meanKl).toBeCloseTo(klDivergence(p(0.2, 0.8), p(0.6, 0.4)) / 2, 6);
  });

  it('scores feedback for the served and the shadow answer', () => {
    const ledger = new AbLedger(['student', 'ensemble']);
    const r1 = answer('r1', 'student', [0, 1]);
    ledger.served(r1, 3);
    ledger.shadowed('r1', { variant: 'student', probabilities: [p(0.9, 0.1), p(0.2, 0.8)] }, { variant: 'ensemble',
      probabilities: [p(0.9, 0.1), p(0.6, 0.4)] });
    expect(ledger.feedback(r1, [0, 1])).toBe('ok');
    const r2 = answer('r2', 'ensemble', [1]);
    ledger.served(r2, 3);
    expect(ledger.feedback(r2, [1, 1])).toBe('length');
    // Served by another worker or replica: scored from the receipt alone.
    expect(ledger.feedback(answer('elsewhere', 'student', [1]), [0])).toBe('ok');
    const report = ledger.report();
    expect(report.student!.feedback).toEqual({ labelled: 3, accuracy: 2 / 3 });
    expect(report.ensemble!.feedback).toEqual({ labelled: 2, accuracy: 0.5 });
  });

  it('exports the same counts as Prometheus counters, which add up across replicas', async () => {
    const metrics = new ServeMetrics();
    const ledger = new AbLedger(['student', 'ensemble'], metrics.ab);
    const r1 = answer('r1', 'student', [0, 1]);
    ledger.served(r1, 3);
    ledger.shadowed('r1', { variant: 'student', probabilities: [p(0.9, 0.1), p(0.2, 0.8)] }, { variant: 'ensemble',
      probabilities: [p(0.9, 0.1), p(0.6, 0.4)] });
    ledger.feedback(r1, [0, 0]);
    ledger.served(answer('r2', 'ensemble', [1]), 3);
    const text = await metrics.registry.metrics();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('serve_ab_answers_total{variant="student"}')).toBe(1);
    expect(value('serve_ab_answers_total{variant="ensemble"}')).toBe(1);
    expect(value('serve_ab_labelled_instances_total{variant="student"}')).toBe(2);
    expect(value('serve_ab_correct_instances_total{variant="student"}')).toBe(1);
    expect(value('serve_ab_correct_instances_total{variant="ensemble"}')).toBe(2); // the shadow said 0, 0
    expect(value('serve_ab_shadow_compared_instances_total{served="student",shadow="ensemble"}')).toBe(2);
    expect(value('serve_ab_shadow_agreed_instances_total{served="student",shadow="ensemble"}')).toBe(1);
    const report = ledger.report();
    expect(report.student!.feedback.accuracy).toBe(0.5);
  });

  it('KL is zero for equal distributions and finite when the shadow rules a class out', () => {
    expect(klDivergence(p(0.3, 0.7), p(0.3, 0.7))).toBeCloseTo(0, 9);
    expect(Number.isFinite(klDivergence(p(0.5, 0.5), p(1, 0)))).toBe(true);
  });
});
