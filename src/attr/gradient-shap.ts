import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { GradientAttribution, spaceOf, targetValues, type AttributionResult, type CommonOptions, type Endpoint, type SpaceOptions } from './base.js';
import { baselineFeeds } from './layer-integrated-gradients.js';
import { ModelRunner, asRunner } from './runner.js';
import { batchOf, float64, gatherRows, rowSize } from './host.js';
import { Random } from './random.js';
import type { ResolvedTarget } from './targets.js';

export interface GradientShapOptions extends CommonOptions {
  /**
   * The baseline distribution: rows of a tensor in the attributed space (inputs space), or, for a layer, model
   * inputs whose rows are baseline examples (their layer activations form the distribution).
   */
  baselines: HostTensor | Record<string, HostTensor>;
  /** Samples per example (Captum's default 5). */
  nSamples?: number;
  /** Gaussian noise added to the input before each sample (Captum's default 0). */
  stdevs?: number;
  seed?: number;
  returnConvergenceDelta?: boolean;
}

/**
 * GradientSHAP: expected gradients over random baselines b from the distribution, random α ~ U(0, 1) and noisy
 * inputs x̃ = x + ε: attr = E[(x̃ − b) ⊙ ∇F(b + α(x̃ − b))]. Its delta, where asked, is per sample
 * (Σ attr_sample − (F(x̃) − F(b))), sample-major like the rows: s·examples + e.
 */
export class GradientShap extends GradientAttribution<GradientShapOptions> {
  constructor(model: ModelProto | ModelRunner, options: SpaceOptions = {}) {
    const runner = asRunner(model);
    super(runner, spaceOf(runner, options));
  }

  async compute(x: Endpoint, inputs: Record<string, HostTensor>, options: GradientShapOptions, targets: ResolvedTarget[]): Promise<AttributionResult[]> {
    const { nSamples = 5, stdevs = 0, seed = 0 } = options;
    if (!Number.isInteger(nSamples) || nSamples < 1) fail(`nSamples must be a positive integer, got ${nSamples}`);
    if (!(stdevs >= 0)) fail(`stdevs must be ≥ 0, got ${stdevs}`);
    if (!options.baselines) fail('GradientShap needs a baseline distribution (baselines)');
    const names = Object.keys(x.values);
    const E = batchOf(x.values[names[0]!]!);
    const dist = await this.distribution(inputs, options.baselines, x);
    const D = batchOf(dist[names[0]!]!);
    const rng = new Random(seed);
    const rows = nSamples * E;
    const rowExample = Array.from({ length: rows }, (_, r) => r % E);
    const pick = rowExample.map(() => rng.int(D));
    const alpha = rowExample.map(() => rng.uniform());
    // x̃ (noisy inputs), b (drawn baselines) and the points b + α(x̃ − b), row by row.
    const noisy: Record<string, HostTensor> = {}, drawn: Record<string, HostTensor> = {}, points: Record<string, HostTensor> = {};
    for (const n of names) {
      noisy[n] = gatherRows(x.values[n]!, rowExample);
      drawn[n] = gatherRows(dist[n]!, pick);
      const xt = noisy[n]!.data as Float32Array, bt = drawn[n]!.data as Float32Array;
      const size = rowSize(x.values[n]!);
      for (let i = 0; i < xt.length; i++) xt[i] = xt[i]! + (stdevs > 0 ? stdevs * rng.normal() : 0);
      const p = new Float32Array(xt.length);
      for (let i = 0; i < p.length; i++) p[i] = bt[i]! + alpha[Math.floor(i / size)]! * (xt[i]! - bt[i]!);
      points[n] = { type: 'float32', data: p, dims: noisy[n]!.dims };
    }
    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, gatherRows(v, rowExample)]));
    const expanded = targets.map((t) => ({ ...t, offsets: rowExample.map((e) => t.offsets[e]!) }));
    const grads = await this.gradientsAtValues(points, feeds, expanded, x.outputs, options.internalBatchSize);
    let fNoisy: Float64Array[] | undefined, fBase: Float64Array[] | undefined;
    if (options.returnConvergenceDelta) {
      const atX = await this.outputsAt(feeds, noisy), atB = await this.outputsAt(feeds, drawn);
      fNoisy = expanded.map((t) => targetValues(atX, t));
      fBase = expanded.map((t) => targetValues(atB, t));
    }
    return targets.map((target, k) => {
      const attributions: Record<string, HostTensor> = {};
      const perSample = new Float64Array(rows);
      for (const n of names) {
        const size = rowSize(x.values[n]!);
        const g = grads[k]![n]!.data as Float32Array, xt = noisy[n]!.data as Float32Array, bt = drawn[n]!.data as Float32Array;
        const mean = new Float64Array(E * size);
        for (let r = 0; r < rows; r++) {
          const e = rowExample[r]!;
          for (let j = 0; j < size; j++) {
            const i = r * size + j;
            const a = g[i]! * (xt[i]! - bt[i]!);
            mean[e * size + j]! += a / nSamples;
            perSample[r]! += a;
          }
        }
        attributions[n] = float64(mean, x.values[n]!.dims);
      }
      const result: AttributionResult = { target, attributions };
      if (fNoisy && fBase) result.delta = perSample.map((s, r) => s - (fNoisy![k]![r]! - fBase![k]![r]!));
      return result;
    });
  }

  /** Baseline distribution rows in the attributed space. */
  private async distribution(inputs: Record<string, HostTensor>, baselines: GradientShapOptions['baselines'], x: Endpoint): Promise<Record<string, HostTensor>> {
    const names = Object.keys(x.values);
    if ('data' in baselines) {
      if (names.length !== 1) fail('give one baseline distribution per attributed input');
      return { [names[0]!]: checkRows(baselines as HostTensor, x.values[names[0]!]!, names[0]!) };
    }
    const record = baselines as Record<string, HostTensor>;
    if (this.space.kind === 'inputs') return Object.fromEntries(names.map((n) => [n, checkRows(record[n] ?? fail(`no baseline distribution for ${n}`), x.values[n]!, n)]));
    // Layer: baseline examples are model inputs; other inputs follow the first example.
    const D = batchOf(Object.values(record)[0]!);
    const first = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, gatherRows(v, Array(D).fill(0))]));
    return (await this.endpoint(baselineFeeds(this.runner, first, record, D))).values;
  }
}

function checkRows(b: HostTensor, like: HostTensor, name: string): HostTensor {
  if (b.dims.slice(1).join() !== like.dims.slice(1).join()) fail(`baselines for ${name} have rows of shape [${b.dims.slice(1)}] but the input rows are [${like.dims.slice(1)}]`);
  if (b.type !== 'float32' && b.type !== 'float64') fail(`baselines for ${name} are ${b.type}, not a float tensor`);
  return b.type === 'float32' ? b : { type: 'float32', data: Float32Array.from(b.data as Float64Array), dims: b.dims };
}
