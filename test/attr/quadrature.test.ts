import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_STEPS,
  INTEGRATION_METHODS,
  legendreGauss,
  legendreWithDerivative,
  parseIntegrationMethod,
  quadrature,
  type IntegrationMethod,
} from '../../src/attr/quadrature.js';
import { GradlensError } from '../../src/errors.js';

function close(actual: number, expected: number, tol: number, what = ''): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what} expected ${expected}, got ${actual} (diff ${Math.abs(actual - expected)}, tol ${tol})`,
  );
}

function closeArray(actual: number[], expected: number[], tol: number, what = ''): void {
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) close(actual[i]!, expected[i]!, tol, `${what}[${i}]`);
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

test('riemann_left / right / middle, n = 4', () => {
  const l = quadrature('riemann_left', 4);
  closeArray(l.alphas, [0, 0.25, 0.5, 0.75], 1e-15, 'left alphas');
  closeArray(l.stepSizes, [0.25, 0.25, 0.25, 0.25], 1e-15, 'left steps');
  const r = quadrature('riemann_right', 4);
  closeArray(r.alphas, [0.25, 0.5, 0.75, 1], 1e-15, 'right alphas');
  closeArray(r.stepSizes, [0.25, 0.25, 0.25, 0.25], 1e-15, 'right steps');
  const m = quadrature('riemann_middle', 4);
  closeArray(m.alphas, [0.125, 0.375, 0.625, 0.875], 1e-15, 'middle alphas');
  closeArray(m.stepSizes, [0.25, 0.25, 0.25, 0.25], 1e-15, 'middle steps');
});

test('riemann_trapezoid is Captum\'s formula exactly: widths 1/n, end points halved (sum (n − 1)/n)', () => {
  // captum/attr/_utils/approximation_methods.py: deltas = [1 / n] * n; deltas[0] /= 2; deltas[-1] /= 2;
  // alphas = np.linspace(0, 1, n).
  for (const n of [2, 5, 50]) {
    const t = quadrature('riemann_trapezoid', n);
    const deltas = Array.from({ length: n }, () => 1 / n);
    deltas[0]! /= 2;
    deltas[n - 1]! /= 2;
    assert.deepEqual(t.stepSizes, deltas, `n = ${n}: the same floats as Captum's`);
    closeArray(t.alphas, Array.from({ length: n }, (_, i) => i / (n - 1)), 1e-15, 'alphas');
    assert.ok(Math.abs(t.stepSizes.reduce((a, b) => a + b, 0) - (n - 1) / n) < 1e-12, 'weights sum to (n − 1)/n');
  }
  closeArray(quadrature('riemann_trapezoid', 5).stepSizes, [1 / 10, 1 / 5, 1 / 5, 1 / 5, 1 / 10], 1e-15, 'n = 5');
});

test('trapezoid is the textbook rule: widths 1/(n − 1), end points halved (sum 1)', () => {
  const t = quadrature('trapezoid', 5);
  closeArray(t.alphas, [0, 0.25, 0.5, 0.75, 1], 1e-15, 'trap alphas');
  closeArray(t.stepSizes, [1 / 8, 1 / 4, 1 / 4, 1 / 4, 1 / 8], 1e-15, 'trap steps');
  const t2 = quadrature('trapezoid', 2);
  closeArray(t2.alphas, [0, 1], 0, 'trap2 alphas');
  closeArray(t2.stepSizes, [0.5, 0.5], 0, 'trap2 steps');
  // Captum's rule is the textbook one scaled by (n − 1)/n.
  const c = quadrature('riemann_trapezoid', 5);
  closeArray(c.stepSizes.map((v) => v * 5 / 4), t.stepSizes, 1e-15, 'ratio n/(n − 1)');
});

test('riemann rules with n = 1', () => {
  assert.deepEqual(quadrature('riemann_left', 1), { alphas: [0], stepSizes: [1] });
  assert.deepEqual(quadrature('riemann_right', 1), { alphas: [1], stepSizes: [1] });
  assert.deepEqual(quadrature('riemann_middle', 1), { alphas: [0.5], stepSizes: [1] });
});

test('Gauss–Legendre closed forms for n = 1, 2, 3, 5', () => {
  const g1 = legendreGauss(1);
  closeArray(g1.nodes, [0], 1e-15, 'n1 nodes');
  closeArray(g1.weights, [2], 1e-15, 'n1 weights');

  const g2 = legendreGauss(2);
  const s3 = 1 / Math.sqrt(3);
  closeArray(g2.nodes, [-s3, s3], 1e-15, 'n2 nodes');
  closeArray(g2.weights, [1, 1], 1e-15, 'n2 weights');

  const g3 = legendreGauss(3);
  const r35 = Math.sqrt(3 / 5);
  closeArray(g3.nodes, [-r35, 0, r35], 1e-15, 'n3 nodes');
  closeArray(g3.weights, [5 / 9, 8 / 9, 5 / 9], 1e-15, 'n3 weights');

  const g5 = legendreGauss(5);
  const a = Math.sqrt(5 - 2 * Math.sqrt(10 / 7)) / 3; // inner pair
  const b = Math.sqrt(5 + 2 * Math.sqrt(10 / 7)) / 3; // outer pair
  const wa = (322 + 13 * Math.sqrt(70)) / 900;
  const wb = (322 - 13 * Math.sqrt(70)) / 900;
  closeArray(g5.nodes, [-b, -a, 0, a, b], 1e-14, 'n5 nodes');
  closeArray(g5.weights, [wb, wa, 128 / 225, wa, wb], 1e-14, 'n5 weights');
});

test('Gauss–Legendre rule properties for n = 1…100', () => {
  for (let n = 1; n <= 100; n++) {
    const { nodes, weights } = legendreGauss(n);
    assert.equal(nodes.length, n);
    assert.equal(weights.length, n);
    close(sum(weights), 2, 1e-12, `n=${n} weight sum`);
    for (let i = 0; i < n; i++) {
      const x = nodes[i]!;
      assert.ok(x > -1 && x < 1, `n=${n} node ${i} = ${x} outside (-1, 1)`);
      if (i > 0) assert.ok(x > nodes[i - 1]!, `n=${n} nodes not strictly ascending at ${i}`);
      assert.ok(weights[i]! > 0, `n=${n} weight ${i} not positive`);
      // Symmetry about 0.
      close(x, -nodes[n - 1 - i]!, 1e-15, `n=${n} node symmetry ${i}`);
      close(weights[i]!, weights[n - 1 - i]!, 1e-15, `n=${n} weight symmetry ${i}`);
      // Newton converged: |P_n(x_i)| is at rounding level relative to the slope. (The independent check of the
      // rule is exactness on polynomials below.)
      const { p, dp } = legendreWithDerivative(n, x);
      assert.ok(
        Math.abs(p) <= 1e-13 * Math.max(1, Math.abs(dp)),
        `n=${n} P_n(x_${i}) = ${p} (P_n' = ${dp})`,
      );
    }
    // Exact for x^k, k ≤ 2n − 1: ∫_{−1}^{1} x^k dx = 2/(k+1) for even k, 0 for odd k.
    for (let k = 0; k <= 2 * n - 1; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += weights[i]! * nodes[i]! ** k;
      const exact = k % 2 === 0 ? 2 / (k + 1) : 0;
      const tol = 1e-12 * Math.max(1, Math.abs(exact));
      close(s, exact, tol, `n=${n} ∫x^${k}`);
    }
  }
});

test('Gauss–Legendre is not exact beyond degree 2n − 1', () => {
  // x^{2n} is integrated with a visible error: this rules out a trivially "exact" rule.
  const n = 3;
  const { nodes, weights } = legendreGauss(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += weights[i]! * nodes[i]! ** (2 * n);
  assert.ok(Math.abs(s - 2 / (2 * n + 1)) > 1e-3);
});

test('gausslegendre quadrature maps [−1, 1] to [0, 1]', () => {
  const q = quadrature('gausslegendre', 2);
  const s3 = 1 / Math.sqrt(3);
  closeArray(q.alphas, [0.5 * (1 - s3), 0.5 * (1 + s3)], 1e-15, 'alphas');
  closeArray(q.stepSizes, [0.5, 0.5], 1e-15, 'steps');
  for (const n of [1, 7, 50, 100]) {
    const g = quadrature('gausslegendre', n);
    for (let i = 0; i < n; i++) {
      assert.ok(g.alphas[i]! > 0 && g.alphas[i]! < 1);
      if (i > 0) assert.ok(g.alphas[i]! > g.alphas[i - 1]!);
    }
  }
});

test('step sizes sum to 1 (Captum\'s riemann_trapezoid: (n − 1)/n) and alphas lie in [0, 1] for every method', () => {
  for (const method of INTEGRATION_METHODS) {
    for (const n of [2, 3, 10, 50, 100, 257]) {
      const q = quadrature(method, n);
      assert.equal(q.alphas.length, n, `${method} n=${n}`);
      assert.equal(q.stepSizes.length, n, `${method} n=${n}`);
      close(sum(q.stepSizes), method === 'riemann_trapezoid' ? (n - 1) / n : 1, 1e-12, `${method} n=${n} step sum`);
      for (const a of q.alphas) assert.ok(a >= 0 && a <= 1, `${method} n=${n} alpha ${a}`);
    }
  }
});

function integrateExp(method: IntegrationMethod, n: number): number {
  const q = quadrature(method, n);
  let s = 0;
  for (let i = 0; i < n; i++) s += q.stepSizes[i]! * Math.exp(q.alphas[i]!);
  return s;
}

const EXACT = Math.E - 1; // ∫₀¹ e^α dα

test('gausslegendre integrates e^α to 1e-12 with 10 points', () => {
  close(integrateExp('gausslegendre', 10), EXACT, 1e-12, 'GL10');
  // And already very accurately with 5.
  close(integrateExp('gausslegendre', 5), EXACT, 1e-9, 'GL5');
});

test('orders of accuracy: middle/trapezoid O(1/n²), left/right O(1/n)', () => {
  const cases: [IntegrationMethod, number][] = [
    ['riemann_middle', 4],
    ['trapezoid', 4],
    ['riemann_left', 2],
    ['riemann_right', 2],
  ];
  for (const [method, ratio] of cases) {
    for (const n of [16, 32, 64]) {
      const e1 = Math.abs(integrateExp(method, n) - EXACT);
      // Trapezoid has n − 1 intervals, so compare with 2(n − 1) + 1 points.
      const n2 = method === 'trapezoid' ? 2 * (n - 1) + 1 : 2 * n;
      const e2 = Math.abs(integrateExp(method, n2) - EXACT);
      const r = e1 / e2;
      assert.ok(
        Math.abs(r - ratio) < 0.1 * ratio,
        `${method}: error ratio ${r} between n=${n} and n=${n2}, expected ≈ ${ratio}`,
      );
    }
  }
  // Magnitudes: leading error terms (e−1)/(2n) for left/right, (e−1)/(24n²) middle, (e−1)/(12h⁻²) trapezoid.
  const n = 100;
  close(Math.abs(integrateExp('riemann_left', n) - EXACT) * n, EXACT / 2, 0.02, 'left constant');
  close(Math.abs(integrateExp('riemann_right', n) - EXACT) * n, EXACT / 2, 0.02, 'right constant');
  close(Math.abs(integrateExp('riemann_middle', n) - EXACT) * n * n, EXACT / 24, 1e-3, 'middle constant');
  const m = n - 1;
  close(Math.abs(integrateExp('trapezoid', n) - EXACT) * m * m, EXACT / 12, 1e-3, 'trap constant');
  // Left underestimates and right overestimates an increasing integrand.
  assert.ok(integrateExp('riemann_left', n) < EXACT);
  assert.ok(integrateExp('riemann_right', n) > EXACT);
});

function throwsGradlens(fn: () => unknown, mention: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GradlensError, `expected GradlensError, got ${String(err)}`);
    assert.ok(err.message.includes(mention), `message "${err.message}" should mention "${mention}"`);
    assert.ok(!err.message.includes('\n'), 'message should be one line');
    return true;
  });
}

test('invalid n_steps throws GradlensError naming the value', () => {
  for (const method of INTEGRATION_METHODS) {
    throwsGradlens(() => quadrature(method, 0), 'got 0');
    throwsGradlens(() => quadrature(method, -1), 'got -1');
    throwsGradlens(() => quadrature(method, 2.5), 'got 2.5');
    throwsGradlens(() => quadrature(method, Number.NaN), 'got NaN');
    throwsGradlens(() => quadrature(method, Number.POSITIVE_INFINITY), 'Infinity');
  }
  throwsGradlens(() => quadrature('riemann_left', 0), 'n_steps must be a positive integer');
  throwsGradlens(() => legendreGauss(0), 'got 0');
});

test('riemann_trapezoid with one step throws', () => {
  throwsGradlens(() => quadrature('riemann_trapezoid', 1), 'riemann_trapezoid');
  throwsGradlens(() => quadrature('riemann_trapezoid', 1), 'got 1');
});

test('unknown method names throw and list the valid ones', () => {
  throwsGradlens(() => parseIntegrationMethod('simpson'), 'simpson');
  throwsGradlens(() => quadrature('simpson' as IntegrationMethod, 5), 'simpson');
  for (const valid of INTEGRATION_METHODS) {
    throwsGradlens(() => parseIntegrationMethod('riemann'), valid);
  }
  throwsGradlens(() => parseIntegrationMethod('GaussLegendre'), 'GaussLegendre');
});

test('parseIntegrationMethod accepts every valid name', () => {
  assert.deepEqual([...INTEGRATION_METHODS], [
    'riemann_left',
    'riemann_right',
    'riemann_middle',
    'riemann_trapezoid',
    'gausslegendre',
    'trapezoid',
  ]);
  for (const m of INTEGRATION_METHODS) assert.equal(parseIntegrationMethod(m), m);
});

test('10,000-node Gauss–Legendre: the largest rule allowed is still exact (moments, symmetry, order); beyond it is refused', () => {
  const n = MAX_STEPS;
  const { nodes, weights } = legendreGauss(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += weights[i]!;
    assert.ok(weights[i]! > 0);
    if (i > 0) assert.ok(nodes[i]! > nodes[i - 1]!, 'nodes ascending');
    assert.ok(Math.abs(nodes[i]! + nodes[n - 1 - i]!) < 1e-15, 'symmetric');
  }
  assert.ok(Math.abs(sum - 2) < 1e-12, `Σw = ${sum}`);
  // ∫ x^{2k} over [−1, 1] = 2/(2k + 1), exact for 2k ≤ 2n − 1.
  for (const k of [1, 2, 5, 50]) {
    let m = 0;
    for (let i = 0; i < n; i++) m += weights[i]! * nodes[i]! ** (2 * k);
    assert.ok(Math.abs(m - 2 / (2 * k + 1)) < 1e-12, `moment ${2 * k}: ${m}`);
  }
  // Each node is a root of P_n to rounding level.
  for (const i of [0, 1, 17, 2500, 4999, 5000, 9999]) assert.ok(Math.abs(legendreWithDerivative(n, nodes[i]!).p) < 1e-9, `P_n(x_${i})`);
  assert.throws(() => quadrature('gausslegendre', n + 1), (e: unknown) => e instanceof GradlensError && /n_steps is at most 10000, got 10001/.test(e.message));
  assert.throws(() => quadrature('riemann_left', 1e9), /at most 10000/);
});
