/**
 * The interpretable models of Captum's Lime and KernelShap, as scikit-learn fits them: weighted least squares with an
 * intercept (LinearRegression: minimum-norm solution when the samples do not determine every coefficient) and the
 * Lasso (1 / (2n))·Σ w_i (y_i − b − z_i·β)² + α‖β‖₁ with weights rescaled to sum to n, solved by coordinate descent
 * to convergence (scikit-learn stops at its own tolerance, so its coefficients differ from the exact minimiser by
 * that much).
 */
import { fail } from '../errors.js';

export interface LinearFit { coef: Float64Array; intercept: number }

/** Samples (rows of z), targets y and sample weights w, centred and scaled by √w as scikit-learn's _preprocess_data. */
function preprocess(z: readonly Float64Array[], y: ArrayLike<number>, w: ArrayLike<number>, rescale: boolean) {
  const n = z.length;
  const m = z[0]?.length ?? 0;
  if (n === 0) fail('no samples to fit the interpretable model');
  let sw = Float64Array.from(w as ArrayLike<number>);
  const total = sw.reduce((a, b) => a + b, 0);
  if (!(total > 0)) fail('the sample weights sum to zero');
  if (rescale) sw = sw.map((v) => (v * n) / total);
  const sum = sw.reduce((a, b) => a + b, 0);
  const zMean = new Float64Array(m);
  let yMean = 0;
  for (let i = 0; i < n; i++) {
    yMean += sw[i]! * y[i]!;
    for (let j = 0; j < m; j++) zMean[j]! += sw[i]! * z[i]![j]!;
  }
  yMean /= sum;
  for (let j = 0; j < m; j++) zMean[j]! /= sum;
  const x = z.map((row, i) => Float64Array.from(row, (v, j) => Math.sqrt(sw[i]!) * (v - zMean[j]!)));
  const yc = Float64Array.from({ length: n }, (_, i) => Math.sqrt(sw[i]!) * (y[i]! - yMean));
  return { x, yc, zMean, yMean, n, m };
}

const interceptOf = (zMean: Float64Array, yMean: number, coef: Float64Array) => yMean - zMean.reduce((a, v, j) => a + v * coef[j]!, 0);

/** scikit-learn's LinearRegression(fit_intercept=True).fit(z, y, sample_weight=w). */
export function leastSquares(z: readonly Float64Array[], y: ArrayLike<number>, w: ArrayLike<number>): LinearFit {
  const { x, yc, zMean, yMean, n, m } = preprocess(z, y, w, false);
  const coef = new Float64Array(m);
  if (n >= m) {
    // β = (XᵀX)⁺ Xᵀy
    const g = Array.from({ length: m }, (_, a) => Float64Array.from({ length: m }, (_, b) => x.reduce((s, r) => s + r[a]! * r[b]!, 0)));
    const rhs = Float64Array.from({ length: m }, (_, a) => x.reduce((s, r, i) => s + r[a]! * yc[i]!, 0));
    coef.set(pinvSolve(g, rhs));
  } else {
    // Minimum norm: β = Xᵀ (XXᵀ)⁺ y
    const k = Array.from({ length: n }, (_, a) => Float64Array.from({ length: n }, (_, b) => x[a]!.reduce((s, v, j) => s + v * x[b]![j]!, 0)));
    const u = pinvSolve(k, yc);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) coef[j]! += x[i]![j]! * u[i]!;
  }
  return { coef, intercept: interceptOf(zMean, yMean, coef) };
}

/** scikit-learn's Lasso(alpha, fit_intercept=True).fit(z, y, sample_weight=w), solved to convergence. */
export function lasso(z: readonly Float64Array[], y: ArrayLike<number>, w: ArrayLike<number>, alpha: number): LinearFit {
  const { x, yc, zMean, yMean, n, m } = preprocess(z, y, w, true);
  const coef = new Float64Array(m);
  const norms = Float64Array.from({ length: m }, (_, j) => x.reduce((s, r) => s + r[j]! * r[j]!, 0));
  const resid = Float64Array.from(yc);
  const threshold = n * alpha;
  for (let sweep = 0; sweep < 100_000; sweep++) {
    let change = 0, size = 0;
    for (let j = 0; j < m; j++) {
      if (norms[j] === 0) continue;
      const old = coef[j]!;
      let rho = 0;
      for (let i = 0; i < n; i++) rho += x[i]![j]! * (resid[i]! + x[i]![j]! * old);
      const next = Math.sign(rho) * Math.max(Math.abs(rho) - threshold, 0) / norms[j]!;
      if (next !== old) {
        for (let i = 0; i < n; i++) resid[i]! -= x[i]![j]! * (next - old);
        coef[j] = next;
      }
      change = Math.max(change, Math.abs(next - old));
      size = Math.max(size, Math.abs(next));
    }
    if (change <= 1e-13 * Math.max(size, 1e-300) || change === 0) break;
  }
  return { coef, intercept: interceptOf(zMean, yMean, coef) };
}

/** Solves A·v = b for symmetric positive semi-definite A with its pseudo-inverse (Jacobi eigendecomposition). */
export function pinvSolve(a: Float64Array[], b: ArrayLike<number>): Float64Array {
  const n = a.length;
  const { values, vectors } = symmetricEigen(a);
  const top = Math.max(0, ...values);
  const cutoff = top * n * 1e-13;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    if (values[k]! <= cutoff) continue;
    let proj = 0;
    for (let i = 0; i < n; i++) proj += vectors[i]![k]! * b[i]!;
    proj /= values[k]!;
    for (let i = 0; i < n; i++) out[i]! += vectors[i]![k]! * proj;
  }
  return out;
}

/** Cyclic Jacobi eigendecomposition of a symmetric matrix: A = V·diag(values)·Vᵀ (columns of V). */
export function symmetricEigen(input: Float64Array[]): { values: Float64Array; vectors: Float64Array[] } {
  const n = input.length;
  const a = input.map((r) => Float64Array.from(r));
  const v = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) (i === j ? (diag += a[i]![i]! ** 2) : (off += a[i]![j]! ** 2));
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (apq === 0) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!, akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!, aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!, vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i]![i]!), vectors: v };
}
