/**
 * Captum's visualize_image_attr, pixel for pixel: the attributions summed over channels, one sign kept, scaled by the
 * cumulative-sum threshold that leaves out the top `outlier_perc` percent, clipped to [−1, 1], then drawn as
 * heat_map, blended_heat_map, masked_image or alpha_scaling with matplotlib's colormaps (256-entry tables, as
 * matplotlib builds them). The views are laid side by side with the image in one PNG.
 */
import { encodeRgbPng, type RgbImage } from '../models/image.js';
import { escapeHtml as esc } from './escape.js';
import { REPORT_CSS } from './html.js';
import { bytesToBase64, type ImageExplanation } from '../tasks/image.js';


export const SIGNS = ['absolute_value', 'positive', 'negative', 'all'] as const;
export type Sign = (typeof SIGNS)[number];
export const VIEWS = ['heat_map', 'blended_heat_map', 'masked_image', 'alpha_scaling'] as const;
export type View = (typeof VIEWS)[number];

/** Captum's _cumulative_sum_threshold: the smallest sorted value whose cumulative sum reaches `percentile` % of the total. */
export function cumulativeSumThreshold(values: ArrayLike<number>, percentile: number): number {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const total = sorted.reduce((a, b) => a + b, 0);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    sum += sorted[i]!;
    if (sum >= total * 0.01 * percentile) return sorted[i]!;
  }
  return sorted[sorted.length - 1] ?? 0;
}

/**
 * Captum's _normalize_attr with reduction over the channel axis: per pixel Σ_c attr, the sign's values, divided by
 * the threshold and clipped to [−1, 1]. `attr` is channels last (H·W·channels). A zero threshold (nothing of that
 * sign) gives zeros (Captum asserts instead).
 */
export function normalizeAttr(attr: ArrayLike<number>, channels: number, sign: Sign, outlierPerc = 2): Float64Array {
  const n = attr.length / channels;
  const combined = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += Number(attr[i * channels + c]);
    combined[i] = s;
  }
  let values: Float64Array, threshold: number;
  switch (sign) {
    case 'all':
      values = combined;
      threshold = cumulativeSumThreshold(combined.map(Math.abs), 100 - outlierPerc);
      break;
    case 'positive':
      values = combined.map((v) => (v > 0 ? v : 0));
      threshold = cumulativeSumThreshold(values, 100 - outlierPerc);
      break;
    case 'negative':
      values = combined.map((v) => (v < 0 ? v : 0));
      threshold = -cumulativeSumThreshold(values.map(Math.abs), 100 - outlierPerc);
      break;
    case 'absolute_value':
      values = combined.map(Math.abs);
      threshold = cumulativeSumThreshold(values, 100 - outlierPerc);
      break;
  }
  if (threshold === 0) return new Float64Array(n);
  return values.map((v) => Math.min(1, Math.max(-1, v / threshold)) + 0); // + 0: no −0
}

type Rgb = [number, number, number];
const hex = (h: string): Rgb => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255) as Rgb;
/** matplotlib's ColorBrewer sequential maps (9 stops) and Captum's RdWhGn (red, white, green = #008000). */
const STOPS: Record<'Greens' | 'Reds' | 'Blues' | 'RdWhGn' | 'gray', Rgb[]> = {
  Greens: ['#f7fcf5', '#e5f5e0', '#c7e9c0', '#a1d99b', '#74c476', '#41ab5d', '#238b45', '#006d2c', '#00441b'].map(hex),
  Reds: ['#fff5f0', '#fee0d2', '#fcbba1', '#fc9272', '#fb6a4a', '#ef3b2c', '#cb181d', '#a50f15', '#67000d'].map(hex),
  Blues: ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'].map(hex),
  RdWhGn: ['#ff0000', '#ffffff', '#008000'].map(hex),
  gray: ['#000000', '#ffffff'].map(hex),
};

/** A 256-entry lookup table of 8-bit colours, as LinearSegmentedColormap.from_list(stops, N=256) with bytes=True. */
function lut(stops: Rgb[]): Uint8Array {
  const N = 256;
  const out = new Uint8Array(N * 3);
  for (let i = 0; i < N; i++) {
    const x = (i / (N - 1)) * (stops.length - 1);
    const k = Math.min(Math.floor(x), stops.length - 2);
    const f = x - k;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.floor((stops[k]![c]! * (1 - f) + stops[k + 1]![c]! * f) * 255);
  }
  return out;
}
const LUTS = Object.fromEntries(Object.entries(STOPS).map(([k, v]) => [k, lut(v)])) as Record<keyof typeof STOPS, Uint8Array>;

/** Captum's default colormap and range per sign. */
export function colormapFor(sign: Sign): { name: keyof typeof STOPS; vmin: number; vmax: number } {
  switch (sign) {
    case 'all': return { name: 'RdWhGn', vmin: -1, vmax: 1 };
    case 'positive': return { name: 'Greens', vmin: 0, vmax: 1 };
    case 'negative': return { name: 'Reds', vmin: 0, vmax: 1 };
    case 'absolute_value': return { name: 'Blues', vmin: 0, vmax: 1 };
  }
}

/** The colour of a value in a colormap (matplotlib: index ⌊x·N⌋ clipped to N − 1). */
export function colorOf(name: keyof typeof STOPS, v: number, vmin: number, vmax: number): Rgb {
  const x = (v - vmin) / (vmax - vmin);
  const i = Math.min(255, Math.max(0, Math.floor(x * 256)));
  const t = LUTS[name];
  return [t[i * 3]!, t[i * 3 + 1]!, t[i * 3 + 2]!];
}

/** One view as 8-bit RGB pixels (alpha_scaling composited on white, as a matplotlib figure shows it). */
export function renderView(view: View, image: RgbImage, norm: Float64Array, sign: Sign): Uint8Array {
  const n = image.width * image.height;
  const out = new Uint8Array(n * 3);
  const { name, vmin, vmax } = colormapFor(sign);
  if (view === 'heat_map') {
    for (let i = 0; i < n; i++) out.set(colorOf(name, norm[i]!, vmin, vmax), i * 3);
  } else if (view === 'blended_heat_map') {
    // Grey image (mean of the channels, autoscaled to its range), the heat map over it at alpha 0.5.
    const grey = new Float64Array(n);
    for (let i = 0; i < n; i++) grey[i] = (image.data[i * 3]! + image.data[i * 3 + 1]! + image.data[i * 3 + 2]!) / 3;
    let lo = Infinity, hi = -Infinity;
    for (const g of grey) { lo = Math.min(lo, g); hi = Math.max(hi, g); }
    for (let i = 0; i < n; i++) {
      const g = colorOf('gray', hi > lo ? (grey[i]! - lo) / (hi - lo) : 0, 0, 1)[0];
      const h = colorOf(name, norm[i]!, vmin, vmax);
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(0.5 * h[c]! + 0.5 * g);
    }
  } else if (view === 'masked_image') {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.min(255, Math.max(0, Math.trunc(image.data[i * 3 + c]! * norm[i]!)));
  } else {
    for (let i = 0; i < n; i++) {
      const a = Math.min(255, Math.max(0, Math.trunc(norm[i]! * 255)));
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round((image.data[i * 3 + c]! * a + 255 * (255 - a)) / 255);
    }
  }
  return out;
}

/** Views Captum can draw for a sign (masked_image and alpha_scaling refuse sign "all"). */
export const viewsFor = (sign: Sign): View[] => VIEWS.filter((v) => sign !== 'all' || v === 'heat_map' || v === 'blended_heat_map');

export interface Panels {
  png: Uint8Array;
  width: number;
  height: number;
  /** Each panel's name and left edge, in PNG pixels; the scale factor from image pixels. */
  panels: { name: 'original_image' | View; x: number }[];
  scale: number;
  panelSize: { width: number; height: number };
}

const GAP = 8;

/**
 * The image and each view side by side, on white, each enlarged by an integer factor (nearest) so panels are at
 * least `minSide` pixels high.
 */
export function renderPanels(image: RgbImage, attr: ArrayLike<number>, channels: number, options: { sign?: Sign; outlierPerc?: number; views?: readonly View[]; minSide?: number } = {}): Panels {
  const sign = options.sign ?? 'absolute_value';
  const norm = normalizeAttr(attr, channels, sign, options.outlierPerc ?? 2);
  const views = (options.views ?? viewsFor(sign)).filter((v) => viewsFor(sign).includes(v));
  const scale = Math.max(1, Math.ceil((options.minSide ?? 224) / Math.max(image.height, 1)));
  const pw = image.width * scale, ph = image.height * scale;
  const layers: { name: Panels['panels'][number]['name']; pixels: Uint8Array }[] = [{ name: 'original_image', pixels: image.data }, ...views.map((v) => ({ name: v, pixels: renderView(v, image, norm, sign) }))];
  const width = layers.length * pw + (layers.length - 1) * GAP, height = ph;
  const out = new Uint8Array(width * height * 3).fill(255);
  const panels: Panels['panels'] = [];
  layers.forEach((l, k) => {
    const x0 = k * (pw + GAP);
    panels.push({ name: l.name, x: x0 });
    for (let y = 0; y < ph; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < pw; x++) {
        const s = (sy * image.width + Math.floor(x / scale)) * 3;
        const d = (y * width + x0 + x) * 3;
        out[d] = l.pixels[s]!; out[d + 1] = l.pixels[s + 1]!; out[d + 2] = l.pixels[s + 2]!;
      }
    }
  });
  return { png: encodeRgbPng(width, height, out), width, height, panels, scale, panelSize: { width: pw, height: ph } };
}

// ---- the HTML report -------------------------------------------------------------------------------------------


const VIEW_TITLES: Record<Panels['panels'][number]['name'], string> = {
  original_image: 'image (as the model sees it)', heat_map: 'heat_map', blended_heat_map: 'blended_heat_map', masked_image: 'masked_image', alpha_scaling: 'alpha_scaling',
};

const pct = (p: number) => (Number.isFinite(p) ? `${(100 * p).toFixed(1)}%` : '—');
const num = (v: number | null) => (v === null ? '—' : Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2));

/** One page: the panels PNG with captions, the prediction and top classes, the settings, and the JSON embedded. */
export function renderImageHtml(e: ImageExplanation, panels: Panels, sign: Sign): string {
  const captions = panels.panels.map((p, k) => {
    const w = k === panels.panels.length - 1 ? panels.panelSize.width : panels.panelSize.width + 8;
    return `<span style="display:inline-block;width:${w}px">${esc(VIEW_TITLES[p.name])}</span>`;
  }).join('');
  const top = e.top.map((c) => `<tr${c.index === e.target.index ? ' class="target"' : ''}><td>${esc(c.label)}</td><td>${c.index}</td><td>${num(c.logit)}</td><td>${pct(c.probability)}</td></tr>`).join('');
  const settings = Object.entries(e.settings).map(([k, v]) => `${esc(k)} ${esc(String(v))}`).join(' · ');
  const facts = [
    ['Model', e.model], ['Method', `${e.method} (Captum: ${e.captum})`], ['Prediction', `${e.prediction.label} (${pct(e.prediction.probability)})`],
    ['Explained class', `${e.target.label} (logit ${num(e.target.logit)})`], ...(e.baseline ? [['Baseline', e.baseline]] : []), ...(e.layer ? [['Layer', e.layer]] : []),
    ['F(x)', num(e.f_x)], ...(e.f_baseline !== null ? [['F(baseline)', num(e.f_baseline)]] : []), ...(e.delta !== null ? [['Convergence delta', num(e.delta)]] : []),
    ['Image', `${e.image.width}×${e.image.height} → ${e.image.processed.width}×${e.image.processed.height} (${e.image.preprocessing})`],
    ['Views', `sign ${sign}, outlier 2%${sign === 'absolute_value' ? ' (Captum\'s visualize_image_attr defaults)' : ' (Captum\'s visualize_image_attr)'}`], ...(settings ? [['Settings', settings]] : []),
  ].map(([k, v]) => `<tr><th>${esc(k!)}</th><td>${esc(v!)}</td></tr>`).join('');
  const warnings = e.warnings.map((w) => `<p class="warning">⚠ ${esc(w)}</p>`).join('');
  // The JSON, in a script block that cannot be closed early by its contents.
  const json = JSON.stringify(e).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gradlens: ${esc(e.method)} on ${esc(e.target.label)}</title>
<style>${REPORT_CSS}
.panels img { image-rendering: pixelated; display: block; }
.captions { font-size: 13px; color: #555; margin-top: 4px; white-space: nowrap; }
table.facts th { text-align: left; padding-right: 1em; font-weight: 600; }
tr.target td { font-weight: 700; }
.warning { color: #8a5300; }
</style></head>
<body>
<h1>Why ${esc(e.target.label)}?</h1>
${warnings}
<div class="panels"><img src="data:image/png;base64,${bytesToBase64(panels.png)}" width="${panels.width}" height="${panels.height}" alt="the image and Captum's views of the attributions"></div>
<div class="captions">${captions}</div>
<h2>Prediction</h2>
<table class="facts">${facts}</table>
<h2>Top classes</h2>
<table class="gradlens"><tr><th>label</th><th>index</th><th>logit</th><th>probability</th></tr>${top}</table>
<script type="application/json" id="gradlens-explanation">${json}</script>
</body></html>
`;
}
