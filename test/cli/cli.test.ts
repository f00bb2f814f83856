import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, assertOneLineError } from './run-cli.js';
import { ROOT, fixture } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-cli-'));
const SEED_ANSWER = 'to include, empower and support humans of all kinds';

test('explain qa with no arguments answers the walkthrough example on the demo model', async () => {
  const r = await runCli(['explain', 'qa', '--steps', '16']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`answer: "${SEED_ANSWER}"`));
  assert.match(r.stdout, /\[start\] attribution score -?\d/);
  assert.match(r.stdout, /\[end\] attribution score -?\d/);
  assert.match(r.stdout, /convergence delta/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'plain text when NO_COLOR / not a TTY');
});

test('explain qa --format json follows the documented schema', async () => {
  const r = await runCli(['explain', 'qa', '-q', 'What is important to us?', '-c', 'It is important to us to include, empower and support humans of all kinds.', '--format', 'json', '--steps', '20']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.equal(e.task, 'qa');
  assert.equal(e.prediction.answer, SEED_ANSWER);
  for (const key of ['answer', 'start', 'end', 'score']) assert.ok(key in e.prediction, key);
  assert.equal(e.tokens.length, e.input_ids.length);
  assert.deepEqual(e.attributions.map((a: any) => a.target), ['start', 'end']);
  for (const a of e.attributions) {
    for (const key of ['target', 'position', 'method', 'layer', 'n_steps', 'integration', 'per_token', 'normalized', 'delta', 'f_x', 'f_baseline']) assert.ok(key in a, key);
    assert.equal(a.per_token.length, e.tokens.length);
    assert.ok(Math.abs(Math.hypot(...a.normalized) - 1) < 1e-9, 'normalized has unit L2 norm');
    const sum = a.per_token.reduce((s: number, v: number) => s + v, 0);
    assert.ok(Math.abs(a.delta - (sum - (a.f_x - a.f_baseline))) < 1e-6, 'delta = Σ attributions − (F(x) − F(b))');
    assert.equal(a.n_steps, 20);
    assert.equal(a.integration, 'gausslegendre');
  }
  assert.equal(e.attributions[0].position, e.prediction.start);
  assert.equal(e.attributions[1].position, e.prediction.end);
});

test('--steps auto refines until the convergence delta is within 1% of F(x) − F(baseline)', async () => {
  const r = await runCli(['explain', 'qa', '--steps', 'auto', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  for (const a of e.attributions) {
    assert.ok(Math.abs(a.delta) <= 0.01 * Math.abs(a.f_x - a.f_baseline) + 1e-6, `${a.target}: |delta| ${a.delta} within 1% of ${a.f_x - a.f_baseline}`);
    assert.ok(a.n_steps >= 4 && a.n_steps <= 256);
  }
  assert.equal(e.settings.steps, 'auto');
});

test('explain classify on the demo sentiment model, every method, svg and html', async () => {
  const dir = tmp();
  const pos = await runCli(['explain', 'classify', '--text', 'This movie was absolutely wonderful!', '--format', 'json', '--steps', '8']);
  assert.equal(pos.code, 0, pos.stderr);
  assert.equal(JSON.parse(pos.stdout).prediction.label, 'positive');
  const neg = await runCli(['explain', 'classify', '--text', 'The food was terrible and the staff were rude.', '--format', 'json', '--steps', '8']);
  assert.equal(JSON.parse(neg.stdout).prediction.label, 'negative');
  for (const method of ['layer-ig', 'ig', 'saliency', 'input-x-gradient', 'smoothgrad', 'gradient-shap']) {
    const r = await runCli(['explain', 'classify', '--text', 'I loved it', '--method', method, '--steps', '4', '--format', 'json', '--target', 'negative']);
    assert.equal(r.code, 0, `${method}: ${r.stderr}`);
    const e = JSON.parse(r.stdout);
    assert.equal(e.attributions[0].method, method);
    assert.equal(e.attributions[0].target, 'negative');
    assert.ok(e.attributions[0].per_token.some((v: number) => v !== 0), `${method} gives non-zero attributions`);
  }
  const svg = join(dir, 'a.svg');
  const r = await runCli(['explain', 'classify', '--text', 'great fun', '--format', 'svg', '-o', svg, '--steps', '4']);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(svg, 'utf8');
  assert.match(text, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((text.match(/<rect x=/g) ?? []).length, 4, 'one box per token: [CLS] great fun [SEP]');
  const html = await runCli(['explain', 'classify', '--text', 'great fun', '--format', 'html', '--steps', '4']);
  assert.match(html.stdout, /<th>Word Importance<\/th>/);
});

test('explain tokens and zero-shot on fixture models, every format', async () => {
  const dir = tmp();
  const ner = fixture('models', 'bert-ner');
  const nli = fixture('models', 'bert-nli');
  for (const format of ['text', 'json', 'html', 'svg']) {
    const out = join(dir, `tokens.${format}`);
    const r = await runCli(['explain', 'tokens', '-t', 'Ada Lovelace was born in London.', '--model', ner, '--format', format, '-o', out, '--steps', '8']);
    assert.equal(r.code, 0, r.stderr);
    const z = await runCli(['explain', 'zero-shot', '-t', 'The team won the football match yesterday.', '--labels', 'sports,politics,cooking', '--model', nli, '--format', format, '--steps', '8']);
    assert.equal(z.code, 0, z.stderr);
    if (format === 'json') {
      const e = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(e.task, 'tokens');
      assert.equal(e.prediction.labels.length, e.tokens.length);
      assert.ok(e.attributions.length >= 1);
      const zs = JSON.parse(z.stdout);
      assert.deepEqual([...zs.prediction.labels].sort(), ['cooking', 'politics', 'sports']);
      assert.ok(Math.abs(zs.prediction.scores.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-6, 'softmax over candidates');
      assert.equal(zs.attributions[0].index, 2, 'the entailment logit');
    }
  }
  const one = await runCli(['explain', 'tokens', '-t', 'Ada Lovelace was born in London.', '--model', ner, '--token', '2', '--format', 'json', '--steps', '4']);
  assert.equal(JSON.parse(one.stdout).attributions[0].position, 2);
  assertOneLineError(await runCli(['explain', 'tokens', '-t', 'Ada', '--model', ner, '--token', '99']), /--token 99 is outside/);
  assertOneLineError(await runCli(['explain', 'zero-shot', '-t', 'x', '--labels', ' , ', '--model', nli]), /at least one candidate label/);
  assertOneLineError(await runCli(['explain', 'zero-shot', '-t', 'x', '--labels', 'a,b', '--model', fixture('models', 'bert-ner')]), /explain zero-shot needs class logits \[batch, labels\] \(a token-classification model: use gradlens explain tokens\)/);
  assertOneLineError(await runCli(['explain', 'zero-shot', '-t', 'x', '--labels', 'a,b', '--model', fixture('models', 'distilbert-cls')]), /needs an NLI model whose config labels include "entailment"/);
});

test('--help with examples on every command, --version', async () => {
  for (const cmd of [['explain', 'qa'], ['explain', 'classify'], ['explain', 'tokens'], ['explain', 'zero-shot'], ['batch'], ['grad'], ['inspect']]) {
    const r = await runCli([...cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Example/, `${cmd.join(' ')} --help has examples`);
  }
  const v = await runCli(['--version']);
  assert.equal(v.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
});

test('bad input: one clear line, non-zero exit, no stack trace', async () => {
  const dir = tmp();
  assertOneLineError(await runCli(['frobnicate']), /unknown command/);
  assertOneLineError(await runCli(['explain', 'qa', '--bogus']), /unknown option/);
  assertOneLineError(await runCli(['explain', 'classify']), /required option/);
  assertOneLineError(await runCli(['explain', 'qa', '-q', '', '-c', 'text']), /question is empty/);
  assertOneLineError(await runCli(['explain', 'qa', '-q', 'Why?']), /both --question and --context/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', '   ']), /text is empty/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', 'ok', '--steps', '0']), /--steps/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', 'ok', '--method', 'magic']), /magic/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', 'ok', '--target', 'sarcastic']), /unknown label "sarcastic"/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', 'ok', '--layer', 'no/such/tensor']), /no\/such\/tensor/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', 'ok', '--model', join(dir, 'missing')]), /not found/);
  assertOneLineError(await runCli(['explain', 'classify', '-t', 'ok', '-o', '/nonexistent-dir/x/out.txt', '--method', 'saliency']), /cannot write/);
  assertOneLineError(await runCli(['explain', 'tokens', '-t', 'ok']), /--model/);
  assertOneLineError(await runCli(['batch', '--task', 'qa', '--input', join(dir, 'nope.jsonl'), '--out', join(dir, 'o.jsonl')]), /cannot read/);
  assertOneLineError(await runCli(['inspect', join(ROOT, 'README.md')]), /not a valid ONNX model/);
});

test('the demo QA start target warns about its 17% convergence delta at 50 steps, in JSON and on stderr; --steps auto does not', async () => {
  const r50 = await runCli(['explain', 'qa', '--format', 'json']);
  assert.equal(r50.code, 0, r50.stderr);
  const e50 = JSON.parse(r50.stdout) as { warnings: string[]; attributions: { target: string; delta: number; f_x: number; f_baseline: number }[] };
  const start = e50.attributions.find((a) => a.target === 'start')!;
  const share = Math.abs(start.delta) / Math.abs(start.f_x - start.f_baseline);
  assert.ok(share > 0.05, `the start delta is ${share} of F(x) − F(baseline)`);
  assert.deepEqual(e50.warnings.filter((w) => w.startsWith('start: the convergence delta')).length, 1);
  assert.match(e50.warnings.find((w) => w.startsWith('start:'))!, /is 17% of F\(x\) − F\(baseline\) = 9\.88 \(more than 5%\): try --steps auto or more steps/);
  assert.equal(e50.warnings.filter((w) => w.startsWith('end:')).length, 0, 'the end delta is small: no warning');
  assert.match(r50.stderr, /gradlens: warning: start: the convergence delta/);
  const text = await runCli(['explain', 'qa']);
  assert.match(text.stdout, /F\(x\) 3\.98\d*, F\(baseline\) -5\.90\d*,\s+convergence delta 1\.72/);
  const auto = await runCli(['explain', 'qa', '--steps', 'auto', '--format', 'json']);
  assert.equal(auto.code, 0, auto.stderr);
  assert.deepEqual((JSON.parse(auto.stdout) as { warnings: string[] }).warnings, []);
  assert.doesNotMatch(auto.stderr, /warning/);
});
