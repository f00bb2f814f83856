// Issue targets: LayerIG (BERT-base size, seq 128, 50 steps) wall time ≤ 2.5 × (50 × one forward of the same batch
// size) per target; end to end (explain qa, start + end, 50 steps, ~120 tokens) ≥ 2× faster than PyTorch autograd
// doing the same integral on the same CPU, measured here. Each configuration runs in a fresh child process, so peak
// RSS and allocator state belong to that configuration alone; its baseline forward runs in the same process.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelFile } from '../src/io/model-file.js';
import { tensor } from '../src/runtime/session.js';
import { ModelRunner } from '../src/attr/runner.js';
import { LayerIntegratedGradients } from '../src/attr/layer-integrated-gradients.js';
import { defaultChunk } from '../src/tasks/attribute.js';
import { BENCH_DIR, benchModel, now, timeIt, peakRssMiB, qaFeeds } from './common.js';

const TARGETS = [{ output: 'start_logits', target: 5, label: 'start' }, { output: 'end_logits', target: 9, label: 'end' }];

const feedsFor = qaFeeds;
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
  // Different token ids per call: the runner runs a forward pass on the inputs of the previous one only once.
  let seed = 1;
  const fwdMs = withForward ? await timeIt(() => runner.forward(feedsFor(rows, seq, ++seed)), 3, 1) : NaN;
  console.log(JSON.stringify({ seq, ibs: ibs ?? null, rows, coldMs, ligMs, fwdMs, rssMiB: peakRssMiB() }));
}

/** bench/models/bert-base-qa-folder: config.json, tokenizer files and onnx/model.onnx (a link to the weights). */
export function cliModelFolder(): string {
  const m = benchModel();
  const dir = join(BENCH_DIR, 'bert-base-qa-folder');
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  copyFileSync(join('demo', 'qa', 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 512, tokenizer_class: 'BertTokenizer' }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertForQuestionAnswering'], max_position_embeddings: 512, vocab_size: 30522 }));
  // A hard link (the model folder's files must lie inside it: gradlens refuses links out of a model folder).
  const link = join(dir, 'onnx', 'model.onnx');
  if (existsSync(link) && lstatSync(link).isSymbolicLink()) unlinkSync(link);
  if (!existsSync(link)) {
    try {
      linkSync(resolve(m.path), link);
    } catch {
      copyFileSync(resolve(m.path), link);
    }
  }
  return dir;
}

function child(seq: number, ibs: number | undefined, withForward = true): { coldMs: number; ligMs: number; fwdMs: number; rows: number; rssMiB: number } {
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  const out = execFileSync(process.execPath, [script, 'attr-one', String(seq), String(ibs ?? 'all'), withForward ? 'fwd' : 'nofwd'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export async function benchAttr(seq = 128, only?: string): Promise<void> {
  benchModel();
  for (const ibs of only === 'e2e' ? [] : ([undefined, 10, 50] as const)) {
    const r = child(seq, ibs);
    const perForward = (r.fwdMs / r.rows) * 50;
    console.log(`attr: LayerIG seq ${seq}, 50 steps, start+end, internalBatchSize ${ibs ?? 'all (50)'}: ${(r.ligMs / 1000).toFixed(2)} s; ` +
      `50 forwards at batch ${r.rows}: ${(perForward / 1000).toFixed(2)} s; ratio ${(r.ligMs / perForward).toFixed(2)} = ${(r.ligMs / perForward / 2).toFixed(2)} per target (target ≤ 2.5); peak RSS ${r.rssMiB.toFixed(0)} MiB`);
  }
  // End to end against PyTorch: ~120 tokens, start + end, 50 steps, same machine, all cores each.
  const tokens = 120;
  let torchS: number | undefined;
  let torchE2eS: number | undefined;
  try {
    const out = execFileSync('/usr/bin/python3', ['bench/torch_lig.py', String(tokens), '2'], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number[]; threads: number };
    torchS = Math.min(...r.seconds);
    console.log(`attr: PyTorch autograd (torch ${r.threads} threads), same integral, ${tokens} tokens, warm process: ${torchS.toFixed(2)} s (best of ${r.seconds.length} after a warm-up run)`);
    // The same job as a user's script, in a new process: import, load the weights, predict, two LayerIG calls with deltas.
    const weights = join(BENCH_DIR, 'bert-base-qa.pt');
    if (!existsSync(weights)) execFileSync('/usr/bin/python3', ['bench/torch_lig.py', String(tokens), '--save-weights', weights]);
    const t = now();
    execFileSync('/usr/bin/python3', ['bench/torch_lig.py', String(tokens), '--e2e', weights], { encoding: 'utf8' });
    torchE2eS = (now() - t) / 1000;
    console.log(`attr: PyTorch end to end (new process: import torch, load weights, prediction, LayerIG start and end with deltas), ${tokens} tokens: ${torchE2eS.toFixed(2)} s`);
  } catch (e) {
    console.log(`attr: PyTorch baseline not run (${(e as Error).message.split('\n')[0]}); it needs Debian python3-torch + libopenblas0-pthread`);
  }
  // The CLI itself, end to end: a BERT-base folder (the benchmark weights + the demo's bert-base-uncased tokenizer).
  const dir = cliModelFolder();
  const question = 'Who founded the company and when was it founded?';
  const context = 'The company was founded by Ada Lovelace in London in 1843, after years of work on the analytical engine. '.repeat(4) + 'It is important to us to include, empower and support humans of all kinds.';
  const start = now();
  const cli = execFileSync(process.execPath, ['bin/gradlens.js', 'explain', 'qa', '--model', dir, '-q', question, '-c', context, '--format', 'json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const cliS = (now() - start) / 1000;
  const cliTokens = (JSON.parse(cli) as { tokens: string[] }).tokens.length;
  console.log(`attr: \`gradlens explain qa\` end to end (process start, model load, sessions, prediction, LayerIG start+end, 50 steps), ${cliTokens} tokens: ${cliS.toFixed(2)} s` +
    (torchS ? `; speed-up ${(torchS / cliS).toFixed(2)}× vs PyTorch's warm integral alone (target ≥ 2×)` : '') +
    (torchE2eS ? `, ${(torchE2eS / cliS).toFixed(2)}× vs PyTorch end to end` : ''));
  for (const ibs of [undefined, defaultChunk(tokens)]) {
    const r = child(tokens, ibs, false);
    console.log(`attr: gradlens LayerIG, ${tokens} tokens, start+end, 50 steps, internalBatchSize ${ibs ?? 'all'}: ${(r.ligMs / 1000).toFixed(2)} s warm, ${(r.coldMs / 1000).toFixed(2)} s with session creation` +
      (torchS ? `; speed-up vs PyTorch ${(torchS / (r.ligMs / 1000)).toFixed(2)}× warm, ${(torchS / (r.coldMs / 1000)).toFixed(2)}× cold (target ≥ 2×)` : '') + `; peak RSS ${r.rssMiB.toFixed(0)} MiB`);
  }
}

