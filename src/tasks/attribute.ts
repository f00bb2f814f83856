// Token-level attribution shared by the text tasks: model feeds, reference inputs, the method run from the
// registry (attr/registry.ts), and the JSON schema's per-target entries.
import { fail } from '../errors.js';
import { tensor, type HostTensor } from '../runtime/session.js';
import { planMemory, valueBytesPerRow } from '../attr/memory.js';
import type { TargetSpec } from '../attr/targets.js';
import type { ModelRunner } from '../attr/runner.js';
import type { AttributionResult } from '../attr/base.js';
import { methodSpec, type ExplainSettings, type MethodName, type MethodSpec, type TokenBaseline } from '../attr/registry.js';
import type { IntegrationMethod } from '../attr/quadrature.js';
import type { LoadedModel } from '../models/load.js';
import type { Encoded } from '../models/tokenizer.js';
import { groupWords, sumByWord } from '../models/words.js';

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
  /** Attention methods: the target row's attention weights for the report's head view, [layer][head][token]. */
  attention?: { layers: number; heads: number; weights: number[][][] };
  /** With granularity word: per_token summed over each word's tokens (words: the explanation's `words`), and normalized. */
  per_word?: number[];
  normalized_word?: number[];
  delta: number | null;
  f_x: number | null;
  f_baseline: number | null;
}

/**
 * Progress of a run: gradient rows (or, for perturbation methods, perturbed forward rows) done of those expected
 * (undefined when the method adapts, e.g. --steps auto).
 */
export interface Progress { done: number; total: number | undefined; unit?: 'gradient rows' | 'forward rows' }

export type ProgressListener = (p: Progress) => void;

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
export function baselineIds(model: LoadedModel, enc: Encoded, kind: TokenBaseline): number[] {
  const id = kind === 'pad' ? model.tokenizer.padId : kind === 'unk' ? model.tokenizer.unkId : kind === 'eos' ? model.tokenizer.eosId : model.tokenizer.maskId;
  if (id === undefined) fail(`the tokenizer has no ${kind} token; choose another --baseline`);
  return enc.ids.map((t, i) => (enc.special[i] ? t : id));
}

/** The tensor a method attributes to: the word-embedding lookup, the embeddings output, or the token ids. */
function layerFor(model: LoadedModel, spec: MethodSpec): string {
  if (spec.layer === 'attention') return spec.name;
  if (spec.layer === 'input-ids') {
    if (!model.inputNames.includes('input_ids')) fail(`${model.name} takes no input_ids: --method ${spec.name} perturbs token ids`);
    return 'input_ids';
  }
  return spec.layer === 'word-embeddings'
    ? model.wordEmbeddings ?? fail(`cannot find the word-embedding lookup for --method ${spec.name}; use layer-ig`)
    : model.embeddingsOutput;
}

/**
 * The features the perturbation methods perturb: each non-special token, or (granularity word) each word; special
 * tokens are never perturbed (−1).
 */
export function tokenFeatures(model: LoadedModel, enc: Encoded, granularity: 'token' | 'word', texts: readonly (string | undefined)[]): Int32Array {
  if (granularity === 'token') {
    let n = 0;
    return Int32Array.from(enc.special, (s) => (s ? -1 : n++));
  }
  const { wordOf, special } = groupWords(enc, model.tokenizer.words, texts);
  const renumber = new Map<number, number>();
  return Int32Array.from(wordOf, (w) => {
    if (special[w]) return -1;
    if (!renumber.has(w)) renumber.set(w, renumber.size);
    return renumber.get(w)!;
  });
}

/**
 * Lets ONNX Runtime build the gradient session in the background while the prediction runs (not in low-memory mode:
 * two sessions built at once add their peaks; at 484 tokens on BERT-base, 3.58 → 3.27 GiB without it, no slower).
 */
export function prewarm(model: LoadedModel, settings: ExplainSettings, outputs: string[], targets: number, tokens?: number): void {
  const spec = methodSpec(settings.method);
  if (spec.kind === 'gradient' && !model.runner.lowMemory) model.runner.prewarm([layerFor(model, spec)], outputs, targets, tokens, spec.rules);
}

export interface AttributeOptions {
  onProgress?: ProgressListener;
  /** The encoded texts (the pair's second at 1), for word views and word features. */
  texts?: readonly (string | undefined)[];
}

/** Runs the chosen method on the embeddings layer for the given targets; one entry per target. */
export async function attributeTokens(model: LoadedModel, enc: Encoded, targets: (TargetSpec & { label: string; position?: number; index?: number })[],
  settings: ExplainSettings, options: AttributeOptions = {}): Promise<TargetAttribution[]> {
  const { spec, layer, results } = await attributeLayer(model, enc, targets, settings, options);
  const texts = options.texts ?? [];
  const words = settings.granularity === 'word' ? groupWords(enc, model.tokenizer.words, texts) : undefined;
  return results.map((r, k) => {
    const t = targets[k]!;
    const attr = r.attributions[layer]!;
    const perToken = attr.dims.length === 2 ? Array.from(attr.data as Float64Array, Number) : sumHidden(attr);
    const norm = Math.hypot(...perToken);
    const entry: TargetAttribution = {
      target: t.label,
      method: settings.method,
      layer: r.layer ?? layer,
      n_steps: spec.integral ? Math.max(...(r.nSteps ?? [0])) : null,
      integration: spec.integral ? settings.integration : null,
      per_token: perToken,
      normalized: perToken.map((v) => (norm > 0 ? v / norm : 0)),
      delta: r.delta?.[0] ?? null,
      f_x: r.fX?.[0] ?? null,
      f_baseline: r.fBaseline?.[0] ?? null,
    };
    if (words) {
      entry.per_word = sumByWord(perToken, words.wordOf, words.words.length);
      const wn = Math.hypot(...entry.per_word);
      entry.normalized_word = entry.per_word.map((v) => (wn > 0 ? v / wn : 0));
    }
    if (t.position !== undefined) entry.position = t.position;
    if (t.index !== undefined) entry.index = t.index;
    if (r.attention) entry.attention = { layers: r.attention.weights.length, heads: r.attention.weights[0]?.length ?? 0, weights: r.attention.weights };
    return entry;
  });
}

/**
 * Runs the chosen method for the targets and returns its full attributions (on the layer: [1, seq, hidden] for the
 * gradient methods, [1, seq] on the token ids for the perturbation methods). `at`: gradient methods explain at these
 * layer values instead of the input's (a perturbed embedding).
 */
export async function attributeLayer(model: LoadedModel, enc: Encoded, targets: TargetSpec[], settings: ExplainSettings,
  options: AttributeOptions & { at?: HostTensor } = {}): Promise<{ spec: MethodSpec; layer: string; results: AttributionResult[] }> {
  const spec = methodSpec(settings.method);
  const seq = enc.ids.length;
  const layer = layerFor(model, spec);
  const kinds = (['pad', 'unk', 'mask'] as const).filter((k) => (k === 'pad' ? true : k === 'unk' ? model.tokenizer.unkId !== undefined : model.tokenizer.maskId !== undefined));
  const runner = model.runner;
  const texts = options.texts ?? [];
  const features = tokenFeatures(model, enc, settings.granularity, texts);
  const featureCount = Math.max(-1, ...features) + 1;
  if (spec.kind === 'perturbation' && featureCount === 0) fail('the input has no tokens to perturb besides special tokens');
  const total = spec.rows(settings, { tokens: seq, features: featureCount });
  const perturbation = spec.kind === 'perturbation';
  const counter = perturbation ? 'forwardRows' : 'gradientRows';
  const start = runner.counters[counter];
  const previous = [runner.onGradient, runner.onForward] as const;
  if (options.onProgress) {
    const report = options.onProgress;
    const unit = perturbation ? 'forward rows' : 'gradient rows';
    report({ done: 0, total, unit });
    const hook = (c: ModelRunner['counters']) => report({ done: c[counter] - start, total, unit });
    if (perturbation) runner.onForward = hook;
    else runner.onGradient = hook;
  }
  let results;
  try {
    results = await spec.attribute({
      runner,
      layer,
      feeds: feedsFor(model, enc),
      targets,
      internalBatchSize: rowsPerCall(model, settings, spec, layer, seq, targets.length),
      settings,
      baselineIds: (kind) => tensor('int64', baselineIds(model, enc, kind), [1, seq]),
      baselineKinds: kinds,
      features,
      perturbationsPerEval: perturbationsPerCall(model, settings, seq, total),
      ...(options.at ? { at: { [layer]: options.at } } : {}),
    });
  } finally {
    [runner.onGradient, runner.onForward] = previous;
  }
  return { spec, layer, results };
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
 * Rows per ONNX Runtime call: the user's --internal-batch-size (refused when it does not fit the memory budget), else
 * as many rows as the budget holds by the memory estimate of one row at this length (attr/memory.ts), at most
 * defaultChunk's ~1,536 tokens (more rows per call were measured slower). Noise samples that do not fit are refused.
 */
function rowsPerCall(model: LoadedModel, settings: ExplainSettings, spec: MethodSpec, layer: string, seq: number, targets: number): number {
  const fallback = defaultChunk(seq);
  if (spec.kind === 'perturbation') return fallback; // no gradient rows (perturbationsPerCall plans the forward batches)
  if (settings.memoryBudget === undefined) return settings.internalBatchSize ?? fallback;
  const layerRow = valueBytesPerRow(model.onnx, layer, seq) ?? 0;
  const hostBytes = spec.hostBytes?.(settings, layerRow, targets) ?? 0;
  return planMemory(model.onnx, { sequenceLength: seq, requested: settings.internalBatchSize, fallback, hostBytes, budget: settings.memoryBudget });
}

/**
 * Perturbed inputs per ONNX Runtime call: --perturbations-per-eval, at most the run's rows (refused when the memory estimate of that many
 * rows exceeds the budget; the estimate is the gradient rows', an upper bound for forward passes), else about
 * 1,536 tokens' worth within the budget.
 */
function perturbationsPerCall(model: LoadedModel, settings: ExplainSettings, seq: number, rows: number | undefined): number {
  // No call holds more rows than the run has.
  const requested = settings.perturbationsPerEval === 'auto' ? undefined : Math.min(settings.perturbationsPerEval, rows ?? Infinity);
  if (settings.memoryBudget === undefined) return requested ?? defaultChunk(seq);
  const label = requested === settings.perturbationsPerEval ? `--perturbations-per-eval ${requested}` : `--perturbations-per-eval ${settings.perturbationsPerEval} (${requested} perturbed inputs in one call here)`;
  return planMemory(model.onnx, { sequenceLength: seq, requested, fallback: defaultChunk(seq), budget: settings.memoryBudget, flag: '--perturbations-per-eval', label });
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
