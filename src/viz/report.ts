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

/** Completeness is checked against this share of |F(x) − F(baseline)|: beyond it, a run warns (README: convergence). */
export const DELTA_WARNING = 0.05;

/** |delta| relative to |F(x) − F(baseline)| for a target, when the method has a delta. */
export function relativeDelta(a: { delta: number | null; f_x: number | null; f_baseline: number | null }): number | undefined {
  if (a.delta === null || a.f_x === null || a.f_baseline === null) return undefined;
  const diff = Math.abs(a.f_x - a.f_baseline);
  return diff > 0 ? Math.abs(a.delta) / diff : Math.abs(a.delta) > 0 ? Infinity : 0;
}

/** One warning per target whose convergence delta is large (see DELTA_WARNING), with the fix. */
export function convergenceWarnings(e: Explanation): string[] {
  return e.attributions.flatMap((a) => {
    const r = relativeDelta(a);
    if (r === undefined || r <= DELTA_WARNING) return [];
    return [`${a.target}: the convergence delta ${a.delta!.toPrecision(3)} is ${Number.isFinite(r) ? `${(100 * r).toFixed(0)}%` : 'all'} of F(x) − F(baseline) = ${(a.f_x! - a.f_baseline!).toPrecision(3)} (more than ${100 * DELTA_WARNING}%): try steps "auto" or more steps`];
  });
}
