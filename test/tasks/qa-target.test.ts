// --qa-target max: the forward function of Captum's BERT tutorial (pred.max(1).values), checked against a hand
// computation that finds the arg-max position at every point of the path and differentiates the logit there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, DEMO_MODELS } from '../../src/io/folder.js';
import { explainQa } from '../../src/tasks/qa.js';
import { feedsFor, baselineIds } from '../../src/tasks/attribute.js';
import { DEFAULT_SETTINGS } from '../../src/attr/registry.js';
import { quadrature } from '../../src/attr/quadrature.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';

const QUESTION = 'What is important to us?';
const CONTEXT = 'It is important to us to include, empower and support humans of all kinds.';

test('--qa-target max equals Σ w · ∂ max_j logit_j / ∂ emb at each path point, with the arg-max found per point', async () => {
  const model = await loadModel(DEMO_MODELS.qa);
  const steps = 8;
  const e = await explainQa(model, { question: QUESTION, context: CONTEXT, qaTarget: 'max' }, { ...DEFAULT_SETTINGS, steps });
  assert.equal(e.settings.qa_target, 'max');
  const enc = model.tokenizer.encode(QUESTION, CONTEXT, { maxLength: model.maxLength, truncation: 'only_second' });
  const feeds = feedsFor(model, enc);
  const layer = model.embeddingsOutput;
  const x = (await model.runner.forward(feeds, [layer]))[layer]!;
  const bFeeds = { ...feeds, input_ids: tensor('int64', baselineIds(model, enc, 'pad'), [1, enc.ids.length]) };
  const b = (await model.runner.forward(bFeeds, [layer]))[layer]!;
  const { alphas, stepSizes } = quadrature('gausslegendre', steps);
  const seq = enc.ids.length;
  const hidden = x.data.length / seq;
  const positions: Record<string, Set<number>> = { start_logits: new Set(), end_logits: new Set() };
  for (const [k, output] of ['start_logits', 'end_logits'].entries()) {
    const total = new Float64Array(x.data.length);
    for (let s = 0; s < steps; s++) {
      const point: HostTensor = { type: 'float32', data: Float32Array.from(x.data as Float32Array, (v, i) => Number(b.data[i]) + alphas[s]! * (v - Number(b.data[i]))), dims: x.dims };
      const logits = (await model.runner.forwardFrom(feeds, { [layer]: point }))[output]!;
      const row = Array.from(logits.data as Float32Array);
      const j = row.indexOf(Math.max(...row));
      positions[output]!.add(j);
      const onehot = new Float32Array(seq);
      onehot[j] = 1;
      const [grad] = await model.runner.gradient(feeds, { [layer]: point }, [output], [{ [output]: { type: 'float32', data: onehot, dims: [1, seq] } }]);
      const g = grad![layer]!.data as Float32Array;
      for (let i = 0; i < total.length; i++) total[i]! += stepSizes[s]! * g[i]!;
    }
    const perToken = Array.from({ length: seq }, (_, t) => {
      let sum = 0;
      for (let h = 0; h < hidden; h++) sum += (Number(x.data[t * hidden + h]) - Number(b.data[t * hidden + h])) * total[t * hidden + h]!;
      return sum;
    });
    const got = e.attributions[k]!;
    const scale = Math.max(...perToken.map(Math.abs));
    perToken.forEach((v, t) => assert.ok(Math.abs(got.per_token[t]! - v) <= 1e-4 * scale, `${output} token ${t}: ${got.per_token[t]} vs hand ${v}`));
    const fx = Math.max(...Array.from((await model.runner.forward(feeds))[output]!.data as Float32Array));
    assert.ok(Math.abs(got.f_x! - fx) < 1e-5, 'F(x) is the largest logit');
  }
  // The position of the maximum moves along the path on this example: the max target is not the fixed-position one.
  const fixed = await explainQa(model, { question: QUESTION, context: CONTEXT }, { ...DEFAULT_SETTINGS, steps });
  assert.ok(positions['start_logits']!.size > 1 || positions['end_logits']!.size > 1 || fixed.attributions[0]!.f_baseline !== e.attributions[0]!.f_baseline,
    'the max target differs from the fixed-position target somewhere');
  await assert.rejects(explainQa(model, { question: QUESTION, context: CONTEXT, qaTarget: 'max', target: '13:23' }, DEFAULT_SETTINGS), /exclude each other/);
  await model.runner.release();
});
