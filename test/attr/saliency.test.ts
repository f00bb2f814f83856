import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { Session, tensor, type HostTensor } from '../../src/runtime/session.js';
import { Saliency } from '../../src/attr/saliency.js';
import { InputXGradient } from '../../src/attr/input-x-gradient.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { fixture, readJson, flat, dimsOf, type Nested } from '../helpers.js';
import { mlpModel, mlpGrad, randTensor, rowOf, tanhSpec, relErr } from './tiny-models.js';

// Saliency and InputXGradient on the embeddings-layer output of the BERT fixtures, against PyTorch float64 autograd
// on the same float32 weights. ORT computes in float32: 1e-4 relative to the largest |entry| of the reference row
// (the tolerance test/autodiff/bert.test.ts uses for the same gradients).
const TOL = 1e-4;

interface Case { inputs: Record<string, Nested>; embeddings: Nested; grads: { of: string; index: number[]; grad: Nested }[] }
interface Fixture extends Case { model: string; embeddings_output: string; seq_other: Case }

const feedsOf = (inputs: Record<string, Nested>): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensor('int64', flat(v), dimsOf(v))]));
const row = (data: unknown, e: number, size: number): number[] => Array.from(data as ArrayLike<number>).slice(e * size, (e + 1) * size).map(Number);

for (const name of ['qa-opset14', 'qa-opset17', 'cls-opset14', 'cls-opset17']) {
  test(`${name}: Saliency and InputXGradient on the embeddings output match PyTorch`, async () => {
    const fx = readJson<Fixture>(fixture('bert', `${name}.json`));
    const runner = new ModelRunner(readModelFile(fixture('bert', fx.model)));
    const emb = fx.embeddings_output;
    const saliency = new Saliency(runner, { layer: emb });
    const ixg = new InputXGradient(runner, { layer: emb });
    for (const c of [fx as Case, fx.seq_other]) {
      const feeds = feedsOf(c.inputs);
      const dims = dimsOf(c.embeddings);
      const size = dims[1]! * dims[2]!;
      // One call for all the reference gradients: target = output name + position, the same for every example.
      const targets = c.grads.map((g) => ({ output: g.of, target: g.index[1]! }));
      const signed = await saliency.attribute(feeds, { targets, abs: false });
      const absolute = await saliency.attribute(feeds, { targets });
      const ixgs = await ixg.attribute(feeds, { targets });
      const embeddings = flat(c.embeddings);
      c.grads.forEach((g, k) => {
        const e = g.index[0]!;
        const what = `d${g.of}[${g.index}]/d${emb}`;
        const want = row(flat(g.grad), e, size);
        assert.deepEqual(signed[k]!.attributions[emb]!.dims, dims);
        const got = row(signed[k]!.attributions[emb]!.data, e, size);
        assert.ok(relErr(got, want) <= TOL, `${what}: relative error ${relErr(got, want)}`);
        // abs defaults to true (Captum) and is |gradient|, entry by entry.
        const gotAbs = row(absolute[k]!.attributions[emb]!.data, e, size);
        assert.ok(relErr(gotAbs, want.map(Math.abs)) <= TOL, `|${what}|`);
        assert.ok(gotAbs.every((v, i) => v === Math.abs(got[i]!)), 'abs true is the absolute value of abs false');
        // InputXGradient = activation ⊙ gradient.
        const wantIxg = want.map((v, i) => v * embeddings[e * size + i]!);
        const gotIxg = row(ixgs[k]!.attributions[emb]!.data, e, size);
        assert.ok(relErr(gotIxg, wantIxg) <= TOL, `InputXGradient ${what}: ${relErr(gotIxg, wantIxg)}`);
      });
    }
    await runner.release();
  });
}

test('Saliency on a tiny float-input model equals a central finite difference of the target', async () => {
  const [N, H, K, E] = [5, 6, 3, 2];
  const spec = tanhSpec(N, H, K, 3);
  const model = mlpModel(spec);
  const x = randTensor(20, E, N, 1.2);
  const target = 2;
  const r = await new Saliency(model).attribute({ x }, { target, abs: false });
  const g = r.attributions.x!.data as Float64Array;
  // Central differences through ONNX Runtime itself: F(x ± h·e_j), h = 1e-2. Error: truncation h²/6·|F'''| ≈ 2e-5
  // plus float32 rounding ≈ 6e-8·|F|/h ≈ 2e-5 for |F| ~ 3, so 5e-4 of max |g| is a safe bound.
  const h = 1e-2;
  const session = await Session.create(model);
  const fd = new Float64Array(E * N);
  for (let j = 0; j < N; j++) {
    const plus = Float32Array.from(x.data as Float32Array), minus = Float32Array.from(x.data as Float32Array);
    for (let e = 0; e < E; e++) {
      plus[e * N + j]! += h;
      minus[e * N + j]! -= h;
    }
    const fp = (await session.run({ x: tensor('float32', plus, [E, N]) })).y!.data as Float32Array;
    const fm = (await session.run({ x: tensor('float32', minus, [E, N]) })).y!.data as Float32Array;
    // The actual step is the float32 difference of the perturbed inputs.
    for (let e = 0; e < E; e++) fd[e * N + j] = (fp[e * K + target]! - fm[e * K + target]!) / (plus[e * N + j]! - minus[e * N + j]!);
  }
  await session.release();
  assert.ok(relErr(g, fd) <= 5e-4, `Saliency vs finite differences: ${relErr(g, fd)}`);
  // And the analytic float64 gradient agrees to float32 accuracy (1e-5).
  const exact = Array.from({ length: E }, (_, e) => mlpGrad(spec, rowOf({ x }, e), target).x!).flat();
  assert.ok(relErr(g, exact) <= 1e-5, `Saliency vs analytic gradient: ${relErr(g, exact)}`);
  // abs (the default) is |g|.
  const abs = (await new Saliency(model).attribute({ x }, { target })).attributions.x!.data as Float64Array;
  assert.deepEqual(Array.from(abs), Array.from(g, Math.abs));
});

test('Saliency on an intermediate tensor of a tiny model: the gradient w.r.t. tanh(A·x) is a column of W', async () => {
  const spec = tanhSpec(4, 3, 2, 7);
  const x = randTensor(21, 2, 4);
  const sal = new Saliency(mlpModel(spec), { layer: 'h0' });
  const r = await sal.attribute({ x }, { target: 1, abs: false });
  assert.deepEqual(r.attributions.h0!.dims, [2, 3]);
  const want = [0, 1].flatMap(() => spec.branches[0]!.W.map((w) => w[1]!));
  assert.ok(relErr(r.attributions.h0!.data as Float64Array, want) <= 1e-6, 'dF/dh = W[:, target]');
  // InputXGradient there is h ⊙ W[:, target] with h = tanh(A·x).
  const ixg = await new InputXGradient(mlpModel(spec), { layer: 'h0' }).attribute({ x }, { target: 1 });
  const hs = [0, 1].flatMap((e) => spec.branches[0]!.A.x!.map((a) => Math.tanh(a.reduce((s, v, j) => s + v * Number(x.data[e * 4 + j]), 0))));
  assert.ok(relErr(ixg.attributions.h0!.data as Float64Array, hs.map((h, i) => h * want[i]!)) <= 1e-5, 'h ⊙ W[:, target]');
  await sal.runner.release();
});
