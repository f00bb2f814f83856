import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tensor } from '../src/runtime/session.js';

export const BENCH_DIR = join(process.cwd(), 'bench', 'models');

export interface BenchModel {
  path: string;
  embeddingsOutput: string;
  outputs: string[];
}

/** The BERT-base-size benchmark model (random weights), built once by bench/make_bench_model.py. */
export function benchModel(): BenchModel {
  const path = join(BENCH_DIR, 'bert-base-qa.onnx');
  const sidecar = join(BENCH_DIR, 'bert-base-qa.json');
  if (!existsSync(path) || !existsSync(sidecar)) {
    console.log('building the BERT-base benchmark model (python3 bench/make_bench_model.py; needs Debian python3-torch)…');
    execFileSync('/usr/bin/python3', ['bench/make_bench_model.py', path], { stdio: 'inherit' });
  }
  const meta = JSON.parse(readFileSync(sidecar, 'utf8')) as { embeddings_output: string; outputs: string[] };
  return { path, embeddingsOutput: meta.embeddings_output, outputs: meta.outputs };
}

export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Median wall time in ms of `runs` calls after `warmup` calls. */
export async function timeIt(fn: () => Promise<unknown> | unknown, runs = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = now();
    await fn();
    times.push(now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export const peakRssMiB = (): number => process.resourceUsage().maxRSS / 1024;

export function ids(batch: number, seq: number, seed = 1): number[] {
  const out: number[] = [];
  let s = seed;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < seq; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      out.push(i === 0 ? 101 : i === seq - 1 ? 102 : 1000 + (s % 28000));
    }
  }
  return out;
}

/** QA feeds for the BERT-base-size model: `batch` rows of `tokens` ids (seeded), types 1 after position 14. */
export function qaFeeds(batch: number, tokens: number, seed = 1) {
  return {
    input_ids: tensor('int64', ids(batch, tokens, seed), [batch, tokens]),
    attention_mask: tensor('int64', new Array(batch * tokens).fill(1), [batch, tokens]),
    token_type_ids: tensor('int64', Array.from({ length: batch * tokens }, (_, i) => (i % tokens > 14 ? 1 : 0)), [batch, tokens]),
  };
}
