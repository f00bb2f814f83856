import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeImage, type RgbImage } from '../../src/models/image.js';
import { colorOf, cumulativeSumThreshold, normalizeAttr, renderPanels, renderView, viewsFor } from '../../src/viz/image.js';

test('cumulative-sum threshold and normalisation follow Captum\'s formulas', () => {
  // sorted 1, 2, 3, 94: total 100, 98% reached only at 94.
  assert.equal(cumulativeSumThreshold([94, 2, 1, 3], 98), 94);
  assert.equal(cumulativeSumThreshold([94, 2, 1, 3], 7), 94);
  assert.equal(cumulativeSumThreshold([94, 2, 1, 3], 5), 3);
  assert.equal(cumulativeSumThreshold([94, 2, 1, 3], 3), 2);
  // Two channels per pixel: summed, then divided by the threshold of |sum| and clipped.
  const attr = [1, 1, -3, 0, 0.5, 0, 4, 4];
  const sums = [2, -3, 0.5, 8];
  const thr = cumulativeSumThreshold(sums.map(Math.abs), 98);
  assert.deepEqual(Array.from(normalizeAttr(attr, 2, 'all')), sums.map((s) => Math.max(-1, Math.min(1, s / thr))));
  assert.deepEqual(Array.from(normalizeAttr(attr, 2, 'positive')), [2, 0, 0.5, 8].map((s) => Math.min(1, s / cumulativeSumThreshold([2, 0, 0.5, 8], 98))));
  // negative: the negative values divided by minus the threshold: positive in [0, 1]
  assert.deepEqual(Array.from(normalizeAttr(attr, 2, 'negative')), [0, 1, 0, 0]);
  assert.deepEqual(Array.from(normalizeAttr([0, 0, 0], 1, 'negative')), [0, 0, 0], 'nothing of the sign: zeros');
});

test('colormaps: matplotlib\'s 256-entry tables at the ends and the middle', () => {
  assert.deepEqual(colorOf('Blues', 0, 0, 1), [0xf7, 0xfb, 0xff]);
  assert.deepEqual(colorOf('Blues', 1, 0, 1), [0x08, 0x30, 0x6b]);
  assert.deepEqual(colorOf('RdWhGn', -1, -1, 1), [255, 0, 0]);
  assert.deepEqual(colorOf('RdWhGn', 1, -1, 1), [0, 128, 0]);
  // x = 0.5 → index 128 of 256: just past white towards green.
  const mid = colorOf('RdWhGn', 0, -1, 1);
  assert.ok(mid[0] >= 250 && mid[1] >= 250 && mid[2] >= 250, `near white: ${mid}`);
  assert.deepEqual(colorOf('Greens', 2, 0, 1), colorOf('Greens', 1, 0, 1), 'clipped');
});

const image: RgbImage = { width: 3, height: 2, data: Uint8Array.from([200, 100, 50, 0, 0, 0, 255, 255, 255, 10, 20, 30, 90, 90, 90, 40, 80, 120]) };
// One channel; pixel 0 has the top attribution, pixel 1 none.
const attr = [10, 0, 2, 1, 3, 4];

test('views: known pixels of each view', () => {
  const norm = normalizeAttr(attr, 1, 'absolute_value');
  assert.equal(norm[0], 1);
  assert.equal(norm[1], 0);
  const heat = renderView('heat_map', image, norm, 'absolute_value');
  assert.deepEqual(Array.from(heat.subarray(0, 3)), [0x08, 0x30, 0x6b], 'top attribution: darkest blue');
  assert.deepEqual(Array.from(heat.subarray(3, 6)), [0xf7, 0xfb, 0xff], 'zero: lightest blue');
  const masked = renderView('masked_image', image, norm, 'absolute_value');
  assert.deepEqual(Array.from(masked.subarray(0, 3)), [200, 100, 50], 'full attribution keeps the pixel');
  assert.deepEqual(Array.from(masked.subarray(6, 9)), [255, 255, 255].map((v) => Math.trunc(v * norm[2]!)));
  const alpha = renderView('alpha_scaling', image, norm, 'absolute_value');
  assert.deepEqual(Array.from(alpha.subarray(0, 3)), [200, 100, 50], 'alpha 255');
  assert.deepEqual(Array.from(alpha.subarray(3, 6)), [255, 255, 255], 'alpha 0 shows the white background');
  const blended = renderView('blended_heat_map', image, norm, 'absolute_value');
  // grey of pixel 1 is the minimum (black); blended = ½ heat + ½ grey
  assert.deepEqual(Array.from(blended.subarray(3, 6)), [0xf7, 0xfb, 0xff].map((v) => Math.round(v / 2)));
  assert.deepEqual(viewsFor('all'), ['heat_map', 'blended_heat_map'], 'Captum draws no masked or alpha view for sign all');
});

test('the panels PNG: size, determinism, a known pixel', () => {
  const a = renderPanels(image, attr, 1, { minSide: 20 });
  const b = renderPanels(image, attr, 1, { minSide: 20 });
  assert.deepEqual(a.png, b.png, 'deterministic');
  assert.equal(a.scale, 10);
  assert.deepEqual(a.panels.map((p) => p.name), ['original_image', 'heat_map', 'blended_heat_map', 'masked_image', 'alpha_scaling']);
  const png = decodeImage(a.png);
  assert.equal(png.width, 5 * 30 + 4 * 8);
  assert.equal(png.height, 20);
  const px = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3));
  assert.deepEqual(px(5, 5), [200, 100, 50], 'original image, pixel (0, 0) enlarged');
  assert.deepEqual(px(a.panels[1]!.x + 5, 5), [0x08, 0x30, 0x6b], 'heat map, pixel (0, 0)');
  assert.deepEqual(px(30 + 3, 5), [255, 255, 255], 'white gap');
  const all = renderPanels(image, attr, 1, { sign: 'all', minSide: 2 });
  assert.equal(all.panels.length, 3);
});
