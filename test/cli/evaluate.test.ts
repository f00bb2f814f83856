import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, assertOneLineError } from './run-cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-eval-'));

const REVIEWS = [
  '{"id": "a", "text": "This movie was absolutely wonderful!"}',
  '{"id": "b", "text": "The food was terrible and the staff were rude."}',
  '{"id": "c"}',
  '{"id": "d", "text": "I loved it, great fun."}',
].join('\n');

test('gradlens evaluate: the JSON schema, failed lines reported and skipped, text table and HTML with SVG charts', async () => {
  const dir = tmp();
  const input = join(dir, 'reviews.jsonl');
  writeFileSync(input, `${REVIEWS}\n`);
  const r = await runCli(['evaluate', '--task', 'classify', '--input', input, '--methods', 'layer-ig,occlusion,random', '--steps', '8', '--format', 'json', '--global']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^gradlens: warning: c \(line 3\): missing "text"$/m);
  const ev = JSON.parse(r.stdout);
  assert.deepEqual(ev.methods.map((m: { method: string }) => m.method), ['layer-ig', 'occlusion', 'random']);
  for (const m of ev.methods) {
    for (const k of ['method', 'aopc_comprehensiveness', 'aopc_sufficiency', 'tau_loo', 'infidelity', 'sensitivity_max', 'seconds_per_example', 'examples']) assert.ok(k in m, `${m.method}: ${k}`);
    assert.equal(m.examples, 3);
    assert.equal(m.failed, 1);
    assert.equal(m.curves.q.length, 11);
  }
  assert.equal(typeof ev.methods[0].infidelity, 'number');
  assert.equal(typeof ev.methods[0].sensitivity_max, 'number');
  assert.equal(ev.methods[1].infidelity, null, 'occlusion has no infidelity');
  assert.equal(ev.examples.length, 4);
  const [a, , c] = ev.examples;
  assert.deepEqual(Object.keys(a.attributions), ['layer-ig', 'occlusion', 'random']);
  assert.equal(a.attributions['layer-ig'].length, a.tokens.length);
  assert.equal(a.input_ids.length, a.tokens.length);
  assert.equal(a.prediction.label, 'positive');
  assert.equal(c.error, 'missing "text"');
  assert.ok(ev.global.groups.some((g: { label: string }) => g.label === 'positive'));

  const text = await runCli(['evaluate', '--task', 'classify', '--input', input, '--methods', 'saliency,random', '--metrics', 'aopc,loo']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /comprehensiveness ↑\s+sufficiency ↓\s+τ-LOO ↑/);
  assert.match(text.stdout, /^saliency\s+label\s+\d\.\d{3}\s+/m);
  assert.match(text.stdout, /failed \(1\):\n {2}c \(line 3\): missing "text"/);

  const html = join(dir, 'eval.html');
  const h = await runCli(['evaluate', '--task', 'classify', '--input', input, '--methods', 'saliency,random', '--metrics', 'aopc', '-o', html, '--global']);
  assert.equal(h.code, 0, h.stderr);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<figure class="chart" id="curves"><svg /);
  assert.match(page, /<figure class="chart" id="global"><svg /);
  assert.doesNotMatch(page, /<script/i);
  assert.match(page, /<tr data-method="saliency" data-target="label">/);
});

test('gradlens evaluate: bad options and inputs are one clear line', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, '{"text": "fine"}\n');
  assertOneLineError(await runCli(['evaluate', '--task', 'classify', '--input', input, '--methods', 'layer-ig,bogus']), /unknown method "bogus"/);
  assertOneLineError(await runCli(['evaluate', '--task', 'classify', '--input', input, '--methods', 'random,random']), /--methods names random twice/);
  assertOneLineError(await runCli(['evaluate', '--task', 'classify', '--input', input, '--metrics', 'aopc,speed']), /unknown metric "speed"/);
  assertOneLineError(await runCli(['evaluate', '--task', 'classify', '--input', join(dir, 'missing.jsonl')]), /no such file/);
  assertOneLineError(await runCli(['evaluate', '--task', 'classify', '--input', input, '--methods', 'occlusion', '--window', '0']), /--window must be an integer from 1/);
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '\n\n');
  assertOneLineError(await runCli(['evaluate', '--task', 'classify', '--input', empty]), /has no input lines/);
  // Every line bad: reported, exit 1.
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"txt": "x"}\nnot json\n');
  const r = await runCli(['evaluate', '--task', 'classify', '--input', bad, '--methods', 'saliency']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /line 2 is not valid JSON/);
  assert.match(r.stderr, /every example failed/);
});

test('gradlens summarize: the global explanation of a batch output, text / JSON / HTML, words', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, ['{"text": "wonderful, wonderful film"}', '{"text": "a wonderful empowering story"}', '{"text": "terrible and rude"}', '{"text": "rude staff"}'].join('\n'));
  const out = join(dir, 'out.jsonl');
  const b = await runCli(['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency', '--granularity', 'word']);
  assert.equal(b.code, 0, b.stderr);
  const j = await runCli(['summarize', out, '--format', 'json', '--top', '3']);
  assert.equal(j.code, 0, j.stderr);
  const s = JSON.parse(j.stdout);
  assert.equal(s.by, 'token');
  const pos = s.groups.find((g: { label: string }) => g.label === 'positive');
  assert.equal(pos.explanations, 2);
  assert.ok(pos.items.length <= 3);
  const wonderful = pos.items.find((i: { item: string }) => i.item === 'wonderful');
  assert.equal(wonderful.count, 3, 'counted once per occurrence');
  const words = JSON.parse((await runCli(['summarize', out, '--format', 'json', '--by', 'word', '--top', '50'])).stdout);
  assert.ok(words.groups.flatMap((g: { items: { item: string }[] }) => g.items.map((i) => i.item)).includes('empowering'), 'whole words');
  const text = await runCli(['summarize', out]);
  assert.match(text.stdout, /^positive \(2 explanations\)$/m);
  const html = await runCli(['summarize', out, '--format', 'html']);
  assert.match(html.stdout, /<figure class="chart" id="global"><svg /);
  const plain = join(dir, 'plain.jsonl');
  await runCli(['batch', '--task', 'classify', '--input', input, '--out', plain, '--method', 'saliency']);
  assertOneLineError(await runCli(['summarize', plain, '--by', 'word']), /no words: make them with --granularity word/);
  writeFileSync(join(dir, 'junk.jsonl'), 'nothing here\n');
  assertOneLineError(await runCli(['summarize', join(dir, 'junk.jsonl')]), /holds no explanations/);
});
