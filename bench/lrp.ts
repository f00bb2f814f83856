// One-pass explanations. Issue targets: AttnLRP on the BERT-base-size model at 128 tokens, start + end, ≥ 30× faster
// than 50-step LayerIG in the same process (warm), and `gradlens explain qa --method attnlrp` end to end < 5 s. Then
// AOPC comprehensiveness (gradlens evaluate) of attnlrp, cp-lrp, layer-ig, saliency and random on the demo and
// fixture models.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readModelFile } from '../src/io/model-file.js';
import { tensor } from '../src/runtime/session.js';
import { ModelRunner } from '../src/attr/runner.js';
import { LayerIntegratedGradients } from '../src/attr/layer-integrated-gradients.js';
import { AttnLRP } from '../src/attr/attnlrp.js';
import { CpLRP } from '../src/attr/cp-lrp.js';
import { defaultChunk } from '../src/tasks/attribute.js';
import { loadModel, DEMO_MODELS } from '../src/io/folder.js';
import { evaluate } from '../src/tasks/evaluate.js';
import type { TaskName } from '../src/tasks/index.js';
import type { EvalInput } from '../src/tasks/evaluate.js';
import { benchModel, now, timeIt, qaFeeds } from './common.js';
import { cliModelFolder } from './attr.js';

const SEQ = 128;
const TARGETS = [{ output: 'start_logits', target: 5 }, { output: 'end_logits', target: 9 }];

const feeds = (seed: number) => qaFeeds(1, SEQ, seed);

export async function benchLrp(): Promise<void> {
  const m = benchModel();
  const runner = new ModelRunner(readModelFile(m.path));
  const layer = m.embeddingsOutput;
  const baselines = { input_ids: tensor('int64', Array.from({ length: SEQ }, (_, i) => (i === 0 ? 101 : i === SEQ - 1 || i === 14 ? 102 : 0)), [1, SEQ]) };
  const lig = new LayerIntegratedGradients(runner, layer);
  const lrp = new AttnLRP(runner, { layer });
  const cp = new CpLRP(runner, { layer });
  let seed = 1;
  const lrpMs = await timeIt(() => lrp.attribute(feeds(++seed), { targets: TARGETS }), 3, 1);
  const cpMs = await timeIt(() => cp.attribute(feeds(++seed), { targets: TARGETS }), 3, 1);
  const ligMs = await timeIt(() => lig.attribute(feeds(++seed), { targets: TARGETS, baselines, nSteps: 50, internalBatchSize: defaultChunk(SEQ) }), 1, 1);
  console.log(`\nOne-pass methods, BERT-base size, ${SEQ} tokens, start + end, warm sessions`);
  console.log(`  LayerIG 50 steps: ${(ligMs / 1000).toFixed(2)} s`);
  console.log(`  AttnLRP: ${(lrpMs / 1000).toFixed(3)} s = ${(ligMs / lrpMs).toFixed(1)}× faster (goal ≥ 30×)`);
  console.log(`  CP-LRP:  ${(cpMs / 1000).toFixed(3)} s = ${(ligMs / cpMs).toFixed(1)}× faster`);
  await runner.release();

  const dir = cliModelFolder();
  const question = 'Who founded the company and when was it founded?';
  const context = 'The company was founded by Ada Lovelace in London in 1843, after years of work on the analytical engine. '.repeat(4);
  for (const method of ['attnlrp', 'cp-lrp']) {
    const times: number[] = [];
    let tokens = 0;
    for (let run = 0; run < 3; run++) {
      const start = now();
      const out = execFileSync(process.execPath, ['bin/gradlens.js', 'explain', 'qa', '--model', dir, '-q', question, '-c', context, '--method', method, '--format', 'json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
      times.push((now() - start) / 1000);
      tokens = (JSON.parse(out) as { tokens: string[] }).tokens.length;
    }
    times.sort((a, b) => a - b);
    console.log(`  \`gradlens explain qa --method ${method}\` end to end (process start, model load, prediction, start + end), ${tokens} tokens: median ${times[1]!.toFixed(2)} s of 3 (${times.map((t) => t.toFixed(2)).join(', ')}; goal < 5 s)`);
  }

  console.log('\nAOPC comprehensiveness ↑ (and sufficiency ↓) by method, gradlens evaluate, metrics aopc + loo');
  const methods = ['attnlrp', 'cp-lrp', 'layer-ig', 'saliency', 'random'];
  const fixtures = join(process.cwd(), 'test', 'fixtures', 'models');
  const sets: { name: string; task: TaskName; dir: string; inputs: EvalInput['input'][] }[] = [
    { name: 'demo/sentiment', task: 'classify', dir: DEMO_MODELS.sentiment, inputs: ['This movie was absolutely wonderful!', 'The food was terrible and the staff were rude.', 'I loved it, great fun.', 'A boring, slow and predictable plot.', 'The service was quick and the staff were friendly.', 'Not worth the money at all.'].map((text) => ({ text })) },
    { name: 'demo/qa', task: 'qa', dir: DEMO_MODELS.qa, inputs: [{ question: 'What is important to us?', context: 'It is important to us to include, empower and support humans of all kinds.' }, { question: 'Who founded the company?', context: 'The company was founded by Ada Lovelace in London in 1843.' }, { question: 'Where was it founded?', context: 'The company was founded by Ada Lovelace in London in 1843.' }] },
    { name: 'distilbert-cls (fixture, random weights)', task: 'classify', dir: join(fixtures, 'distilbert-cls'), inputs: ['This movie was absolutely wonderful!', 'The food was terrible.', 'A slow and boring film.'].map((text) => ({ text })) },
    { name: 'roberta-qa (fixture, random weights)', task: 'qa', dir: join(fixtures, 'roberta-qa'), inputs: [{ question: 'Who founded the company?', context: 'The company was founded by Ada in London.' }] },
  ];
  for (const set of sets) {
    const model = await loadModel(set.dir);
    const ev = await evaluate(set.task, model, set.inputs.map((input, i) => ({ id: String(i), line: i, input })), { methods, values: {}, metrics: ['aopc', 'loo'] });
    console.log(`  ${set.name} (${set.inputs.length} examples):`);
    for (const s of ev.methods) {
      console.log(`    ${`${s.method}${set.task === 'qa' ? ` ${s.target}` : ''}`.padEnd(16)} comprehensiveness ${s.aopc_comprehensiveness!.toFixed(3)}  sufficiency ${s.aopc_sufficiency!.toFixed(3)}  τ-LOO ${(s.tau_loo ?? NaN).toFixed(3)}  ${(1000 * (s.seconds_per_example ?? 0)).toFixed(0)} ms/example`);
    }
    await model.runner.release();
  }
}
