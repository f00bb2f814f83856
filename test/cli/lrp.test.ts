import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, assertOneLineError } from './run-cli.js';
import { fixture } from '../helpers.js';

// One-pass methods through the CLI on every task: AttnLRP / CP-LRP (delta = the conservation gap Σ relevance − F(x)),
// attention weights and rollout (rows of probabilities), the text view's wording, the HTML head view.

const RUNS: [string, string[]][] = [
  ['qa', ['explain', 'qa']],
  ['classify', ['explain', 'classify', '--text', 'I loved it']],
  ['tokens', ['explain', 'tokens', '--model', fixture('models', 'bert-ner'), '--text', 'Ada lives in London.']],
  ['zero-shot', ['explain', 'zero-shot', '--model', fixture('models', 'bert-nli'), '--text', 'Football match.', '--labels', 'sports,politics']],
];

test('attnlrp and cp-lrp on every task: one pass, delta = Σ relevance − F(x), no baseline', async () => {
  for (const [task, args] of RUNS) {
    for (const method of ['attnlrp', 'cp-lrp']) {
      const r = await runCli([...args, '--method', method, '--format', 'json']);
      assert.equal(r.code, 0, `${task} ${method}: ${r.stderr}`);
      const e = JSON.parse(r.stdout);
      for (const a of e.attributions) {
        assert.equal(a.method, method);
        assert.equal(a.n_steps, null);
        assert.equal(a.f_baseline, null);
        const sum = a.per_token.reduce((s: number, v: number) => s + v, 0);
        assert.ok(Math.abs(a.delta - (sum - a.f_x)) < 1e-4 * Math.max(1, Math.abs(a.f_x)), `${task} ${method}: delta ${a.delta} vs ${sum - a.f_x}`);
      }
      assert.deepEqual(e.warnings.filter((w: string) => /convergence/.test(w)), [], 'no convergence warning for a conservation gap');
    }
  }
  const text = await runCli(['explain', 'qa', '--method', 'attnlrp']);
  assert.match(text.stdout, /\[start\] attribution score [-\d.e]+, F\(x\) [-\d.e]+, conservation gap [-\d.e]+/);
});

test('attention and rollout on every task: probability rows, the layer named, the head view in HTML', async () => {
  for (const [task, args] of RUNS) {
    for (const method of ['attention', 'rollout']) {
      const r = await runCli([...args, '--method', method, '--format', 'json']);
      assert.equal(r.code, 0, `${task} ${method}: ${r.stderr}`);
      const e = JSON.parse(r.stdout);
      for (const a of e.attributions) {
        const sum = a.per_token.reduce((s: number, v: number) => s + v, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `${task} ${method}: the row sums to ${sum}`);
        assert.ok(a.per_token.every((v: number) => v >= 0));
        assert.equal(a.delta, null);
        assert.match(a.layer, method === 'rollout' ? /^rollout of 2 layers: / : /Softmax/);
        assert.equal(a.attention.layers, 2);
        assert.equal(a.attention.weights[0][0].length, e.tokens.length);
      }
    }
  }
  const html = await runCli(['explain', 'classify', '--text', 'I loved it', '--method', 'attention', '--attention-layer', '0', '--format', 'html']);
  assert.match(html.stdout, /<h2>Attention by layer and head<\/h2>/);
  assert.equal((html.stdout.match(/<svg class="strip"/g) ?? []).length, 2 * 4, 'layers × heads strips');
  assert.match(html.stdout, /Attention layer<\/strong>: 0/);
  assertOneLineError(await runCli(['explain', 'classify', '--text', 'I loved it', '--method', 'attention', '--attention-layer', '7']), /--attention-layer 7 is out of range: the model has 2 attention layers \(0–1, or last\)/);
});
