import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import { Random } from './random.js';
import { Perturber, elementFeatures, featureMask, featureElements, type PerturbationOptions } from './perturbation.js';

export interface ShapleyValueSamplingOptions extends PerturbationOptions {
  featureMask?: ArrayLike<number>;
  /** Random feature permutations (Captum's n_samples, default 25). */
  nSamples?: number;
  seed?: number;
}

/** A uniformly random permutation of 0 … n − 1 (Fisher–Yates). */
export function permutation(n: number, rand: Random): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rand.int(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Captum's ShapleyValueSampling: for each of nSamples random feature orders, start from the baseline (every feature
 * ablated) and add the features back one at a time; a feature's attribution is the mean of the output change when it
 * is added. Each order telescopes, so Σ attributions = F(x) − F(baseline) exactly. The permutations come from a
 * seeded generator (same seed, same numbers), not from torch's.
 */
export class ShapleyValueSampling {
  constructor(readonly model: ModelProto | ModelRunner) {}

  async attribute(inputs: Record<string, HostTensor>, options: ShapleyValueSamplingOptions = {}): Promise<AttributionResult[]> {
    const p = await Perturber.create(this.model, inputs, options);
    const mask = options.featureMask ? featureMask(options.featureMask, p.size) : elementFeatures(p.size);
    const n = options.nSamples ?? 25;
    if (!Number.isInteger(n) || n < 1) fail(`nSamples must be a positive integer, got ${n}`);
    const M = mask.features;
    const elements = featureElements(mask);
    const rand = new Random(options.seed ?? 0);
    const orders = Array.from({ length: n }, () => permutation(M, rand));
    // Row 0: the baseline (all ablated). Then, per order, M rows: the first j + 1 features of the order present.
    const values = await p.evaluate(1 + n * M, (i, out) => {
      mask.ids.forEach((f, e) => { if (f >= 0) out[e] = 1; });
      if (i === 0) return;
      const order = orders[Math.floor((i - 1) / M)]!;
      const added = (i - 1) % M;
      for (let j = 0; j <= added; j++) for (const e of elements[order[j]!]!) out[e] = 0;
    });
    const T = p.targets.length;
    return p.targets.map((_, k) => {
      const perFeature = new Float64Array(M);
      orders.forEach((order, s) => {
        let prev = values[k]!;
        order.forEach((f, j) => {
          const cur = values[(1 + s * M + j) * T + k]!;
          perFeature[f]! += (cur - prev) / n;
          prev = cur;
        });
      });
      const attr = new Float64Array(p.size);
      mask.ids.forEach((f, e) => { if (f >= 0) attr[e] = perFeature[f]!; });
      return p.result(attr, k, { fBaseline: Float64Array.of(values[k]!), evaluations: 1 + n * M });
    });
  }
}
