import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import { Random } from './random.js';
import { lasso, type LinearFit } from './linear-model.js';
import { Perturber, elementFeatures, featureMask, featureElements, type FeatureMask, type PerturbationOptions } from './perturbation.js';

export interface LimeOptions extends PerturbationOptions {
  featureMask?: ArrayLike<number>;
  /** Perturbed samples the interpretable model is fitted on (Captum's n_samples; default 25). */
  nSamples?: number;
  seed?: number;
}

/** What distinguishes Lime and KernelShap: how samples are drawn, how they are weighted, which model is fitted. */
export interface LimeRecipe {
  /** Interpretable sample i (1 = feature present, 0 = replaced by the baseline), written into `out`. */
  sample(i: number, out: Uint8Array, rand: Random, features: number): void;
  /** Weight of a sample, from the original input, the perturbed input and the interpretable sample. */
  similarity(original: Float64Array, perturbed: Float64Array, sample: Uint8Array): number;
  fit(z: Float64Array[], y: Float64Array, w: Float64Array): LinearFit;
}

/**
 * Captum's LimeBase: draw interpretable samples, run the model on the inputs they stand for (absent features take
 * the baseline), weight each by its similarity to the input, fit an interpretable linear model; the coefficients are
 * the features' attributions (spread to their elements, Captum's return_input_shape).
 */
export async function limeAttribute(model: ModelProto | ModelRunner, inputs: Record<string, HostTensor>, options: LimeOptions, recipe: LimeRecipe): Promise<AttributionResult[]> {
  const p = await Perturber.create(model, inputs, options);
  const mask: FeatureMask = options.featureMask ? featureMask(options.featureMask, p.size) : elementFeatures(p.size);
  const n = options.nSamples ?? 25;
  if (!Number.isInteger(n) || n < 1) fail(`nSamples must be a positive integer, got ${n}`);
  const M = mask.features;
  if (M === 0) fail('there are no features to perturb');
  const elements = featureElements(mask);
  const rand = new Random(options.seed ?? 0);
  const samples = Array.from({ length: n }, (_, i) => {
    const s = new Uint8Array(M);
    recipe.sample(i, s, rand, M);
    return s;
  });
  const values = await p.evaluate(n, (i, out) => {
    samples[i]!.forEach((present, f) => { if (!present) for (const e of elements[f]!) out[e] = 1; });
  });
  const original = p.inputValues();
  const base = p.baselineValues();
  const weights = Float64Array.from(samples, (s) => {
    const perturbed = Float64Array.from(original);
    s.forEach((present, f) => { if (!present) for (const e of elements[f]!) perturbed[e] = base[e]!; });
    return recipe.similarity(original, perturbed, s);
  });
  const z = samples.map((s) => Float64Array.from(s));
  const T = p.targets.length;
  return p.targets.map((_, k) => {
    const y = Float64Array.from({ length: n }, (_, i) => values[i * T + k]!);
    const { coef } = recipe.fit(z, y, weights);
    const attr = new Float64Array(p.size);
    mask.ids.forEach((f, e) => { if (f >= 0) attr[e] = coef[f]!; });
    return p.result(attr, k, { evaluations: n });
  });
}

/** Captum's default Lime similarity: exp(−d² / (2·width²)) with d the cosine distance of the flattened inputs. */
export function cosineKernel(original: Float64Array, perturbed: Float64Array, width = 1): number {
  let dot = 0, a = 0, b = 0;
  for (let i = 0; i < original.length; i++) {
    dot += original[i]! * perturbed[i]!;
    a += original[i]! ** 2;
    b += perturbed[i]! ** 2;
  }
  // torch.nn.CosineSimilarity(dim=0), eps 1e-8 on each norm
  const cos = dot / (Math.max(Math.sqrt(a), 1e-8) * Math.max(Math.sqrt(b), 1e-8));
  const d = 1 - cos;
  return Math.exp(-(d * d) / (2 * width * width));
}

/**
 * Captum's Lime with its defaults: each feature present with probability ½ (default_perturb_func), the cosine
 * similarity kernel of width 1 on the model inputs, and a Lasso with α = 0.01 (SkLearnLasso(alpha=0.01)).
 */
export class Lime {
  constructor(readonly model: ModelProto | ModelRunner) {}

  attribute(inputs: Record<string, HostTensor>, options: LimeOptions = {}): Promise<AttributionResult[]> {
    return limeAttribute(this.model, inputs, options, {
      sample: (_, out, rand) => { for (let f = 0; f < out.length; f++) out[f] = rand.uniform() < 0.5 ? 1 : 0; },
      similarity: (original, perturbed) => cosineKernel(original, perturbed),
      fit: (z, y, w) => lasso(z, y, w, 0.01),
    });
  }
}
