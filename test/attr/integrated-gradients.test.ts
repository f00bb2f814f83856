import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { Session, tensor, type HostTensor } from '../../src/runtime/session.js';
import { IntegratedGradients } from '../../src/attr/integrated-gradients.js';
import { LayerIntegratedGradients } from '../../src/attr/layer-integrated-gradients.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { INTEGRATION_METHODS } from '../../src/attr/quadrature.js';
import type { AttributionResult } from '../../src/attr/base.js';
import { fixture, flat } from '../helpers.js';
import { mlpModel, mlpForward, refIG, randMatrix, randTensor, randVector, rowOf, tanhSpec, relErr, maxAbs, type MlpSpec, type Row } from './tiny-models.js';
import { ligFixture, ligInputs } from './lig-fixture.js';

// Integrated Gradients on tiny float-input graphs F(x) = tanh(x·Aᵀ)·W + c, checked against the IG axioms and a
// float64 JavaScript reference that uses the same quadrature nodes. ORT computes in float32 (~6e-8 relative per
// operation); over these few-operation graphs and 50 steps, attributions agree with the float64 reference within
// REF_TOL = 1e-4 of the largest |attribution|, and implementation-invariant comparisons (batching, target grouping)
// within 1e-6.
const REF_TOL = 1e-4;
const SAME_TOL = 1e-6;

const N = 5, H = 6, K = 3, E = 3;
const spec = tanhSpec(N, H, K, 1);
const model = mlpModel(spec);
const x = randTensor(10, E, N, 1.5);
const attrOf = (r: AttributionResult, name = 'x') => r.attributions[name]!.data as Float64Array;

/** The reference IG for every example, concatenated: per example e, baseline row b(e) and target offset out(e). */
function refBatch(s: MlpSpec, xs: Record<string, HostTensor>, b: (e: number) => Row, out: (e: number) => number,
  name = 'x', nSteps = 50, method: (typeof INTEGRATION_METHODS)[number] = 'gausslegendre', multiply = true): number[] {
  const E = xs[name]!.dims[0]!;
  return Array.from({ length: E }, (_, e) => refIG(s, rowOf(xs, e), b(e), out(e), nSteps, method, multiply)[name]!).flat();
}
const constRow = (v: number, n = N): Row => ({ x: new Array(n).fill(v) });

test('IG completeness: delta is small with Gauss–Legendre 50 and equals Σattr − (F(x) − F(b)) from an independent run', async () => {
  const ig = new IntegratedGradients(model);
  const baseline = randTensor(11, E, N, 0.5);
  const r = await ig.attribute({ x }, { baselines: baseline, target: 1, returnConvergenceDelta: true });
  const a = attrOf(r);
  assert.deepEqual(r.attributions.x!.dims, [E, N]);
  // Against the float64 reference.
  const want = refBatch(spec, { x }, (e) => rowOf({ x: baseline }, e), () => 1);
  assert.ok(relErr(a, want) <= REF_TOL, `IG vs float64 reference: ${relErr(a, want)}`);
  // F at x and at the baseline, by running the model in a separate session.
  const session = await Session.create(model);
  const fx = (await session.run({ x })).y!.data as Float32Array;
  const fb = (await session.run({ x: baseline })).y!.data as Float32Array;
  await session.release();
  for (let e = 0; e < E; e++) {
    const sum = a.slice(e * N, (e + 1) * N).reduce((s, v) => s + v, 0);
    const dF = fx[e * K + 1]! - fb[e * K + 1]!;
    // The returned delta is exactly Σattr − (F(x) − F(b)) up to the float32 outputs (1e-6).
    assert.ok(Math.abs(r.delta![e]! - (sum - dF)) <= SAME_TOL, `delta ${r.delta![e]} vs ${sum - dF}`);
    assert.ok(Math.abs(r.fX![e]! - fx[e * K + 1]!) <= SAME_TOL && Math.abs(r.fBaseline![e]! - fb[e * K + 1]!) <= SAME_TOL, 'fX / fBaseline');
    // Completeness: the 50-node rule integrates this smooth path to float32 accuracy; 1e-4 · max(1, |ΔF|).
    assert.ok(Math.abs(r.delta![e]!) <= 1e-4 * Math.max(1, Math.abs(dF)), `|delta| = ${Math.abs(r.delta![e]!)} for ΔF = ${dF}`);
    // And the float64 model agrees with ORT's F (float32 forward, 1e-5).
    const f64x = mlpForward(spec, rowOf({ x }, e))[1]!;
    assert.ok(Math.abs(f64x - fx[e * K + 1]!) <= 1e-5, 'forward vs float64 reference');
  }
  // Each quadrature rule is the one asked for: compare to the reference with the same rule (20 steps).
  for (const method of INTEGRATION_METHODS) {
    const rm = await ig.attribute({ x }, { baselines: baseline, target: 1, method, nSteps: 20 });
    const wm = refBatch(spec, { x }, (e) => rowOf({ x: baseline }, e), () => 1, 'x', 20, method);
    assert.ok(relErr(attrOf(rm), wm) <= REF_TOL, `${method}: ${relErr(attrOf(rm), wm)}`);
  }
  await ig.runner.release();
});

test('IG sensitivity: a feature with zero weight, and an input not connected to the output, get exactly 0', async () => {
  const A = randMatrix(1, H, N, 0.8).map((row) => row.map((v, j) => (j === 2 ? 0 : v)));
  const s: MlpSpec = {
    inputs: [{ name: 'x', size: N }, { name: 'u', size: 2 }],
    branches: [{ A: { x: A }, W: randMatrix(2, H, K), c: randVector(3, K) }],
  };
  const ig = new IntegratedGradients(mlpModel(s), { inputs: ['x', 'u'] });
  const u = randTensor(12, E, 2, 2);
  const r = await ig.attribute({ x, u }, { baselines: -0.5, target: 0, returnConvergenceDelta: true });
  const a = attrOf(r);
  for (let e = 0; e < E; e++) {
    assert.notEqual(Number(x.data[e * N + 2]), -0.5, 'the feature differs from its baseline');
    assert.ok(a[e * N + 2] === 0, `feature 2 of example ${e} gets ${a[e * N + 2]}`); // exactly 0 (−0 included)
    assert.ok(Math.abs(a[e * N + 1]!) > 1e-4, 'connected features do get attributions');
  }
  assert.ok(attrOf(r, 'u').every((v) => v === 0), `unconnected input gets ${Array.from(attrOf(r, 'u'))}`);
  await ig.runner.release();
});

test('IG linearity in the model: attributions of a·F1 + b·F2 equal a·attr(F1) + b·attr(F2)', async () => {
  const s1 = tanhSpec(N, H, K, 1);
  const s2 = tanhSpec(N, 4, K, 40);
  const [ca, cb] = [0.7, -1.3];
  const comb: MlpSpec = { inputs: s1.inputs, branches: [{ ...s1.branches[0]!, scale: ca }, { ...s2.branches[0]!, scale: cb }] };
  const opts = { baselines: 0.1, target: 2, returnConvergenceDelta: true } as const;
  const r1 = await new IntegratedGradients(mlpModel(s1)).attribute({ x }, opts);
  const r2 = await new IntegratedGradients(mlpModel(s2)).attribute({ x }, opts);
  const rc = await new IntegratedGradients(mlpModel(comb)).attribute({ x }, opts);
  const want = attrOf(r1).map((v, i) => ca * v + cb * attrOf(r2)[i]!);
  // Three float32 evaluations combined: 1e-5 of max |attr|.
  assert.ok(relErr(attrOf(rc), want) <= 1e-5, `linearity: ${relErr(attrOf(rc), want)}`);
  for (let e = 0; e < E; e++) {
    const dF = ca * (r1.fX![e]! - r1.fBaseline![e]!) + cb * (r2.fX![e]! - r2.fBaseline![e]!);
    assert.ok(Math.abs(rc.fX![e]! - rc.fBaseline![e]! - dF) <= 1e-5, 'F is linear in the branches');
  }
});

test('IG symmetry: F symmetric in features 1 and 3, x1 = x3 and equal baselines give equal attributions', async () => {
  const A = randMatrix(5, H, N, 0.8).map((row) => row.map((v, j) => (j === 3 ? row[1]! : v)));
  const s: MlpSpec = { inputs: [{ name: 'x', size: N }], branches: [{ A: { x: A }, W: randMatrix(6, H, K), c: randVector(7, K) }] };
  const ig = new IntegratedGradients(mlpModel(s));
  const xs = Float32Array.from(x.data as Float32Array);
  for (let e = 0; e < E; e++) xs[e * N + 3] = xs[e * N + 1]!;
  const sym = tensor('float32', xs, [E, N]);
  const b = tensor('float32', [0.3, -0.2, 0.5, -0.2, 0.1], [1, N]);
  const r = await ig.attribute({ x: sym }, { baselines: b, target: 0 });
  const a = attrOf(r);
  for (let e = 0; e < E; e++) {
    assert.ok(Math.abs(a[e * N + 1]!) > 1e-3, 'non-trivial attribution');
    assert.ok(Math.abs(a[e * N + 1]! - a[e * N + 3]!) <= SAME_TOL * maxAbs(a), `example ${e}: ${a[e * N + 1]} vs ${a[e * N + 3]}`);
  }
  // Control: with x1 ≠ x3 the two attributions differ, so the check above can fail.
  const r2 = await ig.attribute({ x }, { baselines: b, target: 0 });
  assert.ok(Math.abs(attrOf(r2)[1]! - attrOf(r2)[3]!) > 1e-3, 'asymmetric input gives different attributions');
  await ig.runner.release();
});

test('IG baselines: scalar, [1, n] broadcast, full [E, n] and a record by input name', async () => {
  const runner = new ModelRunner(model);
  const ig = new IntegratedGradients(runner);
  const opts = { target: 0 } as const;
  // Scalar = full tensor of that value = [1, n] tensor of that value.
  const scalar = attrOf(await ig.attribute({ x }, { ...opts, baselines: 0.25 }));
  const wantScalar = refBatch(spec, { x }, () => constRow(0.25), () => 0);
  assert.ok(relErr(scalar, wantScalar) <= REF_TOL, `scalar baseline vs reference: ${relErr(scalar, wantScalar)}`);
  const full = attrOf(await ig.attribute({ x }, { ...opts, baselines: tensor('float32', new Array(E * N).fill(0.25), [E, N]) }));
  assert.ok(relErr(full, scalar) <= SAME_TOL, 'scalar = full tensor');
  // A [1, n] row broadcast over the batch, and the same row repeated as a full tensor.
  const row = randTensor(13, 1, N, 0.5);
  const bcast = attrOf(await ig.attribute({ x }, { ...opts, baselines: row }));
  const wantRow = refBatch(spec, { x }, () => rowOf({ x: row }, 0), () => 0);
  assert.ok(relErr(bcast, wantRow) <= REF_TOL, `[1, n] baseline vs reference: ${relErr(bcast, wantRow)}`);
  const repeated = tensor('float32', [0, 1, 2].flatMap(() => Array.from(row.data as Float32Array)), [E, N]);
  assert.ok(relErr(attrOf(await ig.attribute({ x }, { ...opts, baselines: repeated })), bcast) <= SAME_TOL, '[1, n] = repeated [E, n]');
  // A full [E, n] tensor: one baseline per example.
  const perEx = randTensor(14, E, N, 0.5);
  const fullAttr = attrOf(await ig.attribute({ x }, { ...opts, baselines: perEx }));
  const wantFull = refBatch(spec, { x }, (e) => rowOf({ x: perEx }, e), () => 0);
  assert.ok(relErr(fullAttr, wantFull) <= REF_TOL, `[E, n] baseline vs reference: ${relErr(fullAttr, wantFull)}`);
  // A record by input name, on a two-input model: x takes a [1, n] row, u a scalar.
  const s2: MlpSpec = {
    inputs: [{ name: 'x', size: N }, { name: 'u', size: 2 }],
    branches: [{ A: { x: randMatrix(1, H, N, 0.8), u: randMatrix(21, H, 2, 0.8) }, W: randMatrix(2, H, K), c: randVector(3, K) }],
  };
  const ig2 = new IntegratedGradients(mlpModel(s2), { inputs: ['x', 'u'] });
  const u = randTensor(15, E, 2, 1);
  const rr = await ig2.attribute({ x, u }, { ...opts, baselines: { x: row, u: 0.5 }, returnConvergenceDelta: true });
  for (let e = 0; e < E; e++) {
    const want = refIG(s2, rowOf({ x, u }, e), { x: rowOf({ x: row }, 0).x!, u: [0.5, 0.5] }, 0);
    for (const n of ['x', 'u'] as const) {
      const size = n === 'x' ? N : 2;
      const got = attrOf(rr, n).slice(e * size, (e + 1) * size);
      assert.ok(relErr(got, want[n]!) <= REF_TOL, `record baseline, ${n}[${e}]: ${relErr(got, want[n]!)}`);
    }
    // Completeness sums over both inputs.
    assert.ok(Math.abs(rr.delta![e]!) <= 1e-4 * Math.max(1, Math.abs(rr.fX![e]! - rr.fBaseline![e]!)), `two-input delta ${rr.delta![e]}`);
  }
  await runner.release();
  await ig2.runner.release();
});

test('IG on float64 inputs and baselines (converted to float32) equals IG on float32 ones', async () => {
  const ig = new IntegratedGradients(model);
  const b = randTensor(17, E, N, 0.5);
  const want = await ig.attribute({ x }, { target: 1, baselines: b, returnConvergenceDelta: true });
  const as64 = (t: HostTensor): HostTensor => ({ type: 'float64', data: Float64Array.from(t.data as Float32Array), dims: t.dims });
  const got = await ig.attribute({ x: as64(x) }, { target: 1, baselines: as64(b), returnConvergenceDelta: true });
  // The values are float32-representable, so the runs are the same computation: identical results.
  assert.deepEqual(Array.from(attrOf(got)), Array.from(attrOf(want)));
  assert.deepEqual(Array.from(got.delta!), Array.from(want.delta!));
  await ig.runner.release();
});

test('IG targets: a number, per example, and a multi-dim index into an [E, 2, 3] output', async () => {
  const ig = new IntegratedGradients(model);
  const perEx = [2, 0, 1];
  const r = await ig.attribute({ x }, { target: { perExample: perEx } });
  const want = refBatch(spec, { x }, () => constRow(0), (e) => perEx[e]!);
  assert.ok(relErr(attrOf(r), want) <= REF_TOL, `per-example target: ${relErr(attrOf(r), want)}`);
  assert.deepEqual(r.target.offsets, perEx);
  // A per-example run equals, row by row, the single-index runs.
  for (let e = 0; e < E; e++) {
    const single = attrOf(await ig.attribute({ x }, { target: perEx[e]! }));
    assert.ok(relErr(attrOf(r).slice(e * N, (e + 1) * N), single.slice(e * N, (e + 1) * N)) <= SAME_TOL, `example ${e}`);
  }
  await ig.runner.release();

  const s6: MlpSpec = { ...tanhSpec(N, H, 6, 30), outputShape: [2, 3] };
  const ig6 = new IntegratedGradients(mlpModel(s6));
  const r6 = await ig6.attribute({ x }, { target: [1, 2], returnConvergenceDelta: true });
  const want6 = refBatch(s6, { x }, () => constRow(0), () => 1 * 3 + 2);
  assert.ok(relErr(attrOf(r6), want6) <= REF_TOL, `[1, 2] target: ${relErr(attrOf(r6), want6)}`);
  assert.deepEqual(r6.target.offsets, [5, 5, 5]);
  // Negative indices count from the end (Python style), and per-example multi-dim indices.
  const rn = await ig6.attribute({ x }, { target: { perExample: [[0, 1], [-1, 0], [1, -1]] } });
  const wantN = refBatch(s6, { x }, () => constRow(0), (e) => [1, 3, 5][e]!);
  assert.ok(relErr(attrOf(rn), wantN) <= REF_TOL, `per-example multi-dim targets: ${relErr(attrOf(rn), wantN)}`);
  for (let e = 0; e < E; e++) assert.ok(Math.abs(r6.delta![e]!) <= 1e-4 * Math.max(1, Math.abs(r6.fX![e]! - r6.fBaseline![e]!)));
  await ig6.runner.release();
});

test('IG internalBatchSize 1, 7 and default give the same attributions and split the rows as asked', async () => {
  const results: Float64Array[] = [];
  for (const internalBatchSize of [1, 7, undefined]) {
    const ig = new IntegratedGradients(model);
    const r = await ig.attribute({ x }, { target: 1, baselines: 0.2, internalBatchSize, returnConvergenceDelta: true });
    results.push(attrOf(r));
    const rows = 50 * E;
    assert.equal(ig.runner.counters.gradientRows, rows, 'gradient rows');
    assert.equal(ig.runner.counters.gradientRuns, Math.ceil(rows / (internalBatchSize ?? rows)), `gradient runs for internalBatchSize ${internalBatchSize}`);
    await ig.runner.release();
  }
  // Same arithmetic per row in any batch: 1e-6 of max |attr|.
  assert.ok(relErr(results[0]!, results[2]!) <= SAME_TOL, `1 vs default: ${relErr(results[0]!, results[2]!)}`);
  assert.ok(relErr(results[1]!, results[2]!) <= SAME_TOL, `7 vs default: ${relErr(results[1]!, results[2]!)}`);
});

test('IG multiplyByInputs false returns the integrated gradient, and × (x − b) gives the attributions', async () => {
  const ig = new IntegratedGradients(model);
  const b = randTensor(16, 1, N, 0.5);
  const plain = await ig.attribute({ x }, { target: 2, baselines: b, multiplyByInputs: false });
  const times = await ig.attribute({ x }, { target: 2, baselines: b });
  const want = refBatch(spec, { x }, () => rowOf({ x: b }, 0), () => 2, 'x', 50, 'gausslegendre', false);
  assert.ok(relErr(attrOf(plain), want) <= REF_TOL, `integrated gradient: ${relErr(attrOf(plain), want)}`);
  const scaled = attrOf(plain).map((g, i) => g * (Number(x.data[i]) - Number(b.data[i % N])));
  assert.ok(relErr(scaled, attrOf(times)) <= SAME_TOL, 'attr = (x − b) ⊙ integrated gradient');
  await ig.runner.release();
});

test('IG several targets in one call equal separate single-target runs, sharing the forward passes', async () => {
  const ig = new IntegratedGradients(model);
  const specs = [{ target: 0 }, { target: 2, label: 'two' }, { target: { perExample: [1, 2, 0] } }];
  const before = ig.runner.counters.gradientRows;
  const many = await ig.attribute({ x }, { targets: specs, baselines: -0.3, returnConvergenceDelta: true });
  assert.equal(ig.runner.counters.gradientRows - before, 50 * E, 'one set of gradient rows for all targets');
  assert.equal(many.length, 3);
  assert.equal(many[1]!.target.label, 'two');
  for (const [k, s] of specs.entries()) {
    const one = await ig.attribute({ x }, { target: s.target, baselines: -0.3, returnConvergenceDelta: true });
    assert.ok(relErr(attrOf(many[k]!), attrOf(one)) <= SAME_TOL, `target ${k}: ${relErr(attrOf(many[k]!), attrOf(one))}`);
    for (let e = 0; e < E; e++) {
      assert.ok(Math.abs(many[k]!.delta![e]! - one.delta![e]!) <= SAME_TOL, 'delta');
      assert.equal(many[k]!.fX![e], one.fX![e]);
    }
  }
  await ig.runner.release();
});

test("IG nSteps 'auto' on a tiny model: every example meets the tolerance, with power-of-two steps", async () => {
  const ig = new IntegratedGradients(model);
  const r = await ig.attribute({ x }, { target: 1, baselines: -1, nSteps: 'auto', tolerance: 1e-3 });
  for (let e = 0; e < E; e++) {
    assert.ok(Math.abs(r.delta![e]!) <= 1e-3 * Math.abs(r.fX![e]! - r.fBaseline![e]!) + 1e-7, `example ${e}: delta ${r.delta![e]}`);
    assert.ok([4, 8, 16, 32, 64, 128, 256].includes(r.nSteps![e]!), `steps ${r.nSteps![e]}`);
  }
  console.log(`tiny auto: steps ${r.nSteps}, evaluations ${r.evaluations}, deltas ${Array.from(r.delta!, (d) => d.toExponential(2))}`);
  // Each example ran 4, 8, …, steps nodes (Σ = 2·steps − 4 gradient rows); evaluations is the most any example used.
  const perExample = r.nSteps!.map((n) => 2 * n - 4);
  assert.equal(ig.runner.counters.gradientRows, perExample.reduce((a, b) => a + b, 0), 'only unconverged examples are re-run');
  assert.equal(r.evaluations, Math.max(...perExample));
  // maxSteps caps the refinement even when the tolerance cannot be met.
  const capped = await ig.attribute({ x }, { target: 1, baselines: -1, nSteps: 'auto', tolerance: 1e-12, maxSteps: 8 });
  assert.deepEqual(capped.nSteps, [8, 8, 8]);
  assert.equal(capped.evaluations, 12);
  // The attributions are those of fixed Gauss–Legendre with the chosen number of steps.
  for (let e = 0; e < E; e++) {
    const want = refIG(spec, rowOf({ x }, e), constRow(-1), 1, r.nSteps![e]!).x!;
    assert.ok(relErr(attrOf(r).slice(e * N, (e + 1) * N), want) <= REF_TOL, `auto example ${e}`);
  }
  await ig.runner.release();
});

test("LayerIG nSteps 'auto' on the BERT QA fixture: |delta| ≤ 1% of |F(x) − F(b)| in fewer evaluations than GL-50", async () => {
  const fx = ligFixture;
  const info = fx.models.opset14!;
  const runner = new ModelRunner(readModelFile(fixture('bert', info.model)));
  const lig = new LayerIntegratedGradients(runner, info.embeddings_output);
  const { inputs, baselines } = ligInputs();
  const results = await lig.attribute(inputs, {
    baselines, nSteps: 'auto', targets: fx.targets.map((t) => ({ output: t.of, target: t.index.slice(1) })),
  });
  const ref = fx.methods.gausslegendre!.targets;
  results.forEach((r, k) => {
    const dF = r.fX![0]! - r.fBaseline![0]!;
    assert.ok(Math.abs(dF - (ref[k]!.f_x - ref[k]!.f_baseline)) <= 1e-4, 'F(x) − F(b) as in the reference');
    assert.ok(Math.abs(r.delta![0]!) <= 0.01 * Math.abs(dF), `${fx.targets[k]!.of}: |delta| ${Math.abs(r.delta![0]!)} > 1% of ${Math.abs(dF)}`);
    assert.ok(r.evaluations! < 50, `evaluations ${r.evaluations} (steps ${r.nSteps})`);
    // Against the 50-step Gauss–Legendre reference: fewer nodes, so agreement within 3% of max |attr|.
    const want = flat(ref[k]!.attr);
    const err = relErr(r.attributions[info.embeddings_output]!.data as Float32Array, want);
    assert.ok(err <= 0.03, `${fx.targets[k]!.of}: error ${err} vs GL-50`);
    console.log(`auto ${fx.targets[k]!.of}: steps ${r.nSteps}, evaluations ${r.evaluations}, delta ${r.delta![0]!.toExponential(3)}, ΔF ${dF.toFixed(6)}, error vs GL-50 ${err.toExponential(3)}`);
  });
  assert.equal(runner.counters.gradientRows, results[0]!.evaluations, 'gradient rows = evaluations (one example)');
  await runner.release();
});
