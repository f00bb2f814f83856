/**
 * Faithfulness metrics of attributions: ERASER's AOPC comprehensiveness and sufficiency (as ferret computes them),
 * Kendall's τ against leave-one-out importance, and Captum's infidelity and sensitivity_max. The model-specific part
 * (the probability of the predicted class for a token sequence) is the caller's; these are the formulas.
 */

/** The q of AOPC: 0.1, 0.2, …, 1.0. */
export const AOPC_STEPS = Array.from({ length: 10 }, (_, i) => (i + 1) / 10);

/** Tokens taken at step q of n: ⌈q·n⌉ (q = s / 10, computed in integers). */
export const topCount = (step: number, n: number): number => Math.ceil((step * n) / 10 - 1e-9);

/** Positions (indices into `scores`) by score, largest first; ties: earlier position first. */
export function ranking(scores: readonly number[]): number[] {
  return scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
}

export interface AopcSets {
  /** For q = 0.1 … 1.0, the positions taken (the top ⌈q·n⌉ by signed score). */
  top: number[][];
}

/** The top sets of AOPC for scores over n positions (only the non-special tokens: the caller maps them). */
export function aopcSets(scores: readonly number[]): AopcSets {
  const order = ranking(scores);
  return { top: AOPC_STEPS.map((_, s) => order.slice(0, topCount(s + 1, scores.length))) };
}

/** mean over q of p(x) − p(x with the top set deleted), or of p(x) − p(only the top set kept). */
export const aopc = (p0: number, perturbed: readonly number[]): number => perturbed.reduce((a, p) => a + (p0 - p), 0) / perturbed.length;

/** Kendall's τ-b (ties in either ranking accounted for); NaN when one side is constant. */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  let concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const x = Math.sign(a[i]! - a[j]!), y = Math.sign(b[i]! - b[j]!);
      if (x === 0 && y === 0) continue;
      if (x === 0) tiesA++;
      else if (y === 0) tiesB++;
      else if (x === y) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom > 0 ? (concordant - discordant) / denom : NaN;
}

/**
 * Captum's infidelity (normalize=False): the mean over perturbations I of (Σ I ⊙ attribution − (F(x) − F(x − I)))².
 * `dots[s]` = Σ I_s ⊙ attribution, `fDiffs[s]` = F(x) − F(x − I_s).
 */
export function infidelity(dots: readonly number[], fDiffs: readonly number[]): number {
  return dots.reduce((a, d, s) => a + (d - fDiffs[s]!) ** 2, 0) / dots.length;
}

/** Captum's sensitivity_max: max over perturbed inputs of ‖attr(x + δ) − attr(x)‖ / ‖attr(x)‖ (Frobenius norms). */
export function sensitivityMax(base: ArrayLike<number>, perturbed: readonly ArrayLike<number>[]): number {
  let norm = 0;
  for (let i = 0; i < base.length; i++) norm += Number(base[i]) ** 2;
  // Captum divides by 1 where the explanation's norm is 0.
  const scale = norm > 0 ? Math.sqrt(norm) : 1;
  let best = -Infinity;
  for (const p of perturbed) {
    let d = 0;
    for (let i = 0; i < base.length; i++) d += (Number(p[i]) - Number(base[i])) ** 2;
    best = Math.max(best, Math.sqrt(d) / scale);
  }
  return best;
}
