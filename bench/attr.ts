// Issue targets: LayerIG (BERT-base size, seq 128, 50 steps) wall time ≤ 2.5 × (50 × one forward of the same batch
// size) per target; end to end (explain qa, start + end, 50 steps, ~120 tokens) ≥ 2× faster than PyTorch autograd
// doing the same integral on the same CPU, measured here. Each configuration runs in a fresh child process, so peak
// RSS and allocator state belong to that configuration alone; its baseline forward runs in the same process.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readModelFile } from '../src/onnx/model.js';
import { tensor } from '../src/runtime/session.js';
import { ModelRunner } from '../src/attr/runner.js';
import { LayerIntegratedGradients } from '../src/attr/layer-integrated-gradients.js';
import { defaultChunk } from '../src/models/explain.js';
import { benchModel, now, timeIt, ids, peakRssMiB } from './common.js';

const TARGETS = [{ output: 'start_logits', target: 5, label: 'start' }, { output: 'end_logits', target: 9, label: 'end' }];

function feedsFor(batch: number, tokens: number) {
  return {
    input_ids: tensor('int64', ids(batch, tokens), [batch, tokens]),
    attention_mask: tensor('int64', new Array(batch * tokens).fill(1), [batch, tokens]),
    token_type_ids: tensor('int64', Array.from({ length: batch * tokens }, (_, i) => (i % tokens > 14 ? 1 : 0)), [batch, tokens]),
  };
}
const baselineIds = (tokens: number) => tensor('int64', Array.from({ length: tokens }, (_, i) => (i === 0 ? 101 : i === 13 || i === tokens - 1 ? 102 : 0)), [1, tokens]);

/** One configuration, in this process: LayerIG time, the same-batch forward baseline, peak RSS. */
export async function attrOne(seq: number, ibs: number | undefined, withForward: boolean): Promise<void> {
  const m = benchModel();
  const runner = new ModelRunner(readModelFile(m.path));
  const lig = new LayerIntegratedGradients(runner, m.embeddingsOutput);
  const rows = ibs ?? 50;
  const opts = { baselines: { input_ids: baselineIds(seq) }, nSteps: 50, internalBatchSize: ibs, targets: TARGETS };
  let t = now();
  await lig.attribute(feedsFor(1, seq), opts);
  const coldMs = now() - t;
  const ligMs = await timeIt(() => lig.attribute(feedsFor(1, seq), opts), 2, 0);
  const fwdMs = withForward ? await timeIt(() => runner.forward(feedsFor(rows, seq)), 3, 1) : NaN;
  console.log(JSON.stringify({ seq, ibs: ibs ?? null, rows, coldMs, ligMs, fwdMs, rssMiB: peakRssMiB() }));
}

function child(seq: number, ibs: number | undefined, withForward = true): { coldMs: number; ligMs: number; fwdMs: number; rows: number; rssMiB: number } {
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  const out = execFileSync(process.execPath, [script, 'attr-one', String(seq), String(ibs ?? 'all'), withForward ? 'fwd' : 'nofwd'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export async function benchAttr(seq = 128): Promise<void> {
  benchModel();
  for (const ibs of [undefined, 10, 50] as const) {
    const r = child(seq, ibs);
    const perForward = (r.fwdMs / r.rows) * 50;
    console.log(`attr: LayerIG seq ${seq}, 50 steps, start+end, internalBatchSize ${ibs ?? 'all (50)'}: ${(r.ligMs / 1000).toFixed(2)} s; ` +
      `50 forwards at batch ${r.rows}: ${(perForward / 1000).toFixed(2)} s; ratio ${(r.ligMs / perForward).toFixed(2)} = ${(r.ligMs / perForward / 2).toFixed(2)} per target (target ≤ 2.5); peak RSS ${r.rssMiB.toFixed(0)} MiB`);
  }
  // End to end against PyTorch: ~120 tokens, start + end, 50 steps, same machine, all cores each.
  const tokens = 120;
  let torchS: number | undefined;
  try {
    const out = execFileSync('/usr/bin/python3', ['bench/torch_lig.py', String(tokens), '2'], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number[]; threads: number };
    torchS = Math.min(...r.seconds);
    console.log(`attr: PyTorch autograd (torch ${r.threads} threads), same integral, ${tokens} tokens: ${torchS.toFixed(2)} s (best of ${r.seconds.length})`);
  } catch (e) {
    console.log(`attr: PyTorch baseline not run (${(e as Error).message.split('\n')[0]}); it needs Debian python3-torch + libopenblas0-pthread`);
  }
  for (const ibs of [undefined, defaultChunk(tokens)]) {
    const r = child(tokens, ibs, false);
    console.log(`attr: gradlens LayerIG, ${tokens} tokens, start+end, 50 steps, internalBatchSize ${ibs ?? 'all'}: ${(r.ligMs / 1000).toFixed(2)} s warm, ${(r.coldMs / 1000).toFixed(2)} s with session creation` +
      (torchS ? `; speed-up vs PyTorch ${(torchS / (r.ligMs / 1000)).toFixed(2)}× warm, ${(torchS / (r.coldMs / 1000)).toFixed(2)}× cold (target ≥ 2×)` : '') + `; peak RSS ${r.rssMiB.toFixed(0)} MiB`);
  }
}

