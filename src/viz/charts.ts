// Charts as SVG, from Vega-Lite specifications rendered by Vega itself (no browser, no canvas): the evaluation's
// perturbation curves and the global explanations' bar charts.
import type { TopLevelSpec } from 'vega-lite';

/** Renders a Vega-Lite specification to a standalone SVG string (Vega is loaded on first use: it is large). */
export async function vegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const FONT = { font: 'system-ui, -apple-system, Segoe UI, sans-serif', labelFont: 'system-ui, sans-serif', titleFont: 'system-ui, sans-serif' };

export interface CurvePoint { method: string; target: string; curve: string; q: number; p: number | null }

/**
 * The AOPC perturbation curves: mean probability of the class against q, with the top ⌈q·n⌉ tokens deleted
 * (comprehensiveness: falling fast is good) and with only them kept (sufficiency: rising fast is good); one line per
 * method, one panel per curve (and per target for qa).
 */
export function curvesSpec(points: CurvePoint[]): TopLevelSpec {
  const targets = [...new Set(points.map((p) => p.target))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: points.filter((p) => p.p !== null && Number.isFinite(p.p)) },
    config: { ...FONT, view: { stroke: '#ddd' } },
    facet: {
      column: { field: 'curve', type: 'nominal', title: null, sort: ['top q deleted (comprehensiveness)', 'only top q kept (sufficiency)'] },
      ...(targets.length > 1 ? { row: { field: 'target', type: 'nominal', title: 'target', sort: targets } } : {}),
    },
    spec: {
      width: 300, height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'q', type: 'quantitative', title: 'q (share of tokens, by attribution)', scale: { domain: [0, 1] } },
        y: { field: 'p', type: 'quantitative', title: 'p(predicted class)', scale: { domain: [0, 1] } },
        color: { field: 'method', type: 'nominal', title: 'method' },
        tooltip: [{ field: 'method' }, { field: 'q' }, { field: 'p', format: '.3f' }],
      },
    },
  } as TopLevelSpec;
}

export interface BarDatum { group: string; item: string; value: number; count: number }

/** SHAP's global bar plot, for text: per group (a predicted label), the items with the largest mean attribution. */
export function barsSpec(data: BarDatum[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: data.map((d) => ({ ...d, label: `${d.item} (${d.count})` })) },
    config: { ...FONT, view: { stroke: null } },
    facet: { row: { field: 'group', type: 'nominal', title: null, header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' } } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 360,
      mark: 'bar',
      encoding: {
        y: { field: 'label', type: 'nominal', sort: '-x', title: null },
        x: { field: 'value', type: 'quantitative', title },
        color: { condition: { test: 'datum.value < 0', value: '#d6604d' }, value: '#4393c3' },
        tooltip: [{ field: 'item' }, { field: 'value', format: '.4f' }, { field: 'count' }],
      },
    },
  } as TopLevelSpec;
}
