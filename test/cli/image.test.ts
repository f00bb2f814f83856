import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage } from '../../src/models/image.js';
import { decodeFloat32, type ImageExplanation } from '../../src/tasks/image.js';
import type { TabularExplanation } from '../../src/tasks/tabular.js';
import { assertOneLineError, runCli } from './run-cli.js';
import { fixture, ROOT } from '../helpers.js';

const SAMPLE = join(ROOT, 'demo', 'image', 'samples', 'triangle.png');
const CNN = fixture('vision', 'cnn-opset17.onnx');
const MLP = fixture('vision', 'mlp-opset11.onnx');
const CSV = fixture('vision', 'mlp-rows.csv');

test('explain image on the embedded demo model: JSON with base64 float32 attributions, prediction and a delta that adds up', async () => {
  const r = await runCli(['explain', 'image', '--image', SAMPLE, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as ImageExplanation;
  assert.equal(e.prediction.label, 'triangle');
  assert.equal(e.method, 'ig');
  assert.equal(e.captum, 'IntegratedGradients');
  assert.equal(e.baseline, 'black');
  assert.deepEqual(e.attributions.shape, [1, 3, 32, 32]);
  const a = decodeFloat32(e.attributions);
  assert.equal(a.length, 3 * 32 * 32);
  const sum = a.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum - (e.f_x - e.f_baseline!) - e.delta!) < 1e-3 * Math.max(1, Math.abs(sum)), 'delta = Σ attributions − (F(x) − F(baseline))');
  assert.ok(Math.abs(e.delta!) < 0.05 * Math.abs(e.f_x - e.f_baseline!), `completeness within 5%: delta ${e.delta}`);
  assert.deepEqual(e.image, { width: 64, height: 64, processed: { width: 32, height: 32 }, preprocessing: e.image.preprocessing });
});

test('explain image writes the views PNG and the HTML report (grad-cam, occlusion)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-image-'));
  try {
    const png = join(dir, 'v.png');
    let r = await runCli(['explain', 'image', '--image', SAMPLE, '--method', 'grad-cam', '-o', png]);
    assert.equal(r.code, 0, r.stderr);
    const img = decodeImage(readFileSync(png));
    // 32 px enlarged 7× to ≥ 224, five panels with 8 px gaps
    assert.deepEqual([img.width, img.height], [5 * 224 + 4 * 8, 224]);
    const html = join(dir, 'v.html');
    r = await runCli(['explain', 'image', '--image', SAMPLE, '--method', 'occlusion', '--window', '4', '--stride', '2', '-o', html]);
    assert.equal(r.code, 0, r.stderr);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<img src="data:image\/png;base64,/);
    const json = JSON.parse(/<script type="application\/json" id="gradlens-explanation">(.*?)<\/script>/s.exec(page)![1]!) as ImageExplanation;
    assert.equal(json.method, 'occlusion');
    assert.deepEqual(json.settings['window'], 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explain image on a bare ONNX file with --size/--mean/--std/--labels', async () => {
  const r = await runCli(['explain', 'image', '--image', SAMPLE, '--model', CNN, '--size', '32x32', '--mean', '0.5,0.5,0.5', '--std', '0.5,0.5,0.5', '--labels', 'a,b,c,d,e', '--method', 'saliency', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as ImageExplanation;
  assert.ok(['a', 'b', 'c', 'd', 'e'].includes(e.prediction.label));
  assert.equal(e.baseline, null);
  assert.ok(decodeFloat32(e.attributions).every((v) => v >= 0), 'saliency is |gradient|');
});

test('explain image: bad input gets one clear line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-image-'));
  try {
    const notImage = join(dir, 'x.png');
    writeFileSync(notImage, 'not an image at all');
    assertOneLineError(await runCli(['explain', 'image', '--image', notImage]), /x\.png is neither a PNG nor a JPEG/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', MLP]), /not an image batch \[batch, 3, height, width\]/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', CNN, '--size', '48x48']), /takes 32×32 images, not --size 48x48/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', fixture('models', 'bert-ner')]), /has no float input/);
    // A folder whose preprocessor_config.json makes another size than the model takes.
    const folder = join(dir, 'wrong-size');
    mkdirSync(join(folder, 'onnx'), { recursive: true });
    copyFileSync(CNN, join(folder, 'onnx', 'model.onnx'));
    writeFileSync(join(folder, 'preprocessor_config.json'), JSON.stringify({ size: { height: 48, width: 48 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', folder]), /takes 32×32 images but its preprocessing \(preprocessor_config\.json of .*\) makes 48×48: give --size 32x32/);
    writeFileSync(join(folder, 'preprocessor_config.json'), '{"size": {"height": 0}}');
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', folder]), /preprocessor_config\.json of .*: size\.height must be an integer from 1 to 8192, got 0/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--target', 'dog']), /--target dog is neither a label/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', CNN, '--mean', '0.5,0.5,0.5', '--std', '0.5,0,0.5']), /--std has a zero/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--model', CNN, '--mean', '0.5,x,0.5']), /--mean must be three numbers r,g,b/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--method', 'layer-ig']), /argument 'layer-ig' is invalid|--method/);
    assertOneLineError(await runCli(['explain', 'image', '--image', SAMPLE, '--method', 'occlusion', '--window', '64']), /--window 64 is larger than the 32×32 image/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explain tabular: a CSV row with the header\'s names, kernel-shap against the column means; JSON and SVG', async () => {
  const r = await runCli(['explain', 'tabular', '--model', MLP, '--csv', CSV, '--row', '1', '--method', 'feature-ablation', '--baseline', 'mean', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as TabularExplanation;
  assert.deepEqual(e.features.map((f) => f.name), ['MedInc', 'HouseAge', 'AveRooms', 'AveBedrms', 'Population', 'AveOccup', 'Latitude', 'Longitude']);
  const rows = readFileSync(CSV, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  assert.deepEqual(e.features.map((f) => f.value), rows[1]!.map((v) => Math.fround(v)).map(Number).map((v, i) => (v === rows[1]![i] ? v : rows[1]![i]!)));
  rows[0]!.forEach((_, j) => assert.ok(Math.abs(e.features[j]!.baseline! - rows.reduce((s, row) => s + row[j]!, 0) / rows.length) < 1e-12, 'baseline = column mean'));
  const svg = await runCli(['explain', 'tabular', '--model', MLP, '--row', JSON.stringify(rows[0]), '--method', 'ig', '--format', 'svg']);
  assert.equal(svg.code, 0, svg.stderr);
  assert.match(svg.stdout, /^<svg/);
  assert.match(svg.stdout, /f3 = /, 'bars labelled with feature = value (names f0… without a header)');
});

test('explain tabular: missing, extra and non-numeric features get one clear line', async () => {
  assertOneLineError(await runCli(['explain', 'tabular', '--model', MLP, '--row', '[1, 2, 3]']), /--row has 3 values; the model takes 8 features/);
  assertOneLineError(await runCli(['explain', 'tabular', '--model', MLP, '--row', '{"f0": 1, "f1": 2, "f2": 3, "f3": 4, "f4": 5, "f5": 6, "f6": 7}']), /--row is missing feature f7/);
  assertOneLineError(await runCli(['explain', 'tabular', '--model', MLP, '--row', '{"f0": 1, "f1": 2, "f2": 3, "f3": 4, "f4": 5, "f5": 6, "f6": 7, "f7": 8, "zip": 9}']), /--row has feature the model does not take: zip/);
  assertOneLineError(await runCli(['explain', 'tabular', '--model', MLP, '--row', '[1, 2, 3, 4, 5, 6, 7, "x"]']), /feature f7 is "x", not a finite number/);
  assertOneLineError(await runCli(['explain', 'tabular', '--model', MLP, '--csv', CSV, '--row', '99']), /--row must be an integer from 0 to \d+ \(the table has \d+ rows\)/);
  assertOneLineError(await runCli(['explain', 'tabular', '--model', MLP, '--row', '[1,2,3,4,5,6,7,8]', '--baseline', 'mean']), /--baseline mean takes the column means of a table/);
});
