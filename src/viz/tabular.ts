// A tabular explanation: one bar per feature (SVG by Vega-Lite), a terminal table, and an HTML page with both.
import type { TopLevelSpec } from 'vega-lite';
import type { TabularExplanation } from '../tasks/tabular.js';
import { vegaLiteSvg } from './charts.js';
import { escapeControls, escapeHtml as esc } from './escape.js';
import { REPORT_CSS } from './html.js';

const fmt = (v: number) => (v === 0 || (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5) ? String(Number(v.toFixed(4))) : v.toExponential(3));

function title(e: TabularExplanation): string {
  const p = e.prediction;
  return 'value' in p ? `${e.method}: prediction ${fmt(p.value)}` : `${e.method}: why ${e.target.label}? (predicted ${p.label}, ${(100 * p.probability).toFixed(1)}%)`;
}

/** Features by |attribution|, largest first, as a horizontal bar chart (positive blue, negative red). */
export function tabularSpec(e: TabularExplanation): TopLevelSpec {
  const data = e.features.map((f, i) => ({ feature: `${f.name} = ${fmt(f.value)}`, attribution: f.attribution, order: i, abs: Math.abs(f.attribution) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title(e), anchor: 'start', fontSize: 13 },
    data: { values: data },
    config: { font: 'system-ui, sans-serif', view: { stroke: null } },
    width: 380,
    mark: 'bar',
    encoding: {
      y: { field: 'feature', type: 'nominal', sort: { field: 'abs', order: 'descending' }, title: null },
      x: { field: 'attribution', type: 'quantitative', title: `attribution to ${e.target.label}` },
      color: { condition: { test: 'datum.attribution < 0', value: '#d6604d' }, value: '#4393c3' },
      tooltip: [{ field: 'feature' }, { field: 'attribution', format: '.5f' }],
    },
  } as TopLevelSpec;
}

export const renderTabularSvg = (e: TabularExplanation): Promise<string> => vegaLiteSvg(tabularSpec(e));

/** Terminal view: features by |attribution| with a bar of ▇ scaled to the largest. */
export function renderTabularText(e: TabularExplanation, color: boolean): string {
  const rows = [...e.features].sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  const max = Math.max(...rows.map((r) => Math.abs(r.attribution)), 1e-300);
  const nameW = Math.min(32, Math.max(...rows.map((r) => r.name.length), 7));
  const lines = [title(e), `model ${escapeControls(e.model)} · ${e.captum}${e.baseline ? ` · baseline ${e.baseline}` : ''}${e.delta !== null ? ` · delta ${fmt(e.delta)}` : ''}`, ''];
  lines.push(`${'feature'.padEnd(nameW)}  ${'value'.padStart(10)}  ${'attribution'.padStart(12)}`);
  for (const r of rows) {
    const n = Math.round((Math.abs(r.attribution) / max) * 24);
    const bar = '▇'.repeat(n);
    const painted = color && n > 0 ? `\x1b[${r.attribution < 0 ? 31 : 34}m${bar}\x1b[0m` : bar;
    lines.push(`${escapeControls(r.name).slice(0, nameW).padEnd(nameW)}  ${fmt(r.value).padStart(10)}  ${fmt(r.attribution).padStart(12)}  ${r.attribution < 0 ? '−' : '+'}${painted}`);
  }
  for (const w of e.warnings) lines.push(`warning: ${escapeControls(w)}`);
  return `${lines.join('\n')}\n`;
}

export async function renderTabularHtml(e: TabularExplanation): Promise<string> {
  const svg = await renderTabularSvg(e);
  const rows = e.features.map((f) => `<tr><td>${esc(f.name)}</td><td>${fmt(f.value)}</td>${e.baseline ? `<td>${f.baseline === null ? '' : fmt(f.baseline)}</td>` : ''}<td>${fmt(f.attribution)}</td></tr>`).join('');
  const json = JSON.stringify(e).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gradlens: ${esc(e.method)} on ${esc(e.target.label)}</title><style>${REPORT_CSS}</style></head>
<body>
<h1>${esc(title(e))}</h1>
<p>${esc(e.model)} · ${esc(e.captum)}${e.delta !== null ? ` · convergence delta ${fmt(e.delta)}` : ''}</p>
${e.warnings.map((w) => `<p>⚠ ${esc(w)}</p>`).join('')}
${svg}
<table class="gradlens"><tr><th>feature</th><th>value</th>${e.baseline ? '<th>baseline</th>' : ''}<th>attribution</th></tr>${rows}</table>
<script type="application/json" id="gradlens-explanation">${json}</script>
</body></html>
`;
}
