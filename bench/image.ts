// Image attribution speed. Issue target: Integrated Gradients (50 Gauss–Legendre steps, black baseline) on a
// ResNet-18-size export at 224×224, as a ratio to 50 × one forward in the same process (goal ≤ 3), and against
// PyTorch autograd (Captum's formula, bench/torch_image_ig.py) on the same weights on this machine.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFile } from '../src/io/model-file.js';
import { ModelRunner } from '../src/attr/runner.js';
import { IntegratedGradients } from '../src/attr/integrated-gradients.js';
import { BENCH_DIR, timeIt } from './common.js';
import { rng } from '../test/helpers.js';

const SIZE = 224;
const STEPS = 50;

export async function benchImage(): Promise<void> {
  const path = join(BENCH_DIR, 'resnet18.onnx');
  if (!existsSync(path)) {
    console.log(`\nImage IG: ${path} is missing: run /usr/bin/python3 bench/make_bench_resnet.py`);
    return;
  }
  const runner = new ModelRunner(readModelFile(path));
  const r = rng(7);
  const x = { type: 'float32' as const, data: Float32Array.from({ length: 3 * SIZE * SIZE }, () => r.normal()), dims: [1, 3, SIZE, SIZE] };
  const feeds = { pixel_values: x };
  const logits = (await runner.forward(feeds))['logits']!.data as Float32Array;
  const target = logits.indexOf(Math.max(...logits));
  const ig = new IntegratedGradients(runner, { inputs: ['pixel_values'] });
  console.log(`\nImage IG: ResNet-18 size (${path}), ${SIZE}×${SIZE}, ${STEPS} Gauss–Legendre steps, black (zero) baseline, warm sessions`);
  // The runner reuses the last forward for identical feeds: every timed call gets a fresh input.
  let k = 0;
  const fresh = (t: typeof x) => ({ pixel_values: { ...t, data: t.data.map((v, i) => (i === 0 ? v + ++k * 1e-3 : v)) } });
  const fwd1 = await timeIt(() => runner.forward(fresh(x)), 5, 2);
  console.log(`  one forward (batch 1): ${fwd1.toFixed(1)} ms; 50 × one forward: ${(50 * fwd1 / 1000).toFixed(2)} s`);
  const rows: Record<number, number> = {};
  for (const chunk of [8, 16, 50]) {
    const path50 = { type: 'float32' as const, data: new Float32Array(chunk * x.data.length), dims: [chunk, 3, SIZE, SIZE] };
    const fwdChunk = await timeIt(() => runner.forward(fresh(path50)), 2, 1);
    const ms = await timeIt(() => ig.attribute(fresh(x), { target, baselines: 0, nSteps: STEPS, internalBatchSize: chunk, returnConvergenceDelta: true }), 2, 1);
    rows[chunk] = ms;
    console.log(`  IG, ${chunk} rows per call: ${(ms / 1000).toFixed(2)} s = ${(ms / (50 * fwd1)).toFixed(2)}× 50 forwards (goal ≤ 3); `
      + `a forward of ${chunk} rows takes ${fwdChunk.toFixed(0)} ms (${(fwdChunk / chunk).toFixed(1)} ms per row)`);
  }
  const best = Math.min(...Object.values(rows));
  const out = execFileSync('/usr/bin/python3', ['bench/torch_image_ig.py', '--threads', '2', '--repeats', '3'], { encoding: 'utf8' });
  const torch = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; forward_seconds_x50: number; internal_batch_size: number };
  console.log(`  PyTorch ${'autograd'} IG (50 rows per batch, 2 threads): ${torch.seconds.toFixed(2)} s (its 50 no-grad forwards: ${torch.forward_seconds_x50.toFixed(2)} s); `
    + `gradlens (best chunk) ${(best / 1000).toFixed(2)} s = ${(torch.seconds * 1000 / best).toFixed(2)}× PyTorch's speed`);
  await runner.release();
}
