import { fail } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import type { ExplainSettings } from '../attr/registry.js';
import { attributeTokens, feedsFor, prewarm } from './attribute.js';
import { base, checkClassLogits, classLogits, nonEmpty, row, softmax, targetText, truncationWarning, convergenceWarnings, type Explanation, type RunOptions } from './common.js';

export interface ZeroShotOptions { text: string; labels: string[]; template?: string; target?: string }

/**
 * Zero-shot classification with an NLI model, as HF's pipeline: premise = text, hypothesis = template with the
 * label; the entailment logits of all candidates go through one softmax. Explains the chosen or best label's pair.
 */
export async function explainZeroShot(model: LoadedModel, options: ZeroShotOptions, settings: ExplainSettings, run: RunOptions = {}): Promise<Explanation> {
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
  const attributions = await attributeTokens(model, enc, [{ output: outName, target: entailment, label: candidates[chosen]!, index: entailment }], settings, { ...run, texts: [text, template.replace('{}', candidates[chosen]!)] });
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
  return {
    ...base('zero-shot', model, enc, settings, [text, template.replace('{}', candidates[chosen]!)]),
    prediction: { label: candidates[best], score: scores[best], labels: order.map(([, i]) => candidates[i]), scores: order.map(([s]) => s), hypothesis: template.replace('{}', candidates[chosen]!) },
    attributions,
    warnings: [...truncationWarning(enc, model, 'the text'), ...convergenceWarnings(attributions)],
  };
}
