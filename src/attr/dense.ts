/**
 * How each method of the registry runs on a model with one float input (images, tabular rows): the attributed space
 * is that input itself (Captum's IntegratedGradients(model), not a layer), baselines are tensors of its shape, and
 * the perturbation methods perturb its elements, patches or features.
 */
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import type { TargetSpec } from './targets.js';
import type { ExplainSettings } from './registry.js';
import { IntegratedGradients } from './integrated-gradients.js';
import { Saliency } from './saliency.js';
import { InputXGradient } from './input-x-gradient.js';
import { NoiseTunnel } from './noise-tunnel.js';
import { GradientShap } from './gradient-shap.js';
import { Occlusion } from './occlusion.js';
import { FeatureAblation } from './feature-ablation.js';
import { KernelShap } from './kernel-shap.js';
import { ShapleyValueSampling } from './shapley.js';
import { Lime } from './lime.js';
import { LayerGradCam } from './grad-cam.js';

export type Modality = 'text' | 'image' | 'tabular';

export interface DenseContext {
  runner: ModelRunner;
  /** The attributed graph input and the feeds ({ [input]: [1, …] }). */
  input: string;
  feeds: Record<string, HostTensor>;
  targets: TargetSpec[];
  /** Rows per ONNX Runtime call for the gradient methods, and perturbed inputs per call. */
  internalBatchSize: number;
  perturbationsPerEval: number;
  settings: ExplainSettings;
  /** The baseline, shaped like the input ([1, …]), and the distribution gradient-shap draws from ([k, …]). */
  baseline: HostTensor;
  baselineDistribution: HostTensor;
  /** Occlusion's window and strides over one input row (image: [channels, h, w] in the input's layout). */
  window?: number[];
  strides?: number[];
  /** The perturbation methods' features (tabular: one per column). */
  featureMask?: Int32Array;
  /** grad-cam: the spatial layer. */
  layer?: string;
}

export type DenseRun = (ctx: DenseContext) => Promise<AttributionResult[]>;

const common = (ctx: DenseContext) => ({ targets: ctx.targets, internalBatchSize: ctx.internalBatchSize });
const perturbation = (ctx: DenseContext) => ({ input: ctx.input, baselines: ctx.baseline, targets: ctx.targets, perturbationsPerEval: ctx.perturbationsPerEval });
/** Tabular rows: one feature per column (the default); a given mask groups elements. */
const mask = (ctx: DenseContext) => (ctx.featureMask ? { featureMask: ctx.featureMask } : {});

export const DENSE: Record<string, DenseRun> = {
  ig: (ctx) => new IntegratedGradients(ctx.runner, { inputs: [ctx.input] }).attribute(ctx.feeds, {
    ...common(ctx), baselines: { [ctx.input]: ctx.baseline }, nSteps: ctx.settings.steps, method: ctx.settings.integration, returnConvergenceDelta: true,
  }),
  saliency: (ctx) => new Saliency(ctx.runner, { inputs: [ctx.input] }).attribute(ctx.feeds, { ...common(ctx), abs: true }),
  inputXGradient: (ctx) => new InputXGradient(ctx.runner, { inputs: [ctx.input] }).attribute(ctx.feeds, common(ctx)),
  smoothgrad: (ctx) => new NoiseTunnel(new Saliency(ctx.runner, { inputs: [ctx.input] })).attribute(ctx.feeds, {
    ...common(ctx), abs: true, ntType: 'smoothgrad', ntSamples: ctx.settings.samples, stdevs: ctx.settings.stdevs, seed: ctx.settings.seed,
  }),
  gradientShap: (ctx) => new GradientShap(ctx.runner, { inputs: [ctx.input] }).attribute(ctx.feeds, {
    ...common(ctx), baselines: ctx.baselineDistribution, nSamples: ctx.settings.samples, stdevs: ctx.settings.stdevs, seed: ctx.settings.seed,
  }),
  occlusion: (ctx) => new Occlusion(ctx.runner).attribute(ctx.feeds, {
    ...perturbation(ctx), slidingWindowShapes: ctx.window ?? fail('occlusion needs a window'), strides: ctx.strides ?? 1,
  }),
  featureAblation: (ctx) => new FeatureAblation(ctx.runner).attribute(ctx.feeds, { ...perturbation(ctx), ...mask(ctx) }),
  shapley: (ctx) => new ShapleyValueSampling(ctx.runner).attribute(ctx.feeds, { ...perturbation(ctx), ...mask(ctx), nSamples: ctx.settings.samples, seed: ctx.settings.seed }),
  kernelShap: (ctx) => new KernelShap(ctx.runner).attribute(ctx.feeds, { ...perturbation(ctx), ...mask(ctx), nSamples: ctx.settings.samples, seed: ctx.settings.seed }),
  lime: (ctx) => new Lime(ctx.runner).attribute(ctx.feeds, { ...perturbation(ctx), ...mask(ctx), nSamples: ctx.settings.samples, seed: ctx.settings.seed }),
  gradCam: (ctx) => new LayerGradCam(ctx.runner, ctx.layer ?? fail('grad-cam needs a spatial layer')).attribute(ctx.feeds, common(ctx)),
};
