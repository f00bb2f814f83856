// Token-level attribution shared by the text tasks: model feeds, reference inputs, the method run from the
// registry (attr/registry.ts), and the JSON schema's per-target entries.
import { fail } from '../errors.js';
import { tensor, type HostTensor } from '../runtime/session.js';
import { planMemory, valueBytesPerRow } from '../attr/memory.js';
import type { TargetSpec } from '../attr/targets.js';
import { methodSpec, type ExplainSettings, type MethodName, type MethodSpec, type TokenBaseline } from '../attr/registry.js';
import type { IntegrationMethod } from '../attr/quadrature.js';
import type { LoadedModel } from '../models/load.js';
import type { Encoded } from '../models/tokenizer.js';

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

/** Progress of a run: gradient rows done of those expected (undefined when the method adapts, e.g. --steps auto). */
export interface Progress { done: number; total: number | undefined }

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
  const id = kind === 'pad' ? model.tokenizer.padId : kind === 'unk' ? model.tokenizer.unkId : model.tokenizer.maskId;
  if (id === undefined) fail(`the tokenizer has no ${kind} token; choose another --baseline`);
  return enc.ids.map((t, i) => (enc.special[i] ? t : id));
}

/** The tensor a method attributes to: the word-embedding lookup or the embeddings output. */
function layerFor(model: LoadedModel, spec: MethodSpec): string {
  return spec.layer === 'word-embeddings'
    ? model.wordEmbeddings ?? fail(`cannot find the word-embedding lookup for --method ${spec.name}; use layer-ig`)
    : model.embeddingsOutput;
}

/**
 * Lets ONNX Runtime build the gradient session in the background while the prediction runs (not in low-memory mode:
 * two sessions built at once add their peaks; at 484 tokens on BERT-base, 3.58 → 3.27 GiB without it, no slower).
 */
export function prewarm(model: LoadedModel, settings: ExplainSettings, outputs: string[], targets: number, tokens?: number): void {
  if (!model.runner.lowMemory) model.runner.prewarm([layerFor(model, methodSpec(settings.method))], outputs, targets, tokens);
}

export interface AttributeOptions { onProgress?: ProgressListener }

/** Runs the chosen method on the embeddings layer for the given targets; one entry per target. */
export async function attributeTokens(model: LoadedModel, enc: Encoded, targets: (TargetSpec & { label: string; position?: number; index?: number })[],
  settings: ExplainSettings, options: AttributeOptions = {}): Promise<TargetAttribution[]> {
  const spec = methodSpec(settings.method);
  const seq = enc.ids.length;
  const layer = layerFor(model, spec);
  const kinds = (['pad', 'unk', 'mask'] as const).filter((k) => (k === 'pad' ? true : k === 'unk' ? model.tokenizer.unkId !== undefined : model.tokenizer.maskId !== undefined));
  const runner = model.runner;
  const total = spec.rows(settings);
  const start = runner.counters.gradientRows;
  const previous = runner.onGradient;
  if (options.onProgress) {
    const report = options.onProgress;
    report({ done: 0, total });
    runner.onGradient = (c) => report({ done: c.gradientRows - start, total });
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
    });
  } finally {
    runner.onGradient = previous;
  }
  return results.map((r, k) => {
    const t = targets[k]!;
    const attr = r.attributions[layer]!;
    const perToken = sumHidden(attr);
    const norm = Math.hypot(...perToken);
    const entry: TargetAttribution = {
      target: t.label,
      method: settings.method,
      layer,
      n_steps: spec.integral ? Math.max(...(r.nSteps ?? [0])) : null,
      integration: spec.integral ? settings.integration : null,
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
 * Rows per ONNX Runtime call: the user's --internal-batch-size (refused when it does not fit the memory budget), else
 * as many rows as the budget holds by the memory estimate of one row at this length (attr/memory.ts), at most
 * defaultChunk's ~1,536 tokens (more rows per call were measured slower). Noise samples that do not fit are refused.
 */
function rowsPerCall(model: LoadedModel, settings: ExplainSettings, spec: MethodSpec, layer: string, seq: number, targets: number): number {
  const fallback = defaultChunk(seq);
  if (settings.memoryBudget === undefined) return settings.internalBatchSize ?? fallback;
  const layerRow = valueBytesPerRow(model.onnx, layer, seq) ?? 0;
  const hostBytes = spec.hostBytes?.(settings, layerRow, targets) ?? 0;
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
