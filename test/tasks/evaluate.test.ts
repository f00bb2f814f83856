import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel } from '../autodiff/op-model.js';
import { DT } from '../../src/onnx/tensor.js';
import { encodeModel } from '../../src/onnx/model.js';
import { loadModel } from '../../src/io/folder.js';
import { evaluate } from '../../src/tasks/evaluate.js';
import { globalSummary } from '../../src/tasks/summarize.js';
import { aopcSets, kendallTau, ranking, topCount, infidelity, sensitivityMax } from '../../src/attr/metrics.js';
import { ROOT } from '../helpers.js';

// AOPC on a model whose true importances are known: a linear bag of words. Class 1's logit is Σ_t w[token_t]/2 and
// class 0's is −Σ_t w[token_t]/2 (p(class 1) = σ(Σ w)), so deleting the tokens with the largest w lowers p(class 1) the most: the exact attribution (w
// itself, which FeatureAblation on the logit recovers) ranks optimally, and must score better than `random`.
// Comprehensiveness and sufficiency are recomputed here from the deletions with this file's own softmax.

const VOCAB = 30522;
const WORDS: Record<string, number> = { wonderful: 3, great: 2.5, good: 2, fun: 1.5, nice: 1, boring: -1.5, bad: -2, terrible: -3 };

function bagOfWords(dir: string): { weights: Float32Array; ids: Record<string, number> } {
  const vocab = (JSON.parse(require_('demo/sentiment/tokenizer.json')) as { model: { vocab: Record<string, number> } }).model.vocab;
  const weights = new Float32Array(VOCAB * 2);
  const set = (id: number, w: number) => { weights[id * 2] = -w / 2; weights[id * 2 + 1] = w / 2; };
  let s = 7;
  for (let i = 0; i < VOCAB; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    set(i, ((s / 2 ** 32) - 0.5) * 0.2); // small weights on every token
  }
  for (const special of ['[PAD]', '[CLS]', '[SEP]', '[UNK]']) set(vocab[special]!, 0);
  const ids: Record<string, number> = {};
  for (const [w, v] of Object.entries(WORDS)) { ids[w] = vocab[w]!; set(vocab[w]!, v); }
  const model = buildModel({
    opset: 14,
    inputs: [{ name: 'input_ids', elemType: DT.INT64, shape: ['batch', 'seq'] }, { name: 'attention_mask', elemType: DT.INT64, shape: ['batch', 'seq'] }],
    consts: [
      { name: 'E', elemType: DT.FLOAT, dims: [VOCAB, 2], values: Array.from(weights) },
      { name: 'W', elemType: DT.FLOAT, dims: [2, 2], values: [1, 0, 0, 1] },
      { name: 'axis2', elemType: DT.INT64, dims: [1], values: [2] },
      { name: 'axis1', elemType: DT.INT64, dims: [1], values: [1] },
    ],
    nodes: [
      { op: 'Gather', inputs: ['E', 'input_ids'], outputs: ['lookup'] },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['maskf'], attrs: { to: DT.FLOAT } },
      { op: 'Unsqueeze', inputs: ['maskf', 'axis2'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['lookup', 'mask3'], outputs: ['embeddings'] },
      { op: 'MatMul', inputs: ['embeddings', 'W'], outputs: ['per_token'] },
      { op: 'ReduceSum', inputs: ['per_token', 'axis1'], outputs: ['logits'], attrs: { keepdims: 0 } },
    ],
    outputs: [{ name: 'logits', elemType: DT.FLOAT }],
  });
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), encodeModel(model));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(ROOT, 'demo', 'sentiment', f), join(dir, f));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', id2label: { 0: 'NEG', 1: 'POS' }, label2id: { NEG: 0, POS: 1 }, max_position_embeddings: 128 }));
  return { weights, ids };
}

function require_(rel: string): string { return readFileSync(join(ROOT, rel), 'utf8'); }

const softmax1 = (logit1: number) => 1 / (1 + Math.exp(-logit1));

test('AOPC on a linear bag-of-words model: the exact attribution beats random; comprehensiveness and sufficiency recomputed from the deletions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-bow-'));
  const { weights } = bagOfWords(dir);
  const model = await loadModel(dir);
  const texts = ['a wonderful and fun film with a good cast', 'great fun, nice music, but a bad ending', 'good terrible boring and bad', 'nice'];
  const inputs = texts.map((text, i) => ({ id: `t${i}`, line: i, input: { text } }));
  const ev = await evaluate('classify', model, inputs, { methods: ['feature-ablation', 'layer-ig', 'random'], values: { steps: '16' }, metrics: ['aopc', 'loo'] });
  const by = (m: string) => ev.methods.find((x) => x.method === m)!;
  for (const m of ['feature-ablation', 'layer-ig']) {
    assert.ok(by(m).aopc_comprehensiveness! > by('random').aopc_comprehensiveness!, `${m} comprehensiveness ${by(m).aopc_comprehensiveness} vs random ${by('random').aopc_comprehensiveness}`);
    assert.ok(by(m).aopc_sufficiency! < by('random').aopc_sufficiency!, `${m} sufficiency ${by(m).aopc_sufficiency} vs random ${by('random').aopc_sufficiency}`);
    assert.ok(by(m).tau_loo! > 0.9, `${m}: τ-LOO ${by(m).tau_loo} (exact on an additive model, up to ties of tiny weights)`);
  }
  assert.equal(by('feature-ablation').examples, texts.length);

  for (const rec of ev.examples) {
    const ids = rec.input_ids!;
    const free = ids.flatMap((_, i) => (i === 0 || i === ids.length - 1 ? [] : [i]));
    const logitOf = (keep: number[]) => keep.reduce((s, i) => s + weights[ids[i]! * 2 + 1]! - weights[ids[i]! * 2]!, 0);
    const p0 = softmax1(logitOf(free));
    const predicted = p0 >= 0.5 ? 1 : 0;
    const prob = (keep: number[]) => (predicted === 1 ? softmax1(logitOf(keep)) : 1 - softmax1(logitOf(keep)));
    assert.equal((rec.prediction as { index: number }).index, predicted);
    for (const method of ['feature-ablation', 'random']) {
      const scores = rec.attributions![method] as number[];
      // This file's own ranking: signed score, largest first, ties by position.
      const order = free.slice().sort((a, b) => scores[b]! - scores[a]! || a - b);
      let comp = 0, suff = 0;
      for (let s = 1; s <= 10; s++) {
        const k = Math.ceil((s * free.length) / 10 - 1e-9);
        const top = new Set(order.slice(0, k));
        const deleted = prob(free.filter((i) => !top.has(i)));
        const kept = prob(free.filter((i) => top.has(i)));
        const m = rec.metrics![method]!['label']!;
        assert.ok(Math.abs(m.deleted[s - 1]! - deleted) < 2e-6, `${method} q=${s / 10}: p with the top deleted ${m.deleted[s - 1]} vs ${deleted}`);
        assert.ok(Math.abs(m.kept[s - 1]! - kept) < 2e-6, `${method} q=${s / 10}: p with only the top kept ${m.kept[s - 1]} vs ${kept}`);
        comp += (prob(free) - deleted) / 10;
        suff += (prob(free) - kept) / 10;
      }
      const m = rec.metrics![method]!['label']!;
      assert.ok(Math.abs(m.comprehensiveness! - comp) < 2e-6 && Math.abs(m.sufficiency! - suff) < 2e-6);
    }
    // FeatureAblation on this model is the exact contribution of each token to the predicted class's logit.
    const fa = rec.attributions!['feature-ablation'] as number[];
    free.forEach((i) => assert.ok(Math.abs(fa[i]! - weights[ids[i]! * 2 + predicted]!) < 1e-5, `token ${i}: ${fa[i]} vs ${weights[ids[i]! * 2 + predicted]}`));
  }
  const summary = globalSummary(ev.examples.map((e) => ({ task: 'classify', tokens: e.tokens, prediction: e.prediction, attributions: [{ target: 'x', normalized: e.attributions!['feature-ablation'] as number[] }] })), { top: 3 });
  assert.deepEqual(summary.groups.map((g) => g.label), ['NEG', 'POS']);
  assert.equal(summary.groups.find((g) => g.label === 'POS')!.items[0]!.item, 'wonderful');
});

test('infidelity and sensitivity_max: gradient methods only; a linear model\'s gradient does not move (sensitivity 0), x ⊙ gradient does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-bow-'));
  bagOfWords(dir);
  const model = await loadModel(dir);
  const ev = await evaluate('classify', model, [{ id: 'a', line: 0, input: { text: 'a wonderful film' } }, { id: 'b', line: 1, error: 'line 2: missing "text"' }],
    { methods: ['saliency', 'input-x-gradient', 'occlusion'], values: {}, metrics: ['infidelity', 'sensitivity'] });
  const by = (m: string) => ev.methods.find((x) => x.method === m)!;
  assert.ok(Math.abs(by('saliency').sensitivity_max!) < 1e-7, `saliency sensitivity ${by('saliency').sensitivity_max}`);
  assert.ok(by('input-x-gradient').sensitivity_max! > 1e-4, `input-x-gradient sensitivity ${by('input-x-gradient').sensitivity_max}`);
  for (const m of ['saliency', 'input-x-gradient']) assert.ok(Number.isFinite(by(m).infidelity!) && by(m).infidelity! >= 0);
  assert.equal(by('occlusion').infidelity, null);
  assert.equal(by('occlusion').sensitivity_max, null);
  assert.equal(by('occlusion').aopc_comprehensiveness, null, 'aopc not asked for');
  assert.equal(by('saliency').failed, 1, 'the bad line is reported and the run goes on');
  assert.equal(ev.examples[1]!.error, 'line 2: missing "text"');
});

test('metric formulas: ranking ties, ⌈q·n⌉, Kendall τ-b, infidelity, sensitivity_max', () => {
  assert.deepEqual(ranking([0.5, 2, 0.5, -1]), [1, 0, 2, 3]);
  assert.deepEqual([1, 2, 3, 10].map((s) => topCount(s, 7)), [1, 2, 3, 7]);
  assert.deepEqual([1, 5, 10].map((s) => topCount(s, 10)), [1, 5, 10]);
  assert.deepEqual(aopcSets([3, 1, 2]).top.map((t) => t.length), [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]);
  assert.equal(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // τ-b with a tie: scipy.stats.kendalltau([1, 2, 2, 3], [1, 2, 3, 4]) = 0.9128709291752769
  assert.ok(Math.abs(kendallTau([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9128709291752769) < 1e-12);
  assert.ok(Number.isNaN(kendallTau([1, 1, 1], [1, 2, 3])));
  assert.equal(infidelity([1, 2], [1, 4]), 2);
  assert.ok(Math.abs(sensitivityMax([3, 4], [[3, 4], [3, 5], [0, 4]]) - 3 / 5) < 1e-15);
  assert.equal(sensitivityMax([0, 0], [[0, 1]]), 1);
});
