// The views of an evaluation (gradlens evaluate) and of a global summary (gradlens summarize): a text table, and
// HTML with the table and Vega-Lite charts rendered to SVG.
import type { Evaluation, MethodSummary } from '../tasks/evaluate.js';
import type { GlobalSummary } from '../tasks/summarize.js';
import { escapeControls, escapeHtml as esc } from './escape.js';
import { barsSpec, curvesSpec, vegaLiteSvg, type CurvePoint } from './charts.js';

const fmt = (v: number | null, digits = 3): string => (v === null || !Number.isFinite(v) ? '—' : Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(digits));

const COLUMNS: { title: string; better: string; get(m: MethodSummary): string }[] = [
  { title: 'method', better: '', get: (m) => m.method },
  { title: 'target', better: '', get: (m) => m.target },
  { title: 'comprehensiveness', better: '↑', get: (m) => fmt(m.aopc_comprehensiveness) },
  { title: 'sufficiency', better: '↓', get: (m) => fmt(m.aopc_sufficiency) },
  { title: 'τ-LOO', better: '↑', get: (m) => fmt(m.tau_loo) },
  { title: 'infidelity', better: '↓', get: (m) => fmt(m.infidelity) },
  { title: 'sensitivity', better: '↓', get: (m) => fmt(m.sensitivity_max) },
  { title: 's/example', better: '', get: (m) => fmt(m.seconds_per_example, 2) },
  { title: 'examples', better: '', get: (m) => `${m.examples}${m.failed ? ` (${m.failed} failed)` : ''}` },
];

export function renderEvaluationText(ev: Evaluation): string {
  const head = COLUMNS.map((c) => `${c.title}${c.better ? ` ${c.better}` : ''}`);
  const rows = ev.methods.map((m) => COLUMNS.map((c) => escapeControls(c.get(m))));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const failed = ev.examples.filter((e) => e.error !== undefined || e.errors);
  return [
    `evaluate ${ev.task} · ${escapeControls(ev.model)} · ${ev.examples.length} examples`,
    '',
    line(head),
    line(widths.map((w) => '─'.repeat(w))),
    ...rows.map(line),
    '',
    ...ev.notes.map((n) => `· ${n}`),
    ...(failed.length ? ['', `failed (${failed.length}):`, ...failed.map((e) => `  ${escapeControls(e.id)} (line ${e.line + 1}): ${escapeControls(e.error ?? Object.entries(e.errors!).map(([m, msg]) => `${m}: ${msg}`).join('; '))}`)] : []),
  ].join('\n') + '\n';
}

export async function renderEvaluationHtml(ev: Evaluation, summary?: GlobalSummary): Promise<string> {
  const points: CurvePoint[] = ev.methods.flatMap((m) => m.curves.q.flatMap((q, s) => [
    { method: m.method, target: m.target, curve: 'top q deleted (comprehensiveness)', q, p: m.curves.comprehensiveness[s]! },
    { method: m.method, target: m.target, curve: 'only top q kept (sufficiency)', q, p: m.curves.sufficiency[s]! },
  ]));
  const chart = ev.metrics.includes('aopc') ? await vegaLiteSvg(curvesSpec(points)) : '';
  const table = `<table class="gradlens evaluation"><thead><tr>${COLUMNS.map((c) => `<th>${esc(c.title)}${c.better ? ` <span title="${c.better === '↑' ? 'higher is better' : 'lower is better'}">${c.better}</span>` : ''}</th>`).join('')}</tr></thead>
<tbody>
${ev.methods.map((m) => `<tr data-method="${esc(m.method)}" data-target="${esc(m.target)}">${COLUMNS.map((c) => `<td>${esc(c.get(m))}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
  const failed = ev.examples.filter((e) => e.error !== undefined || e.errors);
  return page(`gradlens evaluate: ${ev.task} with ${ev.model}`, `
<p>${ev.examples.length} examples; methods ${ev.methods.map((m) => m.method).filter((m, i, a) => a.indexOf(m) === i).map(esc).join(', ')}.</p>
<h2>Faithfulness</h2>
${table}
<ul class="notes">${ev.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
${chart ? `<h2>Perturbation curves</h2>\n<p class="note">Mean probability of the predicted class as the top-attributed share q of the tokens is deleted (left: the faster it falls, the better) or kept alone (right: the faster it rises, the better).</p>\n<figure class="chart" id="curves">${chart}</figure>` : ''}
${failed.length ? `<h2>Failed examples</h2><ul class="failed">${failed.map((e) => `<li>${esc(e.id)} (line ${e.line + 1}): ${esc(e.error ?? Object.entries(e.errors!).map(([m, msg]) => `${m}: ${msg}`).join('; '))}</li>`).join('')}</ul>` : ''}
${summary ? await summarySection(summary) : ''}`);
}

export function renderSummaryText(s: GlobalSummary): string {
  const lines = [`global explanation: mean ${s.value} attribution per ${s.by}, top ${s.top}${s.min_count > 1 ? `, seen at least ${s.min_count} times` : ''}`];
  for (const g of s.groups) {
    lines.push('', `${escapeControls(g.label)} (${g.explanations} explanations)`);
    const w = Math.max(4, ...g.items.map((i) => escapeControls(i.item).length));
    for (const i of g.items) lines.push(`  ${escapeControls(i.item).padEnd(w)}  ${i.mean >= 0 ? '+' : ''}${i.mean.toFixed(4)}  ×${i.count}`);
  }
  if (s.skipped) lines.push('', `${s.skipped} records without a usable explanation (error lines) were skipped`);
  return `${lines.join('\n')}\n`;
}

async function summarySection(s: GlobalSummary): Promise<string> {
  const data = s.groups.flatMap((g) => g.items.map((i) => ({ group: `${g.label} (${g.explanations})`, item: i.item, value: i.mean, count: i.count })));
  const chart = data.length ? await vegaLiteSvg(barsSpec(data, `mean ${s.value} attribution`)) : '<p>No items.</p>';
  return `<h2>Global explanation</h2>
<p class="note">Per predicted label, the ${s.by}s with the largest mean attribution (each explanation normalised by its L2 norm), with how often each was seen${s.min_count > 1 ? ` (at least ${s.min_count} times)` : ''}.</p>
<figure class="chart" id="global">${chart}</figure>`;
}

export async function renderSummaryHtml(s: GlobalSummary, title: string): Promise<string> {
  return page(`gradlens summarize: ${title}`, await summarySection(s));
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.gradlens { border-collapse: collapse; }
table.gradlens th, table.gradlens td { border: 1px solid #ccc; padding: 6px 10px; text-align: right; }
table.gradlens th:nth-child(-n+2), table.gradlens td:nth-child(-n+2) { text-align: left; }
table.gradlens th { background: #f4f4f4; }
ul.notes, p.note { color: #555; font-size: 0.9em; max-width: 70em; }
ul.failed li { color: #9a3412; }
figure.chart { margin: 1em 0; }
</style></head>
<body>
<h1>${esc(title)}</h1>
${body}
</body></html>
`;
}
