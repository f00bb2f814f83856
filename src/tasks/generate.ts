// Generation attribution for decoder LMs: which part of the prompt (and of the text generated so far) made the model
// say each token. A causal model's logits at position j depend only on tokens ≤ j, so one forward pass over the
// prompt and every generated token gives every step's target: all steps are explained in one attribution run,
// one backward pass per step (the targets of the runner share each forward pass).
import { fail } from '../errors.js';
import { tensor, type HostTensor } from '../runtime/session.js';
import { ModelRunner } from '../attr/runner.js';
import { DEFAULT_SETTINGS, methodSpec, parseSettings, type ExplainSettings, type SettingValues } from '../attr/registry.js';
import { onlyOutputs, withTokenScores } from '../graph/outputs.js';
import { decoderFeeds, type DecoderGraph, type DecoderModel } from '../models/decoder.js';
import { convergenceWarnings } from './common.js';
import type { TargetAttribution } from './attribute.js';

export const TARGET_FNS = ['logprob', 'prob', 'logit'] as const;
export type TargetFn = (typeof TARGET_FNS)[number];
export const GENERATE_BASELINES = ['pad', 'eos', 'zero'] as const;
export type GenerateBaseline = (typeof GENERATE_BASELINES)[number];

export interface GenerateOptions {
  prompt: string;
  /** Tokens to generate (greedy), default 20; generation stops after eos (which gets its own step). */
  maxNewTokens?: number;
  /** Forced decoding: explain this continuation instead of generating one. */
  targetText?: string;
  targetFn?: TargetFn;
  /** Token baselines replace every token but the special ones (BOS) by that id; zero: a zero embedding. Default pad, else eos. */
  baseline?: GenerateBaseline;
  /** Contrastive: logprob(target) − logprob(the contrast text's token at that step) (Yin & Neubig 2022). */
  contrastText?: string;
}

export interface StepAttribution {
  step: number;
  target: string;
  target_id: number;
  contrast?: string;
  contrast_id?: number;
  method: string;
  layer: string;
  /** One value per earlier token (prompt + tokens generated before this step). */
  per_token: number[];
  normalized: number[];
  delta: number | null;
  f_x: number | null;
  f_baseline: number | null;
}

export interface GenerationExplanation {
  task: 'generate';
  model: string;
  tokens: string[];
  input_ids: number[];
  prompt_length: number;
  generated: { token: string; id: number; position: number }[];
  /** The generated text (decoded), for reports. */
  text: string;
  attributions: StepAttribution[];
  settings: { method: string; steps: number | 'auto'; integration: string; baseline: GenerateBaseline; target_fn: TargetFn; max_new_tokens: number; forced: boolean; contrastive: boolean; samples: number; stdevs: number; seed: number };
  warnings: string[];
}

export const DEFAULT_MAX_NEW_TOKENS = 20;
/** Steps per backward graph (see attributeSteps); GRADLENS_STEP_GROUP overrides it for benchmarks. */
const STEP_GROUP = Math.max(1, Number((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['GRADLENS_STEP_GROUP']) || 4);
export const MAX_NEW_TOKENS_LIMIT = 4096;

const argmax = (t: HostTensor, offset: number, width: number): number => {
  let best = 0, value = -Infinity;
  for (let i = 0; i < width; i++) {
    const v = t.data[offset + i] as number;
    if (v > value) { value = v; best = i; }
  }
  return best;
};

/** Greedy decoding: with the cache when the folder has that layout, else the whole sequence again each step. */
export async function greedy(model: DecoderModel, prompt: readonly number[], maxNew: number): Promise<number[]> {
  const out: number[] = [];
  const stop = new Set(model.eosIds);
  const g: DecoderGraph = model.cached ?? model.attribution;
  let past: HostTensor[] | undefined;
  let ids = [...prompt];
  for (let step = 0; step < maxNew; step++) {
    const pastLength = past ? past[0]!.dims[2]! : 0;
    const input = g.past.length ? (past ? ids.slice(-1) : ids) : ids;
    const res = await g.runner.forward(decoderFeeds(g, input, g.past.length ? { pastLength, ...(past ? { past } : {}) } : {}));
    const logits = res['logits']!;
    const [, seq, vocab] = logits.dims as [number, number, number];
    const next = argmax(logits, (seq - 1) * vocab, vocab);
    out.push(next);
    ids = [...ids, next];
    if (g.past.length) past = g.present.flatMap((p) => [res[p.key]!, res[p.value]!]);
    if (stop.has(next)) break;
  }
  return out;
}

/** The score outputs' names (the graph is built on first use). */
const scoredNames = (model: DecoderModel) => scored(model, ['logits']).names;

const scoreModels = new WeakMap<DecoderModel, { names: ReturnType<typeof withTokenScores>; runners: Map<string, ModelRunner> }>();

/**
 * The attribution graph with log-probabilities, probabilities and the contrastive score, and with only the outputs
 * a run explains (so that the tail after the last attention runs at the targets' positions only: graph/rows.ts).
 * Built once per model and set of outputs.
 */
function scored(model: DecoderModel, outputs: readonly string[]): { runner: ModelRunner; names: ReturnType<typeof withTokenScores> } {
  let hit = scoreModels.get(model);
  if (!hit) {
    hit = { names: withTokenScores(model.attribution.onnx, 'logits'), runners: new Map() };
    scoreModels.set(model, hit);
  }
  const key = [...outputs].sort().join('|');
  let runner = hit.runners.get(key);
  if (!runner) {
    runner = new ModelRunner(onlyOutputs(hit.names.model, outputs), model.attribution.runner.options, [model.embeddingsOutput]);
    hit.runners.set(key, runner);
  }
  return { runner, names: hit.names };
}

/**
 * The library's entry: generates (or, with targetText, forces) a continuation of the prompt and explains each of
 * its tokens by the earlier ones. `settings`: the method and its options, as the CLI takes them ({ method: 'saliency' },
 * { steps: '100' }); default layer-ig with 50 Gauss–Legendre steps.
 */
export function explainGeneration(model: DecoderModel, prompt: string, options: Omit<GenerateOptions, 'prompt'> & { settings?: SettingValues } = {}): Promise<GenerationExplanation> {
  const { settings, ...rest } = options;
  return generateAndExplain(model, { ...rest, prompt }, settings ? parseSettings(settings) : DEFAULT_SETTINGS);
}

/** Generates (or forces) a continuation and explains each of its tokens by the earlier ones. */
export async function generateAndExplain(model: DecoderModel, options: GenerateOptions, settings: ExplainSettings): Promise<GenerationExplanation> {
  if (typeof options.prompt !== 'string' || options.prompt.trim() === '') fail('the prompt is empty');
  const spec = methodSpec(settings.method);
  if (spec.kind !== 'gradient') fail(`explain generate runs the gradient methods (layer-ig, ig, saliency, input-x-gradient, smoothgrad, gradient-shap, attnlrp, cp-lrp), not ${settings.method}`);
  const targetFn = options.targetFn ?? 'logprob';
  if (!(TARGET_FNS as readonly string[]).includes(targetFn)) fail(`--target-fn is one of ${TARGET_FNS.join(', ')}, got ${String(targetFn).slice(0, 40)}`);
  const maxNew = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (!Number.isInteger(maxNew) || maxNew < 1 || maxNew > MAX_NEW_TOKENS_LIMIT) fail(`--max-new-tokens must be an integer from 1 to ${MAX_NEW_TOKENS_LIMIT}, got ${maxNew}`);
  if (maxNew >= model.maxPositions) fail(`--max-new-tokens ${maxNew} is beyond the model's ${model.maxPositions} positions (leave room for the prompt)`);
  const tok = model.tokenizer;
  const enc = tok.encode(options.prompt, undefined, { maxLength: Number.MAX_SAFE_INTEGER });
  const warnings: string[] = [];
  let promptIds = enc.ids, special = enc.special, promptTokens = enc.tokens;
  const forced = options.targetText !== undefined;
  /** A text's tokens without the template's special tokens (BOS), for forced and contrastive targets. */
  const plainIds = (text: string) => {
    const e = tok.encode(text, undefined, { maxLength: Number.MAX_SAFE_INTEGER });
    return e.ids.filter((_, i) => !e.special[i]);
  };
  const forcedIds = forced ? plainIds(options.targetText!) : undefined;
  if (forced && forcedIds!.length === 0) fail('the target text has no tokens');
  const newCount = forcedIds ? forcedIds.length : maxNew;
  const room = model.maxPositions - newCount;
  if (room < 1) fail(`the target text has ${newCount} tokens: beyond the model's ${model.maxPositions} positions`);
  if (promptIds.length > room) {
    // Keep the special tokens at the start (BOS) and the end of the prompt, the part nearest the continuation.
    const lead = special.findIndex((s) => !s);
    const keepLead = lead < 0 ? 0 : lead;
    const tail = room - keepLead;
    if (tail < 1) fail(`the prompt leaves no room in the model's ${model.maxPositions} positions for ${newCount} new tokens`);
    warnings.push(`the prompt has ${promptIds.length} tokens, more than fit with ${newCount} new tokens in the model's ${model.maxPositions} positions: its first ${promptIds.length - keepLead - tail} tokens after the start were dropped (the end of the prompt is kept)`);
    const pick = <T>(xs: T[]) => [...xs.slice(0, keepLead), ...xs.slice(xs.length - tail)];
    promptIds = pick(promptIds); special = pick(special); promptTokens = pick(promptTokens);
  }
  const P = promptIds.length;
  const generated = forcedIds ?? await greedy(model, promptIds, maxNew);
  if (generated.length === 0) fail('nothing was generated');
  let contrastIds: number[] | undefined;
  if (options.contrastText !== undefined) {
    contrastIds = plainIds(options.contrastText);
    if (contrastIds.length === 0) fail('the contrast text has no tokens');
    if (contrastIds.length < generated.length) warnings.push(`the contrast text has ${contrastIds.length} tokens for ${generated.length} steps: the steps after it are not contrasted`);
  }
  const steps = await attributeSteps(model, { promptIds, special, generated, contrastIds, targetFn, baseline: options.baseline }, settings);
  const tokens = [...promptTokens, ...generated.map((id) => tok.idToToken(id) ?? String(id))];
  const baselineKind = steps.baseline;
  const attributions = steps.attributions.map((a, t) => ({ ...a, target: tokens[P + t]! }));
  warnings.push(...convergenceWarnings(attributions.map((a) => ({ ...a, target: `step ${a.step} (${a.target})` })) as unknown as TargetAttribution[]));
  return {
    task: 'generate', model: model.name, tokens, input_ids: [...promptIds, ...generated], prompt_length: P,
    generated: generated.map((id, t) => ({ token: tokens[P + t]!, id, position: P + t })),
    text: tok.decode(generated),
    attributions,
    settings: {
      method: settings.method, steps: settings.steps, integration: settings.integration, baseline: baselineKind, target_fn: targetFn,
      max_new_tokens: maxNew, forced, contrastive: contrastIds !== undefined, samples: settings.samples, stdevs: settings.stdevs, seed: settings.seed,
    },
    warnings,
  };
}

export interface StepInputs {
  promptIds: number[];
  /** Which prompt tokens are special (BOS): token baselines keep them. */
  special: boolean[];
  generated: number[];
  contrastIds?: number[] | undefined;
  targetFn: TargetFn;
  baseline?: GenerateBaseline | undefined;
}

/**
 * Every step's attribution in one run over the prompt and the generated tokens: step t's target is at position
 * P + t − 1 (its logits see only the tokens before it), one backward pass per step sharing each forward pass.
 */
export async function attributeSteps(model: DecoderModel, inputs: StepInputs, settings: ExplainSettings): Promise<{ attributions: StepAttribution[]; baseline: GenerateBaseline }> {
  const spec = methodSpec(settings.method);
  const tok = model.tokenizer;
  const { promptIds, special, generated, contrastIds, targetFn } = inputs;
  const P = promptIds.length;
  if (P < 1) fail('the prompt has no tokens');
  const N = generated.length;
  // Every step's target is at a position < P + N − 1: the last generated token is never an input.
  const seqIds = [...promptIds, ...generated.slice(0, N - 1)];
  const L = seqIds.length;
  const names = scoredNames(model);
  const baselineKind: GenerateBaseline = inputs.baseline ?? (tok.hasPad || model.padId !== undefined ? 'pad' : 'eos');
  if (!(GENERATE_BASELINES as readonly string[]).includes(baselineKind)) fail(`--baseline for generate is one of ${GENERATE_BASELINES.join(', ')}, got ${String(baselineKind).slice(0, 40)}`);
  const baselineId = baselineKind === 'pad' ? (model.padId ?? (tok.hasPad ? tok.padId : fail('the model has no pad token; use --baseline eos or zero')))
    : baselineKind === 'eos' ? (model.eosIds[0] ?? tok.eosId ?? fail('the model has no eos token; use --baseline pad or zero')) : undefined;
  const isSpecial = (i: number) => i < P && special[i]!;
  const baselineIds = baselineId === undefined ? undefined : seqIds.map((id, i) => (isSpecial(i) ? id : baselineId));
  const contrastRow = seqIds.map((_, pos) => {
    const step = pos - (P - 1);
    return contrastIds && step >= 0 && step < contrastIds.length ? contrastIds[step]! : 0;
  });
  const feeds = decoderFeeds(model.attribution, seqIds, { contrast: { name: names.contrastIds, ids: contrastRow } });
  const targets = generated.map((y, t) => {
    const contrasted = contrastIds !== undefined && t < contrastIds.length;
    const output = contrasted ? names.contrast : targetFn === 'logprob' ? names.logprobs : targetFn === 'prob' ? names.probs : 'logits';
    return { output, target: [P + t - 1, y] as number[], label: tok.idToToken(y) ?? String(y) };
  });
  const { runner } = scored(model, [...new Set(targets.map((t) => t.output))]);
  const layer = model.embeddingsOutput;
  const run = { ...settings, baseline: baselineKind === 'zero' ? 'zero' as const : 'pad' as const };
  // Steps go through the backward pass in groups sharing each forward pass: one gradient graph holds a backward
  // copy per step of a group, and ONNX Runtime's session build grows with it (GPT-2-small size: ~95 s for 20 copies),
  // so groups have at most STEP_GROUP steps (the last one padded with repeats, so every group uses one session).
  const group = Math.min(targets.length, STEP_GROUP);
  const results = [];
  for (let start = 0; start < targets.length; start += group) {
    const chunk = targets.slice(start, start + group);
    while (chunk.length < group) chunk.push(chunk[chunk.length - 1]!);
    const part = await spec.attribute({
      runner, layer, feeds, targets: chunk, internalBatchSize: settings.internalBatchSize ?? Math.max(1, Math.round(1536 / L)), settings: run,
      baselineIds: () => tensor('int64', baselineIds!, [1, L]),
      baselineKinds: ['pad'], features: new Int32Array(L).fill(-1), perturbationsPerEval: 1,
    });
    results.push(...part.slice(0, Math.min(group, targets.length - start)));
  }
  // Every step's F(x), from one forward pass (not every method reports it).
  const scores = await runner.forward(feeds);
  const fAt = (t: number): number => {
    const o = scores[targets[t]!.output]!;
    const vocab = o.dims[2]!;
    return Number(o.data[(P + t - 1) * vocab + generated[t]!]);
  };
  const attributions: StepAttribution[] = results.map((r, t) => {
    const attr = r.attributions[layer]!;
    const [, , hidden] = attr.dims as [number, number, number];
    const per = Array.from({ length: P + t }, (_, s) => { let sum = 0; for (let h = 0; h < hidden; h++) sum += Number(attr.data[s * hidden + h]); return sum; });
    const norm = Math.hypot(...per);
    const entry: StepAttribution = {
      step: t, target: tok.idToToken(generated[t]!) ?? String(generated[t]), target_id: generated[t]!, method: settings.method, layer,
      per_token: per, normalized: per.map((v) => (norm > 0 ? v / norm : 0)),
      delta: r.delta?.[0] ?? null, f_x: r.fX?.[0] ?? fAt(t), f_baseline: r.fBaseline?.[0] ?? null,
    };
    if (contrastIds && t < contrastIds.length) { entry.contrast = tok.idToToken(contrastIds[t]!) ?? String(contrastIds[t]); entry.contrast_id = contrastIds[t]!; }
    return entry;
  });
  return { attributions, baseline: baselineKind };
}
