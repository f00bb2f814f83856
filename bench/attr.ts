// Issue targets: LayerIG (BERT-base size, seq 128, 50 steps) wall time ≤ 2.5 × (50 × one forward of the same batch
// size) per target; end to end (explain qa, start + end, 50 steps, ~120 tokens) ≥ 2× faster than PyTorch autograd
// doing the same integral on the same CPU, measured in this script.
import { execFileSync } from 'node:child_process';
import { readModelFile } from '../src/onnx/model.js';
import { tensor } from '../src/runtime/session.js';
import { ModelRunner } from '../src/attr/runner.js';
import { LayerIntegratedGradients } from '../src/attr/layer-integrated-gradients.js';
import { benchModel, now, timeIt, ids, peakRssMiB } from './common.js';

export async function benchAttr(seq = 128): Promise<void> {
  const m = benchModel();
  const model = readModelFile(m.path);
  const feedsFor = (batch: number, tokens: number, inputIds = ids(batch, tokens)) => ({
    input_ids: tensor('int64', inputIds, [batch, tokens]),
    attention_mask: tensor('int64', new Array(batch * tokens).fill(1), [batch, tokens]),
    token_type_ids: tensor('int64', Array.from({ length: batch * tokens }, (_, i) => (i % tokens > 14 ? 1 : 0)), [batch, tokens]),
  });
  const baselineIds = (tokens: number) => tensor('int64', Array.from({ length: tokens }, (_, i) => (i === 0 ? 101 : i === 13 || i === tokens - 1 ? 102 : 0)), [1, tokens]);
  const targets = [{ output: 'start_logits', target: 5, label: 'start' }, { output: 'end_logits', target: 9, label: 'end' }];

  for (const ibs of [undefined, 10, 50] as const) {
    const runner = new ModelRunner(model);
    const lig = new LayerIntegratedGradients(runner, m.embeddingsOutput);
    const rows = ibs ?? 50;
    const fwdMs = await timeIt(() => runner.forward(feedsFor(rows, seq)), 3, 1);
    const opts = { baselines: { input_ids: baselineIds(seq) }, nSteps: 50, internalBatchSize: ibs, targets };
    await lig.attribute(feedsFor(1, seq), opts); // warm-up: sessions
    const ligMs = await timeIt(() => lig.attribute(feedsFor(1, seq), opts), 2, 0);
    const perForward = (fwdMs / rows) * 50;
    console.log(`attr: LayerIG seq ${seq}, 50 steps, 2 targets, internalBatchSize ${ibs ?? 'all (50)'}: ${(ligMs / 1000).toFixed(2)} s; ` +
      `50 forwards (batch ${rows}) ${(perForward / 1000).toFixed(2)} s; ratio ${(ligMs / perForward).toFixed(2)} = ${(ligMs / perForward / 2).toFixed(2)} per target (target ≤ 2.5); peak RSS ${peakRssMiB().toFixed(0)} MiB`);
    await runner.release();
  }

  // End to end against PyTorch: ~120 tokens, start + end, 50 steps, same machine, all cores each.
  const tokens = 120;
  const runner = new ModelRunner(model);
  const lig = new LayerIntegratedGradients(runner, m.embeddingsOutput);
  const opts = { baselines: { input_ids: baselineIds(tokens) }, nSteps: 50, targets };
  let t = now();
  await lig.attribute(feedsFor(1, tokens), opts);
  const coldMs = now() - t;
  const warmMs = await timeIt(() => lig.attribute(feedsFor(1, tokens), opts), 2, 0);
  await runner.release();
  let torchS: number | undefined;
  try {
    const out = execFileSync('/usr/bin/python3', ['bench/torch_lig.py', String(tokens), '2'], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number[]; threads: number };
    torchS = Math.min(...r.seconds);
    console.log(`attr: PyTorch autograd (torch ${r.threads} threads), same integral, ${tokens} tokens: ${torchS.toFixed(2)} s`);
  } catch (e) {
    console.log(`attr: PyTorch baseline not run (${(e as Error).message.split('\n')[0]}); it needs Debian python3-torch + libopenblas0-pthread`);
  }
  console.log(`attr: gradlens LayerIG, ${tokens} tokens, start+end, 50 steps: ${(warmMs / 1000).toFixed(2)} s warm (first call with session creation ${(coldMs / 1000).toFixed(2)} s)` +
    (torchS ? `; speed-up vs PyTorch ${(torchS / (warmMs / 1000)).toFixed(2)}× warm, ${(torchS / (coldMs / 1000)).toFixed(2)}× cold (target ≥ 2×)` : ''));
}
