import type { Explanation } from '../tasks/common.js';
import { captumRgb } from './colors.js';
import { escapeControls } from './escape.js';
import { attributionScore, describePrediction, displayToken, settingsLine } from './report.js';

/** Terminal view: coloured tokens (green positive, red negative) when colour is on, else tokens with values. */
export function renderText(e: Explanation, color: boolean): string {
  // Everything that comes from the model or the input is escaped (viz/escape.ts); only our colour codes stay raw.
  const lines = [`${e.task} · ${e.model}`, describePrediction(e), settingsLine(e)].map(escapeControls);
  for (const w of e.warnings) lines.push(escapeControls(`warning: ${w}`));
  for (const a of e.attributions) {
    lines.push('');
    const delta = a.delta === null ? '' : `, convergence delta ${a.delta.toExponential(2)}`;
    lines.push(escapeControls(`[${a.target}] attribution score ${attributionScore(a.per_token).toFixed(4)}${delta}`));
    const toks = e.tokens.map((t, i) => {
      const v = a.normalized[i]!;
      const shown = escapeControls(displayToken(t));
      if (!color) return `${shown}(${v >= 0 ? '+' : ''}${v.toFixed(2)})`;
      const [r, g, b] = captumRgb(v);
      return `\x1b[48;2;${r};${g};${b}m\x1b[38;2;0;0;0m${shown}\x1b[0m`;
    });
    lines.push(toks.join(' '));
  }
  if (color) lines.push('', `legend: \x1b[48;2;${captumRgb(-1).join(';')}m\x1b[38;2;0;0;0m negative \x1b[0m \x1b[48;2;255;255;255m\x1b[38;2;0;0;0m neutral \x1b[0m \x1b[48;2;${captumRgb(1).join(';')}m\x1b[38;2;0;0;0m positive \x1b[0m`);
  return lines.join('\n');
}
