import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { AttnLRP } from '../../src/attr/attnlrp.js';
import { CpLRP } from '../../src/attr/cp-lrp.js';
import { InputXGradient } from '../../src/attr/input-x-gradient.js';
import { buildModel } from '../autodiff/op-model.js';
import { DT } from '../../src/onnx/tensor.js';
import { fixture, readJson, rng } from '../helpers.js';

// AttnLRP and CP-LRP: rule sets of the autodiff engine (src/autodiff/lrp.ts), checked on small graphs against hand
// computations, and on the BERT fixtures against lxt's efficient rules written as PyTorch autograd overrides
// (scripts/fixtures/make_lrp_fixtures.py, float64, same weights): per-token relevance within 1e-3 of max |relevance|.

interface LrpTarget { output: string; index: [number, number]; f_x: number; gradient_x_input: number[]; attnlrp: number[]; cplrp: number[]; attnlrp_sum: number; cplrp_sum: number }
interface LrpModel { head: string; onnx: string[]; embeddings_output: Record<string, string>; inputs: Record<string, number[][]>; targets: LrpTarget[] }
const ref = readJson<{ models: LrpModel[] }>(fixture('lrp', 'reference.json'));

const rowFeeds = (inputs: Record<string, number[][]>, r: number): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensor('int64', v[r]!, [1, v[r]!.length])]));

const perToken = (t: HostTensor): number[] => {
  const [, seq, hidden] = t.dims as [number, number, number];
  return Array.from({ length: seq }, (_, s) => { let sum = 0; for (let h = 0; h < hidden; h++) sum += Number(t.data[s * hidden + h]); return sum; });
};

function assertWithin(actual: number[], expected: number[], tol: number, what: string): void {
  const scale = Math.max(...expected.map(Math.abs));
  const err = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
  assert.ok(err <= tol * scale, `${what}: max error ${err.toExponential(3)} > ${tol} × ${scale.toExponential(3)}`);
}

for (const m of ref.models) {
  for (const onnx of m.onnx) {
    test(`${onnx}: AttnLRP and CP-LRP per-token relevance equal lxt's rules in PyTorch (1e-3 of max |relevance|)`, async () => {
      const runner = new ModelRunner(readModelFile(fixture('bert', onnx)));
      const layer = m.embeddings_output[onnx]!;
      for (const t of m.targets) {
        const feeds = rowFeeds(m.inputs, t.index[0]);
        const target = { output: t.output, target: t.index[1] };
        const seq = m.inputs['input_ids']![t.index[0]]!.length;
        const refRow = (xs: number[]) => xs.slice(0, seq);
        const [lrp] = await new AttnLRP(runner, { layer }).attribute(feeds, { targets: [target] });
        const [cp] = await new CpLRP(runner, { layer }).attribute(feeds, { targets: [target] });
        const [gxi] = await new InputXGradient(runner, { layer }).attribute(feeds, { targets: [target] });
        assertWithin(perToken(lrp!.attributions[layer]!), refRow(t.attnlrp), 1e-3, `${t.output}[${t.index}] attnlrp`);
        assertWithin(perToken(cp!.attributions[layer]!), refRow(t.cplrp), 1e-3, `${t.output}[${t.index}] cp-lrp`);
        assertWithin(perToken(gxi!.attributions[layer]!), refRow(t.gradient_x_input), 1e-3, `${t.output}[${t.index}] gradient × input`);
        // The conservation gap is Σ relevance − F(x), reported as is.
        assert.ok(Math.abs(lrp!.delta![0]! - (t.attnlrp_sum - t.f_x)) <= 1e-3 * Math.max(1, Math.abs(t.f_x)), `attnlrp delta ${lrp!.delta![0]} vs ${t.attnlrp_sum - t.f_x}`);
        assert.ok(Math.abs(cp!.delta![0]! - (t.cplrp_sum - t.f_x)) <= 1e-3 * Math.max(1, Math.abs(t.f_x)));
        // The rules change something: relevance is not gradient × input here.
        assert.ok(Math.max(...t.attnlrp.map((v, i) => Math.abs(v - t.gradient_x_input[i]!))) > 0.1);
      }
    });
  }
}

// Small graphs. x [1, n] is the attributed input.
const N = 6;
const r = rng(5);
const W = Array.from({ length: N * N }, () => r.normal() * 0.5);
const V = Array.from({ length: N * N }, () => r.normal() * 0.5);
const c = Array.from({ length: N }, () => r.normal());
const xValues = Array.from({ length: N }, () => r.normal());
const X = { name: 'x', elemType: DT.FLOAT, shape: [1, N] };
const consts = (extra: { name: string; dims: number[]; values: number[]; elemType?: number }[] = []) => [
  { name: 'W', elemType: DT.FLOAT, dims: [N, N], values: W }, { name: 'V', elemType: DT.FLOAT, dims: [N, N], values: V },
  { name: 'c', elemType: DT.FLOAT, dims: [N, 1], values: c }, { name: 'one', elemType: DT.FLOAT, dims: [], values: [1] },
  { name: 'half', elemType: DT.FLOAT, dims: [], values: [0.5] }, { name: 'rsqrt2', elemType: DT.FLOAT, dims: [], values: [Math.SQRT1_2] },
  ...extra.map((e) => ({ elemType: DT.FLOAT, ...e })),
];
const feeds = { x: { type: 'float32', data: Float32Array.from(xValues), dims: [1, N] } as HostTensor };
const model = (nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number> }[], extra?: { name: string; dims: number[]; values: number[]; elemType?: number }[]) =>
  new ModelRunner(buildModel({ opset: 17, inputs: [X], consts: consts(extra), nodes, outputs: [{ name: 'f', elemType: DT.FLOAT }] }));
const relevance = async (runner: ModelRunner, kind: 'attnlrp' | 'cp-lrp' | 'gxi') => {
  const method = kind === 'attnlrp' ? new AttnLRP(runner) : kind === 'cp-lrp' ? new CpLRP(runner) : new InputXGradient(runner);
  const [res] = await method.attribute(feeds, { targets: [{ output: 'f', target: [0] }] });
  return Array.from(res!.attributions['x']!.data as Float64Array);
};
const f32 = (v: number) => Math.fround(v);

test('rule sets on a linear and a ReLU model: AttnLRP equals Gradient × Input', async () => {
  const linear = model([{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['h'] }, { op: 'MatMul', inputs: ['h', 'c'], outputs: ['f'] }]);
  assert.deepEqual(await relevance(linear, 'attnlrp'), await relevance(linear, 'gxi'));
  const relu = model([{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['h'] }, { op: 'Relu', inputs: ['h'], outputs: ['a'] }, { op: 'MatMul', inputs: ['a', 'c'], outputs: ['f'] }]);
  const [lrp, gxi] = [await relevance(relu, 'attnlrp'), await relevance(relu, 'gxi')];
  lrp.forEach((v, i) => assert.ok(Math.abs(v - gxi[i]!) <= 1e-6 * Math.max(1, Math.abs(gxi[i]!)), `${v} vs ${gxi[i]}`));
});

test('a bilinear toy f = (Wx)·(Vx): Σ relevance = f exactly, where Gradient × Input gives 2f (halving, Mul and MatMul)', async () => {
  const wx = xValues.map((_, j) => xValues.reduce((s, xi, i) => s + f32(xi) * W[i * N + j]!, 0));
  const vx = xValues.map((_, j) => xValues.reduce((s, xi, i) => s + f32(xi) * V[i * N + j]!, 0));
  const f = wx.reduce((s, a, j) => s + a * vx[j]!, 0);
  const viaMul = model([
    { op: 'MatMul', inputs: ['x', 'W'], outputs: ['a'] }, { op: 'MatMul', inputs: ['x', 'V'], outputs: ['b'] },
    { op: 'Mul', inputs: ['a', 'b'], outputs: ['p'] }, { op: 'ReduceSum', inputs: ['p', 'ax1'], outputs: ['f'], attrs: { keepdims: 1 } },
  ], [{ name: 'ax1', dims: [1], values: [1], elemType: DT.INT64 }]);
  const viaMatMul = model([
    { op: 'MatMul', inputs: ['x', 'W'], outputs: ['a'] }, { op: 'MatMul', inputs: ['x', 'V'], outputs: ['b'] },
    { op: 'Transpose', inputs: ['b'], outputs: ['bt'], attrs: {} }, { op: 'MatMul', inputs: ['a', 'bt'], outputs: ['f2'] },
    { op: 'Identity', inputs: ['f2'], outputs: ['f'] },
  ]);
  for (const [name, m] of [['Mul', viaMul], ['MatMul', viaMatMul]] as const) {
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum(await relevance(m, 'attnlrp')) - f) < 1e-5 * Math.max(1, Math.abs(f)), `${name}: Σ relevance vs f = ${f}`);
    assert.ok(Math.abs(sum(await relevance(m, 'gxi')) - 2 * f) < 1e-5 * Math.max(1, Math.abs(f)), `${name}: Σ x·∇f = 2f`);
  }
});

test('the identity rule on tanh and on the erf-decomposed GELU (one nonlinearity, not a product): R_i = x_i · f(x_i)/(x_i + 1e-10) · c_i', async () => {
  const diag = Array.from({ length: N }, (_, i) => i);
  const gelu = (v: number) => 0.5 * v * (1 + erf(v * Math.SQRT1_2));
  const cases = [
    { f: Math.tanh, nodes: [{ op: 'Tanh', inputs: ['x'], outputs: ['t'] }, { op: 'MatMul', inputs: ['t', 'c'], outputs: ['f'] }] },
    {
      f: gelu, nodes: [
        { op: 'Mul', inputs: ['x', 'rsqrt2'], outputs: ['s'] }, { op: 'Erf', inputs: ['s'], outputs: ['e'] },
        { op: 'Add', inputs: ['e', 'one'], outputs: ['e1'] }, { op: 'Mul', inputs: ['x', 'half'], outputs: ['xh'] },
        { op: 'Mul', inputs: ['xh', 'e1'], outputs: ['t'] }, { op: 'MatMul', inputs: ['t', 'c'], outputs: ['f'] },
      ],
    },
  ];
  for (const { f, nodes } of cases) {
    const lrp = await relevance(model(nodes), 'attnlrp');
    diag.forEach((i) => {
      const x = f32(xValues[i]!);
      const want = x * (f(x) / (x + 1e-10)) * f32(c[i]!);
      assert.ok(Math.abs(lrp[i]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${f.name || 'gelu'} ${i}: ${lrp[i]} vs ${want}`);
    });
  }
});

test('decomposed SiLU (x · sigmoid(x)) is one nonlinearity: its gradient, and the identity rule under AttnLRP', async () => {
  const silu = model([
    { op: 'Sigmoid', inputs: ['x'], outputs: ['s'] }, { op: 'Mul', inputs: ['x', 's'], outputs: ['t'] }, { op: 'MatMul', inputs: ['t', 'c'], outputs: ['f'] },
  ]);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const lrp = await relevance(silu, 'attnlrp');
  const gxi = await relevance(silu, 'gxi');
  xValues.forEach((v, i) => {
    const x = f32(v), ci = f32(c[i]!);
    const wantLrp = x * (x * sig(x)) / (x + 1e-10) * ci;
    const wantGxi = x * ci * sig(x) * (1 + x * (1 - sig(x)));
    assert.ok(Math.abs(lrp[i]! - wantLrp) <= 1e-5 * Math.max(1, Math.abs(wantLrp)), `identity rule ${i}: ${lrp[i]} vs ${wantLrp}`);
    assert.ok(Math.abs(gxi[i]! - wantGxi) <= 1e-5 * Math.max(1, Math.abs(wantGxi)), `gradient ${i}: ${gxi[i]} vs ${wantGxi}`);
  });
});

test('LayerNorm with its standard deviation held constant: R = x ⊙ (cγ − mean(cγ)) / σ', async () => {
  const gamma = Array.from({ length: N }, (_, i) => 0.5 + 0.1 * i);
  const ln = model([
    { op: 'LayerNormalization', inputs: ['x', 'gamma', 'beta'], outputs: ['y'], attrs: { axis: -1, epsilon: 1e-5 } },
    { op: 'MatMul', inputs: ['y', 'c'], outputs: ['f'] },
  ], [{ name: 'gamma', dims: [N], values: gamma }, { name: 'beta', dims: [N], values: gamma.map(() => 0.1) }]);
  const xs = xValues.map(f32);
  const mean = xs.reduce((a, b) => a + b, 0) / N;
  const sigma = Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / N + 1e-5);
  const cg = gamma.map((g, i) => f32(g) * f32(c[i]!));
  const cgMean = cg.reduce((a, b) => a + b, 0) / N;
  const want = xs.map((x, i) => x * (cg[i]! - cgMean) / sigma);
  const got = await relevance(ln, 'attnlrp');
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5 * Math.max(1, Math.abs(want[i]!)), `${i}: ${v} vs ${want[i]}`));
  const gxi = await relevance(ln, 'gxi');
  assert.ok(gxi.some((v, i) => Math.abs(v - want[i]!) > 1e-3), 'the ordinary gradient differs');
});

/** erf by Abramowitz–Stegun 7.1.26 refined with a series would do; Node has no Math.erf, so a high-accuracy series. */
function erf(x: number): number {
  // Maclaurin series, enough terms for |x| < 4 to double precision.
  let sum = 0, term = x, n = 0;
  while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 5) {
    sum += term / (2 * n + 1);
    n++;
    term *= (-x * x) / n;
    if (n > 200) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
