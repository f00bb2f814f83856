/**
 * Integration rules for Integrated Gradients, reproducing Captum's
 * `captum/attr/_utils/approximation_methods.py`.
 *
 * IG approximates ∫₀¹ ∂F(x' + α(x − x'))/∂x dα by Σᵢ stepSizes[i] · grad(alphas[i]),
 * so every rule here is a set of points `alphas` in [0, 1] and weights `stepSizes`.
 * The weights sum to 1, except Captum's riemann_trapezoid: Captum gives every point
 * the width 1/n and halves the two end points, so its weights sum to (n − 1)/n (every
 * release since 0.4). Under Captum's name gradlens reproduces that; the textbook
 * trapezoid rule (width 1/(n − 1)) is 'trapezoid'.
 */
import { fail } from '../errors.js';

export type IntegrationMethod =
  | 'riemann_left'
  | 'riemann_right'
  | 'riemann_middle'
  | 'riemann_trapezoid'
  | 'gausslegendre'
  | 'trapezoid';

export const INTEGRATION_METHODS: readonly IntegrationMethod[] = Object.freeze([
  'riemann_left',
  'riemann_right',
  'riemann_middle',
  'riemann_trapezoid',
  'gausslegendre',
  'trapezoid',
] as const);

export interface Quadrature {
  /** Points in [0, 1] at which the integrand (the gradient) is evaluated. */
  alphas: number[];
  /** Weight of each point (they sum to 1, but to (n − 1)/n for Captum's riemann_trapezoid). */
  stepSizes: number[];
}

/** Validate a user-supplied method name (e.g. from the CLI). */
export function parseIntegrationMethod(name: string): IntegrationMethod {
  if ((INTEGRATION_METHODS as readonly string[]).includes(name)) return name as IntegrationMethod;
  return fail(
    `unknown integration method ${JSON.stringify(String(name))}; expected one of: ${INTEGRATION_METHODS.join(', ')}`,
  );
}

/** The most integration steps a rule is built for (Gauss–Legendre nodes cost O(n²) to compute in all). */
export const MAX_STEPS = 10_000;

function checkSteps(nSteps: number): void {
  if (typeof nSteps !== 'number' || !Number.isInteger(nSteps) || nSteps < 1) {
    fail(`n_steps must be a positive integer, got ${String(nSteps)}`);
  }
  if (nSteps > MAX_STEPS) fail(`n_steps is at most ${MAX_STEPS}, got ${nSteps}`);
}

/** numpy/torch-style linspace: n evenly spaced points from start to stop inclusive. */
function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  out[n - 1] = stop; // exact endpoint, as numpy does
  return out;
}

/** Points and weights of the chosen rule on [0, 1] with `nSteps` points. */
export function quadrature(method: IntegrationMethod, nSteps: number): Quadrature {
  const m = parseIntegrationMethod(method);
  checkSteps(nSteps);
  const n = nSteps;
  switch (m) {
    case 'riemann_left':
      // Left endpoints of n equal subintervals.
      return { alphas: linspace(0, 1 - 1 / n, n), stepSizes: new Array<number>(n).fill(1 / n) };
    case 'riemann_right':
      // Right endpoints.
      return { alphas: linspace(1 / n, 1, n), stepSizes: new Array<number>(n).fill(1 / n) };
    case 'riemann_middle':
      // Midpoints: second-order accurate.
      return {
        alphas: linspace(1 / (2 * n), 1 - 1 / (2 * n), n),
        stepSizes: new Array<number>(n).fill(1 / n),
      };
    case 'riemann_trapezoid': {
      // Captum's: n points including both ends, each of width 1/n, the end points halved (Σ = (n − 1)/n).
      if (n < 2) fail(`riemann_trapezoid needs n_steps >= 2, got ${n}`);
      const stepSizes = new Array<number>(n).fill(1 / n);
      stepSizes[0] = 1 / n / 2;
      stepSizes[n - 1] = 1 / n / 2;
      return { alphas: linspace(0, 1, n), stepSizes };
    }
    case 'trapezoid': {
      // The textbook rule: n points including both ends, n − 1 intervals of 1/(n − 1); end points get half weight.
      if (n < 2) fail(`trapezoid needs n_steps >= 2, got ${n}`);
      const h = 1 / (n - 1);
      const stepSizes = new Array<number>(n).fill(h);
      stepSizes[0] = h / 2;
      stepSizes[n - 1] = h / 2;
      return { alphas: linspace(0, 1, n), stepSizes };
    }
    case 'gausslegendre': {
      // Map the [−1, 1] rule to [0, 1]: α = (1 + x)/2, dα = dx/2.
      const { nodes, weights } = cachedLegendre(n);
      return { alphas: nodes.map((x) => 0.5 * (1 + x)), stepSizes: weights.map((w) => 0.5 * w) };
    }
  }
}

const legendreCache = new Map<number, { nodes: number[]; weights: number[] }>();

/** legendreGauss(n), remembered for the last few n (batch runs and 'auto' ask for the same rules again). */
function cachedLegendre(n: number): { nodes: number[]; weights: number[] } {
  let rule = legendreCache.get(n);
  if (!rule) {
    rule = legendreGauss(n);
    if (legendreCache.size >= 16) legendreCache.delete(legendreCache.keys().next().value!);
    legendreCache.set(n, rule);
  }
  return rule;
}

/**
 * Evaluate the Legendre polynomial P_n and its derivative at x with the
 * three-term recurrence (k+1) P_{k+1} = (2k+1) x P_k − k P_{k−1}, and
 * P_n'(x) = n (x P_n − P_{n−1}) / (x² − 1)  (valid for |x| < 1).
 */
export function legendreWithDerivative(n: number, x: number): { p: number; dp: number } {
  let p0 = 1; // P_{k-1}
  let p1 = x; // P_k
  if (n === 0) return { p: 1, dp: 0 };
  for (let k = 1; k < n; k++) {
    const p2 = ((2 * k + 1) * x * p1 - k * p0) / (k + 1);
    p0 = p1;
    p1 = p2;
  }
  return { p: p1, dp: (n * (x * p1 - p0)) / (x * x - 1) };
}

/**
 * The n-point Gauss–Legendre rule on [−1, 1] (exact for polynomials of degree ≤ 2n − 1),
 * nodes ascending — the same rule as numpy.polynomial.legendre.leggauss.
 *
 * Nodes are the roots of P_n, found by Newton's method from the asymptotic guess
 * x_i ≈ cos(π (i − 1/4) / (n + 1/2)); weights are w_i = 2 / ((1 − x_i²) P_n'(x_i)²).
 * Only the non-negative roots are computed; the rest follow by symmetry.
 */
export function legendreGauss(n: number): { nodes: number[]; weights: number[] } {
  checkSteps(n);
  const nodes = new Array<number>(n);
  const weights = new Array<number>(n);
  const half = Math.ceil(n / 2);
  // Recurrence coefficients, once: (k+1) P_{k+1} = (2k+1) x P_k − k P_{k−1}.
  const a = new Float64Array(n), b = new Float64Array(n);
  for (let k = 1; k < n; k++) {
    a[k] = (2 * k + 1) / (k + 1);
    b[k] = k / (k + 1);
  }
  const evaluate = (x: number): { p: number; dp: number } => {
    let p0 = 1, p1 = x;
    for (let k = 1; k < n; k++) {
      const p2 = a[k]! * x * p1 - b[k]! * p0;
      p0 = p1;
      p1 = p2;
    }
    return { p: p1, dp: n === 1 ? 1 : (n * (x * p1 - p0)) / (x * x - 1) };
  };
  // From Tricomi's second-order guess Newton reaches rounding level in two or three O(n) evaluations per node
  // (10,000 nodes in about half a second; quadrature() caches rules by n).
  const shrink = 1 - 1 / (8 * n * n) + 1 / (8 * n * n * n);
  for (let i = 1; i <= half; i++) {
    // i-th largest root (descending as i grows).
    let x = shrink * Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    const isCentre = n % 2 === 1 && i === half;
    if (isCentre) x = 0; // P_n is odd for odd n: the middle root is exactly 0.
    let { p, dp } = evaluate(x);
    if (!isCentre) {
      for (let iter = 0; iter < 100; iter++) {
        const dx = p / dp;
        x -= dx;
        ({ p, dp } = evaluate(x));
        if (Math.abs(dx) <= 4 * Number.EPSILON * Math.abs(x)) break; // converged to rounding level
      }
    }
    const w = 2 / ((1 - x * x) * dp * dp);
    // Root i (counting from the top) goes to index n − i; its mirror to index i − 1.
    nodes[n - i] = x;
    weights[n - i] = w;
    nodes[i - 1] = -x;
    weights[i - 1] = w;
  }
  if (n % 2 === 1) nodes[half - 1] = 0; // avoid −0
  return { nodes, weights };
}
