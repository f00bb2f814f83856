import type { LoadedModel } from '../models/load.js';
import type { ExplainSettings } from '../attr/registry.js';
import { attributeTokens, feedsFor, prewarm } from './attribute.js';
import { base, checkClassLogits, classLogits, labelsOf, nonEmpty, resolveLabel, row, sigmoid, softmax, truncationWarning, convergenceWarnings, type Explanation, type RunOptions } from './common.js';

export interface ClassifyOptions { text: string; pair?: string; target?: string | number }

/** Sequence classification (softmax; sigmoid for multi-label models), explaining the predicted or chosen label. */
export async function explainClassify(model: LoadedModel, options: ClassifyOptions, settings: ExplainSettings, run: RunOptions = {}): Promise<Explanation> {
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
  const attributions = await attributeTokens(model, enc, [{ output: outName, target: index, label: labels[index]!, index }], settings, { ...run, texts: [text, options.pair] });
  return {
    ...base('classify', model, enc, settings, [text, options.pair]),
    prediction: {
      label: labels[predicted], index: predicted, score: probs[predicted], multi_label: multiLabel,
      scores: Object.fromEntries(labels.map((l, i) => [l, probs[i]])),
    },
    attributions,
    warnings: [...truncationWarning(enc, model, 'the text'), ...convergenceWarnings(attributions)],
  };
}

