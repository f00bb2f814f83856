import type { Explanation } from '../tasks/common.js';

/** A one-line description of the prediction, per task. */
export function describePrediction(e: Explanation): string {
  const p = e.prediction as Record<string, any>;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  switch (e.task) {
    case 'qa': return `answer: "${p['answer']}" (p = ${pct(p['score'])}, tokens ${p['start']}–${p['end']})`;
    case 'classify': return `label: ${p['label']} (${p['multi_label'] ? 'sigmoid' : 'p'} = ${pct(p['score'])})`;
    case 'zero-shot': return `label: ${p['label']} (p = ${pct(p['score'])} among ${(p['labels'] as string[]).join(', ')})`;
    case 'tokens': {
      const ents = p['entities'] as { word: string; entity: string; score: number }[];
      return ents.length ? `entities: ${ents.map((x) => `${x.word} [${x.entity} ${pct(x.score)}]`).join(', ')}` : 'entities: none';
    }
  }
}

export function settingsLine(e: Explanation): string {
  const a = e.attributions[0];
  const steps = a?.n_steps !== null && a?.n_steps !== undefined ? `, ${a.n_steps} steps${e.settings.steps === 'auto' ? ' (auto)' : ''}, ${a.integration}` : '';
  return `method ${e.settings.method} on ${a?.layer ?? '?'}${steps}, baseline ${e.settings.baseline}`;
}

export const attributionScore = (perToken: number[]): number => perToken.reduce((s, v) => s + v, 0);

/** Tokens for display: WordPiece/BPE markers kept as they are (the view shows what the model saw). */
export const displayToken = (t: string): string => t.replace(/\u0120/g, '·').replace(/\u2581/g, '·');

export { DELTA_WARNING, relativeDelta } from '../tasks/common.js';
