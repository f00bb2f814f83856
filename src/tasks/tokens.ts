import { fail } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import type { ExplainSettings } from '../attr/registry.js';
import { attributeTokens, feedsFor } from './attribute.js';
import { base, labelsOf, nonEmpty, resolveLabel, softmax, truncationWarning, convergenceWarnings, type Explanation, type RunOptions } from './common.js';
import type { Encoded } from '../models/tokenizer.js';

export interface TokensOptions { text: string; token?: number; target?: string }

/** Token classification (NER): entities from BIO tags; attribution for a chosen token, else one per entity span. */
export async function explainTokens(model: LoadedModel, options: TokensOptions, settings: ExplainSettings, run: RunOptions = {}): Promise<Explanation> {
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
  const attributions = await attributeTokens(model, enc, targets, settings, { ...run, texts: [text] });
  return {
    ...base('tokens', model, enc, settings, [text]),
    prediction: { labels: perToken.map((p) => p.label), scores: perToken.map((p) => p.score), entities },
    attributions,
    warnings: [...truncationWarning(enc, model, 'the text'), ...convergenceWarnings(attributions)],
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

