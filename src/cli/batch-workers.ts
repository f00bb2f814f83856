/**
 * `gradlens batch --workers N`: N child processes on this machine explain lines in parallel, each with its own model
 * and a share of the cores; the parent reads the input, hands out lines and writes results in input order (the same
 * output, resumable the same way, as one process).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fail, GradlensError } from '../errors.js';
import type { TaskName } from '../tasks/index.js';
import type { CommonCliOptions } from './explain-commands.js';

type ToChild = { type: 'init'; task: TaskName; options: CommonCliOptions; threads: number } | { type: 'line'; seq: number; line: string; lineNo: number };
type FromChild = { type: 'ready' } | { type: 'fatal'; message: string } | { type: 'result'; seq: number; result: Record<string, unknown> };

const BIN = fileURLToPath(new URL('../../../bin/gradlens.js', import.meta.url));

export class WorkerPool {
  private readonly children: { proc: ChildProcess; busy: boolean }[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly idle: (() => void)[] = [];
  private seq = 0;
  private broken: Error | undefined;

  private constructor() {}

  /** Starts N children; resolves when every one has loaded the model (or fails with the first child's error). */
  static async start(n: number, task: TaskName, options: CommonCliOptions): Promise<WorkerPool> {
    const pool = new WorkerPool();
    const threads = Math.max(1, Math.floor(availableParallelism() / n));
    await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
      const proc = fork(BIN, ['batch-worker'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env } });
      const child = { proc, busy: false };
      pool.children.push(child);
      proc.on('message', (m: FromChild) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'fatal') reject(new GradlensError(m.message));
        else {
          const w = pool.waiting.get(m.seq);
          pool.waiting.delete(m.seq);
          child.busy = false;
          w?.resolve(m.result);
          pool.idle.shift()?.();
        }
      });
      proc.on('exit', (code, signal) => {
        const e = new GradlensError(`a batch worker process exited (${signal ?? `code ${code}`}); rerun the same command to resume`);
        pool.broken ??= e;
        reject(e);
        for (const w of pool.waiting.values()) w.reject(e);
        pool.waiting.clear();
        pool.idle.splice(0).forEach((f) => f());
      });
      proc.send({ type: 'init', task, options, threads } satisfies ToChild);
    })));
    return pool;
  }

  /** Explains one line on the first idle child (waiting for one). */
  async explain(line: string, lineNo: number): Promise<Record<string, unknown>> {
    for (;;) {
      if (this.broken) throw this.broken;
      const child = this.children.find((c) => !c.busy);
      if (child) {
        child.busy = true;
        const seq = ++this.seq;
        const done = new Promise<Record<string, unknown>>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
        child.proc.send({ type: 'line', seq, line, lineNo } satisfies ToChild);
        return done;
      }
      await new Promise<void>((r) => this.idle.push(r));
    }
  }

  get size(): number {
    return this.children.length;
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
      c.proc.removeAllListeners('exit');
      c.proc.once('exit', () => resolve());
      c.proc.disconnect();
    })));
  }
}

/** The child's side: load the model once, explain each line it is given. */
export async function runBatchWorker(explain: (task: TaskName, options: CommonCliOptions, threads: number) => Promise<(line: string, lineNo: number) => Promise<Record<string, unknown>>>): Promise<void> {
  if (!process.send) fail('batch-worker is started by gradlens batch --workers');
  const send = (m: FromChild) => process.send!(m);
  let handler: ((line: string, lineNo: number) => Promise<Record<string, unknown>>) | undefined;
  await new Promise<void>((resolve) => {
    process.on('message', async (m: ToChild) => {
      if (m.type === 'init') {
        try {
          handler = await explain(m.task, m.options, m.threads);
          send({ type: 'ready' });
        } catch (e) {
          send({ type: 'fatal', message: e instanceof GradlensError ? e.message : `internal error: ${(e as Error).message}` });
          resolve();
        }
      } else if (handler) {
        send({ type: 'result', seq: m.seq, result: await handler(m.line, m.lineNo) });
      }
    });
    process.on('disconnect', () => resolve());
  });
}
