// Hand-built explanations for the renderer tests (no model run): a small QA one whose start target has a large
// convergence delta, a classify one run with smoothgrad, and helpers.
import type { Explanation } from '../../src/tasks/common.js';
import type { TargetAttribution } from '../../src/tasks/attribute.js';

export const QUESTION = 'Who founded <it> & when?';
export const CONTEXT = 'Ada Łovelace founded it in London. It grew quickly & it was very successful afterwards.';

/** Tokens of QUESTION + CONTEXT as an uncased WordPiece tokenizer would give them ("Łovelace" is unknown). */
export const QA_TOKENS = [
  '[CLS]', 'who', 'founded', '<', 'it', '>', '&', 'when', '?', '[SEP]',
  'ada', '[UNK]', 'founded', 'it', 'in', 'london', '.', 'it', 'grew', 'quick', '##ly', '&', 'it', 'was', 'very', 'success', '##ful', 'after', '##wards', '.', '[SEP]',
];
export const UNK_INDEX = 11;
export const ANSWER: [number, number] = [15, 16];

/** Per-token values: mostly neutral (|v| ≤ 0.05), a few strong ones; the sum is 11.61. */
export function qaValues(strong: Record<number, number>, total: number): number[] {
  const v: number[] = QA_TOKENS.map((_, i) => (i % 3 === 0 ? 0.01 : i % 3 === 1 ? -0.02 : 0.004));
  for (const [i, x] of Object.entries(strong)) v[Number(i)] = x;
  const rest = total - v.reduce((s, x) => s + x, 0);
  v[ANSWER[0]] = v[ANSWER[0]]! + rest;
  return v;
}

export function normalize(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => (n > 0 ? x / n : 0));
}

function target(name: string, perToken: number[], fx: number | null, fb: number | null, over: Partial<TargetAttribution> = {}): TargetAttribution {
  const sum = perToken.reduce((s, x) => s + x, 0);
  return {
    target: name, method: 'layer-ig', layer: '/bert/embeddings/LayerNorm/Add_1_output_0', n_steps: 50, integration: 'gausslegendre',
    per_token: perToken, normalized: normalize(perToken),
    delta: fx !== null && fb !== null ? sum - (fx - fb) : null, f_x: fx, f_baseline: fb, ...over,
  };
}

export const START_WARNING = 'start: the convergence delta 1.73 is 17% of F(x) − F(baseline) = 9.88 (more than 5%): try --steps auto or more steps';
export const TRUNCATION_WARNING = 'the context was truncated: 3 tokens beyond the model\'s 32 positions were dropped';

/** QA: start target 11.61 = 1.726 (17% of 9.884) + (3.983 − (−5.901)); end target with a tiny delta. */
export function qaExplanation(): Explanation {
  const startValues = qaValues({ 1: 2.5, 4: -1.5, 11: 0.03 }, 11.61);
  const endValues = qaValues({ 16: 3 }, 16.6);
  const start = target('start', startValues, 3.983, -5.901, { position: ANSWER[0] });
  // end: F(x) − F(baseline) = 16.6 − 1e-4, so its delta is 1e-4 (0.0006%).
  const end = target('end', endValues, 8.659, 8.659 - (16.6 - 1e-4), { position: ANSWER[1] });
  const s = CONTEXT.indexOf('London.');
  return {
    task: 'qa', model: 'demo/qa (hand-built)', tokens: [...QA_TOKENS], input_ids: QA_TOKENS.map((_, i) => 100 + i),
    prediction: { answer: 'London.', start: ANSWER[0], end: ANSWER[1], score: 0.93, start_char: s, end_char: s + 'London.'.length },
    attributions: [start, end],
    settings: { method: 'layer-ig', steps: 50, integration: 'gausslegendre', baseline: 'pad', samples: 5, stdevs: 0.1, seed: 0 },
    warnings: [TRUNCATION_WARNING, START_WARNING],
  };
}

/** Classify with smoothgrad: no steps, no baseline, no delta; samples 7, stdevs 0.25, seed 42. */
export function classifyExplanation(): Explanation {
  const tokens = ['[CLS]', 'the', 'movie', 'was', 'great', '\x1b[2J', '[SEP]'];
  const v = [0, 0.01, 0.2, -0.003, 0.9, -0.3, 0];
  return {
    task: 'classify', model: 'demo/sentiment', tokens, input_ids: tokens.map((_, i) => 10 + i),
    prediction: { label: 'positive', index: 1, score: 0.98, multi_label: false, scores: { negative: 0.02, positive: 0.98 } },
    attributions: [{
      target: 'positive', index: 1, method: 'smoothgrad', layer: '/bert/embeddings/LayerNorm/Add_1_output_0', n_steps: null, integration: null,
      per_token: v, normalized: normalize(v), delta: null, f_x: null, f_baseline: null,
    }],
    settings: { method: 'smoothgrad', steps: 50, integration: 'gausslegendre', baseline: 'pad', samples: 7, stdevs: 0.25, seed: 42 },
    warnings: [],
  };
}

export const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
