/**
 * The attribution methods gradlens offers on token models, in one table: the CLI's --method choices, each method's
 * options and their defaults, and the web app's pickers are all derived from it. A method's entry says what it is
 * called in Captum, which options it reads, which layer it attributes to, and how it runs.
 */
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import type { TargetSpec } from './targets.js';
import { LayerIntegratedGradients } from './layer-integrated-gradients.js';
import { Saliency } from './saliency.js';
import { InputXGradient } from './input-x-gradient.js';
import { NoiseTunnel } from './noise-tunnel.js';
import { GradientShap } from './gradient-shap.js';
import { concatRows } from './host.js';
import { FeatureAblation } from './feature-ablation.js';
import { Occlusion } from './occlusion.js';
import { ShapleyValueSampling } from './shapley.js';
import { KernelShap } from './kernel-shap.js';
import { Lime } from './lime.js';
import { AttnLRP } from './attnlrp.js';
import { CpLRP } from './cp-lrp.js';
import type { RuleSetName } from '../autodiff/lrp.js';
import { AttentionWeights } from './attention.js';
import { AttentionRollout } from './rollout.js';
import type { PerturbationOptions } from './perturbation.js';
import { INTEGRATION_METHODS, MAX_STEPS, parseIntegrationMethod, type IntegrationMethod } from './quadrature.js';
import { DENSE, type DenseRun, type Modality } from './dense.js';
export type { Modality };

export const BASELINES = ['pad', 'zero', 'unk', 'mask', 'eos'] as const;
export type BaselineKind = (typeof BASELINES)[number];
export type TokenBaseline = Exclude<BaselineKind, 'zero'>;

export interface ExplainSettings {
  method: MethodName;
  steps: number | 'auto';
  integration: IntegrationMethod;
  internalBatchSize?: number;
  baseline: BaselineKind;
  seed: number;
  /** Noise for smoothgrad / gradient-shap, in the layer's units. */
  stdevs: number;
  samples: number;
  /** Occlusion's window and stride, in tokens (words with granularity word). */
  window: number;
  stride: number;
  /** Perturbed inputs per ONNX Runtime call for the perturbation methods; 'auto': about 1,536 tokens per call. */
  perturbationsPerEval: number | 'auto';
  /** The attention method's layer (0-based) or the last one. */
  attentionLayer: number | 'last';
  /** Tokens or words: what the perturbation methods perturb, and what the views and JSON sum attributions into. */
  granularity: Granularity;
  /**
   * Bytes this run may use (the CLI passes the memory available). When set, rows per ONNX Runtime call and the
   * noise samples are checked against it before running (attr/memory.ts); undefined: no check.
   */
  memoryBudget?: number;
}

/** Limits of the settings (stated in --help); beyond them a run is refused before it starts. */
export const SETTING_LIMITS = { steps: MAX_STEPS, samples: 10_000, internalBatchSize: 100_000, stdevs: 1e6, window: 4096, perturbationsPerEval: 100_000 } as const;

export const GRANULARITIES = ['token', 'word'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export function parseGranularity(v: string): Granularity {
  if (!(GRANULARITIES as readonly string[]).includes(v)) fail(`--granularity is one of ${GRANULARITIES.join(', ')}, got ${v.slice(0, 40)}`);
  return v as Granularity;
}

/** An option's integer: digits only (not "1e3", "0x10" or "-1"), from `min` to `max`; else one clear error. */
export function parseIntIn(value: string | number, flag: string, min: number, max: number, alternative = ''): number {
  const n = typeof value === 'number' ? value : /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) fail(`${flag} must be an integer from ${min} to ${max}${alternative}, got ${String(value).slice(0, 40)}`);
  return n;
}

export function parseSteps(value: string | number): number | 'auto' {
  return value === 'auto' ? 'auto' : parseIntIn(value, '--steps', 1, SETTING_LIMITS.steps, ' or "auto"');
}

export function parseBaseline(name: string): BaselineKind {
  if (!(BASELINES as readonly string[]).includes(name)) fail(`unknown baseline "${name}"; expected one of: ${BASELINES.join(', ')}`);
  return name as BaselineKind;
}

/** The settings a method may read, besides the ones every method shares (internal batch size, memory budget). */
export type OptionKey = 'steps' | 'integration' | 'baseline' | 'samples' | 'stdevs' | 'seed' | 'window' | 'stride' | 'perturbationsPerEval' | 'attentionLayer';

export interface OptionSpec {
  key: OptionKey;
  /** The CLI flag and its value's name (the web app's URL parameter is `key`). */
  flag: string;
  value: string;
  label: string;
  description: string;
  /** The default, as the user would type it. */
  default: string;
  /** Allowed values, for options with a fixed set (a select in the web app). */
  choices?: readonly string[];
  /** Suggestions for a free-form value (the web app's datalist). */
  suggestions?: readonly string[];
  parse(value: string): ExplainSettings[OptionKey];
}

export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'steps', flag: '--steps', value: 'n|auto', label: 'Steps', default: '50', suggestions: ['auto', '20', '50', '100', '300'],
    description: `integration steps (1–${SETTING_LIMITS.steps}), or "auto" (adaptive until the convergence delta is within 1%)`,
    parse: parseSteps,
  },
  {
    key: 'integration', flag: '--integration', value: 'rule', label: 'Integration', default: 'gausslegendre', choices: INTEGRATION_METHODS,
    description: 'quadrature rule: Captum\'s five (riemann_trapezoid as Captum computes it: widths 1/n, end points halved, so the weights sum to (n − 1)/n), or trapezoid, the textbook rule (widths 1/(n − 1))',
    parse: parseIntegrationMethod,
  },
  {
    key: 'baseline', flag: '--baseline', value: 'kind', label: 'Baseline', default: 'pad', choices: BASELINES,
    description: 'reference input: special tokens kept, others replaced by the pad, unk, mask or eos token, or a zero embedding (generate: default pad if the tokenizer has one, else eos)', parse: parseBaseline,
  },
  {
    key: 'samples', flag: '--samples', value: 'n', label: 'Samples', default: '5',
    description: `noise samples, 1–${SETTING_LIMITS.samples} (gradient-shap uses 4×; refused when they would not fit in memory); for shapley the random orders, for kernel-shap and lime the perturbed samples`,
    parse: (v) => parseIntIn(v, '--samples', 1, SETTING_LIMITS.samples),
  },
  {
    key: 'stdevs', flag: '--stdevs', value: 'x', label: 'Noise stdev', default: '0.1',
    description: `noise standard deviation in the layer, 0–${SETTING_LIMITS.stdevs}`,
    parse: (v) => {
      const x = /^\s*[\d.eE+-]+\s*$/.test(v) ? Number(v) : NaN;
      if (!(x >= 0 && x <= SETTING_LIMITS.stdevs)) fail(`--stdevs must be a number from 0 to ${SETTING_LIMITS.stdevs}, got ${v.slice(0, 40)}`);
      return x;
    },
  },
  {
    key: 'seed', flag: '--seed', value: 'n', label: 'Seed', default: '0',
    description: 'random seed, 0–4294967295', parse: (v) => parseIntIn(v, '--seed', 0, 0xffffffff),
  },
  {
    key: 'window', flag: '--window', value: 'n', label: 'Window', default: '3',
    description: `occlusion window in tokens (words with --granularity word), 1–${SETTING_LIMITS.window}`,
    parse: (v) => parseIntIn(v, '--window', 1, SETTING_LIMITS.window),
  },
  {
    key: 'stride', flag: '--stride', value: 'n', label: 'Stride', default: '1',
    description: `occlusion stride, 1 to the window`, parse: (v) => parseIntIn(v, '--stride', 1, SETTING_LIMITS.window),
  },
  {
    key: 'perturbationsPerEval', flag: '--perturbations-per-eval', value: 'n|auto', label: 'Perturbations per call', default: 'auto', suggestions: ['auto', '1', '8', '32'],
    description: `perturbed inputs per ONNX Runtime call (Captum's perturbations_per_eval), 1–${SETTING_LIMITS.perturbationsPerEval}, or "auto" (about 1,536 tokens per call)`,
    parse: (v) => (v === 'auto' ? 'auto' : parseIntIn(v, '--perturbations-per-eval', 1, SETTING_LIMITS.perturbationsPerEval, ' or "auto"')),
  },
  {
    key: 'attentionLayer', flag: '--attention-layer', value: 'n|last', label: 'Attention layer', default: 'last', suggestions: ['last', '0'],
    description: 'the layer whose attention explains (0-based), or "last"', parse: (v) => (v === 'last' ? 'last' : parseIntIn(v, '--attention-layer', 0, 10_000, ' or "last"')),
  },
];

export const optionSpec = (key: OptionKey): OptionSpec => OPTIONS.find((o) => o.key === key)!;

/** What a method's run gets: the model, the attributed layer, the input and its reference inputs, the targets. */
export interface MethodContext {
  runner: ModelRunner;
  layer: string;
  feeds: Record<string, HostTensor>;
  targets: TargetSpec[];
  internalBatchSize: number;
  settings: ExplainSettings;
  /** The input ids of a token baseline (special tokens kept), [1, seq]. */
  baselineIds(kind: TokenBaseline): HostTensor;
  /** The token baselines this tokenizer has ([PAD] always; [UNK] and [MASK] when defined). */
  baselineKinds: readonly TokenBaseline[];
  /** For the perturbation methods: the feature of each token (a token or a word; −1: special, never perturbed). */
  features: Int32Array;
  /** Perturbed inputs per ONNX Runtime call. */
  perturbationsPerEval: number;
  /** Gradient methods: explain at these values of the attributed layer instead of the input's (sensitivity). */
  at?: Record<string, HostTensor>;
}

/** The size of the input a method runs on, for its progress total. */
export interface InputShape { tokens: number; features: number }

export interface MethodSpec {
  name: string;
  /** Captum's class (and wrapper) this reproduces. */
  captum: string;
  description: string;
  /** The options it reads (the others are ignored). */
  options: readonly OptionKey[];
  /**
   * Gradient methods run backward passes; perturbation methods forward passes only (any model, no gradient rules);
   * attention methods read the attention probabilities of one forward pass.
   */
  kind: 'gradient' | 'perturbation' | 'attention';
  /** Integral methods report steps, integration rule and the convergence delta. */
  integral: boolean;
  /** The tensor it attributes to: the embeddings output (default), the word-embedding lookup, or the token ids. */
  layer: 'embeddings' | 'word-embeddings' | 'input-ids' | 'attention' | 'spatial';
  /** Its own defaults where Captum's differ from the table's (e.g. 25 samples for Shapley sampling). */
  defaults?: Partial<Record<OptionKey, string>>;
  /** Gradient methods: the rule set of the backward pass (default the gradient; attnlrp, cp-lrp: autodiff/lrp.ts). */
  rules?: RuleSetName;
  /** The inputs it explains: text (token models, `attribute`), image and tabular models (`dense`). */
  modalities: readonly Modality[];
  /** How it runs on an image or tabular model's float input (attr/dense.ts). */
  dense?: DenseRun;
  /** Its Captum class on image and tabular models, where it differs (ig: IntegratedGradients on the input itself). */
  denseCaptum?: string;
  /** Its defaults on image and tabular models where they differ (Captum's own, e.g. NoiseTunnel's stdevs 1.0). */
  denseDefaults?: Partial<Record<OptionKey, string>>;
  /** Host bytes the run keeps besides the ONNX Runtime calls (noise samples), for the memory check. */
  hostBytes?(settings: ExplainSettings, layerRowBytes: number, targets: number): number;
  /** Gradient rows (or forward rows) the run needs per example when known in advance (for progress), else undefined. */
  rows(settings: ExplainSettings, shape: InputShape): number | undefined;
  attribute(ctx: MethodContext): Promise<AttributionResult[]>;
}

const integratedGradients = (ctx: MethodContext): Promise<AttributionResult[]> => {
  const { settings } = ctx;
  const lig = new LayerIntegratedGradients(ctx.runner, ctx.layer);
  const baseline = settings.baseline === 'zero' ? { layerBaseline: 0 } : { baselines: { input_ids: ctx.baselineIds(settings.baseline) } };
  return lig.attribute(ctx.feeds, {
    targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, ...baseline, at: ctx.at,
    nSteps: settings.steps, method: settings.integration, returnConvergenceDelta: true,
  });
};

const integralRows = (s: ExplainSettings): number | undefined => (s.steps === 'auto' ? undefined : s.steps);

export const METHOD_TABLE = [
  {
    name: 'layer-ig', modalities: ['text'], captum: 'LayerIntegratedGradients', kind: 'gradient', integral: true, layer: 'embeddings',
    description: 'Integrated Gradients on the embeddings layer, as Captum\'s BERT tutorial (the default)',
    options: ['steps', 'integration', 'baseline'], rows: integralRows, attribute: integratedGradients,
  },
  {
    name: 'ig', modalities: ['text', 'image', 'tabular'], dense: DENSE.ig, denseCaptum: 'IntegratedGradients', captum: 'IntegratedGradients (on inputs_embeds)', kind: 'gradient', integral: true, layer: 'word-embeddings',
    description: 'Integrated Gradients on the word-embedding lookup (what inputs_embeds would be)',
    options: ['steps', 'integration', 'baseline'], rows: integralRows, attribute: integratedGradients,
  },
  {
    name: 'saliency', modalities: ['text', 'image', 'tabular'], dense: DENSE.saliency, captum: 'Saliency', kind: 'gradient', integral: false, layer: 'embeddings',
    description: 'absolute gradient of the target', options: [], rows: () => 1,
    attribute: (ctx) => new Saliency(ctx.runner, { layer: ctx.layer }).attribute(ctx.feeds, { targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, abs: true, at: ctx.at }),
  },
  {
    name: 'input-x-gradient', modalities: ['text', 'image', 'tabular'], dense: DENSE.inputXGradient, captum: 'InputXGradient', kind: 'gradient', integral: false, layer: 'embeddings',
    description: 'gradient times the embeddings', options: [], rows: () => 1,
    attribute: (ctx) => new InputXGradient(ctx.runner, { layer: ctx.layer }).attribute(ctx.feeds, { targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, at: ctx.at }),
  },
  {
    name: 'smoothgrad', modalities: ['text', 'image'], dense: DENSE.smoothgrad, denseDefaults: { stdevs: '1.0' }, captum: 'NoiseTunnel(Saliency), smoothgrad', kind: 'gradient', integral: false, layer: 'embeddings',
    description: 'saliency averaged over noisy copies of the embeddings', options: ['samples', 'stdevs', 'seed'],
    rows: (s) => s.samples,
    hostBytes: (s, layerRow, targets) => s.samples * layerRow * (1 + 3 * targets),
    attribute: (ctx) => new NoiseTunnel(new Saliency(ctx.runner, { layer: ctx.layer })).attribute(ctx.feeds, {
      targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, abs: true, ntType: 'smoothgrad', at: ctx.at,
      ntSamples: ctx.settings.samples, stdevs: ctx.settings.stdevs, seed: ctx.settings.seed,
    }),
  },
  {
    name: 'gradient-shap', modalities: ['text', 'image'], dense: DENSE.gradientShap, denseDefaults: { stdevs: '0' }, captum: 'GradientShap', kind: 'gradient', integral: false, layer: 'embeddings',
    description: 'expected gradients over noisy points between the input and [PAD]/[UNK]/[MASK] baselines (4 × samples)',
    options: ['samples', 'stdevs', 'seed'],
    rows: (s) => 4 * s.samples,
    hostBytes: (s, layerRow, targets) => 4 * s.samples * layerRow * (3 + 2 * targets),
    attribute: (ctx) => new GradientShap(ctx.runner, { layer: ctx.layer }).attribute(ctx.feeds, {
      targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, at: ctx.at,
      baselines: { input_ids: concatRows(ctx.baselineKinds.map((k) => ctx.baselineIds(k))) },
      nSamples: Math.max(ctx.settings.samples, 1) * 4, stdevs: ctx.settings.stdevs, seed: ctx.settings.seed,
    }),
  },
  {
    name: 'attnlrp', modalities: ['text'], captum: 'AttnLRP (lxt, efficient)', kind: 'gradient', integral: false, layer: 'embeddings', rules: 'attnlrp',
    description: 'AttnLRP relevance in one forward and one backward pass: lxt\'s rules (identity rule on GELU/tanh, LayerNorm std held constant, Q·Kᵀ and P·V halved) in the backward graph',
    options: [], rows: () => 1,
    attribute: (ctx) => new AttnLRP(ctx.runner, { layer: ctx.layer }).attribute(ctx.feeds, { targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, at: ctx.at }),
  },
  {
    name: 'cp-lrp', modalities: ['text'], captum: 'CP-LRP (lxt, efficient)', kind: 'gradient', integral: false, layer: 'embeddings', rules: 'cp-lrp',
    description: 'CP-LRP relevance in one pass: AttnLRP\'s rules, but nothing flows through the attention scores and P·V is not halved',
    options: [], rows: () => 1,
    attribute: (ctx) => new CpLRP(ctx.runner, { layer: ctx.layer }).attribute(ctx.feeds, { targets: ctx.targets, internalBatchSize: ctx.internalBatchSize, at: ctx.at }),
  },
  {
    name: 'attention', modalities: ['text'], captum: 'attention weights', kind: 'attention', integral: false, layer: 'attention',
    description: 'the attention probabilities of a layer (default the last), mean over heads, in the target\'s row ([CLS] for sentence targets)',
    options: ['attentionLayer'], rows: () => 0,
    attribute: (ctx) => new AttentionWeights(ctx.runner).attribute(ctx.feeds, { targets: ctx.targets, layer: ctx.settings.attentionLayer }),
  },
  {
    name: 'rollout', modalities: ['text'], captum: 'attention rollout (Abnar & Zuidema 2020)', kind: 'attention', integral: false, layer: 'attention',
    description: 'attention rollout: per layer ½·(mean over heads) + ½·I, rows renormalised, multiplied over the layers; the target\'s row',
    options: [], rows: () => 0,
    attribute: (ctx) => new AttentionRollout(ctx.runner).attribute(ctx.feeds, { targets: ctx.targets }),
  },
  {
    name: 'occlusion', modalities: ['text', 'image'], dense: DENSE.occlusion, captum: 'Occlusion', kind: 'perturbation', integral: false, layer: 'input-ids',
    description: 'a window of tokens replaced by the baseline token, slid over the input; each token gets the mean output drop of the windows covering it',
    options: ['window', 'stride', 'baseline', 'perturbationsPerEval'],
    rows: (s, shape) => windowCount(s.granularity === 'word' ? shape.features : shape.tokens, s.window, s.stride),
    attribute: (ctx) => {
      // Tokens: Captum's windows over the whole sequence (a special token is "replaced" by itself); words: windows over
      // the words, special tokens left out.
      const words = ctx.settings.granularity === 'word';
      const size = words ? Math.max(-1, ...ctx.features) + 1 : ctx.features.length;
      const unit = words ? 'words' : 'tokens';
      if (ctx.settings.window > size) fail(`--window ${ctx.settings.window} is larger than the input's ${size} ${unit}`);
      if (ctx.settings.stride > ctx.settings.window && size > ctx.settings.window) fail(`--stride ${ctx.settings.stride} is larger than --window ${ctx.settings.window}: some ${unit} would never be occluded`);
      return new Occlusion(ctx.runner).attribute(ctx.feeds, {
        ...perturbationOptions(ctx), slidingWindowShapes: ctx.settings.window, strides: ctx.settings.stride, ...(words ? { featureMask: ctx.features } : {}),
      });
    },
  },
  {
    name: 'feature-ablation', modalities: ['text', 'image', 'tabular'], dense: DENSE.featureAblation, captum: 'FeatureAblation', kind: 'perturbation', integral: false, layer: 'input-ids',
    description: 'each token (or word) replaced by the baseline token in turn: the drop of the output',
    options: ['baseline', 'perturbationsPerEval'], rows: (_, shape) => shape.features + 1,
    attribute: (ctx) => new FeatureAblation(ctx.runner).attribute(ctx.feeds, { ...perturbationOptions(ctx), featureMask: ctx.features }),
  },
  {
    name: 'shapley', modalities: ['text', 'image', 'tabular'], dense: DENSE.shapley, captum: 'ShapleyValueSampling', kind: 'perturbation', integral: false, layer: 'input-ids',
    description: 'Shapley values sampled over random orders of the tokens (or words); Σ = F(x) − F(baseline) exactly', defaults: { samples: '25' },
    options: ['samples', 'seed', 'baseline', 'perturbationsPerEval'], rows: (s, shape) => 1 + s.samples * shape.features,
    attribute: (ctx) => new ShapleyValueSampling(ctx.runner).attribute(ctx.feeds, { ...perturbationOptions(ctx), featureMask: ctx.features, nSamples: ctx.settings.samples, seed: ctx.settings.seed }),
  },
  {
    name: 'kernel-shap', modalities: ['text', 'image', 'tabular'], dense: DENSE.kernelShap, captum: 'KernelShap', kind: 'perturbation', integral: false, layer: 'input-ids',
    description: 'a weighted linear model fitted to perturbed inputs sampled by the Shapley kernel', defaults: { samples: '25' },
    options: ['samples', 'seed', 'baseline', 'perturbationsPerEval'], rows: (s) => s.samples,
    attribute: (ctx) => new KernelShap(ctx.runner).attribute(ctx.feeds, { ...perturbationOptions(ctx), featureMask: ctx.features, nSamples: ctx.settings.samples, seed: ctx.settings.seed }),
  },
  {
    name: 'lime', modalities: ['text', 'image', 'tabular'], dense: DENSE.lime, captum: 'Lime', kind: 'perturbation', integral: false, layer: 'input-ids',
    description: 'a Lasso (α 0.01) fitted to random perturbations weighted by an exponential cosine kernel (Captum\'s defaults)', defaults: { samples: '25' },
    options: ['samples', 'seed', 'baseline', 'perturbationsPerEval'], rows: (s) => s.samples,
    attribute: (ctx) => new Lime(ctx.runner).attribute(ctx.feeds, { ...perturbationOptions(ctx), featureMask: ctx.features, nSamples: ctx.settings.samples, seed: ctx.settings.seed }),
  },
  {
    name: 'grad-cam', modalities: ['image'], dense: DENSE.gradCam, captum: 'LayerGradCam (relu_attributions=True)', kind: 'gradient', integral: false, layer: 'spatial',
    description: 'Grad-CAM on the last spatial layer (the feature map before global pooling, or --layer): ReLU(Σ_c mean(∂F/∂A_c)·A_c), upsampled to the image for the views',
    options: [], rows: () => 1,
    attribute: () => fail('grad-cam explains image models: use gradlens explain image'),
  },
] as const satisfies readonly MethodSpec[];

/** What every perturbation method shares: the token baseline (special tokens kept), the targets, the batch size. */
function perturbationOptions(ctx: MethodContext): PerturbationOptions {
  const kind = ctx.settings.baseline;
  if (kind === 'zero') fail('--baseline zero is an embedding; the perturbation methods replace tokens: use --baseline pad, unk or mask');
  return { input: 'input_ids', baselines: ctx.baselineIds(kind), targets: ctx.targets, perturbationsPerEval: ctx.perturbationsPerEval };
}

/** Captum's number of occlusion windows over n positions. */
export function windowCount(n: number, window: number, stride: number): number | undefined {
  return window > n ? undefined : Math.ceil((n - window) / stride) + 1;
}

export type MethodName = (typeof METHOD_TABLE)[number]['name'];
/** The methods of a modality, in table order. */
export const methodsFor = (modality: Modality): MethodSpec[] => (METHOD_TABLE as readonly MethodSpec[]).filter((m) => m.modalities.includes(modality));
/** The text (token model) methods: the --method choices of the text tasks, batch, evaluate and the web app. */
export const METHODS: readonly MethodName[] = methodsFor('text').map((m) => m.name as MethodName);

export function methodSpec(name: string, modality: Modality = 'text'): MethodSpec {
  const spec = (METHOD_TABLE as readonly MethodSpec[]).find((m) => m.name === name && m.modalities.includes(modality));
  return spec ?? fail(`unknown method "${name}"${modality === 'text' ? '' : ` for ${modality} models`}; expected one of: ${methodsFor(modality).map((m) => m.name).join(', ')}`);
}

export const parseMethod = (name: string, modality: Modality = 'text'): MethodName => methodSpec(name, modality).name as MethodName;

/** The methods that read an option (for help texts). */
export const methodsUsing = (key: OptionKey, modality: Modality = 'text'): string[] => methodsFor(modality).filter((m) => (m.options as readonly string[]).includes(key)).map((m) => m.name);

export const DEFAULT_SETTINGS: ExplainSettings = {
  method: 'layer-ig',
  granularity: 'token',
  ...(Object.fromEntries(OPTIONS.map((o) => [o.key, o.parse(o.default)])) as Pick<ExplainSettings, OptionKey>),
};

/** An option's default for a method (its own where it has one, e.g. shapley's 25 samples), as the user would type it. */
export function defaultFor(method: string, key: OptionKey, modality: Modality = 'text'): string {
  const spec = METHOD_TABLE.find((m) => m.name === method) as MethodSpec | undefined;
  return (modality !== 'text' ? spec?.denseDefaults?.[key] : undefined) ?? spec?.defaults?.[key] ?? optionSpec(key).default;
}

/** Values as a user gives them (CLI options, URL parameters, a form): parsed and checked, defaults for the rest. */
export interface SettingValues {
  method?: string;
  steps?: string;
  integration?: string;
  baseline?: string;
  samples?: string;
  stdevs?: string;
  seed?: string;
  window?: string;
  stride?: string;
  perturbationsPerEval?: string;
  attentionLayer?: string;
  granularity?: string;
  internalBatchSize?: string;
}

export function parseSettings(values: SettingValues, modality: Modality = 'text'): ExplainSettings {
  const method = parseMethod(values.method ?? DEFAULT_SETTINGS.method, modality);
  const settings: ExplainSettings = { ...DEFAULT_SETTINGS, method };
  for (const o of OPTIONS) {
    const v = values[o.key] ?? defaultFor(method, o.key, modality);
    (settings as unknown as Record<string, unknown>)[o.key] = o.parse(String(v));
  }
  if (values.granularity !== undefined) settings.granularity = parseGranularity(String(values.granularity));
  if (values.internalBatchSize !== undefined) settings.internalBatchSize = parseIntIn(values.internalBatchSize, '--internal-batch-size', 1, SETTING_LIMITS.internalBatchSize);
  return settings;
}
