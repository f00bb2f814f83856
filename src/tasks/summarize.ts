// Global explanations: over many explanations (a batch output, an evaluation), the tokens or words with the largest
// mean attribution per predicted label, with counts (SHAP's global bar plot, for text).
import { fail } from '../errors.js';
import type { Explanation } from './common.js';

export interface GlobalItem { item: string; mean: number; count: number }
export interface GlobalGroup { label: string; explanations: number; items: GlobalItem[] }
export interface GlobalSummary {
  by: 'token' | 'word';
  /** What is averaged: each explanation's attribution normalised by its L2 norm (the views' values). */
  value: 'normalized';
  min_count: number;
  top: number;
  groups: GlobalGroup[];
  skipped: number;
}

/** The group an attribution counts towards: the predicted label, or for qa and tokens the target it explains. */
function groupOf(e: Explanation, target: string): string {
  const p = e.prediction as { label?: unknown };
  if ((e.task === 'classify' || e.task === 'zero-shot') && typeof p.label === 'string') return p.label;
  if (e.task === 'tokens') return target.includes(':') ? target.slice(target.lastIndexOf(':') + 1) : target;
  return target;
}

const isExplanation = (r: unknown): r is Explanation => {
  const e = r as Explanation;
  return typeof e === 'object' && e !== null && Array.isArray(e.tokens) && Array.isArray(e.attributions) && typeof e.prediction === 'object';
};

/**
 * Mean normalised attribution per token (special tokens left out; tokens compared in lower case) or per word (the
 * explanations must have been made with --granularity word), per group; items seen fewer than minCount times are
 * left out; the top items by mean, per group.
 */
export function globalSummary(records: readonly unknown[], options: { by?: 'token' | 'word'; top?: number; minCount?: number } = {}): GlobalSummary {
  const by = options.by ?? 'token';
  const top = options.top ?? 10;
  const minCount = options.minCount ?? 1;
  if (!Number.isInteger(top) || top < 1) fail(`--top must be a positive integer, got ${top}`);
  if (!Number.isInteger(minCount) || minCount < 1) fail(`--min-count must be a positive integer, got ${minCount}`);
  const groups = new Map<string, { explanations: number; sums: Map<string, { sum: number; count: number }> }>();
  let skipped = 0;
  for (const r of records) {
    if (!isExplanation(r)) { skipped++; continue; }
    const units = by === 'word' ? r.words : r.tokens;
    if (by === 'word' && !units) fail('these explanations have no words: make them with --granularity word, or summarize --by token');
    for (const a of r.attributions) {
      const values = by === 'word' ? a.normalized_word : a.normalized;
      if (!values || values.length !== units!.length) { skipped++; continue; }
      const key = groupOf(r, a.target);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { explanations: 0, sums: new Map() }));
      g.explanations++;
      units!.forEach((u, i) => {
        if (isSpecial(u)) return;
        const item = u.toLowerCase();
        const s = g!.sums.get(item) ?? { sum: 0, count: 0 };
        s.sum += values[i]!;
        s.count++;
        g!.sums.set(item, s);
      });
    }
  }
  return {
    by, value: 'normalized', min_count: minCount, top, skipped,
    groups: [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([label, g]) => ({
      label, explanations: g.explanations,
      items: [...g.sums.entries()].filter(([, s]) => s.count >= minCount)
        .map(([item, s]) => ({ item, mean: s.sum / s.count, count: s.count }))
        .sort((x, y) => y.mean - x.mean || y.count - x.count || (x.item < y.item ? -1 : 1)).slice(0, top),
    })),
  };
}

/** Special tokens by their usual spellings ([CLS], <s>, </s>, <pad>, …). */
const isSpecial = (t: string): boolean => /^(\[[A-Z]+\]|<\/?[a-z|_]+>|<\|[a-z_]+\|>)$/.test(t);
