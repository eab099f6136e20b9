/**
 * The dustbin logit's correction for training on hard labels from a sample whose class prior
 * differs from the natural one (for soft targets and mixes, see `fitDustbinOffset`). Pass the
 * fraction the sampler really drew (`sampledSpecialFraction`): a cluster holding over half the
 * data is sampled at its natural mix, and then the correction is 0.
 *
 * Derivation. A softmax classifier trained to convergence estimates the posterior under the
 * training prior: q_s(c|x) ∝ p(x|c)·π_s(c). The natural posterior is q(c|x) ∝ p(x|c)·π(c), so
 * q(c|x) ∝ q_s(c|x)·π(c)/π_s(c): adding log(π(c)/π_s(c)) to each logit converts one into the other.
 * Classes within the special set keep their natural proportions under half-and-half sampling, so
 * they all share one ratio; only the dustbin's differs. With a special fraction s in the training
 * sample (½ by default) and f in nature, the dustbin logit moves, relative to the special ones, by
 *   log((1 − f)/(1 − s)) − log(f/s) = log((1 − f)/f) − log((1 − s)/s),
 * which is log((1 − f)/f) for s = ½: the dustbin is under-represented by a 50/50 sample whenever
 * f < ½, and its logit must rise.
 *
 * @example
 *   dustbinOffset(0.2); // log(4) ≈ 1.386 for a 50/50 training sample
 */
export function dustbinOffset(naturalSpecialFraction: number, sampledSpecialFraction = 0.5): number {
  const f = naturalSpecialFraction;
  const s = sampledSpecialFraction;
  if (!(f > 0 && f < 1) || !(s > 0 && s < 1)) {
    throw new Error(`dustbinOffset: fractions must lie strictly between 0 and 1 (natural ${f}, sampled ${s})`);
  }
  return Math.log((1 - f) / f) - Math.log((1 - s) / s);
}

/** Newton steps are capped: far from the optimum the curvature of a few confident rows is tiny. */
const MAX_STEP = 4;
/** An offset past this means one side of the split has (almost) no rows; the logit is then moot. */
const MAX_OFFSET = 30;

/**
 * The dustbin offset that best explains held-out rows drawn with the natural prior: the b that
 * maximises Σ_r log softmax(z_r + b·e_dustbin)[y_r], where y_r is the row's specialist label.
 *
 * Why fitted rather than derived. `dustbinOffset` is exact for a specialist trained on hard labels
 * alone. A soft target is the generalist's posterior for the example itself, learnt under the
 * natural prior, and half-and-half sampling changes which examples are seen, not what each target
 * says, so a purely soft-trained specialist needs no offset at all. With both terms, w_s·T²·KL at
 * temperature T and w_h·CE on the labels, the training optimum for an example sits between the two
 * targets: linearised, the dustbin log-odds move by the closed-form offset times
 *   w_h·v / (w_s·v_T + w_h·v),
 * where v and v_T are the dustbin's p(1 − p) at temperature 1 and T. That share depends on the
 * example's confidence (it vanishes where the specialist is sure), so no single closed form is
 * right for a mix; one offset fitted by likelihood on natural-prior rows is, and it recovers the
 * closed form for hard labels and ≈ 0 for soft targets (both tested).
 *
 * Computation. With m_r = z_r,dustbin − logsumexp_{j≠dustbin} z_r,j, the dustbin probability is
 * σ(m_r + b), so this is the intercept of a one-feature logistic regression: concave, solved by
 * Newton. At the optimum the mean dustbin probability equals the dustbin frequency of the rows.
 *
 * @param logits row-major [rows, width], the dustbin last.
 * @param labels specialist labels (width − 1 is the dustbin).
 */
export function fitDustbinOffset(logits: Float32Array, width: number, labels: Int32Array, start = 0): number {
  const dustbin = width - 1;
  const rows = labels.length;
  const margins = new Float64Array(rows);
  let inDustbin = 0;
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * width, (r + 1) * width);
    let max = -Infinity;
    for (let j = 0; j < dustbin; j++) max = Math.max(max, row[j]);
    let sum = 0;
    for (let j = 0; j < dustbin; j++) sum += Math.exp(row[j] - max);
    margins[r] = row[dustbin] - (max + Math.log(sum));
    if (labels[r] === dustbin) inDustbin++;
  }
  if (inDustbin === 0) return -MAX_OFFSET;
  if (inDustbin === rows) return MAX_OFFSET;
  let b = start;
  for (let iteration = 0; iteration < 100; iteration++) {
    let gradient = inDustbin;
    let curvature = 0;
    for (let r = 0; r < rows; r++) {
      const p = 1 / (1 + Math.exp(-(margins[r] + b)));
      gradient -= p;
      curvature += p * (1 - p);
    }
    const step = Math.max(-MAX_STEP, Math.min(MAX_STEP, gradient / Math.max(curvature, 1e-12)));
    b = Math.max(-MAX_OFFSET, Math.min(MAX_OFFSET, b + step));
    if (Math.abs(step) < 1e-9) break;
  }
  return b;
}
