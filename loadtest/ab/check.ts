import type { AbDrive } from './drive.js';
import type { ModelScore } from './score.js';

// Does /v1/ab/report agree with the offline numbers? Offline here means the direct endpoints'
// answers on the same examples (score.ts): from them, what the ledger should have counted is
// known example by example.

export interface LedgerCheck {
  check: string;
  reported: number | null;
  expected: number | null;
  /** |reported − expected| allowed: 0 for counts, the tolerance for rates. */
  allowed: number;
  ok: boolean;
}

const row = (check: string, reported: number | null, expected: number | null, allowed: number): LedgerCheck => ({ check,
  reported, expected, allowed,
  ok: reported !== null && expected !== null && Math.abs(reported - expected) <= allowed + 1e-12 });

/**
 * One row per quantity: requests served per variant (exact), instances labelled, accuracy on
 * feedback and the served answers themselves (within `tolerance`: batches of different make-up may
 * round differently in float32), and shadow agreement. With shadow runs on, every variant is
 * labelled on every example, so its accuracy must equal the direct endpoint's.
 *
 * @example
 *   const failed = checkLedger(drive, { student, ensemble }, split.y, 0.002).filter((c) => !c.ok);
 */
export function checkLedger(drive: AbDrive, scores: Record<string, ModelScore>, labels: Int32Array,
  tolerance: number): LedgerCheck[] {
  const variants = Object.keys(drive.counts);
  const missing = variants.filter((v) => !scores[v]);
  if (missing.length > 0) {
    throw new Error(
      `the A/B arms include ${
        missing.join(', ')
      }, which this run did not score: serve with --ab student:50,ensemble:50`,
    );
  }
  const n = drive.examples;
  const checks: LedgerCheck[] = [];
  for (const variant of variants) {
    const counts = drive.counts[variant];
    const score = scores[variant];
    const served = drive.servedBy.flatMap((v, i) => (v === variant ? [i] : []));
    // Shadow runs a queue declined are not compared; those examples then carry no label for this variant.
    const shadowedBy = variants.filter((u) => u !== variant).map((u) => drive.counts[u].shadow[variant]?.compared ?? 0)
      .reduce((a, b) => a + b, 0);
    const labelledSet = drive.shadow && shadowedBy === n - served.length ?
      Array.from({ length: n }, (_, i) => i) :
      served;
    const expectedCorrect = labelledSet.filter((i) => score.classes[i] === labels[i]).length;
    const mismatched = served.filter((i) => drive.classes[i] !== score.classes[i]).length;
    checks.push(row(`${variant}: requests served`, counts.requests, served.length, 0),
      row(`${variant}: instances labelled by feedback`, counts.labelled,
        drive.shadow ? served.length + shadowedBy : served.length, 0),
      row(`${variant}: accuracy on feedback`, counts.labelled ? counts.correct / counts.labelled : null,
        labelledSet.length ? expectedCorrect / labelledSet.length : null, tolerance),
      row(`${variant}: A/B answers that differ from the direct endpoint's (fraction)`,
        served.length ? mismatched / served.length : 0, 0, tolerance));
  }
  if (drive.shadow && variants.length === 2) {
    const [a, b] = variants;
    let compared = 0;
    let agreed = 0;
    for (const v of variants) {
      for (const s of Object.values(drive.counts[v].shadow)) {
        compared += s.compared;
        agreed += s.agreed;
      }
    }
    let same = 0;
    for (let i = 0; i < n; i++) if (scores[a].classes[i] === scores[b].classes[i]) same++;
    checks.push(row(`agreement ${a} / ${b} (shadow runs)`, compared ? agreed / compared : null, same / n, tolerance));
  }
  return checks;
}
