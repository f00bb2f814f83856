// Views of a generation explanation: the generated text, then the attribution matrix — earlier tokens × generated
// tokens, like Inseq's — as coloured tokens step by step (text), or as a heatmap with hover values (HTML, SVG).
import type { GenerationExplanation } from '../tasks/generate.js';
import { captumColor, captumRgb } from './colors.js';
import { escapeControls, escapeHtml as esc } from './escape.js';
import { displayToken, num } from './report.js';

const RESET = '\x1b[0m', BLACK = '\x1b[30m';
const bg = (v: number): string => {
  const [r, g, b] = captumRgb(v);
  return `\x1b[48;2;${r};${g};${b}m`;
};

const settingsLine = (e: GenerationExplanation): string => {
  const s = e.settings;
  const integral = e.attributions.some((a) => a.delta !== null && a.f_baseline !== null);
  return `method ${s.method} on ${e.attributions[0]?.layer ?? '?'}, target ${s.contrastive ? 'logprob − contrast logprob' : s.target_fn}, baseline ${s.baseline}` +
    (integral ? `, ${s.steps} steps (${s.integration})` : '') + (s.forced ? ', forced decoding' : ', greedy decoding');
};

export function renderGenerationText(e: GenerationExplanation, color: boolean): string {
  const lines = [`generate · ${escapeControls(e.model)}`, settingsLine(e), `prompt: ${escapeControls(e.tokens.slice(0, e.prompt_length).map(displayToken).join(' '))}`,
    `generated: ${escapeControls(JSON.stringify(e.text))} (${e.generated.length} tokens)`];
  for (const w of e.warnings) lines.push(`warning: ${escapeControls(w)}`);
  for (const a of e.attributions) {
    const head = `[step ${a.step}] → ${escapeControls(displayToken(a.target))}${a.contrast !== undefined ? ` (vs ${escapeControls(displayToken(a.contrast))})` : ''}` +
      (a.f_x !== null ? `, F(x) ${num(a.f_x)}` : '') + (a.f_baseline !== null ? `, F(baseline) ${num(a.f_baseline)}` : '') +
      (a.delta !== null ? `, ${a.f_baseline === null ? 'conservation gap' : 'convergence delta'} ${num(a.delta)}` : '');
    const toks = a.normalized.map((v, i) => {
      const t = escapeControls(displayToken(e.tokens[i]!));
      if (!color) return `${t}(${v >= 0 ? '+' : ''}${v.toFixed(2)})`;
      return Math.abs(v) > 0.05 ? `${bg(v)}${BLACK}${t}${RESET}` : t;
    });
    lines.push('', head, toks.join(' '));
  }
  return `${lines.join('\n')}\n`;
}

/** The matrix as an HTML table: a row per earlier token, a column per generated token; empty where j ≥ the step's position. */
function heatmapTable(e: GenerationExplanation): string {
  const head = `<tr><th></th>${e.attributions.map((a) => `<th class="gen" title="step ${a.step}: ${esc(a.target)}">${esc(escapeControls(displayToken(a.target)))}</th>`).join('')}</tr>`;
  const rows = e.tokens.slice(0, e.prompt_length + e.attributions.length - 1).map((tok, i) => {
    const cells = e.attributions.map((a) => {
      if (i >= a.per_token.length) return '<td class="none"></td>';
      const v = a.normalized[i]!;
      return `<td style="background-color: ${captumColor(v)}" title="${esc(`${escapeControls(tok)} → ${escapeControls(a.target)}: ${a.per_token[i]!.toExponential(3)} (normalised ${v.toFixed(3)})`)}" data-value="${v}"></td>`;
    }).join('');
    return `<tr${i < e.prompt_length ? '' : ' class="generated"'}><th>${esc(escapeControls(displayToken(tok)))}</th>${cells}</tr>`;
  }).join('\n');
  return `<table class="heatmap">${head}\n${rows}</table>`;
}

export function renderGenerationHtml(e: GenerationExplanation): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradlens: generation with ${esc(e.model)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.prompt { white-space: pre-wrap; } .continuation { background: #d1f4d9; white-space: pre-wrap; }
table.heatmap { border-collapse: collapse; font-family: ui-monospace, monospace; font-size: 0.85em; }
table.heatmap td { width: 2.2em; height: 1.4em; border: 1px solid #eee; }
table.heatmap td.none { background: #fafafa; }
table.heatmap th { font-weight: normal; padding: 1px 6px; text-align: right; white-space: pre; }
table.heatmap th.gen { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; vertical-align: bottom; }
table.heatmap tr.generated th { color: #1a7f37; }
p.note { color: #555; font-size: 0.9em; }
ul.warnings li { color: #9a3412; }
</style></head>
<body>
<h1>gradlens: generation with ${esc(e.model)}</h1>
<p><span class="prompt">${esc(e.tokens.slice(0, e.prompt_length).map(displayToken).join(' '))}</span> → <span class="continuation">${esc(e.text)}</span></p>
<p class="note">${esc(settingsLine(e))}. Each column is one generated token; each cell the attribution of an earlier token (rows; generated ones in green) to it, normalised per column by its L2 norm (green for it, red against it; hover for the value).</p>
${e.warnings.length ? `<ul class="warnings">${e.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
${heatmapTable(e)}
</body></html>
`;
}

export function renderGenerationSvg(e: GenerationExplanation): string {
  const cell = 18, left = 120, top = 80;
  const rowsCount = e.prompt_length + e.attributions.length - 1;
  // Room on the right for the last column's label, drawn rotated up and to the right.
  const width = left + e.attributions.length * cell + 100, height = top + rowsCount * cell + 20;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`];
  e.attributions.forEach((a, c) => parts.push(`<text transform="translate(${left + c * cell + 12},${top - 4}) rotate(-60)">${esc(escapeControls(displayToken(a.target)))}</text>`));
  e.tokens.slice(0, rowsCount).forEach((t, r) => {
    parts.push(`<text x="${left - 4}" y="${top + r * cell + 13}" text-anchor="end"${r >= e.prompt_length ? ' fill="#1a7f37"' : ''}>${esc(escapeControls(displayToken(t)))}</text>`);
    e.attributions.forEach((a, c) => {
      if (r >= a.per_token.length) return;
      parts.push(`<rect x="${left + c * cell}" y="${top + r * cell}" width="${cell - 1}" height="${cell - 1}" fill="${captumColor(a.normalized[r]!)}"><title>${esc(`${escapeControls(t)} → ${escapeControls(a.target)}: ${a.per_token[r]!.toExponential(3)}`)}</title></rect>`);
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
