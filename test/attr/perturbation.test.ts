import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { FeatureAblation } from '../../src/attr/feature-ablation.js';
import { Occlusion, windowStarts } from '../../src/attr/occlusion.js';
import { ShapleyValueSampling, permutation } from '../../src/attr/shapley.js';
import { KernelShap, selectionProbabilities } from '../../src/attr/kernel-shap.js';
import { Lime, cosineKernel } from '../../src/attr/lime.js';
import { Random } from '../../src/attr/random.js';
import type { AttributionResult } from '../../src/attr/base.js';
import type { TargetSpec } from '../../src/attr/targets.js';
import { fixture, readJson } from '../helpers.js';

// The perturbation methods against test/fixtures/perturbation/reference.json: Captum's formulas written out in
// PyTorch (scripts/fixtures/make_perturbation_fixtures.py), float64, on the same weights as the committed ONNX models.
// ORT runs float32: FeatureAblation and Occlusion must agree to 1e-5 of the largest |reference value| of the target
// (with an absolute floor of 3e-6 for float32 rounding of the logits themselves, |logit| ≲ 5).

interface RefTarget {
  output: string; index: number | number[]; label: string; f_x: number; f_baseline: number;
  feature_ablation: number[]; feature_ablation_grouped: number[]; occlusion: { window: number; stride: number; per_token: number[] }[]; shapley_exact: number[];
}
interface RefExample { input: Record<string, string>; ids: number[]; type_ids?: number[]; special_tokens_mask: number[]; baseline_ids: number[]; group_mask: number[]; targets: RefTarget[] }
interface RefModel { model: string; task: string; input_names: string[]; examples: RefExample[] }

const ref = readJson<{ models: RefModel[] }>(fixture('perturbation', 'reference.json'));

function feedsOf(m: RefModel, ex: RefExample): Record<string, HostTensor> {
  const n = ex.ids.length;
  const feeds: Record<string, HostTensor> = {
    input_ids: tensor('int64', ex.ids, [1, n]),
    attention_mask: tensor('int64', ex.ids.map(() => 1), [1, n]),
  };
  if (m.input_names.includes('token_type_ids')) feeds['token_type_ids'] = tensor('int64', ex.type_ids!, [1, n]);
  return feeds;
}

const targetsOf = (ex: RefExample): TargetSpec[] => ex.targets.map((t) => ({ output: t.output, target: t.index, label: t.label }));
const values = (r: AttributionResult): number[] => Array.from(r.attributions['input_ids']!.data as Float64Array);

function assertMatches(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  const tol = Math.max(1e-5 * scale, 3e-6);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol, `${what}[${i}]: ${v} vs ${expected[i]} (tolerance ${tol.toExponential(2)})`));
}

const runners = new Map<string, ModelRunner>();
const runnerFor = (name: string) => {
  if (!runners.has(name)) runners.set(name, new ModelRunner(readModelFile(fixture('models', name, 'onnx', 'model.onnx'))));
  return runners.get(name)!;
};

test('the fixture covers every task and each tokenizer kind', () => {
  assert.deepEqual(new Set(ref.models.map((m) => m.task)), new Set(['classify', 'qa', 'tokens', 'zero-shot']));
  assert.ok(ref.models.reduce((n, m) => n + m.examples.reduce((k, e) => k + e.targets.length, 0), 0) >= 8);
});

for (const m of ref.models) {
  test(`${m.model}: FeatureAblation and Occlusion equal Captum's formulas (PyTorch float64)`, async () => {
    const runner = runnerFor(m.model);
    for (const [k, ex] of m.examples.entries()) {
      const feeds = feedsOf(m, ex);
      const baselines = tensor('int64', ex.baseline_ids, [1, ex.ids.length]);
      const targets = targetsOf(ex);
      for (const per of [1, 3, 64]) {
        const fa = await new FeatureAblation(runner).attribute(feeds, { baselines, targets, perturbationsPerEval: per });
        ex.targets.forEach((t, j) => {
          assertMatches(values(fa[j]!), t.feature_ablation, `example ${k} ${t.label} feature_ablation (${per} per eval)`);
          assert.ok(Math.abs(fa[j]!.fX![0]! - t.f_x) <= 3e-6, 'f_x');
          assert.ok(Math.abs(fa[j]!.fBaseline![0]! - t.f_baseline) <= 3e-6, 'f_baseline');
        });
      }
      const grouped = await new FeatureAblation(runner).attribute(feeds, { baselines, targets, featureMask: ex.group_mask, perturbationsPerEval: 4 });
      ex.targets.forEach((t, j) => assertMatches(values(grouped[j]!), t.feature_ablation_grouped, `example ${k} ${t.label} grouped`));
      for (const occ of ex.targets[0]!.occlusion) {
        const res = await new Occlusion(runner).attribute(feeds, { baselines, targets, slidingWindowShapes: [occ.window], strides: occ.stride, perturbationsPerEval: 5 });
        ex.targets.forEach((t, j) => {
          const want = t.occlusion.find((o) => o.window === occ.window && o.stride === occ.stride)!;
          assertMatches(values(res[j]!), want.per_token, `example ${k} ${t.label} occlusion ${occ.window}/${occ.stride}`);
        });
      }
    }
  });
}

test('ShapleyValueSampling converges to the exact Shapley values (enumerated in PyTorch) and is exactly efficient', async () => {
  const m = ref.models.find((x) => x.model === 'distilbert-cls')!;
  const ex = m.examples[0]!;
  const runner = runnerFor(m.model);
  const feeds = feedsOf(m, ex);
  const baselines = tensor('int64', ex.baseline_ids, [1, ex.ids.length]);
  const mask = ex.special_tokens_mask.map((s, i) => (s ? -1 : i));
  const errors: number[] = [];
  for (const n of [10, 2000]) {
    const [r] = await new ShapleyValueSampling(runner).attribute(feeds, { baselines, targets: targetsOf(ex).slice(0, 1), featureMask: mask, nSamples: n, seed: 7, perturbationsPerEval: 256 });
    const got = values(r!);
    const t = ex.targets[0]!;
    const sum = got.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - (t.f_x - t.f_baseline)) <= 1e-5, `Σ attributions ${sum} vs F(x) − F(baseline) ${t.f_x - t.f_baseline}`);
    got.forEach((v, i) => { if (ex.special_tokens_mask[i]) assert.equal(v, 0); });
    errors.push(Math.hypot(...got.map((v, i) => v - t.shapley_exact[i]!)) / Math.hypot(...t.shapley_exact));
  }
  // 2000 permutations: within 3% (L2) of the exact values, and much closer than 10 permutations.
  assert.ok(errors[1]! < 0.03, `relative L2 error with 2000 permutations: ${errors[1]}`);
  assert.ok(errors[1]! < errors[0]!, `errors ${errors}`);
});

test('KernelShap approaches the exact Shapley values with many samples; KernelShap and Lime are reproducible by seed', async () => {
  const m = ref.models.find((x) => x.model === 'roberta-qa')!;
  const ex = m.examples[0]!;
  const runner = runnerFor(m.model);
  const feeds = feedsOf(m, ex);
  const baselines = tensor('int64', ex.baseline_ids, [1, ex.ids.length]);
  const mask = ex.special_tokens_mask.map((s, i) => (s ? -1 : i));
  const targets = targetsOf(ex);
  const run = (method: KernelShap | Lime, nSamples: number, seed: number) => method.attribute(feeds, { baselines, targets, featureMask: mask, nSamples, seed, perturbationsPerEval: 512 });
  const many = await run(new KernelShap(runner), 4000, 3);
  ex.targets.forEach((t, j) => {
    const got = values(many[j]!);
    const err = Math.hypot(...got.map((v, i) => v - t.shapley_exact[i]!)) / Math.hypot(...t.shapley_exact);
    assert.ok(err < 0.05, `${t.label}: KernelShap (4000 samples) relative L2 distance to the exact Shapley values ${err}`);
  });
  for (const make of [() => new KernelShap(runner), () => new Lime(runner)]) {
    const a = await run(make(), 25, 11), b = await run(make(), 25, 11), c = await run(make(), 25, 12);
    assert.deepEqual(values(a[0]!), values(b[0]!), 'same seed, same numbers');
    assert.notDeepEqual(values(a[0]!), values(c[0]!), 'another seed, other samples');
    values(a[0]!).forEach((v, i) => { if (ex.special_tokens_mask[i]) assert.equal(v, 0, 'special tokens are never features'); });
  }
});

test('Captum\'s samplers: occlusion windows, Shapley kernel probabilities, permutations, cosine kernel', () => {
  assert.deepEqual(windowStarts(8, 3, 1), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(windowStarts(8, 4, 3), [0, 3, 6]); // the last window is cut at the end, as Captum's padding does
  assert.deepEqual(windowStarts(5, 5, 9), [0]);
  const p = selectionProbabilities(4); // ∝ 3/(k(4 − k)) for k = 1, 2, 3: 1, 0.75, 1
  assert.equal(p[0], 0);
  assert.ok(Math.abs(p[1]! - 1 / 2.75) < 1e-15 && Math.abs(p[2]! - 0.75 / 2.75) < 1e-15 && Math.abs(p[3]! - 1 / 2.75) < 1e-15);
  const counts = new Array(5).fill(0);
  const rand = new Random(1);
  for (let i = 0; i < 20_000; i++) counts[permutation(5, rand)[0]!]++;
  counts.forEach((c) => assert.ok(Math.abs(c - 4000) < 300, `first element counts ${counts}`));
  assert.equal(cosineKernel(Float64Array.of(1, 2), Float64Array.of(1, 2)), 1);
  // orthogonal: distance 1, exp(−1/2)
  assert.ok(Math.abs(cosineKernel(Float64Array.of(1, 0), Float64Array.of(0, 1)) - Math.exp(-0.5)) < 1e-15);
});

test('perturbation methods refuse bad settings with one clear message', async () => {
  const m = ref.models[0]!;
  const ex = m.examples[0]!;
  const runner = runnerFor(m.model);
  const feeds = feedsOf(m, ex);
  const targets = targetsOf(ex);
  await assert.rejects(new Occlusion(runner).attribute(feeds, { targets, slidingWindowShapes: [99] }), /window \(99\) is larger than the input \(8 elements\)/);
  await assert.rejects(new Occlusion(runner).attribute(feeds, { targets, slidingWindowShapes: [2], strides: 3 }), /stride \(3\) is larger than the window \(2\)/);
  await assert.rejects(new Occlusion(runner).attribute(feeds, { targets, slidingWindowShapes: [2], strides: 0 }), /stride must be at least 1/);
  await assert.rejects(new ShapleyValueSampling(runner).attribute(feeds, { targets, nSamples: 0 }), /nSamples must be a positive integer/);
  await assert.rejects(new FeatureAblation(runner).attribute(feeds, { targets, featureMask: [0, 1] }), /feature mask has 2 entries but the input has 8/);
  await assert.rejects(new FeatureAblation(runner).attribute(feeds, { targets, perturbationsPerEval: 0 }), /perturbationsPerEval must be a positive integer/);
});
