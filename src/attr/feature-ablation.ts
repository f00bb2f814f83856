import type { ModelProto } from '../onnx/proto.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import { Perturber, elementFeatures, featureMask, featureElements, type FeatureMask, type PerturbationOptions } from './perturbation.js';

export interface FeatureAblationOptions extends PerturbationOptions {
  /** Feature id per element of the input row (−1: never ablated); default: each element its own feature. */
  featureMask?: ArrayLike<number>;
}

/**
 * Captum's FeatureAblation: each feature's attribution is F(x) − F(x with that feature's elements replaced by the
 * baseline), given to every element of the feature. One perturbed input per feature, plus one with every feature
 * ablated for f_baseline.
 */
export class FeatureAblation {
  constructor(readonly model: ModelProto | ModelRunner) {}

  async attribute(inputs: Record<string, HostTensor>, options: FeatureAblationOptions = {}): Promise<AttributionResult[]> {
    const p = await Perturber.create(this.model, inputs, options);
    const mask: FeatureMask = options.featureMask ? featureMask(options.featureMask, p.size) : elementFeatures(p.size);
    return ablate(p, mask);
  }
}

/** f(x) − f(x with feature j ablated) for every feature j, spread over the feature's elements. */
export async function ablate(p: Perturber, mask: FeatureMask): Promise<AttributionResult[]> {
  const elements = featureElements(mask);
  const M = mask.features;
  // Rows 0 … M − 1: one feature ablated; row M: all of them (the baseline's value).
  const values = await p.evaluate(M + 1, (i, out) => {
    if (i < M) for (const e of elements[i]!) out[e] = 1;
    else mask.ids.forEach((f, e) => { if (f >= 0) out[e] = 1; });
  });
  const T = p.targets.length;
  return p.targets.map((_, k) => {
    const attr = new Float64Array(p.size);
    mask.ids.forEach((f, e) => { if (f >= 0) attr[e] = p.fX[k]! - values[f * T + k]!; });
    return p.result(attr, k, { fBaseline: Float64Array.of(values[M * T + k]!), evaluations: M + 1 });
  });
}
