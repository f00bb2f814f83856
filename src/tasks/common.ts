// What the text tasks share: the result schema, softmax and label handling, output-shape checks.
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { LoadedModel } from '../models/load.js';
import { own } from '../models/config.js';
import type { Encoded } from '../models/tokenizer.js';
import { groupWords } from '../models/words.js';
import { declaredDims } from '../graph/dims.js';
import type { ExplainSettings } from '../attr/registry.js';
import type { ProgressListener, TargetAttribution } from './attribute.js';

/** Per-run hooks: progress of the gradient runs (a progress bar). */
export interface RunOptions { onProgress?: ProgressListener }

export type TaskName = 'qa' | 'classify' | 'tokens' | 'zero-shot';

/** The stable JSON result (README: JSON output). */
export interface Explanation {
  task: TaskName;
  model: string;
  tokens: string[];
  input_ids: number[];
  prediction: Record<string, unknown>;
  attributions: TargetAttribution[];
  /** The settings of the run (every key; a method reads only its own options: attr/registry.ts). */
  settings: {
    method: string; steps: number | 'auto'; integration: string; baseline: string; samples: number; stdevs: number; seed: number;
    window?: number; stride?: number; perturbationsPerEval?: number | 'auto'; attentionLayer?: number | 'last'; granularity?: 'token' | 'word'; qa_target?: 'position' | 'max';
  };
  /** With granularity word: the words (special tokens as themselves); each attribution's per_word follows them. */
  words?: string[];
  /** With granularity word: each token's index into `words`. */
  token_words?: number[];
  /** Only in the views' word-level copy (viz/report.ts viewOf), never in results: the answer span in words. */
  view?: { span: [number, number] | undefined };
  warnings: string[];
  /** For [UNK] tokens, by token index, the characters of the input they stand for (absent when there are none). */
  unk_text?: Record<string, string>;
  /** QA with a context longer than the model's positions: which window of the context the result is from. */
  window?: { index: number; count: number; stride: number; start_char: number; end_char: number };
}

export const softmax = (xs: number[]): number[] => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export const row = (t: HostTensor, r = 0): number[] => {
  const size = t.data.length / t.dims[0]!;
  return Array.from(t.data.subarray(r * size, (r + 1) * size) as Float32Array, Number);
};

export function nonEmpty(value: unknown, what: string): string {
  if (value !== undefined && typeof value !== 'string') fail(`${what} must be a string, got ${Array.isArray(value) ? 'a list' : typeof value}`);
  if (value === undefined || value.trim() === '') fail(`${what} is empty`);
  return value;
}

/** The declared shape of a graph output (or input): dims are numbers, symbolic names, or null. */
export function declaredShape(model: LoadedModel, name: string, side: 'output' | 'input' = 'output'): (number | string | null)[] | null {
  const value = model.onnx.graph?.[side]?.find((o) => o.name === name);
  const dims = value?.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return declaredDims(dims);
}

/**
 * The output holding class logits [batch, labels], or a clear refusal: a question-answering model (start/end logits)
 * or any output with a token axis is not a classifier, whatever labels config.json lists.
 */
export function classLogits(model: LoadedModel, task: 'classify' | 'zero-shot'): string {
  const qa = model.outputNames.filter((n) => /start_logits|end_logits/.test(n));
  if (qa.length > 0) fail(`${model.name} is a question-answering model (outputs ${qa.join(', ')}), not a classifier: use gradlens explain qa`);
  const name = model.outputNames[0]!;
  const shape = declaredShape(model, name);
  if (shape && shape.length !== 2) {
    fail(`${model.name}'s output ${name} has shape [${shape.join(', ')}]: explain ${task} needs class logits [batch, labels]${shape.length === 3 ? ' (a token-classification model: use gradlens explain tokens)' : ''}`);
  }
  const inputShape = declaredShape(model, 'input_ids', 'input') ?? [];
  if (shape && typeof shape[1] === 'string' && (inputShape.includes(shape[1]) || /seq|len|token/i.test(shape[1]))) {
    fail(`${model.name}'s output ${name} has one value per token (shape [${shape.join(', ')}]): explain ${task} needs class logits [batch, labels]`);
  }
  return name;
}

/** Checks the logits a classifier returned against the shape and the labels config.json names. */
export function checkClassLogits(model: LoadedModel, logits: HostTensor, name: string, seq: number, task: string): void {
  if (logits.dims.length !== 2) fail(`${model.name}'s output ${name} has shape [${logits.dims.join(', ')}]: explain ${task} needs class logits [batch, labels]`);
  const labels = model.config.id2label ? Object.keys(model.config.id2label).length : undefined;
  const width = logits.dims[1]!;
  if (labels !== undefined && labels !== width) {
    fail(`config.json of ${model.name} names ${labels} labels but the output ${name} has ${width} values${width === seq ? ' (one per token: not a classifier?)' : ''}`);
  }
}

export function labelsOf(model: LoadedModel, count: number): string[] {
  return Array.from({ length: count }, (_, i) => own(model.config.id2label, String(i)) ?? `LABEL_${i}`);
}

/** A target as text: a label name or an index; anything else (an object, a list) is refused. */
export function targetText(target: unknown): string {
  if (typeof target === 'number' && Number.isInteger(target) && target >= 0) return String(target);
  if (typeof target !== 'string') fail(`the target must be a label name or an index, got ${JSON.stringify(target)?.slice(0, 40) ?? typeof target}`);
  return target;
}

export function resolveLabel(labels: string[], raw: string | number | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const target = targetText(raw);
  if (/^\d+$/.test(target)) {
    const i = Number(target);
    if (i >= labels.length) fail(`target ${i} is out of range: the model has ${labels.length} labels (${labels.join(', ')})`);
    return i;
  }
  const i = labels.findIndex((l) => l.toLowerCase() === target.toLowerCase());
  if (i < 0) fail(`unknown label "${target}"; the model's labels are: ${labels.join(', ')}`);
  return i;
}

export function truncationWarning(enc: Encoded, model: LoadedModel, what: string): string[] {
  return enc.truncatedTokens > 0 ? [`${what} was truncated: ${enc.truncatedTokens} tokens beyond the model's ${model.maxLength} positions were dropped`] : [];
}

export function base(task: TaskName, model: LoadedModel, enc: Encoded, settings: ExplainSettings, texts: readonly (string | undefined)[] = []): Omit<Explanation, 'prediction' | 'attributions' | 'warnings'> {
  const head: Omit<Explanation, 'prediction' | 'attributions' | 'warnings'> = {
    task, model: model.name, tokens: enc.tokens, input_ids: enc.ids,
    settings: {
      method: settings.method, steps: settings.steps, integration: settings.integration, baseline: settings.baseline, samples: settings.samples, stdevs: settings.stdevs, seed: settings.seed,
      window: settings.window, stride: settings.stride, perturbationsPerEval: settings.perturbationsPerEval, attentionLayer: settings.attentionLayer, granularity: settings.granularity,
    },
  };
  if (settings.granularity === 'word') {
    const w = groupWords(enc, model.tokenizer.words, texts);
    head.words = w.words;
    head.token_words = w.wordOf;
  }
  // Unknown tokens keep the characters they stand for (from the tokenizer's offsets), for reports.
  const unk: Record<string, string> = {};
  enc.ids.forEach((id, i) => {
    const seg = enc.segment[i], span = enc.offsets[i];
    const text = seg === null || seg === undefined ? undefined : texts[seg];
    if (id === model.tokenizer.unkId && span && text !== undefined) unk[String(i)] = text.slice(span[0], span[1]);
  });
  if (Object.keys(unk).length > 0) head.unk_text = unk;
  return head;
}

/** Completeness is checked against this share of |F(x) − F(baseline)|: beyond it, a run warns (README: convergence). */
export const DELTA_WARNING = 0.05;

/** |delta| relative to |F(x) − F(baseline)| for a target, when the method has a delta. */
export function relativeDelta(a: { delta: number | null; f_x: number | null; f_baseline: number | null }): number | undefined {
  if (a.delta === null || a.f_x === null || a.f_baseline === null) return undefined;
  const diff = Math.abs(a.f_x - a.f_baseline);
  return diff > 0 ? Math.abs(a.delta) / diff : Math.abs(a.delta) > 0 ? Infinity : 0;
}

/** One warning per target whose convergence delta is large (more than DELTA_WARNING), with the fix. */
export function convergenceWarnings(attributions: TargetAttribution[]): string[] {
  return attributions.flatMap((a) => {
    const r = relativeDelta(a);
    if (r === undefined || r <= DELTA_WARNING) return [];
    const share = Number.isFinite(r) ? `${(100 * r).toFixed(0)}%` : 'all';
    return [`${a.target}: the convergence delta ${a.delta!.toPrecision(3)} is ${share} of F(x) − F(baseline) = ${(a.f_x! - a.f_baseline!).toPrecision(3)} (more than ${100 * DELTA_WARNING}%): try --steps auto or more steps`];
  });
}
