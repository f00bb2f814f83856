import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadDecoder } from '../../src/io/folder.js';
import { generateAndExplain, greedy } from '../../src/tasks/generate.js';
import { parseSettings } from '../../src/attr/registry.js';
import { fixture, readJson } from '../helpers.js';

// Generation attribution on hand-written tiny GPT-2 and Llama models (HF semantics: fused c_attn, gelu_new, tied
// head; RMSNorm, rotate_half RoPE, SwiGLU, grouped-query attention), exported in both layouts and opsets 14 and 17
// by scripts/fixtures/make_decoder_fixtures.py, against float64 PyTorch references: greedy ids, and each step's
// attributions of each method within 1e-3 of max |attribution|.

interface Step { t: number; target_id: number; f_x: number; f_baseline: number; saliency: number[]; input_x_gradient: number[]; layer_ig: number[]; logit?: number; prob?: number }
interface Ref { prompt: string; prompt_ids: number[]; greedy: number[]; max_new_tokens: number; baseline_id: number; embeddings_output: Record<string, string>; steps: Step[] }

const FOLDERS = ['gpt2', 'gpt2-opset17', 'llama', 'llama-opset17'].filter((f) => existsSync(fixture('decoders', f, 'reference.json')));

function within(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  const err = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
  assert.ok(err <= tol * scale, `${what}: max error ${err.toExponential(3)} > ${tol} × ${scale.toExponential(3)}`);
}

test('the decoder fixtures are there (GPT-2 and Llama, opsets 14 and 17)', () => {
  assert.deepEqual(FOLDERS, ['gpt2', 'gpt2-opset17', 'llama', 'llama-opset17']);
});

for (const folder of FOLDERS) {
  test(`${folder}: greedy ids with and without the cache equal PyTorch's; each step's layer-ig, saliency and input-x-gradient equal the float64 reference`, async () => {
    const ref = readJson<Ref>(fixture('decoders', folder, 'reference.json'));
    const model = await loadDecoder(fixture('decoders', folder));
    assert.equal(model.embeddingsOutput, ref.embeddings_output[model.files.attribution]);
    assert.ok(model.cached, 'the folder has the cached layout too');
    const enc = model.tokenizer.encode(ref.prompt, undefined, { maxLength: 1000 });
    assert.deepEqual(enc.ids, ref.prompt_ids, 'byte-level BPE / SentencePiece ids equal the Python tokenizer\'s');
    // Greedy through the cache, and through the full sequence each step.
    assert.deepEqual(await greedy(model, enc.ids, ref.max_new_tokens), ref.greedy);
    assert.deepEqual(await greedy({ ...model, cached: undefined }, enc.ids, ref.max_new_tokens), ref.greedy);
    for (const [method, key] of [['layer-ig', 'layer_ig'], ['saliency', 'saliency'], ['input-x-gradient', 'input_x_gradient']] as const) {
      const e = await generateAndExplain(model, { prompt: ref.prompt, maxNewTokens: ref.max_new_tokens, baseline: 'eos' }, parseSettings({ method }));
      assert.deepEqual(e.generated.map((g) => g.id), ref.greedy);
      assert.equal(e.prompt_length, ref.prompt_ids.length);
      e.attributions.forEach((a, t) => {
        const s = ref.steps[t]!;
        assert.equal(a.target_id, s.target_id);
        assert.equal(a.per_token.length, ref.prompt_ids.length + t, 'one value per earlier token');
        within(a.per_token, s[key], 1e-3, `${method} step ${t}`);
        assert.ok(Math.abs(a.f_x! - s.f_x) <= 1e-4 * Math.max(1, Math.abs(s.f_x)), `f_x ${a.f_x} vs ${s.f_x}`);
        if (method === 'layer-ig') {
          assert.ok(Math.abs(a.f_baseline! - s.f_baseline) <= 1e-4 * Math.max(1, Math.abs(s.f_baseline)));
          assert.ok(Math.abs(a.delta!) <= 1e-3 * Math.max(1, Math.abs(s.f_x - s.f_baseline)), `completeness at step ${t}: delta ${a.delta}`);
        }
      });
    }
    // The other target functions at step 0.
    const s0 = ref.steps[0]!;
    for (const [fn, want] of [['logit', s0.logit], ['prob', s0.prob]] as const) {
      if (want === undefined) continue;
      const e = await generateAndExplain(model, { prompt: ref.prompt, maxNewTokens: 1, targetFn: fn, baseline: 'eos' }, parseSettings({ method: 'saliency' }));
      assert.ok(Math.abs(e.attributions[0]!.f_x! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${fn}: ${e.attributions[0]!.f_x} vs ${want}`);
    }
  });
}

test('both layouts give the same attributions: the cached graph with an empty past equals the graph without a cache', async () => {
  for (const folder of FOLDERS) {
    const ref = readJson<Ref>(fixture('decoders', folder, 'reference.json'));
    const model = await loadDecoder(fixture('decoders', folder));
    const cachedOnly = { ...model, attribution: model.cached!, embeddingsOutput: ref.embeddings_output[model.files.cached!]! };
    const settings = parseSettings({ method: 'layer-ig', steps: '16' });
    const a = await generateAndExplain(model, { prompt: ref.prompt, maxNewTokens: 3, baseline: 'eos' }, settings);
    const b = await generateAndExplain(cachedOnly, { prompt: ref.prompt, maxNewTokens: 3, baseline: 'eos' }, settings);
    a.attributions.forEach((x, t) => within(b.attributions[t]!.per_token, x.per_token, 1e-5, `${folder} step ${t}, model.onnx vs decoder_model.onnx`));
  }
});

test('causality: a step\'s attributions do not change when later tokens change (forced decoding)', async () => {
  const folder = FOLDERS[0]!;
  const ref = readJson<Ref>(fixture('decoders', folder, 'reference.json'));
  const model = await loadDecoder(fixture('decoders', folder));
  const settings = parseSettings({ method: 'layer-ig', steps: '16' });
  const a = await generateAndExplain(model, { prompt: ref.prompt, targetText: ' the little dog ran', baseline: 'eos' }, settings);
  const b = await generateAndExplain(model, { prompt: ref.prompt, targetText: ' the little cat sat', baseline: 'eos' }, settings);
  const same = a.generated.findIndex((g, i) => g.id !== b.generated[i]?.id);
  assert.ok(same >= 2, 'the two continuations share a prefix');
  // Steps before the first differing token have the same targets and earlier tokens; everything after differs.
  for (let t = 0; t < same; t++) within(b.attributions[t]!.per_token, a.attributions[t]!.per_token, 1e-6, `step ${t}`);
  assert.notDeepEqual(a.attributions[same]!.per_token, b.attributions[same]!.per_token);
});

test('contrastive targets: logprob(target) − logprob(contrast) is the difference of the two log-probabilities', async () => {
  const folder = FOLDERS[0]!;
  const ref = readJson<Ref>(fixture('decoders', folder, 'reference.json'));
  const model = await loadDecoder(fixture('decoders', folder));
  const settings = parseSettings({ method: 'saliency' });
  const target = await generateAndExplain(model, { prompt: ref.prompt, targetText: ' the dog' }, settings);
  const contrast = await generateAndExplain(model, { prompt: ref.prompt, targetText: ' the cat' }, settings);
  const both = await generateAndExplain(model, { prompt: ref.prompt, targetText: ' the dog', contrastText: ' the cat' }, settings);
  // Step 0: both continuations follow the same prompt.
  const [a0, t0, c0] = [both.attributions[0]!, target.attributions[0]!, contrast.attributions[0]!];
  assert.ok(Math.abs(a0.f_x! - (t0.f_x! - c0.f_x!)) < 1e-4, `${a0.f_x} vs ${t0.f_x} − ${c0.f_x}`);
  assert.equal(a0.contrast_id, contrast.generated[0]!.id);
  assert.equal(both.settings.contrastive, true);
});
