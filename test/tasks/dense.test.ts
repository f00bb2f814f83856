import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySource } from '../../src/io/source.js';
import { encodeModel } from '../../src/onnx/model.js';
import { loadDenseFromSource } from '../../src/models/dense.js';
import { explainTabular } from '../../src/tasks/tabular.js';
import { decodeFloat32, explainImage, patchMask } from '../../src/tasks/image.js';
import type { RgbImage } from '../../src/models/image.js';
import { parseSettings } from '../../src/attr/registry.js';
import { buildModel, DT, type ModelNode } from '../autodiff/op-model.js';

/*
 * A linear tabular model y = W·x + c is its own oracle: IG from any baseline b is exactly W_t ⊙ (x − b) (completeness
 * with delta 0), and so are FeatureAblation (each feature alone), Shapley sampling (every order gives the same
 * marginals) and KernelShap (a linear model fits a linear function exactly).
 */
const W = [[0.5, -1, 2, 0.25], [-0.3, 0.8, 0.1, -2], [1.5, 0, -0.7, 0.9]];
const C = [0.1, -0.2, 0.3];
const FEATURES = ['age', 'income', 'rooms', 'distance'];

function linearSource(outputs: number): MemorySource {
  const w = W.slice(0, outputs);
  const model = buildModel({
    opset: 13,
    inputs: [{ name: 'input', elemType: DT.FLOAT, shape: ['batch', 4] }],
    consts: [
      { name: 'wt', elemType: DT.FLOAT, dims: [4, outputs], values: [0, 1, 2, 3].flatMap((i) => w.map((row) => row[i]!)) },
      { name: 'c', elemType: DT.FLOAT, dims: [outputs], values: C.slice(0, outputs) },
    ],
    nodes: [{ op: 'MatMul', inputs: ['input', 'wt'], outputs: ['xw'] }, { op: 'Add', inputs: ['xw', 'c'], outputs: ['logits'] }],
    outputs: [{ name: 'logits', elemType: DT.FLOAT }],
  });
  const config = outputs > 1 ? JSON.stringify({ id2label: { 0: 'low', 1: 'mid', 2: 'high' } }) : '{}';
  return new MemorySource({ 'model.onnx': encodeModel(model), 'features.json': JSON.stringify(FEATURES), 'config.json': config }, 'linear');
}

const x = [1.5, -2, 0.5, 3];

test('tabular methods on a linear classifier equal W_t ⊙ (x − b) exactly', async () => {
  const model = await loadDenseFromSource(linearSource(3), 'tabular');
  assert.deepEqual(model.features, FEATURES);
  assert.deepEqual(model.labels, ['low', 'mid', 'high']);
  const means = [0.5, 1, -1, 2];
  try {
    for (const method of ['ig', 'feature-ablation', 'shapley', 'kernel-shap']) {
      for (const baseline of ['zero', 'mean'] as const) {
        const e = await explainTabular(model, x, parseSettings({ method }, 'tabular'), { target: 'mid', baseline, means });
        const b = baseline === 'zero' ? [0, 0, 0, 0] : means;
        assert.equal(e.target.label, 'mid');
        e.features.forEach((f, i) => assert.ok(Math.abs(f.attribution - W[1]![i]! * (x[i]! - b[i]!)) < 1e-5, `${method}, ${baseline}: ${f.name} ${f.attribution} vs ${W[1]![i]! * (x[i]! - b[i]!)}`));
        if (method === 'ig') assert.ok(Math.abs(e.delta!) < 1e-5, 'completeness');
      }
    }
    const sal = await explainTabular(model, x, parseSettings({ method: 'saliency' }, 'tabular'), { target: '2' });
    assert.deepEqual(sal.features.map((f) => Number(f.attribution.toFixed(6))), W[2]!.map(Math.abs));
    assert.equal(sal.baseline, null);
    const best = W.map((row, j) => row.reduce((s, v, i) => s + v * x[i]!, 0) + C[j]!);
    const predicted = best.indexOf(Math.max(...best));
    const ixg = await explainTabular(model, x, parseSettings({ method: 'input-x-gradient' }, 'tabular'));
    assert.equal((ixg.prediction as { index: number }).index, predicted, 'the predicted class is explained by default');
  } finally {
    await model.runner.release();
  }
});

test('a one-output regressor: the prediction is its value, target index 0', async () => {
  const model = await loadDenseFromSource(linearSource(1), 'tabular');
  try {
    const e = await explainTabular(model, x, parseSettings({ method: 'ig' }, 'tabular'));
    const value = W[0]!.reduce((s, v, i) => s + v * x[i]!, 0) + C[0]!;
    assert.ok(Math.abs((e.prediction as { value: number }).value - value) < 1e-5);
    e.features.forEach((f, i) => assert.ok(Math.abs(f.attribution - W[0]![i]! * x[i]!) < 1e-5));
    assert.equal(e.top, undefined);
  } finally {
    await model.runner.release();
  }
});

test('image patch features: side × side squares, row-major, one feature per pixel on every channel, both layouts', () => {
  const H = 5, W5 = 7, side = 3;
  const m = patchMask(H, W5, side, 'nchw');
  assert.equal(m.length, 3 * H * W5);
  assert.equal(Math.max(...m) + 1, Math.ceil(H / side) * Math.ceil(W5 / side));
  assert.equal(m[0], 0);
  assert.equal(m[(0 * H + 4) * W5 + 6], 1 * 3 + 2, 'pixel (4, 6): patch row 1, column 2');
  for (let i = 0; i < H * W5; i++) assert.ok(m[i] === m[H * W5 + i] && m[i] === m[2 * H * W5 + i], 'same feature on every channel');
  const n = patchMask(H, W5, side, 'nhwc');
  for (let y = 0; y < H; y++) for (let x2 = 0; x2 < W5; x2++) assert.equal(n[(y * W5 + x2) * 3 + 1], m[(1 * H + y) * W5 + x2]);
});

// ---- images: channels-last inputs explain like channels-first ones ----


/** A small CNN (Conv 3→4, 3×3, pad 1 → Relu → GlobalAveragePool → Flatten → Gemm 4→3), optionally reading NHWC. */
function cnnSource(layout: 'nchw' | 'nhwc'): MemorySource {
  const conv = Array.from({ length: 4 * 3 * 9 }, (_, i) => Math.sin(i * 1.7) * 0.5);
  const fc = Array.from({ length: 3 * 4 }, (_, i) => Math.cos(i * 0.9));
  const nodes: ModelNode[] = [
    ...(layout === 'nhwc' ? [{ op: 'Transpose', inputs: ['pixel_values'], outputs: ['x'], attrs: { perm: [0, 3, 1, 2] } }] : []),
    { op: 'Conv', inputs: [layout === 'nhwc' ? 'x' : 'pixel_values', 'w', 'b'], outputs: ['h'], attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
    { op: 'Relu', inputs: ['h'], outputs: ['r'] },
    { op: 'GlobalAveragePool', inputs: ['r'], outputs: ['p'] },
    { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
    { op: 'Gemm', inputs: ['f', 'fc'], outputs: ['logits'], attrs: { transB: 1 } },
  ];
  const model = buildModel({
    opset: 13,
    inputs: [{ name: 'pixel_values', elemType: DT.FLOAT, shape: layout === 'nchw' ? ['batch', 3, 8, 8] : ['batch', 8, 8, 3] }],
    consts: [
      { name: 'w', elemType: DT.FLOAT, dims: [4, 3, 3, 3], values: conv },
      { name: 'b', elemType: DT.FLOAT, dims: [4], values: [0.1, -0.1, 0.2, 0] },
      { name: 'fc', elemType: DT.FLOAT, dims: [3, 4], values: fc },
    ],
    nodes,
    outputs: [{ name: 'logits', elemType: DT.FLOAT }],
  });
  return new MemorySource({
    'onnx/model.onnx': encodeModel(model),
    'config.json': JSON.stringify({ id2label: { 0: 'a', 1: 'b', 2: 'c' } }),
    'preprocessor_config.json': JSON.stringify({ size: { height: 8, width: 8 }, image_mean: [0.5, 0.4, 0.3], image_std: [0.2, 0.25, 0.3] }),
  }, layout);
}

test('a channels-last image model ([batch, H, W, 3]) gets the same attributions as its channels-first twin', async () => {
  const img: RgbImage = { width: 12, height: 10, data: Uint8Array.from({ length: 12 * 10 * 3 }, (_, i) => (i * 37) % 256) };
  const first = await loadDenseFromSource(cnnSource('nchw'), 'image');
  const last = await loadDenseFromSource(cnnSource('nhwc'), 'image');
  assert.equal(first.layout, 'nchw');
  assert.equal(last.layout, 'nhwc');
  try {
    for (const method of ['ig', 'saliency', 'occlusion', 'kernel-shap', 'grad-cam']) {
      const settings = parseSettings({ method }, 'image');
      const a = await explainImage(first, img, settings, { window: 2 });
      const b = await explainImage(last, img, settings, { window: 2 });
      assert.equal(a.explanation.prediction.label, b.explanation.prediction.label);
      // The views' channels-last values agree element for element.
      const err = a.view.attr.reduce((m, v, i) => Math.max(m, Math.abs(v - b.view.attr[i]!)), 0);
      const scale = a.view.attr.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(err <= 1e-5 * Math.max(scale, 1e-9), `${method}: channels-last vs channels-first ${err} (scale ${scale})`);
      assert.deepEqual(b.explanation.attributions.shape, method === 'grad-cam' ? [1, 1, 8, 8] : [1, 8, 8, 3]);
      assert.equal(decodeFloat32(b.explanation.attributions).length, method === 'grad-cam' ? 64 : 192);
    }
  } finally {
    await first.runner.release();
    await last.runner.release();
  }
});
