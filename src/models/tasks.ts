import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { LoadedModel } from './load.js';
import { own } from './config.js';
import type { Encoded } from './tokenizer.js';
import { attributeTokens, feedsFor, prewarm, type ExplainSettings, type TargetAttribution } from './explain.js';

export type TaskName = 'qa' | 'classify' | 'tokens' | 'zero-shot';
export const TASKS: readonly TaskName[] = ['qa', 'classify', 'tokens', 'zero-shot'];

/** The stable JSON result (README: JSON output). */
export interface Explanation {
  task: TaskName;
  model: string;
  tokens: string[];
  input_ids: number[];
  prediction: Record<string, unknown>;
  attributions: TargetAttribution[];
  settings: { method: string; steps: number | 'auto'; integration: string; baseline: string };
  warnings: string[];
}

const softmax = (xs: number[]): number[] => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const row = (t: HostTensor, r = 0): number[] => {
  const size = t.data.length / t.dims[0]!;
  return Array.from(t.data.subarray(r * size, (r + 1) * size) as Float32Array, Number);
};

function nonEmpty(value: unknown, what: string): string {
  if (value !== undefined && typeof value !== 'string') fail(`${what} must be a string, got ${Array.isArray(value) ? 'a list' : typeof value}`);
  if (value === undefined || value.trim() === '') fail(`${what} is empty`);
  return value;
}

/** The declared shape of a graph output (or input): dims are numbers, symbolic names, or null. */
function declaredShape(model: LoadedModel, name: string, side: 'output' | 'input' = 'output'): (number | string | null)[] | null {
  const value = model.onnx.graph?.[side]?.find((o) => o.name === name);
  const dims = value?.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam ? d.dimParam : null));
}

/**
 * The output holding class logits [batch, labels], or a clear refusal: a question-answering model (start/end logits)
 * or any output with a token axis is not a classifier, whatever labels config.json lists.
 */
function classLogits(model: LoadedModel, task: 'classify' | 'zero-shot'): string {
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
function checkClassLogits(model: LoadedModel, logits: HostTensor, name: string, seq: number, task: string): void {
  if (logits.dims.length !== 2) fail(`${model.name}'s output ${name} has shape [${logits.dims.join(', ')}]: explain ${task} needs class logits [batch, labels]`);
  const labels = model.config.id2label ? Object.keys(model.config.id2label).length : undefined;
  const width = logits.dims[1]!;
  if (labels !== undefined && labels !== width) {
    fail(`config.json of ${model.name} names ${labels} labels but the output ${name} has ${width} values${width === seq ? ' (one per token: not a classifier?)' : ''}`);
  }
}

function labelsOf(model: LoadedModel, count: number): string[] {
  return Array.from({ length: count }, (_, i) => own(model.config.id2label, String(i)) ?? `LABEL_${i}`);
}

/** A target as text: a label name or an index; anything else (an object, a list) is refused. */
function targetText(target: unknown): string {
  if (typeof target === 'number' && Number.isInteger(target) && target >= 0) return String(target);
  if (typeof target !== 'string') fail(`the target must be a label name or an index, got ${JSON.stringify(target)?.slice(0, 40) ?? typeof target}`);
  return target;
}

function resolveLabel(labels: string[], raw: string | number | undefined, fallback: number): number {
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

function truncationWarning(enc: Encoded, model: LoadedModel, what: string): string[] {
  return enc.truncatedTokens > 0 ? [`${what} was truncated: ${enc.truncatedTokens} tokens beyond the model's ${model.maxLength} positions were dropped`] : [];
}

function base(task: TaskName, model: LoadedModel, enc: Encoded, settings: ExplainSettings): Omit<Explanation, 'prediction' | 'attributions' | 'warnings'> {
  return {
    task, model: model.name, tokens: enc.tokens, input_ids: enc.ids,
    settings: { method: settings.method, steps: settings.steps, integration: settings.integration, baseline: settings.baseline },
  };
}

export interface QaOptions { question: string; context: string; maxAnswerLength?: number; target?: string }

/**
 * Extractive QA: the best span (end ≥ start, inside the context, at most maxAnswerLength tokens) by
 * p_start · p_end with softmaxes over the context positions (and [CLS]), as HF's pipeline; attributions for the
 * start and end logits at the answer's positions (or at the positions given by target "start:end").
 */
export async function explainQa(model: LoadedModel, options: QaOptions, settings: ExplainSettings): Promise<Explanation> {
  const question = nonEmpty(options.question, 'the question');
  const context = nonEmpty(options.context, 'the context');
  const enc = model.tokenizer.encode(question, context, { maxLength: model.maxLength, truncation: 'only_second' });
  const startName = model.outputNames.find((n) => /start/.test(n)) ?? fail('the model has no start_logits output: is it a question-answering model?');
  const endName = model.outputNames.find((n) => /end/.test(n)) ?? fail('the model has no end_logits output: is it a question-answering model?');
  prewarm(model, settings, [startName, endName], 2, enc.ids.length);
  const out = await model.runner.forward(feedsFor(model, enc));
  const startLogits = row(out[startName]!), endLogits = row(out[endName]!);
  const inContext = enc.segment.map((s) => s === 1);
  const allowed = (i: number) => inContext[i]!;
  const mask = (xs: number[]) => softmax(xs.map((x, i) => (allowed(i) ? x : -Infinity)));
  const ps = mask(startLogits), pe = mask(endLogits);
  const maxLen = options.maxAnswerLength ?? 30;
  let best = { s: -1, e: -1, score: -1 };
  for (let s = 0; s < ps.length; s++) {
    if (!allowed(s)) continue;
    for (let e = s; e < Math.min(pe.length, s + maxLen); e++) {
      if (!allowed(e)) continue;
      const score = ps[s]! * pe[e]!;
      if (score > best.score) best = { s, e, score };
    }
  }
  if (best.s < 0) fail('no answer span fits in the context');
  let [ts, te] = [best.s, best.e];
  if (options.target) {
    const m = /^(\d+):(\d+)$/.exec(targetText(options.target));
    if (!m) fail(`--target for qa is "START:END" token positions, got "${options.target}"`);
    [ts, te] = [Number(m[1]), Number(m[2])];
    if (ts >= enc.ids.length || te >= enc.ids.length) fail(`--target ${options.target} is outside the ${enc.ids.length} tokens`);
  }
  const answer = context.slice(enc.offsets[best.s]![0], enc.offsets[best.e]![1]);
  const attributions = await attributeTokens(model, enc, [
    { output: startName, target: ts, label: 'start', position: ts },
    { output: endName, target: te, label: 'end', position: te },
  ], settings);
  return {
    ...base('qa', model, enc, settings),
    prediction: { answer, start: best.s, end: best.e, score: best.score, start_char: enc.offsets[best.s]![0], end_char: enc.offsets[best.e]![1] },
    attributions,
    warnings: truncationWarning(enc, model, 'the context'),
  };
}

export interface ClassifyOptions { text: string; pair?: string; target?: string | number }

/** Sequence classification (softmax; sigmoid for multi-label models), explaining the predicted or chosen label. */
export async function explainClassify(model: LoadedModel, options: ClassifyOptions, settings: ExplainSettings): Promise<Explanation> {
  const text = nonEmpty(options.text, 'the text');
  if (options.pair !== undefined) nonEmpty(options.pair, 'the text pair');
  const enc = model.tokenizer.encode(text, options.pair, { maxLength: model.maxLength, truncation: 'longest_first' });
  const outName = classLogits(model, 'classify');
  prewarm(model, settings, [outName], 1, enc.ids.length);
  const output = (await model.runner.forward(feedsFor(model, enc)))[outName]!;
  checkClassLogits(model, output, outName, enc.ids.length, 'classify');
  const logits = row(output);
  const multiLabel = model.config.problem_type === 'multi_label_classification';
  const probs = multiLabel ? logits.map(sigmoid) : softmax(logits);
  const labels = labelsOf(model, logits.length);
  const predicted = probs.indexOf(Math.max(...probs));
  const index = resolveLabel(labels, options.target, predicted);
  const attributions = await attributeTokens(model, enc, [{ output: outName, target: index, label: labels[index]!, index }], settings);
  return {
    ...base('classify', model, enc, settings),
    prediction: {
      label: labels[predicted], index: predicted, score: probs[predicted], multi_label: multiLabel,
      scores: Object.fromEntries(labels.map((l, i) => [l, probs[i]])),
    },
    attributions,
    warnings: truncationWarning(enc, model, 'the text'),
  };
}

export interface TokensOptions { text: string; token?: number; target?: string }

/** Token classification (NER): entities from BIO tags; attribution for a chosen token, else one per entity span. */
export async function explainTokens(model: LoadedModel, options: TokensOptions, settings: ExplainSettings): Promise<Explanation> {
  const text = nonEmpty(options.text, 'the text');
  const enc = model.tokenizer.encode(text, undefined, { maxLength: model.maxLength });
  const outName = model.outputNames[0]!;
  const logits = (await model.runner.forward(feedsFor(model, enc)))[outName]!;
  const [, seq, nLabels] = logits.dims as [number, number, number];
  if (logits.dims.length !== 3) fail(`output ${outName} has shape [${logits.dims}]: a token-classification model outputs [batch, tokens, labels]`);
  const labels = labelsOf(model, nLabels);
  const perToken = Array.from({ length: seq }, (_, i) => {
    const p = softmax(Array.from(logits.data.subarray(i * nLabels, (i + 1) * nLabels) as Float32Array, Number));
    const k = p.indexOf(Math.max(...p));
    return { label: labels[k]!, index: k, score: p[k]! };
  });
  const entities = groupEntities(enc, perToken, text);
  let targets: { output: string; target: number[]; label: string; position: number; index: number }[];
  if (options.token !== undefined) {
    const pos = options.token;
    if (!Number.isInteger(pos) || pos < 0 || pos >= seq) fail(`--token ${pos} is outside the ${seq} tokens (0-based, special tokens included)`);
    const index = options.target !== undefined ? resolveLabel(labels, options.target, 0) : perToken[pos]!.index;
    targets = [{ output: outName, target: [pos, index], label: `${enc.tokens[pos]}:${labels[index]}`, position: pos, index }];
  } else {
    targets = entities.map((e) => ({ output: outName, target: [e.start, e.index], label: `${e.word}:${e.entity}`, position: e.start, index: e.index }));
    if (targets.length === 0) {
      // No entity: explain the first word token's prediction.
      const pos = enc.special.findIndex((s) => !s);
      if (pos < 0) fail('the text has no tokens once normalized (only control or unknown characters?)');
      targets = [{ output: outName, target: [pos, perToken[pos]!.index], label: `${enc.tokens[pos]}:${perToken[pos]!.label}`, position: pos, index: perToken[pos]!.index }];
    }
  }
  const attributions = await attributeTokens(model, enc, targets, settings);
  return {
    ...base('tokens', model, enc, settings),
    prediction: { labels: perToken.map((p) => p.label), scores: perToken.map((p) => p.score), entities },
    attributions,
    warnings: truncationWarning(enc, model, 'the text'),
  };
}

interface Entity { entity: string; word: string; start: number; end: number; index: number; score: number; start_char: number; end_char: number }

/** Groups B-/I- tagged tokens (and ## continuations) into entity spans; "O" tokens end a span. */
function groupEntities(enc: Encoded, preds: { label: string; index: number; score: number }[], text: string): Entity[] {
  const out: Entity[] = [];
  let cur: Entity | undefined;
  preds.forEach((p, i) => {
    if (enc.special[i]) { cur = undefined; return; }
    const tag = p.label.replace(/^[BI]-/, '');
    const begins = p.label.startsWith('B-') || !cur || cur.entity !== tag;
    if (p.label === 'O' || p.label === 'LABEL_0') { cur = undefined; return; }
    if (begins && !(enc.tokens[i]!.startsWith('##') && cur?.entity === tag)) {
      cur = { entity: tag, word: '', start: i, end: i, index: p.index, score: p.score, start_char: enc.offsets[i]![0], end_char: enc.offsets[i]![1] };
      out.push(cur);
    } else {
      cur!.end = i;
      cur!.end_char = enc.offsets[i]![1];
      cur!.score = Math.min(cur!.score, p.score);
    }
    cur!.word = text.slice(cur!.start_char, cur!.end_char);
  });
  return out;
}

export interface ZeroShotOptions { text: string; labels: string[]; template?: string; target?: string }

/**
 * Zero-shot classification with an NLI model, as HF's pipeline: premise = text, hypothesis = template with the
 * label; the entailment logits of all candidates go through one softmax. Explains the chosen or best label's pair.
 */
export async function explainZeroShot(model: LoadedModel, options: ZeroShotOptions, settings: ExplainSettings): Promise<Explanation> {
  const text = nonEmpty(options.text, 'the text');
  if (!Array.isArray(options.labels) || !options.labels.every((l) => typeof l === 'string')) fail('the candidate labels must be a list of strings');
  const candidates = options.labels.map((l) => l.trim()).filter(Boolean);
  if (candidates.length === 0) fail('give at least one candidate label (--labels a,b,c)');
  if (options.template !== undefined && typeof options.template !== 'string') fail('the hypothesis template must be a string');
  const template = options.template ?? 'This example is {}.';
  const outName = classLogits(model, 'zero-shot');
  const label2id = new Map(Object.entries(model.config.label2id ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const id2label = model.config.id2label ?? {};
  const entailment = label2id.get('entailment') ?? Number(Object.entries(id2label).find(([, v]) => v.toLowerCase().startsWith('entail'))?.[0] ?? NaN);
  if (!Number.isInteger(entailment)) fail('zero-shot needs an NLI model whose config labels include "entailment"');
  const encs = candidates.map((c) => model.tokenizer.encode(text, template.replace('{}', c), { maxLength: model.maxLength, truncation: 'only_first' }));
  prewarm(model, settings, [outName], 1);
  const logits = (await model.runner.forward(feedsFor(model, encs)))[outName]!;
  checkClassLogits(model, logits, outName, Math.max(...encs.map((e) => e.ids.length)), 'zero-shot');
  if (entailment >= logits.dims[1]!) fail(`the entailment label's index ${entailment} is outside the model's ${logits.dims[1]} outputs`);
  const scores = softmax(candidates.map((_, i) => row(logits, i)[entailment]!));
  const best = scores.indexOf(Math.max(...scores));
  let chosen = best;
  if (options.target !== undefined) {
    const wanted = targetText(options.target);
    chosen = candidates.findIndex((c) => c.toLowerCase() === wanted.toLowerCase());
    if (chosen < 0) fail(`unknown label "${options.target}"; the candidates are: ${candidates.join(', ')}`);
  }
  const enc = encs[chosen]!;
  const attributions = await attributeTokens(model, enc, [{ output: outName, target: entailment, label: candidates[chosen]!, index: entailment }], settings);
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
  return {
    ...base('zero-shot', model, enc, settings),
    prediction: { label: candidates[best], score: scores[best], labels: order.map(([, i]) => candidates[i]), scores: order.map(([s]) => s), hypothesis: template.replace('{}', candidates[chosen]!) },
    attributions,
    warnings: truncationWarning(enc, model, 'the text'),
  };
}
