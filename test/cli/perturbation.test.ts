import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, assertOneLineError } from './run-cli.js';
import { fixture, readJson } from '../helpers.js';

// The perturbation methods and word granularity through the CLI: JSON schema, Captum parity end to end on a fixture
// model, word features, and one-line errors for bad settings.

const PERTURBATION = ['occlusion', 'feature-ablation', 'shapley', 'kernel-shap', 'lime'];

test('every perturbation method on every task: the JSON schema of the gradient methods, delta / n_steps / integration null', async () => {
  const runs: [string, string[]][] = [
    ['qa', ['explain', 'qa']],
    ['classify', ['explain', 'classify', '--text', 'I loved it']],
    ['tokens', ['explain', 'tokens', '--model', fixture('models', 'bert-ner'), '--text', 'Ada lives in London.']],
    ['zero-shot', ['explain', 'zero-shot', '--model', fixture('models', 'bert-nli'), '--text', 'Football match.', '--labels', 'sports,politics']],
  ];
  for (const [i, method] of PERTURBATION.entries()) {
    // Each method on two tasks (all tasks covered by every second method), to keep the suite short.
    for (const [task, args] of [runs[i % 4]!, runs[(i + 1) % 4]!]) {
      const r = await runCli([...args, '--method', method, '--format', 'json', '--samples', '8']);
      assert.equal(r.code, 0, `${method} ${task}: ${r.stderr}`);
      const e = JSON.parse(r.stdout);
      assert.equal(e.settings.method, method);
      for (const a of e.attributions) {
        assert.equal(a.method, method);
        assert.equal(a.layer, 'input_ids');
        assert.equal(a.n_steps, null);
        assert.equal(a.integration, null);
        assert.equal(a.delta, null);
        assert.equal(a.per_token.length, e.tokens.length);
        assert.equal(a.normalized.length, e.tokens.length);
        assert.ok(a.per_token.some((v: number) => v !== 0), `${method} ${task}: non-zero attributions`);
        if (method !== 'occlusion') e.tokens.forEach((t: string, k: number) => { if (/^\[(CLS|SEP)\]$/.test(t)) assert.equal(a.per_token[k], 0, `${method}: special token ${t} untouched`); });
      }
      if (task === 'qa') assert.deepEqual(e.attributions.map((a: { target: string }) => a.target), ['start', 'end']);
    }
  }
});

test('explain classify --method feature-ablation / occlusion equals the PyTorch reference of Captum\'s formulas end to end', async () => {
  const ref = readJson(fixture('perturbation', 'reference.json')).models.find((m: { model: string }) => m.model === 'distilbert-cls');
  const ex = ref.examples[0];
  for (const t of ex.targets) {
    const fa = JSON.parse((await runCli(['explain', 'classify', '--model', fixture('models', 'distilbert-cls'), '--text', ex.input.text, '--method', 'feature-ablation', '--target', t.label, '--format', 'json'])).stdout);
    assert.deepEqual(fa.input_ids, ex.ids);
    fa.attributions[0].per_token.forEach((v: number, i: number) => assert.ok(Math.abs(v - t.feature_ablation[i]) <= 3e-6, `${t.label} feature ablation ${i}: ${v} vs ${t.feature_ablation[i]}`));
    assert.ok(Math.abs(fa.attributions[0].f_baseline - t.f_baseline) <= 3e-6);
  }
  const t = ex.targets[0];
  const occ = JSON.parse((await runCli(['explain', 'classify', '--model', fixture('models', 'distilbert-cls'), '--text', ex.input.text, '--method', 'occlusion', '--window', '4', '--stride', '3', '--target', t.label, '--format', 'json'])).stdout);
  const want = t.occlusion.find((o: { window: number; stride: number }) => o.window === 4 && o.stride === 3).per_token;
  occ.attributions[0].per_token.forEach((v: number, i: number) => assert.ok(Math.abs(v - want[i]) <= 3e-6, `occlusion ${i}: ${v} vs ${want[i]}`));
});

test('--granularity word: words, per_word and normalized_word in JSON, words in the views, whole words perturbed', async () => {
  const r = await runCli(['explain', 'qa', '--method', 'feature-ablation', '--granularity', 'word', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.ok(e.words.includes('empower') && !e.words.includes('##power'), `words: ${e.words}`);
  assert.equal(e.token_words.length, e.tokens.length);
  const em = e.tokens.indexOf('em');
  assert.equal(e.tokens[em + 1], '##power');
  for (const a of e.attributions) {
    // One feature per word: both pieces of "empower" carry the word's ablation value; the word sums them.
    assert.equal(a.per_token[em], a.per_token[em + 1]);
    assert.equal(a.per_word.length, e.words.length);
    a.per_word.forEach((v: number, w: number) => {
      const sum = a.per_token.reduce((s: number, x: number, i: number) => s + (e.token_words[i] === w ? x : 0), 0);
      assert.ok(Math.abs(v - sum) < 1e-12);
    });
    const norm = Math.hypot(...a.per_word);
    a.normalized_word.forEach((v: number, w: number) => assert.ok(Math.abs(v - a.per_word[w] / norm) < 1e-12));
  }
  assert.equal(e.settings.granularity, 'word');
  const text = await runCli(['explain', 'qa', '--method', 'saliency', '--granularity', 'word']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /empower\(/);
  assert.doesNotMatch(text.stdout, /##power/);
  assert.match(text.stdout, /word level/);
  const html = await runCli(['explain', 'qa', '--method', 'saliency', '--granularity', 'word', '--format', 'html']);
  assert.match(html.stdout, />empower<\/mark>/);
});

test('perturbation settings that cannot run: one clear line naming the option', async () => {
  const base = ['explain', 'classify', '--text', 'I loved it'];
  assertOneLineError(await runCli([...base, '--method', 'occlusion', '--window', '9']), /--window 9 is larger than the input's 5 tokens/);
  assertOneLineError(await runCli([...base, '--method', 'occlusion', '--stride', '0']), /--stride must be an integer from 1/);
  assertOneLineError(await runCli([...base, '--method', 'occlusion', '--window', '2', '--stride', '3']), /--stride 3 is larger than --window 2/);
  assertOneLineError(await runCli([...base, '--method', 'shapley', '--samples', '0']), /--samples must be an integer from 1/);
  assertOneLineError(await runCli([...base, '--method', 'lime', '--baseline', 'zero']), /--baseline zero is an embedding/);
  assertOneLineError(await runCli([...base, '--method', 'feature-ablation', '--perturbations-per-eval', '0']), /--perturbations-per-eval must be an integer from 1/);
  assertOneLineError(await runCli([...base, '--granularity', 'sentence']), /--granularity/);
  assertOneLineError(await runCli([...base, '--method', 'shapley', '--perturbations-per-eval', '100000', '--memory-budget', '1M']),
    /--perturbations-per-eval 100000 \(76 perturbed inputs in one call here\) would need about .* and the memory budget is 1\.0 MiB; use \d+ or fewer/);
});
