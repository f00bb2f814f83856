import type { Explanation } from '../tasks/common.js';
import { captumColor } from './colors.js';
import { attributionScore, describePrediction, displayToken, settingsLine } from './report.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The report's styles (the web app uses them too, so its table is the report's table). */
export const REPORT_CSS = `
table.gradlens { border-collapse: collapse; }
table.gradlens th, table.gradlens td { border: 1px solid #ccc; padding: 6px 8px; text-align: left; vertical-align: top; }
table.gradlens th { background: #f4f4f4; }
table.gradlens td.words { line-height: 2em; max-width: 60em; }
mark.tok { padding: 2px 3px; border-radius: 3px; color: #000; font-family: ui-monospace, monospace; unicode-bidi: isolate; }
mark.tok:hover { outline: 1px solid #333; }
mark.tok.answer { box-shadow: 0 0 0 2px #1a7f37; }
.swatch { display: inline-block; padding: 2px 10px; margin-right: 2px; font-size: 0.85em; color: #000; }
`;

/** The answer span of a QA explanation (token positions), for marking it in the Word Importance row. */
function answerSpan(e: Explanation): [number, number] | undefined {
  const p = e.prediction as { start?: unknown; end?: unknown };
  return e.task === 'qa' && typeof p.start === 'number' && typeof p.end === 'number' ? [p.start, p.end] : undefined;
}

/**
 * Captum's visualize_text table (True Label, Predicted Label, Attribution Label, Attribution Score, Word Importance),
 * one row per target, exact values on hover, the QA answer span outlined; with the colour legend.
 */
export function renderTable(explanations: Explanation[], options: { trueLabel?: string } = {}): string {
  const rows = explanations.flatMap((e) => e.attributions.map((a) => {
    const span = answerSpan(e);
    const marks = e.tokens.map((t, i) => {
      const v = a.normalized[i]!;
      const inAnswer = span !== undefined && i >= span[0] && i <= span[1];
      return `<mark class="tok${inAnswer ? ' answer' : ''}" data-index="${i}" data-value="${v}" title="${esc(`${t}: ${v.toFixed(4)} (raw ${a.per_token[i]!.toExponential(3)})${inAnswer ? ' · in the answer' : ''}`)}" style="background-color: ${captumColor(v)}">${esc(displayToken(t))}</mark>`;
    }).join(' ');
    return `<tr data-target="${esc(a.target)}"><td>${esc(options.trueLabel ?? '—')}</td><td>${esc(describePrediction(e))}</td><td>${esc(a.target)}</td>` +
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

/**
 * A self-contained HTML report (no scripts from elsewhere, no network): Captum's visualize_text table, one row per
 * target, exact values on hover, a legend and the settings used.
 */
export function renderHtml(explanations: Explanation[], options: { trueLabel?: string } = {}): string {
  const settings = explanations.map((e) => {
    const deltas = e.attributions.map((a) => `${esc(a.target)}: ${a.delta === null ? 'n/a' : a.delta.toExponential(2)}`).join(', ');
    return `<li>${esc(e.model)} (${esc(e.task)}): ${esc(settingsLine(e))}; convergence delta ${deltas}</li>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gradlens report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
${REPORT_CSS}
</style></head>
<body>
<h1>gradlens</h1>
${renderTable(explanations, options)}
<h2>Settings</h2>
<ul class="settings">
${settings}
</ul>
</body></html>
`;
}
