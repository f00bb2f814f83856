import { fail } from '../errors.js';
import { tensor, type HostTensor } from '../runtime/session.js';
import { LayerIntegratedGradients } from '../attr/layer-integrated-gradients.js';
import { Saliency } from '../attr/saliency.js';
import { InputXGradient } from '../attr/input-x-gradient.js';
import { NoiseTunnel } from '../attr/noise-tunnel.js';
import { GradientShap } from '../attr/gradient-shap.js';
import { parseIntegrationMethod, MAX_STEPS, type IntegrationMethod } from '../attr/quadrature.js';
import { planMemory, valueBytesPerRow } from '../attr/memory.js';
import type { AttributionResult } from '../attr/base.js';
import type { TargetSpec } from '../attr/targets.js';
import { concatRows } from '../attr/host.js';
import type { LoadedModel } from './load.js';
import type { Encoded } from './tokenizer.js';

export const METHODS = ['layer-ig', 'ig', 'saliency', 'input-x-gradient', 'smoothgrad', 'gradient-shap'] as const;
export type MethodName = (typeof METHODS)[number];
export const BASELINES = ['pad', 'zero', 'unk', 'mask'] as const;
export type BaselineKind = (typeof BASELINES)[number];

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
  /**
   * Bytes this run may use (the CLI passes the memory available). When set, rows per ONNX Runtime call and the
   * noise samples are checked against it before running (attr/memory.ts); undefined: no check.
   */
  memoryBudget?: number;
}

/** Limits of the settings (stated in --help); beyond them a run is refused before it starts. */
export const SETTING_LIMITS = { steps: MAX_STEPS, samples: 10_000, internalBatchSize: 100_000, stdevs: 1e6 } as const;

export const DEFAULT_SETTINGS: ExplainSettings = {
  method: 'layer-ig', steps: 50, integration: 'gausslegendre', baseline: 'pad', seed: 0, stdevs: 0.1, samples: 5,
};

/** The JSON schema's per-target entry (see README: JSON output). */
export interface TargetAttribution {
  target: string;
  position?: number;
  index?: number;
  method: MethodName;
  layer: string;
  n_steps: number | null;
  integration: IntegrationMethod | null;
  /** Raw sum over the hidden dimension, per token (special tokens included). */
  per_token: number[];
  /** per_token divided by its L2 norm (the Captum BERT tutorial's summary). */
  normalized: number[];
  delta: number | null;
  f_x: number | null;
  f_baseline: number | null;
}

export function parseMethod(name: string): MethodName {
  if (!(METHODS as readonly string[]).includes(name)) fail(`unknown method "${name}"; expected one of: ${METHODS.join(', ')}`);
  return name as MethodName;
}

export function parseBaseline(name: string): BaselineKind {
  if (!(BASELINES as readonly string[]).includes(name)) fail(`unknown baseline "${name}"; expected one of: ${BASELINES.join(', ')}`);
  return name as BaselineKind;
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

export { parseIntegrationMethod };

/** Model feeds for one encoded input (batch 1), with only the inputs the graph takes. */
export function feedsFor(model: LoadedModel, enc: Encoded | Encoded[]): Record<string, HostTensor> {
  const batch = Array.isArray(enc) ? enc : [enc];
  const seq = Math.max(...batch.map((e) => e.ids.length));
  const pad = (row: number[], fill: number) => [...row, ...Array(seq - row.length).fill(fill)];
  const feeds: Record<string, HostTensor> = {};
  const dims = [batch.length, seq];
  for (const name of model.inputNames) {
    if (name === 'input_ids') feeds[name] = tensor('int64', batch.flatMap((e) => pad(e.ids, model.tokenizer.padId)), dims);
    else if (name === 'attention_mask') feeds[name] = tensor('int64', batch.flatMap((e) => pad(e.attentionMask, 0)), dims);
    else if (name === 'token_type_ids') feeds[name] = tensor('int64', batch.flatMap((e) => pad(e.typeIds, 0)), dims);
    else if (name === 'position_ids') feeds[name] = tensor('int64', batch.flatMap((e) => pad(e.ids.map((_, i) => i), 0)), dims);
    else fail(`the model takes an input "${name}" that gradlens does not know how to fill (known: input_ids, attention_mask, token_type_ids, position_ids)`);
  }
  return feeds;
}

/** The reference input of the Captum BERT tutorial: special tokens kept, every other token replaced. */
export function baselineIds(model: LoadedModel, enc: Encoded, kind: Exclude<BaselineKind, 'zero'>): number[] {
  const id = kind === 'pad' ? model.tokenizer.padId : kind === 'unk' ? model.tokenizer.unkId : model.tokenizer.maskId;
  if (id === undefined) fail(`the tokenizer has no ${kind} token; choose another --baseline`);
  return enc.ids.map((t, i) => (enc.special[i] ? t : id));
}

/** The tensor a method attributes to: the word-embedding lookup for 'ig', else the embeddings output. */
function layerFor(model: LoadedModel, method: MethodName): string {
  return method === 'ig' ? model.wordEmbeddings ?? fail('cannot find the word-embedding lookup for --method ig; use layer-ig') : model.embeddingsOutput;
}

/** Lets ONNX Runtime build the gradient session in the background while the prediction runs. */
export function prewarm(model: LoadedModel, settings: ExplainSettings, outputs: string[], targets: number, tokens?: number): void {
  model.runner.prewarm([layerFor(model, settings.method)], outputs, targets, tokens);
}

/** Runs the chosen method on the embeddings layer for the given targets; one entry per target. */
export async function attributeTokens(model: LoadedModel, enc: Encoded, targets: (TargetSpec & { label: string; position?: number; index?: number })[],
  settings: ExplainSettings): Promise<TargetAttribution[]> {
  const feeds = feedsFor(model, enc);
  const seq = enc.ids.length;
  const layer = layerFor(model, settings.method);
  const baseIds = (kind: Exclude<BaselineKind, 'zero'>) => tensor('int64', baselineIds(model, enc, kind), [1, seq]);
  const common = { targets, internalBatchSize: rowsPerCall(model, settings, layer, seq, targets.length) };
  let results: AttributionResult[];
  switch (settings.method) {
    case 'layer-ig':
    case 'ig': {
      const lig = new LayerIntegratedGradients(model.runner, layer);
      const baseline = settings.baseline === 'zero' ? { layerBaseline: 0 } : { baselines: { input_ids: baseIds(settings.baseline) } };
      results = await lig.attribute(feeds, { ...common, ...baseline, nSteps: settings.steps, method: settings.integration, returnConvergenceDelta: true });
      break;
    }
    case 'saliency':
      results = await new Saliency(model.runner, { layer }).attribute(feeds, { ...common, abs: true });
      break;
    case 'input-x-gradient':
      results = await new InputXGradient(model.runner, { layer }).attribute(feeds, common);
      break;
    case 'smoothgrad':
      results = await new NoiseTunnel(new Saliency(model.runner, { layer })).attribute(feeds, {
        ...common, abs: true, ntType: 'smoothgrad', ntSamples: settings.samples, stdevs: settings.stdevs, seed: settings.seed,
      });
      break;
    case 'gradient-shap': {
      const kinds = (['pad', 'unk', 'mask'] as const).filter((k) => (k === 'pad' ? true : k === 'unk' ? model.tokenizer.unkId !== undefined : model.tokenizer.maskId !== undefined));
      const distribution = { input_ids: concatRows(kinds.map(baseIds)) };
      results = await new GradientShap(model.runner, { layer }).attribute(feeds, {
        ...common, baselines: distribution, nSamples: Math.max(settings.samples, 1) * 4, stdevs: settings.stdevs, seed: settings.seed,
      });
      break;
    }
  }
  const integral = settings.method === 'layer-ig' || settings.method === 'ig';
  return results.map((r, k) => {
    const t = targets[k]!;
    const attr = r.attributions[layer]!;
    const perToken = sumHidden(attr);
    const norm = Math.hypot(...perToken);
    const entry: TargetAttribution = {
      target: t.label,
      method: settings.method,
      layer,
      n_steps: integral ? Math.max(...(r.nSteps ?? [0])) : null,
      integration: integral ? settings.integration : null,
      per_token: perToken,
      normalized: perToken.map((v) => (norm > 0 ? v / norm : 0)),
      delta: r.delta?.[0] ?? null,
      f_x: r.fX?.[0] ?? null,
      f_baseline: r.fBaseline?.[0] ?? null,
    };
    if (t.position !== undefined) entry.position = t.position;
    if (t.index !== undefined) entry.index = t.index;
    return entry;
  });
}

/**
 * Rows per ONNX Runtime call when the user does not say: about 1,536 tokens. One call for all 50 steps of a
 * 128-token input peaks at ~7 GiB RSS on a BERT-base model (3.5 GiB in chunks of 10) and runs slower than chunks
 * (bench/RESULTS.md).
 */
export function defaultChunk(seq: number): number {
  return Math.max(1, Math.round(1536 / seq));
}

/**
 * Rows per ONNX Runtime call: the user's --internal-batch-size or the default, checked against the memory budget
 * (the default shrinks to fit; a requested size that does not fit, or noise samples that do not, are refused).
 */
function rowsPerCall(model: LoadedModel, settings: ExplainSettings, layer: string, seq: number, targets: number): number {
  const fallback = defaultChunk(seq);
  if (settings.memoryBudget === undefined) return settings.internalBatchSize ?? fallback;
  const layerRow = valueBytesPerRow(model.onnx, layer, seq) ?? 0;
  // Host arrays the noise methods keep for the whole run: the noisy (and drawn, interpolated) layer values and,
  // per target, the gradients and attributions of every sample row.
  const hostBytes = settings.method === 'smoothgrad' ? settings.samples * layerRow * (1 + 3 * targets)
    : settings.method === 'gradient-shap' ? 4 * settings.samples * layerRow * (3 + 2 * targets) : 0;
  return planMemory(model.onnx, { sequenceLength: seq, requested: settings.internalBatchSize, fallback, hostBytes, budget: settings.memoryBudget });
}

/** Σ over the hidden dimension for each token of the first example. */
function sumHidden(t: HostTensor): number[] {
  const [, seq, hidden] = t.dims as [number, number, number];
  return Array.from({ length: seq }, (_, s) => {
    let sum = 0;
    for (let h = 0; h < hidden; h++) sum += Number(t.data[s * hidden + h]);
    return sum;
  });
}
