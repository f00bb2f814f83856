import { fail } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import type { ExplainSettings } from '../attr/registry.js';
import { attributeTokens, feedsFor, prewarm } from './attribute.js';
import { ModelRunner } from '../attr/runner.js';
import { withMaxOverAxis1 } from '../graph/outputs.js';
import { base, nonEmpty, row, softmax, targetText, truncationWarning, convergenceWarnings, type Explanation, type RunOptions } from './common.js';

/**
 * What the start and end attributions explain: the logit at the predicted (or --target) position, or, as the
 * forward function of Captum's BERT tutorial (`pred.max(1).values`), the largest logit over all positions at each
 * point of the path (the position may change along it).
 */
export const QA_TARGETS = ['position', 'max'] as const;
export type QaTarget = (typeof QA_TARGETS)[number];

export interface QaOptions { question: string; context: string; maxAnswerLength?: number; target?: string; qaTarget?: QaTarget }

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
  const qaTarget = options.qaTarget ?? 'position';
  if (!(QA_TARGETS as readonly string[]).includes(qaTarget)) fail(`--qa-target is one of ${QA_TARGETS.join(', ')}, got ${String(qaTarget).slice(0, 40)}`);
  if (qaTarget === 'max' && options.target) fail('--target START:END and --qa-target max exclude each other: the maximum has no fixed position');
  let attributions;
  if (qaTarget === 'max') {
    const max = withMaxima(model, [startName, endName]);
    attributions = await attributeTokens(max.model, enc, [
      { output: max.outputs[startName]!, label: 'start' },
      { output: max.outputs[endName]!, label: 'end' },
    ], settings, run);
  } else {
    attributions = await attributeTokens(model, enc, [
      { output: startName, target: ts, label: 'start', position: ts },
      { output: endName, target: te, label: 'end', position: te },
    ], settings, run);
  }
  const head = base('qa', model, enc, settings, [question, context]);
  return {
    ...head,
    settings: { ...head.settings, qa_target: qaTarget },
    prediction: { answer, start: best.s, end: best.e, score: best.score, start_char: enc.offsets[best.s]![0], end_char: enc.offsets[best.e]![1] },
    attributions,
    warnings: [...truncationWarning(enc, model, 'the context'), ...convergenceWarnings(attributions)],
  };
}

