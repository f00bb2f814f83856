import type { Explanation } from '../tasks/common.js';
import { captumColor } from './colors.js';
import { escapeControls, escapeHtml } from './escape.js';
import { attributionScore, deltaSummary, describePrediction, displayToken, viewOf } from './report.js';

/** XML text: control characters (not allowed in XML 1.0) shown as visible escapes, markup characters escaped. */
const esc = (s: string): string => escapeHtml(escapeControls(s));

/** The legend's scale: swatches from −1 to +1, numbers under −1, −0.5, 0, +0.5, +1. */
const LEGEND_STEPS = [-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1];
const LEGEND_LABELS = new Set([-1, -0.5, 0, 0.5, 1]);

/**
 * A standalone SVG heatmap: one row of token boxes per target, coloured as in the HTML report; next to each target
 * label its attribution score and convergence delta (⚠ when large); a colour legend from −1 to +1 at the bottom.
 */
export function renderSvg(full: Explanation): string {
  const e = viewOf(full);
  const charW = 7.8, pad = 6, boxH = 22, gap = 4, labelW = 160, width = 900;
  const lines: string[] = [];
  let y = 30;
  lines.push(`<text x="${pad}" y="18" font-size="14" font-weight="bold">${esc(`${e.task} · ${e.model} · ${describePrediction(e)}`)}</text>`);
  for (const a of e.attributions) {
    let x = labelW;
    const top = y;
    const score = attributionScore(a.per_token);
    const d = deltaSummary(a);
    lines.push(`<g class="row-label"><text x="${pad}" y="${top + 15}" font-size="12" font-weight="bold">${esc(a.target)}</text>` +
      `<text class="score" x="${pad}" y="${top + 29}" font-size="10" fill="#333">score ${score.toFixed(2)}</text>` +
      (d === undefined ? '' : `<text class="delta${d.large ? ' large' : ''}" x="${pad}" y="${top + 42}" font-size="10" fill="${d.large ? '#9a3412' : '#555'}">${d.large ? '⚠ ' : ''}${esc(d.text)}</text>`) +
      '</g>');
    e.tokens.forEach((t, i) => {
      const label = escapeControls(displayToken(t));
      const w = label.length * charW + 2 * pad;
      if (x + w > width - pad && x > labelW) { x = labelW; y += boxH + gap; }
      const v = a.normalized[i]!;
      lines.push(`<g><title>${esc(`${t}: ${v.toFixed(4)}`)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${boxH}" rx="3" fill="${captumColor(v)}" stroke="#ddd"/>` +
        `<text x="${(x + pad).toFixed(1)}" y="${y + 15}" font-size="13" font-family="monospace">${esc(label)}</text></g>`);
      x += w + gap;
    });
    // The label block (target, score, delta) is taller than one row of boxes.
    y = Math.max(y + boxH, top + (d === undefined ? 32 : 46)) + 2 * gap + 6;
  }
  // Legend: a scale of swatches (not token boxes: their rects name their class first).
  const sw = 36, sh = 14, lx = labelW;
  const legend: string[] = [`<g class="legend"><text x="${pad}" y="${y + 11}" font-size="11">Legend</text>`];
  LEGEND_STEPS.forEach((v, i) => {
    const x = lx + i * sw;
    legend.push(`<rect class="legend-swatch" data-value="${v}" x="${x}" y="${y}" width="${sw}" height="${sh}" fill="${captumColor(v)}" stroke="#ccc"/>`);
    if (LEGEND_LABELS.has(v)) legend.push(`<text x="${x + sw / 2}" y="${y + sh + 12}" font-size="10" text-anchor="middle">${v > 0 ? '+' : v < 0 ? '−' : ''}${Math.abs(v)}</text>`);
  });
  legend.push(`<text x="${lx + LEGEND_STEPS.length * sw + 10}" y="${y + 11}" font-size="10" fill="#555">colour = attribution / its L2 norm (−1 against, +1 for the target)</text></g>`);
  lines.push(legend.join(''));
  y += sh + 18;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 4}" viewBox="0 0 ${width} ${y + 4}">
<rect width="100%" height="100%" fill="#fff"/>
${lines.join('\n')}
</svg>
`;
}
