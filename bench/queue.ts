// The queue (BullMQ on a local redis-server started here). Issue targets: the queue's own overhead per job (push +
// take + store + collect) on a trivial task, goal < 5 ms; and throughput (examples per second) with 1 and 2 workers
// on this machine, against `gradlens batch` in one process and with --workers 2.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { push, work, collect } from '../src/cli/queue.js';
import { now } from './common.js';

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

const BIN = join(process.cwd(), 'bin', 'gradlens.js');
const TEXTS = ['This movie was absolutely wonderful!', 'The food was terrible and the staff were rude.', 'I loved it, great fun.', 'A boring, slow and predictable plot.',
  'The service was quick and the staff were friendly.', 'Not worth the money at all.', 'What a delightful surprise, I would go again.', 'The worst hotel I have ever stayed in.'];

function runWorkers(url: string, queue: string, n: number, threads?: number): Promise<void> {
  return Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--queue', queue, '--exit-when-empty', '--quiet', ...(threads ? ['--threads', String(threads)] : [])], { stdio: 'ignore' });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`))));
  }))).then(() => undefined);
}

export async function benchQueue(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-bench-queue-'));
  const port = await freePort();
  const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  await new Promise((r) => setTimeout(r, 500));
  try {
    // Overhead: 2,000 jobs whose work is nothing.
    const N = 2000;
    const trivial = join(dir, 'trivial.jsonl');
    writeFileSync(trivial, `${Array.from({ length: N }, (_, i) => JSON.stringify({ id: `t${i}`, text: TEXTS[i % TEXTS.length] })).join('\n')}\n`);
    const t0 = now();
    await push({ redis: url, queue: 'trivial', task: 'classify', input: trivial, cli: { method: 'layer-ig' } });
    const t1 = now();
    await work({ redis: url, queue: 'trivial', concurrency: 1, exitWhenEmpty: true, lockMs: 30_000, quiet: true }, async (job) => ({ id: job.data.id, line: job.data.line }));
    const t2 = now();
    await collect(url, 'trivial', join(dir, 'trivial-out.jsonl'));
    const t3 = now();
    console.log(`\nQueue overhead, ${N} jobs with a trivial task (one worker, concurrency 1, local redis-server):`);
    console.log(`  push ${((t1 - t0) / N).toFixed(2)} ms/job, take + store ${((t2 - t1) / N).toFixed(2)} ms/job, collect ${((t3 - t2) / N).toFixed(2)} ms/job; total ${((t3 - t0) / N).toFixed(2)} ms per job (goal < 5 ms)`);

    // Throughput on real work: demo/sentiment, LayerIG 300 steps.
    const M = 48;
    const real = join(dir, 'real.jsonl');
    writeFileSync(real, `${Array.from({ length: M }, (_, i) => JSON.stringify({ id: `r${i}`, text: `${TEXTS[i % TEXTS.length]} (${i})` })).join('\n')}\n`);
    const steps = ['--steps', '300'];
    console.log(`\nThroughput, ${M} lines on demo/sentiment, LayerIG 300 steps, ${'2'} cores:`);
    for (const n of [1, 2]) {
      const t = now();
      execFileSync(process.execPath, [BIN, 'batch', '--task', 'classify', '--input', real, '--out', join(dir, `batch-${n}.jsonl`), ...steps, '--workers', String(n)], { stdio: 'ignore' });
      console.log(`  gradlens batch --workers ${n}: ${(M / ((now() - t) / 1000)).toFixed(2)} lines/s`);
    }
    for (const [n, threads] of [[1, undefined], [2, undefined], [2, 1]] as const) {
      const queue = `real${n}${threads ?? ''}`;
      await push({ redis: url, queue, task: 'classify', input: real, cli: { method: 'layer-ig', steps: '300' } });
      const t = now();
      await runWorkers(url, queue, n, threads);
      console.log(`  ${n} queue worker${n > 1 ? 's' : ''}${threads ? ` --threads ${threads}` : ' (all cores each)'}: ${(M / ((now() - t) / 1000)).toFixed(2)} lines/s (worker start and model load included)`);
    }
  } finally {
    redis.kill('SIGKILL');
  }
}
