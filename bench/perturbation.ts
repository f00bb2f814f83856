// Perturbation methods and evaluate. Issue targets: Occlusion on a BERT-base-size model at 128 tokens (window 1: 128
// perturbed inputs) within 1.2 × (128 × one forward pass), both measured here; and `evaluate` seconds per example per
// method on the demo model.
import { readModelFile } from '../src/io/model-file.js';
import { tensor } from '../src/runtime/session.js';
import { ModelRunner } from '../src/attr/runner.js';
import { Occlusion } from '../src/attr/occlusion.js';
import { defaultChunk } from '../src/tasks/attribute.js';
import { loadModel, DEMO_MODELS } from '../src/io/folder.js';
import { evaluate } from '../src/tasks/evaluate.js';
import { benchModel, now, timeIt, qaFeeds } from './common.js';

const SEQ = 128;

const feeds = (seed: number) => qaFeeds(1, SEQ, seed);

export async function benchPerturbation(): Promise<void> {
  const m = benchModel();
  const runner = new ModelRunner(readModelFile(m.path));
  const targets = [{ output: 'start_logits', target: 5 }, { output: 'end_logits', target: 9 }];
  const baselines = tensor('int64', Array.from({ length: SEQ }, (_, i) => (i === 0 ? 101 : i === SEQ - 1 ? 102 : 0)), [1, SEQ]);
  // Other token ids on every call: the runner runs a repeated forward pass on the same inputs only once.
  let seed = 1;
  const forwardMs = await timeIt(() => runner.forward(feeds(++seed)), 7, 2);
  console.log(`\nOcclusion, BERT-base size, ${SEQ} tokens, window 1 (${SEQ} perturbed inputs + the input), start and end targets`);
  console.log(`  one forward pass (batch 1): ${forwardMs.toFixed(1)} ms; ${SEQ} of them: ${(SEQ * forwardMs / 1000).toFixed(2)} s`);
  const occlusion = new Occlusion(runner);
  for (const per of [1, 4, defaultChunk(SEQ), 32]) {
    const t = now();
    await occlusion.attribute(feeds(++seed), { baselines, targets, slidingWindowShapes: [1], perturbationsPerEval: per });
    const ms = now() - t;
    console.log(`  perturbationsPerEval ${String(per).padStart(2)}${per === defaultChunk(SEQ) ? ' (auto)' : '       '}: ${(ms / 1000).toFixed(2)} s = ${(ms / (SEQ * forwardMs)).toFixed(2)} × ${SEQ} forward passes`);
  }
  await runner.release();

  const demo = await loadModel(DEMO_MODELS.sentiment);
  const texts = [
    'This movie was absolutely wonderful!', 'The food was terrible and the staff were rude.', 'I loved it, great fun.',
    'A boring, slow and predictable plot.', 'The service was quick and the staff were friendly.', 'Not worth the money at all.',
    'What a delightful surprise, I would go again.', 'The worst hotel I have ever stayed in.',
  ];
  const inputs = texts.map((text, i) => ({ id: String(i), line: i, input: { text } }));
  const methods = ['layer-ig', 'ig', 'saliency', 'input-x-gradient', 'smoothgrad', 'gradient-shap', 'occlusion', 'feature-ablation', 'shapley', 'kernel-shap', 'lime', 'random'];
  const t = now();
  const ev = await evaluate('classify', demo, inputs, { methods, values: {}, metrics: ['aopc', 'loo'] });
  console.log(`\nevaluate classify on demo/sentiment, ${texts.length} examples (${(texts.reduce((a, s) => a + s.split(' ').length, 0) / texts.length).toFixed(1)} words each), metrics aopc + loo: ${((now() - t) / 1000).toFixed(1)} s in all`);
  console.log('  method            s/example  comprehensiveness  sufficiency  τ-LOO');
  for (const s of ev.methods) {
    console.log(`  ${s.method.padEnd(16)}  ${(s.seconds_per_example ?? 0).toFixed(3).padStart(9)}  ${s.aopc_comprehensiveness!.toFixed(3).padStart(17)}  ${s.aopc_sufficiency!.toFixed(3).padStart(11)}  ${(s.tau_loo ?? NaN).toFixed(3).padStart(6)}`);
  }
  await demo.runner.release();
}
