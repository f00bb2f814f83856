import type { Explanation } from '../tasks/common.js';
import { captumColor } from './colors.js';
import { describePrediction, displayToken } from './report.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A standalone SVG heatmap: one row of token boxes per target, coloured as in the HTML report. */
export function renderSvg(e: Explanation): string {
  const charW = 7.8, pad = 6, boxH = 22, gap = 4, labelW = 110, width = 900;
  const lines: string[] = [];
  let y = 30;
  lines.push(`<text x="${pad}" y="18" font-size="14" font-weight="bold">${esc(`${e.task} · ${describePrediction(e)}`)}</text>`);
  for (const a of e.attributions) {
    let x = labelW;
    lines.push(`<text x="${pad}" y="${y + 15}" font-size="12">${esc(a.target)}</text>`);
    e.tokens.forEach((t, i) => {
      const label = displayToken(t);
      const w = label.length * charW + 2 * pad;
      if (x + w > width - pad) { x = labelW; y += boxH + gap; }
      const v = a.normalized[i]!;
      lines.push(`<g><title>${esc(`${t}: ${v.toFixed(4)}`)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${boxH}" rx="3" fill="${captumColor(v)}" stroke="#ddd"/>` +
        `<text x="${(x + pad).toFixed(1)}" y="${y + 15}" font-size="13" font-family="monospace">${esc(label)}</text></g>`);
      x += w + gap;
    });
    y += boxH + 2 * gap + 6;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 4}" viewBox="0 0 ${width} ${y + 4}">
<rect width="100%" height="100%" fill="#fff"/>
${lines.join('\n')}
</svg>
`;
}
