import type { Explanation } from '../tasks/common.js';
import { captumColor } from './colors.js';
import { escapeControls, escapeHtml } from './escape.js';
import { methodSpec } from '../attr/registry.js';
import {
  TASK_TITLES, answerSpan, attributionScore, deltaSummary, describePrediction, detokenize, num, settingsUsed, shownToken, unkMap, viewOf, isConservationGap, type TextPiece } from './report.js';

const esc = escapeHtml;

/**
 * The input of one explanation as the user gave it (the explanation holds only the tokens): keys question, context
 * (qa), text, pair (classify, tokens), text, labels, template (zero-shot), each rendered escaped when present; other
 * string keys are shown too. `unk` maps a token index to the original characters of an [UNK] token.
 */
export type ReportInput = Record<string, string | string[] | Record<number, string> | undefined>;

export interface TableOptions {
  trueLabel?: string;
  /** One input record per explanation (only its `unk` map is used by the table). */
  inputs?: (ReportInput | undefined)[];
}

export interface HtmlOptions extends TableOptions {
  /** One input record per explanation: shown as text; when absent, the text is rebuilt from the tokens. */
  inputs?: (ReportInput | undefined)[];
}

/** The report's styles (the web app uses them too, so its table is the report's table). */
export const REPORT_CSS = `
table.gradlens { border-collapse: collapse; }
table.gradlens th, table.gradlens td { border: 1px solid #ccc; padding: 6px 8px; text-align: left; vertical-align: top; }
table.gradlens th { background: #f4f4f4; }
table.gradlens td.words { line-height: 2em; max-width: 60em; }
mark.tok { padding: 2px 3px; border-radius: 3px; color: #000; font-family: ui-monospace, monospace; unicode-bidi: isolate; }
mark.tok:hover { outline: 1px solid #333; }
mark.tok.answer { box-shadow: 0 0 0 2px #1a7f37; }
table.gradlens .delta { display: block; font-size: 0.8em; color: #555; white-space: nowrap; }
table.gradlens .delta.large { color: #9a3412; font-weight: 600; }
.swatch { display: inline-block; padding: 2px 10px; margin-right: 2px; font-size: 0.85em; color: #000; }
table.heads { border-collapse: collapse; }
table.heads th { font-weight: normal; font-size: 0.8em; color: #555; padding: 2px 6px; text-align: left; }
table.heads td { padding: 2px 4px; }
svg.strip { display: block; border: 1px solid #ddd; }
`;

const unkOf = (input: ReportInput | undefined): Record<number, string> | undefined => {
  const u = input?.['unk'];
  return u !== undefined && typeof u === 'object' && !Array.isArray(u) ? u : undefined;
};

/**
 * Captum's visualize_text table (True Label, Predicted Label, Attribution Label, Attribution Score, Word Importance),
 * one row per target, exact values on hover, the QA answer span outlined, the convergence delta under the target
 * label (flagged when large); with the colour legend.
 */
export function renderTable(explanations: Explanation[], options: TableOptions = {}): string {
  const rows = explanations.map(viewOf).flatMap((e, k) => e.attributions.map((a) => {
    const span = answerSpan(e);
    const unk = unkMap(e, unkOf(options.inputs?.[k]));
    const marks = e.tokens.map((_, i) => {
      const v = a.normalized[i]!;
      const inAnswer = span !== undefined && i >= span[0] && i <= span[1];
      const shown = escapeControls(shownToken(e.tokens, i, unk));
      return `<mark class="tok${inAnswer ? ' answer' : ''}" data-index="${i}" data-value="${v}" title="${esc(`${shown}: ${v.toFixed(4)} (raw ${a.per_token[i]!.toExponential(3)})${inAnswer ? ' · in the answer' : ''}`)}" style="background-color: ${captumColor(v)}">${esc(shown)}</mark>`;
    }).join(' ');
    const d = deltaSummary(a);
    const deltaLine = d === undefined ? '' : `<span class="delta${d.large ? ' large' : ''}" title="${esc(
      isConservationGap(a) ? `conservation gap = Σ relevance − F(x); F(x) ${num(a.f_x ?? NaN)} (LRP is not conservative through softmax and biases)`
        : `convergence delta = Σ attributions − (F(x) − F(baseline)); F(x) ${num(a.f_x ?? NaN)}, F(baseline) ${num(a.f_baseline ?? NaN)}${d.large ? ': large, try --steps auto or more steps' : ''}`)}">${d.large ? '⚠ ' : ''}${esc(d.text)}</span>`;
    return `<tr data-target="${esc(a.target)}"><td>${esc(options.trueLabel ?? '—')}</td><td>${esc(describePrediction(e))}</td><td><span class="target">${esc(a.target)}</span>${deltaLine}</td>` +
      `<td>${attributionScore(a.per_token).toFixed(2)}</td><td class="words">${marks}</td></tr>`;
  })).join('\n');
  const legend = [-1, -0.5, 0, 0.5, 1].map((v) => `<span class="swatch" style="background-color: ${captumColor(v)}">${v > 0 ? '+' : ''}${v}</span>`).join('');
  return `<table id="attributions" class="gradlens">
<thead><tr><th>True Label</th><th>Predicted Label</th><th>Attribution Label</th><th>Attribution Score</th><th>Word Importance</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="legend">Legend: ${legend} (token colour = attribution normalised by its L2 norm; hover a token for its value)</p>`;
}

/** The names of the input fields, in the order they are shown. */
const INPUT_LABELS: [string, string][] = [
  ['question', 'Question'], ['context', 'Context'], ['text', 'Text'], ['pair', 'Pair'], ['labels', 'Candidate labels'], ['template', 'Hypothesis template'],
];

/** The text segments of each task when rebuilt from the tokens. */
const SEGMENT_LABELS: Record<Explanation['task'], [string, string]> = {
  qa: ['Question', 'Context'], classify: ['Text', 'Pair'], tokens: ['Text', 'Pair'], 'zero-shot': ['Text', 'Hypothesis'],
};

const textOf = (v: ReportInput[string]): string | undefined =>
  typeof v === 'string' ? v : Array.isArray(v) ? v.map(String).join(', ') : undefined;

/** The context with the predicted answer marked (character offsets into the context the model was given). */
function markedContext(e: Explanation, context: string): string {
  const p = e.prediction as { start_char?: unknown; end_char?: unknown };
  const [s, t] = [p.start_char, p.end_char];
  if (e.task !== 'qa' || typeof s !== 'number' || typeof t !== 'number' || !(s >= 0 && s <= t && t <= context.length)) return esc(context);
  return `${esc(context.slice(0, s))}<mark class="answer-span">${esc(context.slice(s, t))}</mark>${esc(context.slice(t))}`;
}

/** Detokenized pieces as HTML, the QA answer tokens marked. */
function piecesHtml(pieces: TextPiece[], span: [number, number] | undefined): string {
  let out = '';
  let open = false;
  for (const p of pieces) {
    const inside = span !== undefined && p.index >= span[0] && p.index <= span[1];
    if (!inside && open) { out += '</mark>'; open = false; }
    if (p.space) out += ' ';
    if (inside && !open) { out += '<mark class="answer-span">'; open = true; }
    out += esc(p.text.split('\n').map(escapeControls).join('\n'));
  }
  return open ? `${out}</mark>` : out;
}

/** The input as text: what the caller gave, else rebuilt from the tokens (and said so). */
function renderInput(e: Explanation, input: ReportInput | undefined): string {
  const rows: string[] = [];
  const given = input !== undefined && Object.entries(input).some(([k, v]) => k !== 'unk' && textOf(v) !== undefined);
  if (given) {
    const known = new Set(INPUT_LABELS.map(([k]) => k));
    const keys: [string, string][] = [...INPUT_LABELS, ...Object.keys(input).filter((k) => !known.has(k) && k !== 'unk').map((k): [string, string] => [k, k])];
    for (const [key, label] of keys) {
      const text = textOf(input[key]);
      if (text === undefined) continue;
      rows.push(`<dt>${esc(label)}</dt><dd class="input-${esc(key)}">${key === 'context' ? markedContext(e, text) : esc(text)}</dd>`);
    }
    const hypothesis = (e.prediction as { hypothesis?: unknown }).hypothesis;
    if (e.task === 'zero-shot' && typeof hypothesis === 'string') rows.push(`<dt>Hypothesis</dt><dd class="input-hypothesis">${esc(hypothesis)}</dd>`);
    return `<dl class="input">\n${rows.join('\n')}\n</dl>`;
  }
  const segments = detokenize(e.tokens, unkMap(e, unkOf(input)));
  const names = SEGMENT_LABELS[e.task];
  const span = answerSpan(e);
  segments.forEach((pieces, i) => {
    const label = names[i] ?? `Text ${i + 1}`;
    rows.push(`<dt>${esc(label)}</dt><dd class="input-${esc(label.toLowerCase())}">${piecesHtml(pieces, span)}</dd>`);
  });
  return `<p class="note">The input, rebuilt from the tokens:</p>\n<dl class="input from-tokens">\n${rows.join('\n')}\n</dl>`;
}

function renderPrediction(e: Explanation): string {
  const parts = [`<p class="prediction">${esc(describePrediction(e))}</p>`];
  const answer = (e.prediction as { answer?: unknown }).answer;
  if (e.task === 'qa' && typeof answer === 'string') parts.push(`<p class="answer">Answer: <mark class="answer-text">${esc(answer)}</mark></p>`);
  return parts.join('\n');
}

/** The Captum class a method reproduces, for the settings list. */
function captumOf(method: string): string {
  try {
    return ` <span class="captum">(Captum: ${esc(methodSpec(method).captum)})</span>`;
  } catch {
    return '';
  }
}

/**
 * The attention methods' head view: for each target, a grid of layers × heads; each cell is the target row's
 * attention over the tokens as a strip of shaded boxes (darker: more attention), like bertviz's head view, static.
 */
export function renderAttentionView(e: Explanation, index?: number): string {
  const rows = e.attributions.filter((a) => a.attention && a.attention.weights.length > 0);
  if (rows.length === 0) return '';
  const n = e.tokens.length;
  const cell = Math.max(3, Math.min(10, Math.floor(360 / Math.max(1, n))));
  const strip = (weights: number[], label: string) => `<svg class="strip" width="${n * cell}" height="14" role="img" aria-label="${esc(label)}">${weights.map((w, j) =>
    `<rect x="${j * cell}" y="0" width="${cell}" height="14" fill="rgb(33, 102, 172)" fill-opacity="${Math.min(1, Math.max(0, w)).toFixed(3)}"><title>${esc(`${escapeControls(e.tokens[j] ?? '')}: ${w.toFixed(3)}`)}</title></rect>`).join('')}</svg>`;
  const grids = rows.map((a) => {
    const { layers, heads, weights } = a.attention!;
    const head = `<tr><th></th>${Array.from({ length: heads }, (_, h) => `<th>head ${h}</th>`).join('')}</tr>`;
    const body = weights.map((layer, l) => `<tr><th>layer ${l}</th>${layer.map((w, h) => `<td>${strip(w, `layer ${l} head ${h}`)}</td>`).join('')}</tr>`).join('\n');
    return `<h3>${esc(a.target)}${a.position !== undefined ? ` (row of token ${a.position}, ${esc(escapeControls(e.tokens[a.position] ?? ''))})` : ''}: ${layers} layers × ${heads} heads</h3>
<table class="heads">${head}\n${body}</table>`;
  }).join('\n');
  return `<section class="attention"${index !== undefined ? ` data-index="${index}"` : ''}>
<h2>Attention by layer and head</h2>
<p class="note">Each strip is the target row of one head's attention probabilities over the ${n} tokens, left to right (${e.tokens.slice(0, 12).map((t) => esc(escapeControls(t))).join(' ')}${n > 12 ? ' …' : ''}); hover a box for its token and weight.</p>
${grids}
</section>`;
}

function renderSettings(e: Explanation): string {
  const items = settingsUsed(e).map((s) => `<li data-setting="${esc(s.key)}"><strong>${esc(s.label)}</strong>: ${esc(s.value)}${s.key === 'method' ? captumOf(s.value) : ''}</li>`);
  return `<ul class="settings">\n${items.join('\n')}\n</ul>`;
}

function renderWarnings(e: Explanation): string {
  if (e.warnings.length === 0) return '<p class="no-warnings">No warnings.</p>';
  return `<ul class="warnings">\n${e.warnings.map((w) => `<li>⚠ ${esc(w)}</li>`).join('\n')}\n</ul>`;
}

const distinct = <T>(xs: T[]): T[] => [...new Set(xs)];

/**
 * A self-contained HTML report (no scripts, no network): the model and task, the input as text, the prediction
 * (for QA the answer, marked in the context), every warning, Captum's visualize_text table (one row per target,
 * exact values on hover, the convergence delta under each target label), a legend and the settings actually used.
 */
export function renderHtml(explanations: Explanation[], options: HtmlOptions = {}): string {
  const models = distinct(explanations.map((e) => e.model));
  const tasks = distinct(explanations.map((e) => e.task));
  const subject = `${tasks.map((t) => `${(TASK_TITLES as Record<string, string | undefined>)[t] ?? t} (${t})`).join(', ')} with ${models.join(', ')}`;
  const many = explanations.length > 1;
  const sections = explanations.map((e, k) => {
    const heading = many ? `<h2>Example ${k + 1}${models.length > 1 || tasks.length > 1 ? `: ${esc(e.task)} with ${esc(e.model)}` : ''}</h2>\n` : '';
    const h = many ? 'h3' : 'h2';
    return `<section class="explanation" data-index="${k}">
${heading}<${h}>Input</${h}>
${renderInput(e, options.inputs?.[k])}
<${h}>Prediction</${h}>
${renderPrediction(e)}
<${h}>Warnings</${h}>
${renderWarnings(e)}
</section>`;
  }).join('\n');
  const settings = explanations.map((e, k) => `${many ? `<h3>Example ${k + 1}</h3>\n` : ''}${renderSettings(e)}`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradlens: ${esc(subject)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
dl.input dt { font-weight: 600; margin-top: 0.5em; }
dl.input dd { margin: 0.2em 0 0 1.5em; white-space: pre-wrap; unicode-bidi: plaintext; max-width: 60em; }
mark.answer-span, mark.answer-text { background: #d1f4d9; box-shadow: 0 0 0 2px #1a7f37; border-radius: 2px; }
ul.warnings li { color: #9a3412; }
p.note { color: #555; font-size: 0.9em; }
${REPORT_CSS}
</style></head>
<body>
<h1>gradlens: ${esc(subject)}</h1>
${sections}
<h2>Attributions</h2>
${renderTable(explanations, options)}
${explanations.map((e, k) => renderAttentionView(e, many ? k : undefined)).join('\n')}
<h2>Settings</h2>
${settings}
</body></html>
`;
}
