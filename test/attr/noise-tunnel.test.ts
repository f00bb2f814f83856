import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { GradlensError } from '../../src/errors.js';
import { NoiseTunnel, type NoiseTunnelType } from '../../src/attr/noise-tunnel.js';
import { Saliency } from '../../src/attr/saliency.js';
import { IntegratedGradients } from '../../src/attr/integrated-gradients.js';
import { LayerIntegratedGradients } from '../../src/attr/layer-integrated-gradients.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { Random } from '../../src/attr/random.js';
import { fixture } from '../helpers.js';
import { mlpModel, randTensor, tanhSpec, relErr } from './tiny-models.js';
import { ligFixture, ligInputs } from './lig-fixture.js';

// NoiseTunnel around Saliency, IG and LayerIG. Tolerances: with stdevs → 0 (1e-6) the noisy points differ from x by
// ~1e-6, which moves gradients by ~1e-6 relative; 1e-4 of max |attr| leaves room for float32 rounding. Aggregates
// checked against a manual loop use the same float32 gradients, so only float64 summation order differs: 1e-9.
const [N, H, K, E] = [5, 6, 3, 2];
const spec = tanhSpec(N, H, K, 2);
const model = mlpModel(spec);
const x = randTensor(30, E, N, 1.2);
const data = (r: { attributions: Record<string, HostTensor> }, n = 'x') => r.attributions[n]!.data as Float64Array;

test('NoiseTunnel(Saliency): same seed gives identical results, another seed different ones', async () => {
  const nt = new NoiseTunnel(new Saliency(model));
  for (const ntType of ['smoothgrad', 'smoothgrad_sq', 'vargrad'] as const) {
    const a = await nt.attribute({ x }, { target: 1, abs: false, ntType, ntSamples: 4, stdevs: 0.3, seed: 7 });
    const b = await nt.attribute({ x }, { target: 1, abs: false, ntType, ntSamples: 4, stdevs: 0.3, seed: 7 });
    const c = await nt.attribute({ x }, { target: 1, abs: false, ntType, ntSamples: 4, stdevs: 0.3, seed: 8 });
    assert.deepEqual(Array.from(data(a)), Array.from(data(b)), `${ntType}: same seed`);
    assert.ok(relErr(data(a), data(c)) > 1e-3, `${ntType}: another seed changes the result (${relErr(data(a), data(c))})`);
    assert.deepEqual(a.attributions.x!.dims, [E, N]);
  }
  await nt.method.runner.release();
});

test('NoiseTunnel: as stdevs → 0 (1e-6), smoothgrad equals the noiseless method (Saliency, IG with per-example baselines)', async () => {
  const sal = new Saliency(model);
  const plain = await sal.attribute({ x }, { target: 2, abs: false });
  const smooth = await new NoiseTunnel(sal).attribute({ x }, { target: 2, abs: false, stdevs: 1e-6, ntSamples: 3 });
  assert.ok(relErr(data(smooth), data(plain)) <= 1e-4, `Saliency: ${relErr(data(smooth), data(plain))}`);
  const ig = new IntegratedGradients(model);
  // One baseline per example: NoiseTunnel must give each noisy copy its own example's baseline.
  const baselines = randTensor(31, E, N, 0.5);
  const igPlain = await ig.attribute({ x }, { target: { perExample: [0, 2] }, baselines, nSteps: 20 });
  const igSmooth = await new NoiseTunnel(ig).attribute({ x }, { target: { perExample: [0, 2] }, baselines, nSteps: 20, stdevs: 1e-6, ntSamples: 3, returnConvergenceDelta: true });
  assert.ok(relErr(data(igSmooth), data(igPlain)) <= 1e-4, `IG: ${relErr(data(igSmooth), data(igPlain))}`);
  assert.equal(igSmooth.delta!.length, 3 * E, 'the delta is per noisy sample');
  assert.deepEqual(igSmooth.target.offsets, [0, 2]);
  await sal.runner.release();
  await ig.runner.release();
});

test('NoiseTunnel(Saliency): smoothgrad, smoothgrad_sq and vargrad equal a manual loop over the same noisy samples', async () => {
  const S = 3, stdevs = 0.5, seed = 11;
  const sal = new Saliency(model);
  // Reproduce the noise: rows r = s·E + e (sample-major), one normal draw per element in row order.
  const rng = new Random(seed);
  const noisy = new Float32Array(S * E * N);
  for (let r = 0; r < S * E; r++) for (let j = 0; j < N; j++) noisy[r * N + j] = Number(x.data[(r % E) * N + j]) + stdevs * rng.normal();
  const perExample = [1, 0];
  const samples = data(await sal.attribute({ x: tensor('float32', noisy, [S * E, N]) }, { target: { perExample: Array.from({ length: S * E }, (_, r) => perExample[r % E]!) }, abs: false }));
  const mean = new Float64Array(E * N), sq = new Float64Array(E * N);
  for (let s = 0; s < S; s++) for (let i = 0; i < E * N; i++) {
    mean[i]! += samples[s * E * N + i]! / S;
    sq[i]! += samples[s * E * N + i]! ** 2 / S;
  }
  const variance = mean.map((m, i) => sq[i]! - m * m);
  const nt = new NoiseTunnel(sal);
  const got: Record<NoiseTunnelType, Float64Array> = {} as never;
  for (const ntType of ['smoothgrad', 'smoothgrad_sq', 'vargrad'] as const) {
    got[ntType] = data(await nt.attribute({ x }, { target: { perExample }, abs: false, ntType, ntSamples: S, stdevs, seed }));
  }
  assert.ok(relErr(got.smoothgrad, mean) <= 1e-9, `smoothgrad: ${relErr(got.smoothgrad, mean)}`);
  assert.ok(relErr(got.smoothgrad_sq, sq) <= 1e-9, `smoothgrad_sq: ${relErr(got.smoothgrad_sq, sq)}`);
  assert.ok(relErr(got.vargrad, variance) <= 1e-9, `vargrad: ${relErr(got.vargrad, variance)}`);
  // vargrad = E[a²] − E[a]² ≥ 0 (up to float64 cancellation) and is not trivially zero.
  assert.ok(got.vargrad.every((v) => v >= -1e-12), 'vargrad ≥ 0');
  assert.ok(Math.max(...got.vargrad) > 1e-4, 'the noise does spread the gradients');
  got.vargrad.forEach((v, i) => assert.ok(Math.abs(v - (got.smoothgrad_sq[i]! - got.smoothgrad[i]! ** 2)) <= 1e-9, 'vargrad = smoothgrad_sq − smoothgrad²'));
  await sal.runner.release();
});

test('NoiseTunnel(IG): smoothgrad equals the mean of IG over the same noisy inputs', async () => {
  const S = 2, stdevs = 0.2, seed = 3;
  const ig = new IntegratedGradients(model);
  const rng = new Random(seed);
  const noisy = new Float32Array(S * E * N);
  for (let r = 0; r < S * E; r++) for (let j = 0; j < N; j++) noisy[r * N + j] = Number(x.data[(r % E) * N + j]) + stdevs * rng.normal();
  const samples = data(await ig.attribute({ x: tensor('float32', noisy, [S * E, N]) }, { target: 1, baselines: 0.1, nSteps: 16 }));
  const mean = new Float64Array(E * N);
  for (let s = 0; s < S; s++) for (let i = 0; i < E * N; i++) mean[i]! += samples[s * E * N + i]! / S;
  const got = data(await new NoiseTunnel(ig).attribute({ x }, { target: 1, baselines: 0.1, nSteps: 16, ntSamples: S, stdevs, seed }));
  assert.ok(relErr(got, mean) <= 1e-9, `IG smoothgrad vs manual mean: ${relErr(got, mean)}`);
  await ig.runner.release();
});

test('NoiseTunnel(LayerIG) on the BERT fixture: reproducible by seed, and noiseless as stdevs → 0', async () => {
  const info = ligFixture.models.opset14!;
  const runner = new ModelRunner(readModelFile(fixture('bert', info.model)));
  const lig = new LayerIntegratedGradients(runner, info.embeddings_output);
  const { inputs, baselines } = ligInputs();
  const opts = { baselines, nSteps: 8, output: 'start_logits', target: 4 } as const;
  const layer = info.embeddings_output;
  const plain = await lig.attribute(inputs, opts);
  const nt = new NoiseTunnel(lig);
  const tiny = await nt.attribute(inputs, { ...opts, stdevs: 1e-6, ntSamples: 2 });
  assert.ok(relErr(data(tiny, layer), data(plain, layer)) <= 1e-4, `stdevs 1e-6: ${relErr(data(tiny, layer), data(plain, layer))}`);
  const a = await nt.attribute(inputs, { ...opts, stdevs: 0.1, ntSamples: 2, seed: 5 });
  const b = await nt.attribute(inputs, { ...opts, stdevs: 0.1, ntSamples: 2, seed: 5 });
  const c = await nt.attribute(inputs, { ...opts, stdevs: 0.1, ntSamples: 2, seed: 6 });
  assert.deepEqual(Array.from(data(a, layer)), Array.from(data(b, layer)), 'same seed');
  assert.ok(relErr(data(a, layer), data(c, layer)) > 1e-3, 'another seed');
  await runner.release();
});

test('NoiseTunnel rejects ntSamples 0, negative stdevs and an unknown ntType with a GradlensError', async () => {
  const nt = new NoiseTunnel(new Saliency(model));
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ntSamples: 0 }, /ntSamples must be a positive integer, got 0/],
    [{ ntSamples: 1.5 }, /ntSamples must be a positive integer/],
    [{ stdevs: -1 }, /stdevs must be ≥ 0, got -1/],
    [{ ntType: 'smoothgrad_cubed' }, /unknown noise tunnel type "smoothgrad_cubed"; expected one of: smoothgrad, smoothgrad_sq, vargrad/],
  ];
  for (const [bad, message] of cases) {
    await assert.rejects(nt.attribute({ x }, { target: 0, ...bad } as never), (e: Error) => {
      assert.ok(e instanceof GradlensError, `${JSON.stringify(bad)}: ${e}`);
      assert.match(e.message, message);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  }
  await nt.method.runner.release();
});
