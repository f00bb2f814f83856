import { fail } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import type { ExplainSettings } from '../attr/registry.js';
import { attributeTokens, feedsFor, prewarm } from './attribute.js';
import { ModelRunner } from '../attr/runner.js';
import { withMaxOverAxis1 } from '../graph/outputs.js';
import { base, nonEmpty, row, softmax, targetText, convergenceWarnings, type Explanation, type RunOptions } from './common.js';
import type { Encoded } from '../models/tokenizer.js';

/**
 * What the start and end attributions explain: the logit at the predicted (or --target) position, or, as the
 * forward function of Captum's BERT tutorial (`pred.max(1).values`), the largest logit over all positions at each
 * point of the path (the position may change along it).
 */
export const QA_TARGETS = ['position', 'max'] as const;
export type QaTarget = (typeof QA_TARGETS)[number];

export interface QaOptions {
  question: string;
  context: string;
  maxAnswerLength?: number;
  target?: string;
  qaTarget?: QaTarget;
  /** Context tokens shared by consecutive windows of a long context (HF's doc_stride; default 128). */
  docStride?: number;
}

/** The default overlap of context windows, as the transformers question-answering pipeline's doc_stride. */
export const DOC_STRIDE = 128;

/**
 * A context longer than the model's positions, split as the question-answering pipeline does: each window holds
 * the question and a run of context tokens, consecutive windows share `stride` context tokens. Windows are cut
 * from the full encoding (special tokens, token types and offsets kept), so their tokens are the full text's.
 */
export function contextWindows(enc: Encoded, maxLength: number, stride: number): { windows: Encoded[]; overlap: number } {
  if (enc.ids.length <= maxLength) return { windows: [enc], overlap: 0 };
  const ctx = enc.segment.flatMap((s, i) => (s === 1 ? [i] : []));
  if (ctx.length === 0) return { windows: [enc], overlap: 0 };
  const first = ctx[0]!, last = ctx[ctx.length - 1]!;
  const prefix = first, suffix = enc.ids.length - 1 - last;
  const capacity = maxLength - prefix - suffix;
  if (capacity < 2) fail(`the question has ${prefix} tokens (with special tokens): too long to leave room for the context in the model's ${maxLength} positions`);
  const overlap = effectiveStride(capacity, stride);
  const step = capacity - overlap;
  const cut = (from: number, to: number): Encoded => {
    const keep = [...Array(prefix).keys(), ...ctx.slice(from, to), ...Array.from({ length: suffix }, (_, k) => last + 1 + k)];
    const pick = <T>(xs: T[]) => keep.map((i) => xs[i]!);
    return {
      ids: pick(enc.ids), tokens: pick(enc.tokens), typeIds: pick(enc.typeIds), attentionMask: pick(enc.attentionMask),
      special: pick(enc.special), segment: pick(enc.segment), offsets: pick(enc.offsets), truncatedTokens: 0,
    };
  };
  const out: Encoded[] = [];
  for (let from = 0; ; from += step) {
    const to = Math.min(ctx.length, from + capacity);
    out.push(cut(from, to));
    if (to >= ctx.length) break;
  }
  return { windows: out, overlap };
}

/** The overlap actually used: at most half a window, so every window moves the context on. */
export function effectiveStride(capacity: number, stride: number): number {
  return Math.min(stride, Math.floor(capacity / 2));
}

/** The best span of one window by p_start · p_end (softmaxes over its context positions), as HF's pipeline. */
function bestSpan(enc: Encoded, startLogits: number[], endLogits: number[], maxLen: number): { s: number; e: number; score: number } {
  const allowed = (i: number) => enc.segment[i] === 1;
  const mask = (xs: number[]) => softmax(xs.map((x, i) => (allowed(i) ? x : -Infinity)));
  const ps = mask(startLogits), pe = mask(endLogits);
  let best = { s: -1, e: -1, score: -1 };
  for (let s = 0; s < ps.length; s++) {
    if (!allowed(s)) continue;
    for (let e = s; e < Math.min(pe.length, s + maxLen); e++) {
      if (!allowed(e)) continue;
      const score = ps[s]! * pe[e]!;
      if (score > best.score) best = { s, e, score };
    }
  }
  return best;
}

const maxModels = new WeakMap<LoadedModel, { model: LoadedModel; outputs: Record<string, string> }>();

/** The model with start/end maxima over positions as outputs, sharing the loaded model's tokenizer (built once). */
function withMaxima(model: LoadedModel, names: string[]): { model: LoadedModel; outputs: Record<string, string> } {
  let hit = maxModels.get(model);
  if (!hit) {
    const { model: onnx, outputs } = withMaxOverAxis1(model.onnx, names);
    const fetchable = [model.embeddingsOutput, ...(model.wordEmbeddings ? [model.wordEmbeddings] : [])];
    hit = { model: { ...model, onnx, runner: new ModelRunner(onnx, model.runner.options, fetchable) }, outputs };
    maxModels.set(model, hit);
  }
  return hit;
}

/**
 * Extractive QA: the best span (end ≥ start, inside the context, at most maxAnswerLength tokens) by
 * p_start · p_end with softmaxes over the context positions (and [CLS]), as HF's pipeline; attributions for the
 * start and end logits at the answer's positions (or at the positions given by target "start:end").
 */
export async function explainQa(model: LoadedModel, options: QaOptions, settings: ExplainSettings, run: RunOptions = {}): Promise<Explanation> {
  const question = nonEmpty(options.question, 'the question');
  const context = nonEmpty(options.context, 'the context');
  const full = model.tokenizer.encode(question, context, { maxLength: Number.MAX_SAFE_INTEGER });
  const stride = options.docStride ?? DOC_STRIDE;
  if (!Number.isInteger(stride) || stride < 0) fail(`--doc-stride must be a non-negative integer, got ${stride}`);
  const { windows, overlap } = contextWindows(full, model.maxLength, stride);
  const startName = model.outputNames.find((n) => /start/.test(n)) ?? fail('the model has no start_logits output: is it a question-answering model?');
  const endName = model.outputNames.find((n) => /end/.test(n)) ?? fail('the model has no end_logits output: is it a question-answering model?');
  prewarm(model, settings, [startName, endName], 2, windows[0]!.ids.length);
  const maxLen = options.maxAnswerLength ?? 30;
  // One forward pass for every window (padded to the longest); the best span across windows wins.
  let chosen = 0;
  let best = { s: -1, e: -1, score: -1 };
  const out = await model.runner.forward(feedsFor(model, windows));
  windows.forEach((w, k) => {
    const span = bestSpan(w, row(out[startName]!, k).slice(0, w.ids.length), row(out[endName]!, k).slice(0, w.ids.length), maxLen);
    if (span.score > best.score) [best, chosen] = [span, k];
  });
  if (best.s < 0) fail('no answer span fits in the context');
  const enc = windows[chosen]!;
  let [ts, te] = [best.s, best.e];
  if (options.target) {
    const m = /^(\d+):(\d+)$/.exec(targetText(options.target));
    if (!m) fail(`--target for qa is "START:END" token positions, got "${options.target}"`);
    [ts, te] = [Number(m[1]), Number(m[2])];
    if (ts >= enc.ids.length || te >= enc.ids.length) fail(`--target ${options.target} is outside the ${enc.ids.length} tokens`);
  }
  const answer = context.slice(enc.offsets[best.s]![0], enc.offsets[best.e]![1]);
  const qaTarget = options.qaTarget ?? 'position';
  if (!(QA_TARGETS as readonly string[]).includes(qaTarget)) fail(`--qa-target is one of ${QA_TARGETS.join(', ')}, got ${String(qaTarget).slice(0, 40)}`);
  if (qaTarget === 'max' && options.target) fail('--target START:END and --qa-target max exclude each other: the maximum has no fixed position');
  let attributions;
  if (qaTarget === 'max') {
    const max = withMaxima(model, [startName, endName]);
    attributions = await attributeTokens(max.model, enc, [
      { output: max.outputs[startName]!, label: 'start' },
      { output: max.outputs[endName]!, label: 'end' },
    ], settings, { ...run, texts: [question, context] });
  } else {
    attributions = await attributeTokens(model, enc, [
      { output: startName, target: ts, label: 'start', position: ts },
      { output: endName, target: te, label: 'end', position: te },
    ], settings, { ...run, texts: [question, context] });
  }
  const head = base('qa', model, enc, settings, [question, context]);
  const window = windows.length > 1 ? windowInfo(windows, chosen, overlap) : undefined;
  return {
    ...head,
    settings: { ...head.settings, qa_target: qaTarget },
    ...(window ? { window } : {}),
    prediction: { answer, start: best.s, end: best.e, score: best.score, start_char: enc.offsets[best.s]![0], end_char: enc.offsets[best.e]![1] },
    attributions,
    warnings: [
      ...(window ? [`the context has ${full.segment.filter((x) => x === 1).length} tokens, more than fit with the question in the model's ${model.maxLength} positions: it was split into ${windows.length} windows sharing ${overlap} tokens; the answer and the attributions are from window ${chosen + 1} (context characters ${window.start_char}–${window.end_char})`] : []),
      ...convergenceWarnings(attributions),
    ],
  };
}

function windowInfo(windows: Encoded[], chosen: number, stride: number): { index: number; count: number; stride: number; start_char: number; end_char: number } {
  const spans = windows[chosen]!.offsets.filter((o, i) => o && windows[chosen]!.segment[i] === 1) as [number, number][];
  return { index: chosen, count: windows.length, stride, start_char: spans[0]![0], end_char: spans[spans.length - 1]![1] };
}
