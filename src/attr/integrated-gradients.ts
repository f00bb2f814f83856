import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { quadrature, parseIntegrationMethod, type IntegrationMethod } from './quadrature.js';
import { GradientAttribution, convergenceDelta, targetValues, type AttributionResult, type Baselines, type CommonOptions, type Endpoint } from './base.js';
import { ModelRunner, asRunner } from './runner.js';
import { batchOf, float64, rowSize } from './host.js';
import type { ResolvedTarget } from './targets.js';

export interface IntegratedGradientsOptions extends CommonOptions {
  baselines?: Baselines;
  /** Integration steps (Captum's default 50), or 'auto': refine until |delta| ≤ tolerance · |F(x) − F(baseline)|. */
  nSteps?: number | 'auto';
  /** Quadrature rule; Captum's default Gauss–Legendre. */
  method?: IntegrationMethod;
  returnConvergenceDelta?: boolean;
  /** Multiply the path-averaged gradient by (x − baseline) (Captum's default true). */
  multiplyByInputs?: boolean;
  /** For nSteps 'auto': relative completeness tolerance (default 0.01) and the most steps tried (default 256). */
  tolerance?: number;
  maxSteps?: number;
}

/**
 * Integrated Gradients: attr_i = (x_i − x'_i) · ∫₀¹ ∂F(x' + α(x − x'))/∂x_i dα, by quadrature
 * Σ_k w_k ∂F(x' + α_k(x − x'))/∂x_i. All α of a chunk go through ONNX Runtime as one batch (steps × examples).
 */
export class IntegratedGradients extends GradientAttribution<IntegratedGradientsOptions> {
  constructor(model: ModelProto | ModelRunner, options: { inputs?: string[] } = {}) {
    const runner = asRunner(model);
    super(runner, { kind: 'inputs', names: options.inputs ?? [runner.inputNames[0]!] });
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: IntegratedGradientsOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const values = this.baselineValues(x.values, options.baselines);
    const b: Endpoint = { values, outputs: await this.outputsAt(inputs, values) };
    return integrate(this, x, b, inputs, options, targets);
  }
}

/** Shared by IntegratedGradients and LayerIntegratedGradients: the path integral between two endpoints. */
export async function integrate(method: GradientAttribution<any>, x: Endpoint, b: Endpoint, feeds: Record<string, HostTensor>,
  options: IntegratedGradientsOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
  const names = Object.keys(x.values);
  const examples = batchOf(x.values[names[0]!]!);
  const rule = parseIntegrationMethod(options.method ?? 'gausslegendre');
  const fX = targets.map((t) => targetValues(x.outputs, t));
  const fB = targets.map((t) => targetValues(b.outputs, t));
  const multiply = options.multiplyByInputs ?? true;

  const pass = async (nSteps: number, exampleIds: number[]) => {
    const { alphas, stepSizes } = quadrature(rule, nSteps);
    return pathIntegral(method, x.values, b.values, feeds, targets, x.outputs, alphas, stepSizes, exampleIds, options.internalBatchSize);
  };
  const all = Array.from({ length: examples }, (_, e) => e);
  let integrals: Record<string, Float64Array>[];
  let steps: number[];
  let evaluations: number;
  if (options.nSteps === 'auto') {
    ({ integrals, steps, evaluations } = await adaptive(pass, names, x, b, targets, fX, fB, examples, multiply, options));
  } else {
    const n = options.nSteps ?? 50;
    integrals = await pass(n, all);
    steps = Array(examples).fill(n);
    evaluations = n;
  }
  return targets.map((target, k) => {
    const attributions = finish(integrals[k]!, x.values, b.values, multiply);
    const result: AttributionResult = { target, attributions, fX: fX[k], fBaseline: fB[k], nSteps: steps, evaluations };
    if (options.returnConvergenceDelta || options.nSteps === 'auto') result.delta = convergenceDelta(attributions, fX[k]!, fB[k]!);
    return result;
  });
}

/** attr = (x − x') ⊙ ∫ grad (or the integral alone when not multiplying by inputs). */
function finish(integral: Record<string, Float64Array>, x: Record<string, HostTensor>, b: Record<string, HostTensor>, multiply: boolean): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(integral).map(([name, acc]) => {
    const xs = x[name]!.data, bs = b[name]!.data;
    const out = new Float64Array(acc.length);
    for (let i = 0; i < acc.length; i++) out[i] = multiply ? (Number(xs[i]) - Number(bs[i])) * acc[i]! : acc[i]!;
    return [name, float64(out, x[name]!.dims)];
  }));
}

/**
 * Σ_k w_k ∇F(x' + α_k(x − x')) for the given examples, per target and attributed tensor (float64, shaped like x).
 * Rows are step-major (all examples at α₀, then α₁, …), as in Captum.
 */
async function pathIntegral(method: GradientAttribution<any>, x: Record<string, HostTensor>, b: Record<string, HostTensor>,
  feeds: Record<string, HostTensor>, targets: ResolvedTarget[], outputs: Record<string, HostTensor>, alphas: number[], weights: number[],
  exampleIds: number[], internalBatchSize: number | undefined): Promise<Record<string, Float64Array>[]> {
  const names = Object.keys(x);
  const E = exampleIds.length;
  const rowExample = Array.from({ length: alphas.length * E }, (_, r) => exampleIds[r % E]!);
  const acc = targets.map(() => Object.fromEntries(names.map((n) => [n, new Float64Array(x[n]!.data.length)])));
  const points = (rows: number[]) => Object.fromEntries(names.map((n) => {
    const size = rowSize(x[n]!);
    const xs = x[n]!.data as Float32Array, bs = b[n]!.data as Float32Array;
    const data = new Float32Array(rows.length * size);
    rows.forEach((r, i) => {
      const a = alphas[Math.floor(r / E)]!;
      const e = exampleIds[r % E]!;
      for (let j = 0; j < size; j++) data[i * size + j] = bs[e * size + j]! + a * (xs[e * size + j]! - bs[e * size + j]!);
    });
    return [n, { type: 'float32', data, dims: [rows.length, ...x[n]!.dims.slice(1)] } as HostTensor];
  }));
  await method.gradientsAt(points, rowExample, feeds, targets, outputs, internalBatchSize,
    (start, grads) => {
      grads.forEach((perName, k) => {
        for (const n of names) {
          const g = perName[n]!.data as Float32Array;
          const size = rowSize(x[n]!);
          const out = acc[k]![n]!;
          const rows = g.length / size;
          for (let i = 0; i < rows; i++) {
            const r = start + i;
            const w = weights[Math.floor(r / E)]!;
            const e = exampleIds[r % E]!;
            for (let j = 0; j < size; j++) out[e * size + j]! += w * g[i * size + j]!;
          }
        }
      });
    });
  return acc;
}

/**
 * nSteps 'auto': Gauss–Legendre with 4, 8, 16, … nodes, re-running only the examples whose completeness error is
 * still above tolerance · |F(x) − F(x')| for some target; stops at maxSteps.
 */
async function adaptive(pass: (n: number, ids: number[]) => Promise<Record<string, Float64Array>[]>, names: string[], x: Endpoint, b: Endpoint,
  targets: ResolvedTarget[], fX: Float64Array[], fB: Float64Array[], examples: number, multiply: boolean, options: IntegratedGradientsOptions) {
  const tol = options.tolerance ?? 0.01;
  const maxSteps = options.maxSteps ?? 256;
  if (!(tol > 0)) fail(`tolerance must be positive, got ${tol}`);
  if (!Number.isInteger(maxSteps) || maxSteps < 1) fail(`maxSteps must be a positive integer, got ${maxSteps}`);
  if (!multiply) fail("nSteps 'auto' needs multiplyByInputs (its stopping rule is the completeness axiom)");
  const integrals = targets.map(() => Object.fromEntries(names.map((n) => [n, new Float64Array(x.values[n]!.data.length)])));
  const steps = Array<number>(examples).fill(0);
  let pending = Array.from({ length: examples }, (_, e) => e);
  let evaluations = 0;
  for (let n = Math.min(4, maxSteps); pending.length > 0; n *= 2) {
    const partial = await pass(n, pending);
    evaluations += n;
    for (const e of pending) steps[e] = n;
    // Copy the refined examples' integrals in, then test their completeness.
    partial.forEach((perName, k) => {
      for (const name of names) {
        const size = rowSize(x.values[name]!);
        for (const e of pending) integrals[k]![name]!.set(perName[name]!.subarray(e * size, (e + 1) * size), e * size);
      }
    });
    if (n * 2 > maxSteps) break;
    const deltas = targets.map((_, k) => convergenceDelta(finish(integrals[k]!, x.values, b.values, true), fX[k]!, fB[k]!));
    pending = pending.filter((e) => targets.some((_, k) => Math.abs(deltas[k]![e]!) > tol * Math.abs(fX[k]![e]! - fB[k]![e]!) + 1e-7));
  }
  return { integrals, steps, evaluations };
}

