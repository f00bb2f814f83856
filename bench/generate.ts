// Generation attribution. Issue target: N = 20 generated tokens, 50 steps, a GPT-2-small-size random-weight export:
// gradlens (every step in one attribution run) vs a per-step loop in PyTorch (one LayerIG per generated token, as
// Inseq and Captum's LLM attribution do), same machine, same run: goal ≥ 5× faster.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDecoder } from '../src/io/folder.js';
import { attributeSteps } from '../src/tasks/generate.js';
import { parseSettings } from '../src/attr/registry.js';
import { BENCH_DIR, now } from './common.js';

export async function benchGenerate(): Promise<void> {
  const dir = join(BENCH_DIR, 'gpt2-small-bench');
  if (!existsSync(join(dir, 'onnx', 'decoder_model.onnx'))) {
    console.log('building the GPT-2-small-size benchmark model (python3 bench/make_bench_decoder.py; needs Debian python3-torch)…');
    execFileSync('/usr/bin/python3', ['bench/make_bench_decoder.py', dir], { stdio: 'inherit' });
  }
  // PyTorch first: it greedy-decodes the continuation both sides explain and records it in bench_meta.json.
  const torch = JSON.parse(execFileSync('/usr/bin/python3', ['bench/torch_gen_lig.py', dir, '--new-tokens', '20', '--steps', '50', '--prompt-len', '16', '--threads', '2'], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').pop()!) as
    { seconds: number; generated: number[]; attr0: number[]; attr_last: number[] };
  const meta = JSON.parse(readFileSync(join(dir, 'bench_meta.json'), 'utf8')) as { prompt_ids: number[]; generated: number[] };
  const model = await loadDecoder(dir);
  const settings = parseSettings({ method: 'layer-ig', steps: '50' });
  const inputs = { promptIds: meta.prompt_ids, special: meta.prompt_ids.map(() => false), generated: meta.generated, targetFn: 'logprob' as const, baseline: 'eos' as const };
  let t = now();
  const cold = await attributeSteps(model, inputs, settings);
  const coldS = (now() - t) / 1000;
  t = now();
  const warm = await attributeSteps(model, inputs, settings);
  const warmS = (now() - t) / 1000;
  const err = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) / Math.max(...b.map(Math.abs));
  console.log(`\nGeneration attribution, GPT-2-small size (random weights), prompt ${meta.prompt_ids.length} tokens, ${meta.generated.length} generated, LayerIG 50 steps, 2 cores:`);
  console.log(`  PyTorch per-step loop (one LayerIG per generated token): ${torch.seconds.toFixed(1)} s`);
  console.log(`  gradlens, all steps in one run: ${warmS.toFixed(1)} s warm (${coldS.toFixed(1)} s with session creation) = ${(torch.seconds / warmS).toFixed(2)}× faster warm, ${(torch.seconds / coldS).toFixed(2)}× cold (goal ≥ 5×)`);
  console.log(`  agreement with PyTorch: step 0 ${err(warm.attributions[0]!.per_token, torch.attr0).toExponential(2)}, last step ${err(warm.attributions.at(-1)!.per_token, torch.attr_last).toExponential(2)} of max |attribution|`);
  void cold;
}
