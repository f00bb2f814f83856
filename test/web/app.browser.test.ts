import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { runCli } from '../cli/run-cli.js';
import { ROOT, fixture } from '../helpers.js';
import { methodsFor } from '../../src/attr/registry.js';
import { CHROMIUM, CHROMIUM_ARGS, startServe } from './serve-helper.js';

// The web app in real headless Chromium (Debian's package driven by playwright-core; never a downloaded browser),
// served by `gradlens serve` (COOP/COEP: WASM threads), against the Node CLI on the same demo models.
const skip = !existsSync(CHROMIUM) && !process.env['CI'] ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;

interface Json { prediction: Record<string, unknown>; tokens: string[]; attributions: { target: string; per_token: number[]; n_steps: number | null; delta: number | null }[] }

let server: Awaited<ReturnType<typeof startServe>>;
/** The MLP fixture's table: its header (the feature names) and rows. */
const MLP_CSV = fixture('vision', 'mlp-rows.csv');
const [MLP_HEADER, ...MLP_ROWS] = readFileSync(MLP_CSV, 'utf8').trim().split('\n').map((l) => l.trim().split(','));
const MLP_FEATURES = MLP_HEADER!;
let browser: Browser;
let work: string;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'gradlens-web-'));
  // Broken model folders: one without tokenizer.json, one whose model.onnx is cut short.
  const notok = join(work, 'notok');
  cpSync(join(ROOT, 'demo', 'qa'), notok, { recursive: true });
  rmSync(join(notok, 'tokenizer.json'));
  const truncated = join(work, 'truncated');
  cpSync(join(ROOT, 'demo', 'qa'), truncated, { recursive: true });
  const model = join(truncated, 'onnx', 'model.onnx');
  truncateSync(model, Math.floor(statSync(model).size / 3));
  const quantized = join(work, 'quantized');
  cpSync(join(ROOT, 'demo', 'qa'), quantized, { recursive: true });
  renameSync(join(quantized, 'onnx', 'model.onnx'), join(quantized, 'onnx', 'model_quantized.onnx'));
  // A tabular model folder: the MLP fixture as model.onnx, its 8 feature names (the CSV's header) and labels.
  const mlp = join(work, 'mlp');
  mkdirSync(mlp);
  cpSync(fixture('vision', 'mlp-opset11.onnx'), join(mlp, 'model.onnx'));
  writeFileSync(join(mlp, 'features.json'), `${JSON.stringify(MLP_FEATURES)}\n`);
  writeFileSync(join(mlp, 'config.json'), `${JSON.stringify({ id2label: { 0: 'low', 1: 'medium', 2: 'high' } })}\n`);
  server = await startServe(['--model', notok, '--model', truncated, '--model', quantized, '--model', mlp]);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function openPage(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}?${query}`);
  return { page, errors };
}

const finished = (page: Page, timeout = 120_000) =>
  page.waitForFunction(() => ['done', 'error', 'cancelled'].includes(document.body.dataset['state'] ?? ''), null, { timeout });

async function resultJson(page: Page): Promise<Json> {
  return JSON.parse((await page.textContent('#gradlens-json')) ?? '') as Json;
}

/** Per token, |web − node| ≤ 1e-4 × the row's largest |node| value (float32 on two ONNX Runtime builds). */
function assertSameAttributions(web: Json, node: Json): void {
  assert.deepEqual(web.tokens, node.tokens);
  assert.equal(web.attributions.length, node.attributions.length);
  web.attributions.forEach((a, k) => {
    const b = node.attributions[k]!;
    assert.equal(a.target, b.target);
    const scale = Math.max(...b.per_token.map(Math.abs));
    a.per_token.forEach((v, i) => assert.ok(Math.abs(v - b.per_token[i]!) <= 1e-4 * scale, `${a.target} token ${i}: web ${v} vs node ${b.per_token[i]}`));
  });
}

test('the page explains the walkthrough example on the demo QA model as the Node CLI does (answer, per-token attributions)', { skip }, async () => {
  const cli = await runCli(['explain', 'qa', '--format', 'json']);
  assert.equal(cli.code, 0, cli.stderr);
  const node = JSON.parse(cli.stdout) as Json;
  const { page, errors } = await openPage('run=1');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const web = await resultJson(page);
  assert.equal(web.prediction['answer'], node.prediction['answer']);
  assert.equal(web.prediction['start'], node.prediction['start']);
  assert.equal(web.prediction['end'], node.prediction['end']);
  assertSameAttributions(web, node);
  // Start and end together, the answer marked in the context and in the table, deltas with the large one flagged.
  assert.deepEqual(await page.$$eval('#attributions tbody tr', (trs) => trs.map((t) => t.getAttribute('data-target'))), ['start', 'end']);
  assert.equal(await page.textContent('#answer'), node.prediction['answer']);
  const answerMarks = await page.$$eval('#attributions tbody tr:first-child mark.tok.answer', (ms) => ms.map((m) => Number(m.getAttribute('data-index'))));
  assert.deepEqual(answerMarks, Array.from({ length: (node.prediction['end'] as number) - (node.prediction['start'] as number) + 1 }, (_, i) => (node.prediction['start'] as number) + i));
  assert.match((await page.textContent('#gradlens-result')) ?? '', /start: the convergence delta .*\(more than 5%\)/);
  // Hover shows the exact value.
  const title = await page.getAttribute('#attributions tbody tr:first-child mark.tok[data-index="1"]', 'title');
  assert.match(title ?? '', /0\.\d{4}/);
  // WASM threads: the served page is cross-origin isolated.
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  assert.match((await page.textContent('#gradlens-status')) ?? '', /wasm, \d+ threads?/);
  // Download JSON saves exactly what #gradlens-json holds.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  const saved = await download.path();
  const { readFileSync } = await import('node:fs');
  assert.equal(readFileSync(saved, 'utf8'), await page.textContent('#gradlens-json'));
  await page.screenshot({ path: join(work, 'qa.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('classify on the demo sentiment model equals the Node CLI (URL parameters preselect model, task, text, method, steps)', { skip }, async () => {
  const text = 'This movie was absolutely wonderful!';
  const cli = await runCli(['explain', 'classify', '--text', text, '--steps', '20', '--format', 'json']);
  assert.equal(cli.code, 0, cli.stderr);
  const node = JSON.parse(cli.stdout) as Json;
  const { page } = await openPage(`model=/models/sentiment/&task=classify&text=${encodeURIComponent(text)}&method=layer-ig&steps=20&run=1`);
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const web = await resultJson(page);
  assert.equal(web.prediction['label'], node.prediction['label']);
  assert.equal(web.attributions[0]!.n_steps, 20);
  assertSameAttributions(web, node);
  await page.close();
});

test('a perturbation method at word level in the page equals the Node CLI (shapley, seeded; granularity word)', { skip }, async () => {
  const text = 'An empowering, wonderful film';
  const cli = await runCli(['explain', 'classify', '--text', text, '--method', 'shapley', '--samples', '10', '--seed', '3', '--granularity', 'word', '--format', 'json']);
  assert.equal(cli.code, 0, cli.stderr);
  const node = JSON.parse(cli.stdout) as Json & { words: string[] };
  const { page } = await openPage(`model=/models/sentiment/&task=classify&text=${encodeURIComponent(text)}&method=shapley&samples=10&seed=3&granularity=word&run=1`);
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const web = await resultJson(page) as Json & { words: string[] };
  assert.deepEqual(web.words, node.words);
  assertSameAttributions(web, node);
  // The view shows words: "empowering" is one mark, not "em" + "##power" + "##ing".
  assert.ok(await page.locator('mark.tok', { hasText: /^empowering$/ }).count() > 0);
  await page.close();
});

test('a folder picked in the page (a directory input) is explained like the served one', { skip }, async () => {
  const { page } = await openPage('task=classify&text=I+hated+every+minute&steps=8');
  await page.selectOption('#model-select', 'folder');
  await page.setInputFiles('#folder-input', join(ROOT, 'demo', 'sentiment'));
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const web = await resultJson(page);
  const cli = await runCli(['explain', 'classify', '--text', 'I hated every minute', '--steps', '8', '--format', 'json']);
  assertSameAttributions(web, JSON.parse(cli.stdout) as Json);
  await page.close();
});

test('the progress bar advances, Cancel stops a long run, a second run replaces the first, and the page stays usable', { skip }, async () => {
  const { page, errors } = await openPage('steps=512&run=1');
  await page.waitForFunction(() => {
    const bar = document.getElementById('gradlens-progress') as HTMLProgressElement;
    return bar.max === 512 && bar.value > 0;
  }, null, { timeout: 60_000 });
  const first = await page.$eval('#gradlens-progress', (b) => (b as HTMLProgressElement).value);
  await page.waitForFunction((v) => (document.getElementById('gradlens-progress') as HTMLProgressElement).value > v, first, { timeout: 60_000 });
  await page.click('#cancel');
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'cancelled');
  assert.match((await page.textContent('#gradlens-status')) ?? '', /cancelled/);
  assert.equal(await page.textContent('#gradlens-json'), '', 'no result from the cancelled run');
  // Usable again: a short run finishes.
  await page.fill('#opt-steps', '8');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done');
  assert.equal((await resultJson(page)).attributions[0]!.n_steps, 8);
  // A second run started while one runs: the first is abandoned, only the second's result is shown.
  await page.fill('#opt-steps', '512');
  await page.click('#run');
  await page.waitForFunction(() => document.body.dataset['state'] === 'running');
  assert.equal(await page.textContent('#gradlens-json'), '', 'the previous result is cleared when a run starts');
  await page.fill('#opt-steps', '6');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done');
  assert.equal((await resultJson(page)).attributions[0]!.n_steps, 6);
  // A reload mid-run: the page starts fresh, idle, with no result.
  await page.goto(`${server.url}?steps=512`);
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  await page.click('#run');
  await page.waitForFunction(() => document.body.dataset['state'] === 'running');
  await page.reload();
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  assert.equal(await page.textContent('#gradlens-json'), '');
  assert.equal(await page.isHidden('#gradlens-result'), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a folder without tokenizer.json, a truncated model.onnx and a quantized-only folder each give one sentence in #gradlens-error', { skip }, async () => {
  const cases = [
    ['notok', /has no tokenizer\.json/],
    ['truncated', /onnx\/model\.onnx.* is not a valid ONNX model/],
    ['quantized', /has only model_quantized\.onnx: gradlens differentiates the fp32 onnx\/model\.onnx/],
  ] as const;
  for (const [name, pattern] of cases) {
    const { page } = await openPage(`model=/models/${name}/&run=1`);
    await finished(page);
    assert.equal(await page.evaluate(() => document.body.dataset['state']), 'error');
    const message = (await page.textContent('#gradlens-error')) ?? '';
    assert.match(message, pattern);
    assert.doesNotMatch(message, /\n|\bat \S+:\d+/, 'one sentence, no stack');
    assert.match(message, /\.$/);
    assert.equal(await page.textContent('#gradlens-json'), '');
    // Still usable: the demo runs after the error.
    await page.selectOption('#model-select', '/models/qa/');
    await page.fill('#opt-steps', '4');
    await page.click('#run');
    await finished(page);
    assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done');
    assert.equal(await page.isHidden('#gradlens-error'), true);
    await page.close();
  }
});

interface ImageJson {
  model: string; method: string; layer?: string;
  prediction: { index: number; label: string; probability: number };
  attributions: { shape: number[]; data: string };
  delta: number | null;
}

const floats = (a: { data: string }): Float32Array => {
  const b = Buffer.from(a.data, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
};

/** The panels PNG's size as its IHDR chunk declares it. */
const pngSize = (bytes: Buffer): [number, number] => {
  assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
};

async function panelsSize(page: Page): Promise<[number, number]> {
  return page.$eval('#gradlens-result .panels img', async (img) => {
    const i = img as HTMLImageElement;
    await i.decode();
    return [i.naturalWidth, i.naturalHeight] as [number, number];
  });
}

test('the image task explains the triangle sample on the demo image model as the Node CLI does (ig: prediction, attributions, 1152×224 panels, PNG/JSON/HTML downloads), and grad-cam runs', { skip }, async () => {
  const sample = join(ROOT, 'demo', 'image', 'samples', 'triangle.png');
  const cli = await runCli(['explain', 'image', '--image', sample, '--format', 'json']);
  assert.equal(cli.code, 0, cli.stderr);
  const node = JSON.parse(cli.stdout) as ImageJson;
  assert.equal(node.prediction.label, 'triangle');
  const { page, errors } = await openPage('task=image&model=/models/image/&sample=triangle&method=ig&run=1');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  // The method select offers the image methods of the CLI's table; granularity is a text option.
  assert.deepEqual(await page.$$eval('#method option', (os) => os.map((o) => (o as HTMLOptionElement).value)), methodsFor('image').map((m) => m.name));
  assert.equal(await page.isHidden('#granularity'), true);
  const web = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as ImageJson;
  assert.equal(web.model, node.model);
  assert.equal(web.method, 'ig');
  assert.equal(web.prediction.label, 'triangle');
  assert.ok(Math.abs(web.prediction.probability - node.prediction.probability) < 1e-4, `probability: web ${web.prediction.probability} vs node ${node.prediction.probability}`);
  assert.match((await page.textContent('#gradlens-result h1')) ?? '', /Why triangle\?/);
  assert.match((await page.textContent('#gradlens-result')) ?? '', /Prediction\s*triangle \(\d+\.\d%\)/);
  // Per pixel and channel, |web − node| ≤ 1e-4 × the largest |node| value (float32 on two ONNX Runtime builds).
  assert.deepEqual(web.attributions.shape, [1, 3, 32, 32]);
  const [w, n] = [floats(web.attributions), floats(node.attributions)];
  assert.equal(w.length, n.length);
  const scale = Math.max(...Array.from(n, Math.abs));
  w.forEach((v, i) => assert.ok(Math.abs(v - n[i]!) <= 1e-4 * scale, `value ${i}: web ${v} vs node ${n[i]}`));
  assert.ok(Math.abs(web.delta! - node.delta!) <= 1e-4 * Math.max(1, Math.abs(node.delta!)), `delta: web ${web.delta} vs node ${node.delta}`);
  // Five panels of 224 px (the 32×32 image enlarged 7×) and four 8 px gaps: the image and sign absolute_value's four views.
  assert.deepEqual(await panelsSize(page), [1152, 224]);
  const { readFileSync } = await import('node:fs');
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('#download-png')]);
  assert.deepEqual(pngSize(readFileSync(await png.path())), [1152, 224]);
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  assert.equal(readFileSync(await json.path(), 'utf8'), await page.textContent('#gradlens-json'));
  const [html] = await Promise.all([page.waitForEvent('download'), page.click('#download-html')]);
  const report = readFileSync(await html.path(), 'utf8');
  assert.match(report, /<script type="application\/json" id="gradlens-explanation">/);
  assert.match(report, /<img src="data:image\/png;base64,[^"]+" width="1152" height="224"/);
  await page.screenshot({ path: join(work, 'image.png'), fullPage: true });

  // grad-cam from the select: the map of the last feature map, upsampled to the image.
  await page.selectOption('#method', 'grad-cam');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const cam = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as ImageJson;
  const nodeCam = await runCli(['explain', 'image', '--image', sample, '--method', 'grad-cam', '--format', 'json']);
  assert.equal(nodeCam.code, 0, nodeCam.stderr);
  const camNode = JSON.parse(nodeCam.stdout) as ImageJson;
  assert.equal(cam.method, 'grad-cam');
  assert.equal(cam.prediction.label, 'triangle');
  assert.equal(cam.layer, camNode.layer);
  assert.deepEqual(cam.attributions.shape, [1, 1, 32, 32]);
  const [cw, cn] = [floats(cam.attributions), floats(camNode.attributions)];
  const camScale = Math.max(...Array.from(cn, Math.abs));
  assert.ok(camScale > 0, 'grad-cam is not zero everywhere');
  cw.forEach((v, i) => assert.ok(Math.abs(v - cn[i]!) <= 1e-4 * camScale, `grad-cam ${i}: web ${v} vs node ${cn[i]}`));
  assert.deepEqual(await panelsSize(page), [1152, 224]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('an image file that is not a PNG or JPEG gives one sentence in #gradlens-error, and the page then explains a sample', { skip }, async () => {
  const { page, errors } = await openPage('task=image&model=/models/image/');
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  await page.setInputFiles('#image-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image, just some text\n') });
  assert.equal(await page.$eval('#image-source', (s) => (s as HTMLSelectElement).value), 'file', 'picking a file selects it');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'error');
  const message = (await page.textContent('#gradlens-error')) ?? '';
  assert.match(message, /^notes\.txt is neither a PNG nor a JPEG file/);
  assert.doesNotMatch(message, /\n|\bat \S+:\d+|internal error/, 'one sentence, no stack');
  assert.match(message, /\.$/);
  assert.equal(await page.textContent('#gradlens-json'), '');
  assert.equal(await page.isHidden('#gradlens-result'), true);
  // Still usable: a sample with another method runs after the error.
  await page.selectOption('#image-source', 'square');
  await page.selectOption('#method', 'saliency');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  assert.equal(await page.isHidden('#gradlens-error'), true);
  const web = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as ImageJson;
  assert.equal(web.method, 'saliency');
  assert.equal(web.prediction.label, 'square');
  assert.deepEqual(errors, []);
  await page.close();
});

interface TabularJson {
  task: string; method: string; captum: string;
  features: { name: string; value: number; baseline: number | null; attribution: number }[];
  prediction: { index: number; label: string; probability: number };
  target: { index: number; label: string };
  baseline: string | null; delta: number | null; f_x: number; f_baseline: number | null;
}

/** Same features, values and baselines; per feature |web − node| ≤ tolerance; the same prediction and target. */
function assertSameTabular(web: TabularJson, node: TabularJson, tolerance = 1e-5): void {
  assert.equal(web.task, 'tabular');
  assert.equal(web.method, node.method);
  assert.equal(web.captum, node.captum);
  assert.deepEqual(web.features.map((f) => [f.name, f.value, f.baseline]), node.features.map((f) => [f.name, f.value, f.baseline]));
  web.features.forEach((f, i) => {
    const n = node.features[i]!.attribution;
    assert.ok(Math.abs(f.attribution - n) <= tolerance, `${f.name}: web ${f.attribution} vs node ${n}`);
  });
  assert.equal(web.prediction.label, node.prediction.label);
  assert.ok(Math.abs(web.prediction.probability - node.prediction.probability) <= 1e-5, `probability: web ${web.prediction.probability} vs node ${node.prediction.probability}`);
  assert.deepEqual([web.target.index, web.target.label], [node.target.index, node.target.label]);
  assert.equal(web.baseline, node.baseline);
  assert.ok(Math.abs(web.f_x - node.f_x) <= 1e-5, `F(x): web ${web.f_x} vs node ${node.f_x}`);
  if (node.delta === null) assert.equal(web.delta, null);
  else assert.ok(Math.abs(web.delta! - node.delta) <= 1e-5, `delta: web ${web.delta} vs node ${node.delta}`);
}

const rowObject = (n: number): Record<string, number> => Object.fromEntries(MLP_FEATURES.map((f, i) => [f, Number(MLP_ROWS[n]![i])]));

test('the tabular task explains a JSON row on an MLP folder as the Node CLI does (ig: per-feature attributions within 1e-5, the Vega bar chart, JSON/SVG/HTML downloads), and row 1 of a picked CSV with the mean baseline', { skip }, async () => {
  const row = JSON.stringify(rowObject(1));
  const mlp = join(work, 'mlp');
  const cli = await runCli(['explain', 'tabular', '--model', mlp, '--row', row, '--format', 'json']);
  assert.equal(cli.code, 0, cli.stderr);
  const node = JSON.parse(cli.stdout) as TabularJson;
  const { page, errors } = await openPage(`task=tabular&model=/models/mlp/&row=${encodeURIComponent(row)}&method=ig&run=1`);
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  // The method select offers the tabular methods of the CLI's table; granularity is a text option.
  assert.deepEqual(await page.$$eval('#method option', (os) => os.map((o) => (o as HTMLOptionElement).value)), methodsFor('tabular').map((m) => m.name));
  assert.equal(await page.isHidden('#granularity'), true);
  const web = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as TabularJson;
  assert.equal(web.method, 'ig');
  assert.deepEqual(web.features.map((f) => f.name), MLP_FEATURES);
  assertSameTabular(web, node);
  assert.match((await page.textContent('#gradlens-result h1')) ?? '', new RegExp(`^ig: why ${node.target.label}\\? \\(predicted ${node.prediction.label}, \\d+\\.\\d%\\)$`));
  // The chart Vega drew in the worker: one bar per feature; the feature table.
  assert.equal(await page.locator('#tabular-chart').count(), 1);
  assert.equal(await page.$$eval('#tabular-chart .mark-rect path', (ps) => ps.length), MLP_FEATURES.length);
  assert.equal(await page.$$eval('#tabular-features tr', (trs) => trs.length), MLP_FEATURES.length + 1);
  const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#download-svg')]);
  const svgText = readFileSync(await svg.path(), 'utf8');
  assert.ok(svgText.startsWith('<svg'), `the SVG download starts with <svg: ${svgText.slice(0, 40)}`);
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  assert.equal(readFileSync(await json.path(), 'utf8'), await page.textContent('#gradlens-json'));
  const [html] = await Promise.all([page.waitForEvent('download'), page.click('#download-html')]);
  const report = readFileSync(await html.path(), 'utf8');
  assert.match(report, /<script type="application\/json" id="gradlens-explanation">/);
  assert.match(report, /<svg[^>]*class="marks"/);
  mkdirSync(join(ROOT, 'scratch'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'scratch', 'web-tabular.png'), fullPage: true });

  // The same row as row 1 of the CSV file picked in the page, against the table's column means, and kernel-shap.
  await page.setInputFiles('#csv-file', MLP_CSV);
  assert.equal(await page.$eval('#row-source', (s) => (s as HTMLSelectElement).value), 'csv', 'picking a CSV file selects it');
  assert.equal(await page.isHidden('#row'), true);
  await page.fill('#csv-row', '1');
  await page.selectOption('#tabular-baseline', 'mean');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const nodeMean = await runCli(['explain', 'tabular', '--model', mlp, '--csv', MLP_CSV, '--row', '1', '--baseline', 'mean', '--format', 'json']);
  assert.equal(nodeMean.code, 0, nodeMean.stderr);
  const mean = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as TabularJson;
  assert.equal(mean.baseline, 'mean');
  assertSameTabular(mean, JSON.parse(nodeMean.stdout) as TabularJson);
  assert.deepEqual(mean.features.map((f) => f.value), web.features.map((f) => f.value), 'row 1 of the CSV is the JSON row');
  await page.selectOption('#method', 'kernel-shap');
  await page.fill('#opt-samples', '40');
  await page.fill('#opt-seed', '7');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  const nodeShap = await runCli(['explain', 'tabular', '--model', mlp, '--csv', MLP_CSV, '--row', '1', '--baseline', 'mean', '--method', 'kernel-shap', '--samples', '40', '--seed', '7', '--format', 'json']);
  assert.equal(nodeShap.code, 0, nodeShap.stderr);
  const shap = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as TabularJson;
  assert.equal(shap.method, 'kernel-shap');
  assertSameTabular(shap, JSON.parse(nodeShap.stdout) as TabularJson, 1e-4);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a tabular row missing a feature, with an extra feature or a non-number, a CSV without the model\'s columns, and mean without a CSV each give one sentence in #gradlens-error', { skip }, async () => {
  const { page, errors } = await openPage('task=tabular&model=/models/mlp/');
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  const { Longitude: _dropped, ...missing } = rowObject(0);
  const cases: [string, () => Promise<void>, RegExp][] = [
    ['missing', () => page.fill('#row', JSON.stringify(missing)), /^the row is missing feature Longitude\.$/],
    ['extra', () => page.fill('#row', JSON.stringify({ ...rowObject(0), Rooms: 3 })), /^the row has feature the model does not take: Rooms\.$/],
    ['non-number', () => page.fill('#row', JSON.stringify({ ...rowObject(0), HouseAge: 'old' })), /^the row: feature HouseAge is "old", not a finite number\.$/],
    ['not json', () => page.fill('#row', '{MedInc: 1'), /^the row must be a JSON object/],
    ['mean without a csv', async () => { await page.fill('#row', JSON.stringify(rowObject(0))); await page.selectOption('#tabular-baseline', 'mean'); }, /^baseline mean is the column means of a table: pick a CSV file/],
    ['csv without the columns', async () => {
      await page.selectOption('#tabular-baseline', '');
      await page.setInputFiles('#csv-file', { name: 'other.csv', mimeType: 'text/csv', buffer: Buffer.from('age,income\n41,52000\n') });
    }, /^other\.csv: the header has no column MedInc, HouseAge, .* \(the model's features: MedInc, HouseAge, /],
    ['row number past the end', async () => {
      await page.setInputFiles('#csv-file', MLP_CSV);
      await page.fill('#csv-row', '9');
    }, /^the row number must be an integer from 0 to 4 \(mlp-rows\.csv has 5 rows after its header\), got 9\.$/],
  ];
  for (const [what, setUp, pattern] of cases) {
    await setUp();
    await page.click('#run');
    await finished(page);
    assert.equal(await page.evaluate(() => document.body.dataset['state']), 'error', what);
    const message = (await page.textContent('#gradlens-error')) ?? '';
    assert.match(message, pattern, what);
    assert.doesNotMatch(message, /\n|\bat \S+:\d+|internal error/, `${what}: one sentence, no stack`);
    assert.match(message, /\.$/, what);
    assert.equal(await page.textContent('#gradlens-json'), '', what);
    assert.equal(await page.isHidden('#gradlens-result'), true, what);
  }
  // Still usable: a good row runs after the errors.
  await page.selectOption('#row-source', 'json');
  await page.fill('#row', JSON.stringify(MLP_ROWS[2]!.map(Number)));
  await page.selectOption('#method', 'saliency');
  await page.click('#run');
  await finished(page);
  assert.equal(await page.evaluate(() => document.body.dataset['state']), 'done', (await page.textContent('#gradlens-error')) ?? '');
  assert.equal(await page.isHidden('#gradlens-error'), true);
  const web = JSON.parse((await page.textContent('#gradlens-json')) ?? '') as TabularJson;
  assert.equal(web.method, 'saliency');
  assert.deepEqual(web.features.map((f) => f.value), MLP_ROWS[2]!.map(Number));
  assert.deepEqual(errors, []);
  await page.close();
});
