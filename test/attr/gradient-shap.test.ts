import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { GradlensError } from '../../src/errors.js';
import { GradientShap } from '../../src/attr/gradient-shap.js';
import { IntegratedGradients } from '../../src/attr/integrated-gradients.js';
import { fixture, flat } from '../helpers.js';
import { mlpModel, mlpGrad, randMatrix, randTensor, randVector, rowOf, tanhSpec, relErr, maxAbs, type MlpSpec } from './tiny-models.js';
import { ligFixture, ligInputs } from './lig-fixture.js';

const [N, H, K, E] = [5, 6, 3, 2];
const spec = tanhSpec(N, H, K, 4);
const model = mlpModel(spec);
const x = randTensor(40, E, N, 1.2);
const data = (r: { attributions: Record<string, HostTensor> }, n = 'x') => r.attributions[n]!.data as Float64Array;

test('GradientShap is reproducible with a seed, and another seed changes it', async () => {
  const gs = new GradientShap(model);
  const baselines = randTensor(41, 4, N, 0.5);
  const opts = { baselines, target: 1, nSamples: 6, stdevs: 0.1 };
  const a = await gs.attribute({ x }, { ...opts, seed: 1 });
  const b = await gs.attribute({ x }, { ...opts, seed: 1 });
  const c = await gs.attribute({ x }, { ...opts, seed: 2 });
  assert.deepEqual(a.attributions.x!.dims, [E, N]);
  assert.deepEqual(Array.from(data(a)), Array.from(data(b)), 'same seed');
  assert.ok(relErr(data(a), data(c)) > 1e-3, 'another seed');
  await gs.runner.release();
});

test('GradientShap with one baseline row, stdevs 0 and 1000 samples approaches IG (Monte Carlo over α)', async () => {
  const base = randTensor(42, 1, N, 0.5);
  const nSamples = 1000;
  const gs = await new GradientShap(model).attribute({ x }, { baselines: base, target: 0, nSamples, seed: 9 });
  const ig = await new IntegratedGradients(model).attribute({ x }, { baselines: base, target: 0 });
  // With one baseline b and no noise, GradientShap is (x_i − b_i) · mean_k ∂F/∂x_i(b + α_k(x − b)) with α_k ~ U(0, 1):
  // an unbiased Monte Carlo estimate of IG_i with standard error |x_i − b_i| · σ_i / √n, σ_i² = Var_α[∂F/∂x_i].
  // σ_i comes from the float64 reference (midpoint rule, 2000 points); each feature must lie within 4 standard
  // errors, plus 1e-5 of max |IG| for float32 and quadrature error. A sampler of the wrong α range (or of the
  // endpoint gradient) is off by many standard errors.
  const b = rowOf({ x: base }, 0).x!;
  let worst = 0;
  for (let e = 0; e < E; e++) {
    const xe = Array.from(rowOf({ x }, e).x!);
    const M = 2000;
    const m1 = new Float64Array(N), m2 = new Float64Array(N);
    for (let k = 0; k < M; k++) {
      const a = (k + 0.5) / M;
      const g = mlpGrad(spec, { x: xe.map((v, j) => b[j]! + a * (v - b[j]!)) }, 0).x!;
      g.forEach((v, j) => { m1[j]! += v / M; m2[j]! += (v * v) / M; });
    }
    for (let j = 0; j < N; j++) {
      const se = Math.abs(xe[j]! - b[j]!) * Math.sqrt(Math.max(0, m2[j]! - m1[j]! ** 2)) / Math.sqrt(nSamples);
      const err = Math.abs(data(gs)[e * N + j]! - data(ig)[e * N + j]!);
      worst = Math.max(worst, err / Math.max(se, 1e-12));
      assert.ok(err <= 4 * se + 1e-5 * maxAbs(data(ig)), `example ${e} feature ${j}: |GS − IG| = ${err}, standard error ${se}`);
    }
  }
  console.log(`GradientShap vs IG: worst error ${worst.toFixed(2)} standard errors; relative ${relErr(data(gs), data(ig)).toExponential(3)}`);
});

test('GradientShap on a linear model: exact per-sample completeness, and w ⊙ (x − b) for one baseline', async () => {
  const s: MlpSpec = { inputs: [{ name: 'x', size: N }], branches: [{ A: { x: randMatrix(43, H, N) }, W: randMatrix(44, H, 1), c: randVector(45, 1), act: 'none' }] };
  const w = mlpGrad(s, { x: new Array(N).fill(0) }, 0).x!;
  const gs = new GradientShap(mlpModel(s));
  const baselines = randTensor(46, 4, N, 2);
  const nSamples = 7;
  for (const stdevs of [0, 0.3]) {
    const r = await gs.attribute({ x }, { baselines, nSamples, stdevs, seed: 3, returnConvergenceDelta: true });
    assert.equal(r.delta!.length, nSamples * E, 'one delta per sample');
    // Σ_i w_i (x̃_i − b_i) = F(x̃) − F(b) holds exactly; float32 leaves ~1e-6 on values of size ~10: 1e-5.
    for (const d of r.delta!) assert.ok(Math.abs(d) <= 1e-5, `stdevs ${stdevs}: delta ${d}`);
  }
  const one = randTensor(47, 1, N);
  const r = await gs.attribute({ x }, { baselines: one, nSamples: 3 });
  const want = Array.from({ length: E * N }, (_, i) => w[i % N]! * (Number(x.data[i]) - Number(one.data[i % N])));
  assert.ok(relErr(data(r), want) <= 1e-5, `w ⊙ (x − b): ${relErr(data(r), want)}`);
  await gs.runner.release();
});

test('GradientShap on the BERT embeddings layer: baseline examples as model inputs, reproducible', async () => {
  const fx = ligFixture;
  const info = fx.models.opset17!;
  const gs = new GradientShap(readModelFile(fixture('bert', info.model)), { layer: info.embeddings_output });
  const { inputs } = ligInputs();
  const ids = flat(fx.baseline_ids);
  // Two baseline examples: the reference ids, and the same with [MASK]-like id 103 in the question.
  const baselines = { input_ids: tensor('int64', [...ids, ...ids.map((v, i) => (i > 0 && i < 5 ? 103 : v))], [2, ids.length]) };
  const opts = { baselines, output: 'end_logits', target: 2, nSamples: 5, seed: 4, returnConvergenceDelta: true } as const;
  const a = await gs.attribute(inputs, opts);
  const b = await gs.attribute(inputs, opts);
  assert.deepEqual(a.attributions[info.embeddings_output]!.dims, [1, ids.length, 32]);
  assert.deepEqual(Array.from(data(a, info.embeddings_output)), Array.from(data(b, info.embeddings_output)));
  assert.equal(a.delta!.length, 5);
  assert.ok(a.delta!.every(Number.isFinite));
  await gs.runner.release();
});

test('GradientShap rejects nSamples 0, baselines of the wrong row shape, negative stdevs and no baselines', async () => {
  const gs = new GradientShap(model);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ baselines: randTensor(48, 3, N), nSamples: 0 }, /nSamples must be a positive integer, got 0/],
    [{ baselines: randTensor(48, 3, N + 1) }, /baselines for x have rows of shape \[6\] but the input rows are \[5\]/],
    [{ baselines: { x: randTensor(48, 3, N - 1) } }, /baselines for x have rows of shape \[4\] but the input rows are \[5\]/],
    [{ baselines: randTensor(48, 3, N), stdevs: -1 }, /stdevs must be ≥ 0, got -1/],
    [{}, /GradientShap needs a baseline distribution/],
  ];
  for (const [bad, message] of cases) {
    await assert.rejects(gs.attribute({ x }, { target: 0, ...bad } as never), (e: Error) => {
      assert.ok(e instanceof GradlensError, `${Object.keys(bad)}: ${e}`);
      assert.match(e.message, message);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  }
  await gs.runner.release();
});
