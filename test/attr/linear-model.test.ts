import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lasso, leastSquares, symmetricEigen } from '../../src/attr/linear-model.js';
import { rng } from '../helpers.js';

// The interpretable models of Lime and KernelShap, checked by their optimality conditions (an oracle independent of
// the solver): the weighted normal equations for least squares, the Lasso's KKT conditions.

function data(n: number, m: number, seed: number) {
  const r = rng(seed);
  const z = Array.from({ length: n }, () => Float64Array.from({ length: m }, () => (r.uniform() < 0.5 ? 1 : 0)));
  const truth = Float64Array.from({ length: m }, (_, j) => (j % 3 === 0 ? 0 : r.normal()));
  const y = Float64Array.from(z, (row) => 0.7 + row.reduce((s, v, j) => s + v * truth[j]!, 0) + 0.05 * r.normal());
  const w = Float64Array.from({ length: n }, () => 0.2 + r.uniform());
  return { z, y, w, truth };
}

/** Weighted residuals r_i = w_i (y_i − b − z_i·β) and the gradient Σ_i r_i z_ij. */
function residualGradient(z: Float64Array[], y: Float64Array, w: Float64Array, coef: Float64Array, b: number) {
  const r = Float64Array.from(z, (row, i) => w[i]! * (y[i]! - b - row.reduce((s, v, j) => s + v * coef[j]!, 0)));
  return { sum: r.reduce((a, v) => a + v, 0), grad: Float64Array.from(coef, (_, j) => z.reduce((s, row, i) => s + r[i]! * row[j]!, 0)) };
}

test('leastSquares solves the weighted normal equations (with intercept)', () => {
  const { z, y, w } = data(60, 8, 1);
  const fit = leastSquares(z, y, w);
  const { sum, grad } = residualGradient(z, y, w, fit.coef, fit.intercept);
  assert.ok(Math.abs(sum) < 1e-9, `Σ w r = ${sum}`);
  grad.forEach((g) => assert.ok(Math.abs(g) < 1e-9, `normal equations ${g}`));
});

test('leastSquares gives the minimum-norm solution when samples are fewer than features (as lstsq)', () => {
  const { z, y, w } = data(6, 12, 2);
  const fit = leastSquares(z, y, w);
  const { grad } = residualGradient(z, y, w, fit.coef, fit.intercept);
  grad.forEach((g) => assert.ok(Math.abs(g) < 1e-8));
  // Exact fit and β in the row space of the centred samples: adding a null-space direction only makes it longer.
  const { sum } = residualGradient(z, y, w, fit.coef, fit.intercept);
  assert.ok(Math.abs(sum) < 1e-8);
  const preds = z.map((row) => fit.intercept + row.reduce((s, v, j) => s + v * fit.coef[j]!, 0));
  preds.forEach((p, i) => assert.ok(Math.abs(p - y[i]!) < 1e-8, 'interpolates'));
});

test('lasso satisfies the KKT conditions of (1/2n)·Σ w′(y − b − zβ)² + α‖β‖₁ with w′ = n·w/Σw', () => {
  for (const alpha of [0.01, 0.1]) {
    const { z, y, w } = data(80, 10, 3);
    const n = z.length;
    const total = w.reduce((a, b) => a + b, 0);
    const ws = w.map((v) => (v * n) / total);
    const fit = lasso(z, y, w, alpha);
    const { sum, grad } = residualGradient(z, y, ws, fit.coef, fit.intercept);
    assert.ok(Math.abs(sum) < 1e-9, 'intercept optimal');
    let zeros = 0;
    fit.coef.forEach((c, j) => {
      const g = grad[j]! / n;
      if (c === 0) { zeros++; assert.ok(Math.abs(g) <= alpha + 1e-9, `zero coefficient ${j}: |g| ${Math.abs(g)} > α`); }
      else assert.ok(Math.abs(g - alpha * Math.sign(c)) < 1e-9, `coefficient ${j}: g ${g} vs α·sign ${alpha * Math.sign(c)}`);
    });
    if (alpha === 0.1) assert.ok(zeros > 0, 'a larger α zeroes some coefficients');
  }
});

test('symmetricEigen decomposes A = V·diag(λ)·Vᵀ', () => {
  const r = rng(4);
  const b = Array.from({ length: 7 }, () => Float64Array.from({ length: 7 }, () => r.normal()));
  const a = b.map((_, i) => Float64Array.from(b, (_, j) => b[i]!.reduce((s, v, k) => s + v * b[j]![k]!, 0)));
  const { values, vectors } = symmetricEigen(a);
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) {
    const back = values.reduce((s, l, k) => s + vectors[i]![k]! * l * vectors[j]![k]!, 0);
    assert.ok(Math.abs(back - a[i]![j]!) < 1e-9);
  }
});
