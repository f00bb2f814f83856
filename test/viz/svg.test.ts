import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg } from '../../src/viz/svg.js';
import { captumColor } from '../../src/viz/colors.js';
import { QA_TOKENS, classifyExplanation, qaExplanation } from './fixtures.js';

test('SVG: a colour legend from −1 to +1 with its labels', () => {
  const svg = renderSvg(qaExplanation());
  const legend = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg)?.[1];
  assert.ok(legend, 'a legend group');
  const swatches = [...legend.matchAll(/<rect class="legend-swatch" data-value="([^"]+)"[^>]*fill="([^"]+)"/g)].map((m) => [Number(m[1]), m[2]] as const);
  assert.equal(swatches[0]![0], -1);
  assert.equal(swatches.at(-1)![0], 1);
  assert.ok(swatches.some(([v]) => v === 0));
  for (const [v, fill] of swatches) assert.equal(fill, captumColor(v), `swatch ${v} in Captum's colour`);
  const labels = [...legend.matchAll(/<text[^>]*text-anchor="middle">([^<]*)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(labels, ['−1', '−0.5', '0', '+0.5', '+1']);
  assert.match(legend, /attribution \/ its L2 norm/);
});

test('SVG: each row\'s attribution score and delta next to its label; token boxes unchanged', () => {
  const e = qaExplanation();
  const svg = renderSvg(e);
  const labels = [...svg.matchAll(/<g class="row-label">([\s\S]*?)<\/g>/g)].map((m) => m[1]!);
  assert.equal(labels.length, 2);
  assert.match(labels[0]!, />start<\/text>/);
  assert.match(labels[0]!, /<text class="score"[^>]*>score 11\.61<\/text>/);
  assert.match(labels[0]!, /<text class="delta large"[^>]*>⚠ delta 1\.73e\+0 \(17%\)<\/text>/);
  assert.match(labels[1]!, />end<\/text>/);
  assert.match(labels[1]!, /<text class="score"[^>]*>score 16\.60<\/text>/);
  assert.match(labels[1]!, /<text class="delta"[^>]*>delta 1\.00e-4 \(0\.0006%\)<\/text>/);
  // One box per token and target (the legend's rects are not counted as boxes).
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 2 * QA_TOKENS.length);
  // No delta for smoothgrad, the score still there.
  const c = renderSvg(classifyExplanation());
  assert.match(c, /<text class="score"[^>]*>score 0\.81<\/text>/);
  assert.doesNotMatch(c, /class="delta/);
  assert.doesNotMatch(c, /\x1b/, 'no raw control character from a token');
});

test('SVG: the label block does not overlap the next row, the legend below the rows', () => {
  const e = classifyExplanation();
  e.attributions.push({ ...e.attributions[0]!, target: 'negative' });
  e.attributions.forEach((a) => { a.delta = 0.5; a.f_x = 2; a.f_baseline = 1; });
  const svg = renderSvg(e);
  const rowTops = [...svg.matchAll(/<g class="row-label"><text x="\d+" y="(\d+)"/g)].map((m) => Number(m[1]));
  const deltaYs = [...svg.matchAll(/<text class="delta large" x="\d+" y="(\d+)"/g)].map((m) => Number(m[1]));
  assert.equal(rowTops.length, 2);
  assert.ok(rowTops[1]! - 15 > deltaYs[0]!, `the second row (${rowTops[1]}) starts below the first row's delta line (${deltaYs[0]})`);
  const legendY = Number(/<rect class="legend-swatch" data-value="-1" x="\d+" y="(\d+)"/.exec(svg)![1]);
  assert.ok(legendY > deltaYs[1]!, 'legend below the last row');
  const height = Number(/<svg [^>]*height="(\d+)"/.exec(svg)![1]);
  assert.ok(height > legendY + 14, 'the legend inside the picture');
});
