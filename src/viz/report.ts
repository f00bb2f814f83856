import type { Explanation } from '../tasks/common.js';
import type { TargetAttribution } from '../tasks/attribute.js';
import { DELTA_WARNING, relativeDelta } from '../tasks/common.js';
import { OPTIONS, methodSpec, type OptionKey } from '../attr/registry.js';

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

/** What each task is, in words (titles). */
export const TASK_TITLES: Record<Explanation['task'], string> = {
  qa: 'question answering', classify: 'text classification', tokens: 'token classification', 'zero-shot': 'zero-shot classification',
};

/** One setting a run actually used: the method, the layer, and only the options the method reads. */
export interface SettingUsed { key: 'method' | 'layer' | 'qa_target' | 'granularity' | OptionKey; label: string; value: string }

/** The options a method reads (attr/registry.ts); all of them for a method this version does not know. */
function optionsOf(method: string): readonly OptionKey[] {
  try {
    return methodSpec(method).options;
  } catch {
    return OPTIONS.map((o) => o.key);
  }
}

const distinct = <T>(xs: T[]): T[] => [...new Set(xs)];

/** The steps actually used, per target when they differ (--steps auto adapts them per target). */
function stepsUsed(e: Explanation): string | undefined {
  const used = e.attributions.filter((a) => a.n_steps !== null && a.n_steps !== undefined);
  if (used.length === 0) return undefined;
  const values = distinct(used.map((a) => a.n_steps));
  return values.length === 1 ? String(values[0]) : used.map((a) => `${a.target} ${a.n_steps}`).join(', ');
}

/**
 * The settings a run actually used: the method, the layer it attributes to, and the options that method reads
 * (attr/registry.ts: layer-ig reads steps, integration and baseline; smoothgrad samples, stdevs and seed; saliency none).
 */
export function settingsUsed(e: Explanation): SettingUsed[] {
  const out: SettingUsed[] = [{ key: 'method', label: 'Method', value: e.settings.method }];
  const layers = distinct(e.attributions.map((a) => a.layer).filter((l) => typeof l === 'string'));
  out.push({ key: 'layer', label: 'Layer', value: layers.length ? layers.join(', ') : '?' });
  for (const key of optionsOf(e.settings.method)) {
    const spec = OPTIONS.find((o) => o.key === key);
    const label = spec?.label ?? key;
    if (key === 'steps') {
      const used = stepsUsed(e);
      const value = e.settings.steps === 'auto' ? `auto${used !== undefined ? ` (${used} used)` : ''}`
        : used !== undefined && used !== String(e.settings.steps) ? `${e.settings.steps} (${used} used)` : String(e.settings.steps);
      out.push({ key, label, value });
    } else if (key === 'integration') {
      const rules = distinct(e.attributions.map((a) => a.integration).filter((r): r is NonNullable<typeof r> => r !== null && r !== undefined));
      out.push({ key, label, value: rules.length ? rules.join(', ') : String(e.settings.integration) });
    } else {
      out.push({ key, label, value: String(e.settings[key]) });
    }
  }
  // What a QA run explains (the logit at the answer's positions, or the maximum over positions), when recorded.
  const qaTarget = (e.settings as Record<string, unknown>)['qa_target'];
  if (e.task === 'qa' && typeof qaTarget === 'string') out.push({ key: 'qa_target', label: 'QA target', value: qaTarget });
  if (e.settings.granularity === 'word') out.push({ key: 'granularity', label: 'Granularity', value: 'word' });
  return out;
}

/** The settings in one line: `method layer-ig on LAYER, 50 steps, gausslegendre, baseline pad` (only what the method reads). */
export function settingsLine(e: Explanation): string {
  const used = settingsUsed(e);
  const get = (k: SettingUsed['key']) => used.find((s) => s.key === k)?.value;
  const parts: string[] = [`method ${get('method')} on ${get('layer')}`];
  for (const s of used) {
    if (s.key === 'method' || s.key === 'layer') continue;
    if (s.key === 'steps') {
      const n = stepsUsed(e);
      parts.push(e.settings.steps === 'auto' ? `${n ?? '?'} steps (auto)` : `${n ?? e.settings.steps} steps`);
    } else if (s.key === 'integration') parts.push(s.value);
    else if (s.key === 'samples') parts.push(`${s.value} samples`);
    else if (s.key === 'qa_target') { if (s.value !== 'position') parts.push(`qa target ${s.value}`); }
    else if (s.key === 'perturbationsPerEval') parts.push(`${s.value} perturbations per call`);
    else if (s.key === 'granularity') parts.push(`${s.value} level`);
    else parts.push(`${s.key} ${s.value}`);
  }
  return parts.join(', ');
}

/** The predicted answer's token positions of a QA explanation (inclusive), for marking it in every view. */
export function answerSpan(e: Explanation): [number, number] | undefined {
  if (e.view) return e.view.span;
  const p = e.prediction as { start?: unknown; end?: unknown };
  return e.task === 'qa' && typeof p.start === 'number' && typeof p.end === 'number' && p.start <= p.end ? [p.start, p.end] : undefined;
}

export const attributionScore = (perToken: number[]): number => perToken.reduce((s, v) => s + v, 0);

/**
 * The explanation as the views show it: with granularity word, the words in place of the tokens and the per-word
 * values in place of the per-token ones (the QA answer span mapped to words); else the explanation itself.
 */
export function viewOf(e: Explanation): Explanation {
  const words = e.words, of = e.token_words;
  if (!words || !of || !e.attributions.every((a) => Array.isArray(a.per_word) && Array.isArray(a.normalized_word))) return e;
  const span = answerSpan(e);
  const { unk_text: _unk, ...rest } = e;
  return {
    ...rest, tokens: words,
    // The prediction keeps its token positions (the description names them); the answer is marked on words.
    view: { span: span ? [of[span[0]] ?? span[0], of[span[1]] ?? span[1]] : undefined },
    attributions: e.attributions.map((a) => ({ ...a, per_token: a.per_word!, normalized: a.normalized_word! })),
  };
}

/** Tokens for display: WordPiece/BPE markers kept as they are (the view shows what the model saw). */
export const displayToken = (t: string): string => t.replace(/\u0120/g, '·').replace(/\u2581/g, '·');

/**
 * The original characters of [UNK] tokens by token index: the map given (the caller's), else the one the explanation
 * carries (`unk_text`, when the task recorded it).
 */
export function unkMap(e: Explanation, given?: Record<number, string>): Record<number, string> | undefined {
  if (given !== undefined) return given;
  const own = (e as { unk_text?: unknown }).unk_text;
  return own !== null && typeof own === 'object' && !Array.isArray(own) ? (own as Record<number, string>) : undefined;
}

/** A token for display, with the original characters of an [UNK] token when they are known: `[UNK] (é)`. */
export function shownToken(tokens: string[], i: number, unk?: Record<number, string>): string {
  const t = displayToken(tokens[i]!);
  const orig = unk !== undefined && Object.prototype.hasOwnProperty.call(unk, i) ? unk[i] : undefined;
  return typeof orig === 'string' ? `${t} (${orig})` : t;
}

/** A share as a percentage: `17%`, `0.3%`, `0%`; `all` when F(x) = F(baseline) but the delta is not 0. */
export function percent(r: number): string {
  if (!Number.isFinite(r)) return 'all';
  const p = 100 * r;
  if (p === 0) return '0%';
  return p >= 1 ? `${p.toFixed(0)}%` : `${Number(p.toPrecision(1))}%`;
}

/** The convergence delta of a target for display: `delta 1.72e+0 (17%)`, flagged large beyond DELTA_WARNING. */
export function deltaSummary(a: Pick<TargetAttribution, 'delta' | 'f_x' | 'f_baseline'>): { text: string; large: boolean; relative: number | undefined } | undefined {
  if (a.delta === null || a.delta === undefined) return undefined;
  const r = relativeDelta(a);
  if (isConservationGap(a)) return { text: `gap ${a.delta.toExponential(2)}`, large: false, relative: undefined };
  return { text: `delta ${a.delta.toExponential(2)}${r === undefined ? '' : ` (${percent(r)})`}`, large: r !== undefined && r > DELTA_WARNING, relative: r };
}

/** LRP's delta is Σ relevance − F(x), the conservation gap (no baseline), not a convergence delta. */
export const isConservationGap = (a: Pick<TargetAttribution, 'delta' | 'f_baseline'>): boolean => a.delta !== null && a.delta !== undefined && (a.f_baseline === null || a.f_baseline === undefined);

/** What a target's delta is, in words. */
export const deltaName = (a: Pick<TargetAttribution, 'delta' | 'f_baseline'>): string => (isConservationGap(a) ? 'conservation gap' : 'convergence delta');

/** A number for a one-line summary: four significant digits, ASCII minus. */
export const num = (v: number): string => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));

/** A piece of detokenized text: the token it came from, its text, and whether a space precedes it. */
export interface TextPiece { index: number; text: string; space: boolean }

const SPECIAL = /^(\[(CLS|SEP|PAD|MASK)\]|<\/?s>|<pad>|<mask>|<\|endoftext\|>)$/;
const SEPARATOR = /^(\[SEP\]|<\/s>|<\|endoftext\|>)$/;

/**
 * The input text as well as it can be rebuilt from the tokens (when the report was not given the input itself):
 * one list of pieces per text (segments split at [SEP] / </s>), special tokens dropped, WordPiece `##` and
 * BPE/SentencePiece word markers (Ġ, ▁) turned back into spaces, [UNK] replaced by its original text when known.
 */
export function detokenize(tokens: string[], unk?: Record<number, string>): TextPiece[][] {
  const segments: TextPiece[][] = [];
  let current: TextPiece[] = [];
  const marked = tokens.some((t) => /^[\u0120\u2581]/.test(t));
  tokens.forEach((t, index) => {
    if (SEPARATOR.test(t)) {
      if (current.length) segments.push(current);
      current = [];
      return;
    }
    if (SPECIAL.test(t)) return;
    const orig = unk !== undefined && Object.prototype.hasOwnProperty.call(unk, index) ? unk[index] : undefined;
    let text = typeof orig === 'string' ? orig : t;
    let space: boolean;
    if (marked) {
      space = /^[\u0120\u2581]/.test(t);
      if (typeof orig !== 'string') text = t.replace(/^[\u0120\u2581]+/, '').replace(/\u010a/g, '\n');
    } else if (t.startsWith('##')) {
      space = false;
      if (typeof orig !== 'string') text = t.slice(2);
    } else {
      space = true;
    }
    current.push({ index, text, space: space && current.length > 0 });
  });
  if (current.length) segments.push(current);
  return segments;
}

/** Detokenized pieces as plain text. */
export const piecesText = (pieces: TextPiece[]): string => pieces.map((p) => `${p.space ? ' ' : ''}${p.text}`).join('');

export { DELTA_WARNING, relativeDelta } from '../tasks/common.js';
