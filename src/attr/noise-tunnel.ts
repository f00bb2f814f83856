import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { GradientAttribution, type AttributionResult, type CommonOptions } from './base.js';
import { batchOf, float64, gatherRows } from './host.js';
import { Random } from './random.js';
import type { ResolvedTarget, TargetSpec } from './targets.js';

export type NoiseTunnelType = 'smoothgrad' | 'smoothgrad_sq' | 'vargrad';
export const NOISE_TUNNEL_TYPES: readonly NoiseTunnelType[] = ['smoothgrad', 'smoothgrad_sq', 'vargrad'];

export interface NoiseTunnelOptions {
  ntType?: NoiseTunnelType;
  /** Noisy copies per example (Captum's default 5). */
  ntSamples?: number;
  /** Standard deviation of the Gaussian noise added to the attributed values (Captum's default 1.0). */
  stdevs?: number;
  seed?: number;
}

/**
 * NoiseTunnel (SmoothGrad, SmoothGrad², VarGrad) around any gradient method: the method runs at ntSamples noisy
 * copies of the attributed values (inputs, or the layer's activation for layer methods), batched as extra examples,
 * and the attributions are aggregated per example. fX, fBaseline and the convergence delta, where the method gives
 * them, stay per noisy sample (row s·examples + e).
 */
export class NoiseTunnel<O extends CommonOptions> {
  constructor(readonly method: GradientAttribution<O>) {}

  attribute(inputs: Record<string, HostTensor>, options: O & NoiseTunnelOptions & { targets: TargetSpec[] }): Promise<AttributionResult[]>;
  attribute(inputs: Record<string, HostTensor>, options?: O & NoiseTunnelOptions): Promise<AttributionResult>;
  async attribute(inputs: Record<string, HostTensor>, options: O & NoiseTunnelOptions = {} as O & NoiseTunnelOptions): Promise<AttributionResult | AttributionResult[]> {
    const { ntType = 'smoothgrad', ntSamples = 5, stdevs = 1.0, seed = 0, ...methodOptions } = options;
    if (!NOISE_TUNNEL_TYPES.includes(ntType)) fail(`unknown noise tunnel type "${ntType}"; expected one of: ${NOISE_TUNNEL_TYPES.join(', ')}`);
    if (!Number.isInteger(ntSamples) || ntSamples < 1) fail(`ntSamples must be a positive integer, got ${ntSamples}`);
    if (!(stdevs >= 0)) fail(`stdevs must be ≥ 0, got ${stdevs}`);
    const m = this.method;
    const x = options.at ? await m.endpointAt(inputs, options.at) : await m.endpoint(inputs);
    const E = batchOf(Object.values(x.values)[0]!);
    const targets = m.resolveTargets(methodOptions as O, x.outputs, E);
    // Row r = s·E + e: sample s of example e.
    const rowExample = Array.from({ length: ntSamples * E }, (_, r) => r % E);
    const rng = new Random(seed);
    const noisy: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(x.values)) {
      const rows = gatherRows(t, rowExample);
      const data = rows.data as Float32Array;
      for (let i = 0; i < data.length; i++) data[i] = data[i]! + stdevs * rng.normal();
      noisy[name] = rows;
    }
    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, gatherRows(v, rowExample)]));
    const outputs = await m.outputsAt(feeds, noisy);
    const expanded: ResolvedTarget[] = targets.map((t) => ({ ...t, offsets: rowExample.map((e) => t.offsets[e]!), indices: rowExample.map((e) => t.indices[e]!) }));
    const inner = await m.compute({ values: noisy, outputs }, feeds, { ...expandBaselines(methodOptions, rowExample, E), targets: undefined } as O, expanded);
    const results = inner.map((r, k) => ({
      ...r,
      target: targets[k]!,
      attributions: Object.fromEntries(Object.entries(r.attributions).map(([n, a]) => [n, aggregate(a, ntSamples, E, ntType)])),
    }));
    return options.targets ? results : results[0]!;
  }
}

/** Mean, mean of squares or variance over the samples of each example. */
function aggregate(a: HostTensor, samples: number, examples: number, type: NoiseTunnelType): HostTensor {
  const size = a.data.length / (samples * examples);
  const out = new Float64Array(examples * size);
  const sq = new Float64Array(examples * size);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < examples * size; i++) {
      const v = Number(a.data[s * examples * size + i]);
      out[i]! += v / samples;
      sq[i]! += (v * v) / samples;
    }
  }
  if (type === 'smoothgrad_sq') return float64(sq, [examples, ...a.dims.slice(1)]);
  if (type === 'vargrad') for (let i = 0; i < out.length; i++) out[i] = sq[i]! - out[i]! * out[i]!;
  return float64(out, [examples, ...a.dims.slice(1)]);
}

/** Baselines given per example follow their example into the stacked batch. */
function expandBaselines<T extends object>(options: T, rowExample: number[], examples: number): T {
  const b = (options as { baselines?: unknown }).baselines;
  const expand = (t: HostTensor | number) => (typeof t !== 'number' && t.dims.length > 0 && batchOf(t) === examples ? gatherRows(t, rowExample) : t);
  if (!b || typeof b === 'number') return options;
  if ('data' in (b as object)) return { ...options, baselines: expand(b as HostTensor) };
  return { ...options, baselines: Object.fromEntries(Object.entries(b as Record<string, HostTensor | number>).map(([k, v]) => [k, expand(v)])) };
}

