/**
 * Explaining a dataset across machines on a real job queue: BullMQ on the user's Redis.
 *
 * - `queue push` adds one job per input line; the job id comes from the line's id (else "line:N"), so pushing the
 *   same file again adds nothing. The task, model and explain options travel with every job. The input order is
 *   kept in a Redis list, and the first push's settings in a meta key (a push with others is refused unless --force).
 * - `worker` loads each model once and takes jobs. A result is stored with its job by BullMQ's atomic completion;
 *   a worker killed at any moment loses nothing: its lock expires and the job goes back to the queue (stalled-job
 *   recovery). An input error (a bad line, a text the model cannot take) fails the job with its message, unretried.
 *   SIGTERM finishes the current job and exits.
 * - `queue status` counts and estimates; `queue collect` writes every input line exactly once, in input order, as
 *   the same objects `gradlens batch` writes.
 */
import { Command, Option } from 'commander';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { freemem } from 'node:os';
import { dirname, basename, join } from 'node:path';
import cliProgress from 'cli-progress';
import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { fail, GradlensError } from '../errors.js';
import { LIMITS, openRegularFile } from '../io/files.js';
import { TASKS, runTask, type TaskName } from '../tasks/index.js';
import type { ExplainSettings } from '../attr/registry.js';
import type { LoadedModel } from '../models/load.js';
import { escapeControls } from '../viz/escape.js';
import { addCommonOptions, DEFAULT_BUDGET_SHARE, modelFor, settingsFrom, type CommonCliOptions } from './explain-commands.js';
import { inputLines, parseLine, scanInput, taskInput, type InputFile } from './batch.js';

export const DEFAULT_QUEUE = 'gradlens';
/** How long a job's lock lasts without renewal (BullMQ's default, 30 s): a killed worker's job is retried after it. */
export const DEFAULT_LOCK_MS = 30_000;
/** Attempts of a job that fails with something other than an input error (a crash, a lost connection). */
const ATTEMPTS = 3;

export interface JobData {
  id: string;
  line: number;
  task: TaskName;
  /** The model folder or Hub id (null: the task's demo model), and --layer. */
  model: string | null;
  layer: string | null;
  offline: boolean;
  /** The explain options (without the memory budget: each worker uses its own machine's). */
  settings: Omit<ExplainSettings, 'memoryBudget'>;
  /** The input line as an object, or the line's parse error. */
  record?: Record<string, unknown>;
  error?: string;
}

/** BullMQ refuses ":" and integer-looking ids: job ids are the hex of the line id's UTF-8 bytes. */
export const jobIdOf = (id: string): string => `g${Buffer.from(id, 'utf8').toString('hex')}`;

const keys = (queue: string) => ({ meta: `gradlens:${queue}:meta`, ids: `gradlens:${queue}:ids`, order: `gradlens:${queue}:order`, started: `gradlens:${queue}:started` });

/** The URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.slice(0, 100);
  }
}

/** ioredis options from a redis:// or rediss:// URL; a clear refusal for anything else. */
export function connectionOf(url: string): RedisOptions & { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    fail(`--redis must be a URL such as redis://127.0.0.1:6379, got ${url.slice(0, 100)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') fail(`--redis must be a redis:// or rediss:// URL, got ${redactUrl(url)}`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) fail(`the database in ${redactUrl(url)} must be a number`);
  return {
    host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379, db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** A client for gradlens' own keys; an unreachable server is one clear line within a few seconds. */
export async function connect(url: string): Promise<Redis> {
  const client = new Redis({ ...connectionOf(url), lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null, maxRetriesPerRequest: 1 });
  let cause: NodeJS.ErrnoException | undefined;
  client.on('error', (e: NodeJS.ErrnoException) => { cause ??= e; });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    const why = cause ?? (e as NodeJS.ErrnoException);
    fail(`cannot reach Redis at ${redactUrl(url)}: ${why.code ?? why.message}`);
  }
  return client;
}

function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) fail(`--queue must be 1–100 letters, digits, ".", "_" or "-", got ${name.slice(0, 40)}`);
  return name;
}

export interface PushOptions { redis: string; queue: string; task: TaskName; input: string; force?: boolean; cli: CommonCliOptions }

/** Pushes one job per input line; returns how many were added and how many were already there. */
export async function push(o: PushOptions): Promise<{ added: number; skipped: number }> {
  if (!existsSync(o.input)) fail(`cannot read ${o.input}: no such file`);
  const settings = settingsFrom(o.cli);
  const { memoryBudget: _budget, ...shared } = settings;
  const file: InputFile = { ...openRegularFile(o.input, LIMITS.batchInput, o.input), path: o.input };
  const client = await connect(o.redis);
  const k = keys(o.queue);
  const queue = new Queue<JobData>(o.queue, { connection: connectionOf(o.redis) });
  try {
    const lineIds = scanInput(file);
    const meta = JSON.stringify({ task: o.task, model: o.cli.model ?? null, layer: o.cli.layer ?? null, settings: shared });
    const recorded = await client.get(k.meta);
    if (recorded !== null && recorded !== meta && !o.force) {
      fail(`queue ${o.queue} holds jobs of another task, model or settings (${recorded.slice(0, 300)}); use another --queue, or --force to add these lines with the new ones`);
    }
    if (recorded === null || o.force) await client.set(k.meta, meta);
    let added = 0, skipped = 0, lineNo = 0;
    let batch: { name: string; data: JobData; opts: { jobId: string; attempts: number; removeOnComplete: false; removeOnFail: false } }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      // Jobs first (adding an existing job id is a no-op), then the id set and the order: a crash in between
      // leaves a job that the next push counts and orders, never an ordered id without a job.
      await queue.addBulk(batch);
      const multi = client.multi();
      for (const j of batch) multi.sadd(k.ids, j.opts.jobId);
      const replies = (await multi.exec()) ?? [];
      const order = client.multi();
      batch.forEach((j, i) => {
        if (replies[i]?.[1] === 1) { added++; order.rpush(k.order, j.opts.jobId); } else skipped++;
      });
      await order.exec();
      batch = [];
    };
    for (const line of inputLines(file)) {
      const n = lineNo++;
      if (lineIds[n] === undefined) continue;
      const parsed = parseLine(line, n);
      const data: JobData = {
        id: parsed.id, line: n, task: o.task, model: o.cli.model ?? null, layer: o.cli.layer ?? null, offline: !!o.cli.offline,
        settings: shared, ...(parsed.error !== undefined ? { error: parsed.error } : { record: parsed.record! }),
      };
      batch.push({ name: o.task, data, opts: { jobId: jobIdOf(parsed.id), attempts: ATTEMPTS, removeOnComplete: false, removeOnFail: false } });
      if (batch.length >= 500) await flush();
    }
    await flush();
    return { added, skipped };
  } finally {
    closeSync(file.fd);
    await queue.close();
    client.disconnect();
  }
}

/** The result record of one job, as `gradlens batch` writes it; input errors become UnrecoverableError. */
export async function processJob(data: JobData, modelFor: (data: JobData) => Promise<LoadedModel>, memoryBudget: number): Promise<Record<string, unknown>> {
  if (data.error !== undefined) throw new UnrecoverableError(data.error);
  const checked = taskInput(data.task, data.record ?? {});
  if ('error' in checked) throw new UnrecoverableError(checked.error);
  try {
    const model = await modelFor(data);
    const explanation = await runTask(data.task, model, checked.input, checked.target, { ...data.settings, memoryBudget });
    return { id: data.id, line: data.line, ...explanation };
  } catch (e) {
    if (e instanceof GradlensError) throw new UnrecoverableError(e.message);
    throw e;
  }
}

export interface WorkerOptions { redis: string; queue: string; concurrency: number; exitWhenEmpty: boolean; lockMs: number; quiet?: boolean; threads?: number }

/** Runs a worker until SIGTERM/SIGINT (the current jobs finish first) or, with exitWhenEmpty, until no job is left. */
export async function work(o: WorkerOptions, processor?: (job: Job<JobData>) => Promise<unknown>): Promise<{ completed: number; failed: number }> {
  const client = await connect(o.redis);
  const k = keys(o.queue);
  const models = new Map<string, Promise<LoadedModel>>();
  const load = (d: JobData): Promise<LoadedModel> => {
    const key = JSON.stringify([d.task, d.model, d.layer, d.offline]);
    let m = models.get(key);
    if (!m) {
      m = modelFor(d.task, { model: d.model ?? undefined, layer: d.layer ?? undefined, offline: d.offline, ...(o.threads ? { sessionThreads: o.threads } : {}) } as CommonCliOptions);
      models.set(key, m);
      m.catch(() => models.delete(key));
    }
    return m;
  };
  const budget = Math.floor(DEFAULT_BUDGET_SHARE * freemem() / Math.max(1, o.concurrency));
  const stats = { completed: 0, failed: 0 };
  const worker = new Worker<JobData>(o.queue, processor ?? (async (job) => {
    await client.set(k.started, String(Date.now()), 'NX');
    return processJob(job.data, load, budget);
  }), {
    connection: connectionOf(o.redis), concurrency: o.concurrency, lockDuration: o.lockMs, stalledInterval: Math.max(1000, Math.floor(o.lockMs / 2)),
    // A job whose worker was killed is moved back to the queue each time its lock expires; it is never failed for it.
    maxStalledCount: 1000, autorun: false,
  });
  worker.on('completed', (job) => { stats.completed++; if (!o.quiet) console.error(`gradlens worker: done ${escapeControls(job.data.id)}`); });
  worker.on('failed', (job, err) => { stats.failed++; if (!o.quiet) console.error(`gradlens worker: failed ${escapeControls(job?.data.id ?? '?')}: ${escapeControls(err.message)}`); });
  worker.on('error', (err) => { if (!o.quiet) console.error(`gradlens worker: ${escapeControls(err.message)}`); });
  const queue = new Queue<JobData>(o.queue, { connection: connectionOf(o.redis) });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= worker.close());
  const onSignal = () => { void stop(); };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let poll: NodeJS.Timeout | undefined;
  if (o.exitWhenEmpty) {
    poll = setInterval(async () => {
      try {
        const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children');
        if (Object.values(c).every((n) => n === 0)) void stop();
      } catch {
        // the next poll retries
      }
    }, 500);
  }
  try {
    const running = worker.run();
    await Promise.race([running, new Promise<void>((resolve) => { const t = setInterval(() => { if (stopping) { clearInterval(t); resolve(); } }, 100); })]);
    await stop();
  } finally {
    if (poll) clearInterval(poll);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await queue.close();
    for (const m of models.values()) await (await m.catch(() => undefined))?.runner.release();
    client.disconnect();
  }
  return stats;
}

export interface QueueStatus { total: number; waiting: number; active: number; done: number; failed: number; perSecond: number | null; etaSeconds: number | null }

export async function status(redis: string, name: string): Promise<QueueStatus> {
  const client = await connect(redis);
  const queue = new Queue<JobData>(name, { connection: connectionOf(redis) });
  try {
    const k = keys(name);
    const [total, started, c] = await Promise.all([
      client.llen(k.order), client.get(k.started),
      queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'paused'),
    ]);
    const finished = (c['completed'] ?? 0) + (c['failed'] ?? 0);
    const elapsed = started ? (Date.now() - Number(started)) / 1000 : 0;
    const perSecond = started && elapsed > 0 && finished > 0 ? finished / elapsed : null;
    const left = Math.max(0, total - finished);
    return {
      total, waiting: (c['waiting'] ?? 0) + (c['delayed'] ?? 0) + (c['prioritized'] ?? 0) + (c['paused'] ?? 0), active: c['active'] ?? 0,
      done: c['completed'] ?? 0, failed: c['failed'] ?? 0, perSecond, etaSeconds: perSecond ? left / perSecond : left === 0 ? 0 : null,
    };
  } finally {
    await queue.close();
    client.disconnect();
  }
}

const describeStatus = (s: QueueStatus) =>
  `${s.total} lines: ${s.waiting} waiting, ${s.active} active, ${s.done} done, ${s.failed} failed` +
  (s.perSecond ? `; ${s.perSecond.toFixed(2)} lines/s, ETA ${Math.round(s.etaSeconds ?? 0)} s` : '');

/** Writes every input line's result exactly once, in input order (atomically); refuses while lines are unfinished. */
export async function collect(redis: string, name: string, out: string): Promise<{ lines: number; errors: number }> {
  const client = await connect(redis);
  const queue = new Queue<JobData>(name, { connection: connectionOf(redis) });
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    const k = keys(name);
    const total = await client.llen(k.order);
    if (total === 0) fail(`queue ${name} has no lines (push some with gradlens queue push)`);
    const records: string[] = [];
    let errors = 0, unfinished = 0;
    for (let start = 0; start < total; start += 500) {
      const ids = await client.lrange(k.order, start, Math.min(total, start + 500) - 1);
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      const states = await Promise.all(jobs.map((j) => j?.getState()));
      jobs.forEach((job, i) => {
        if (!job) { unfinished++; return; }
        if (states[i] === 'completed') records.push(JSON.stringify(job.returnvalue));
        else if (states[i] === 'failed') { errors++; records.push(JSON.stringify({ id: job.data.id, line: job.data.line, error: job.failedReason })); }
        else unfinished++;
      });
    }
    if (unfinished > 0) fail(`${unfinished} of ${total} lines of queue ${name} are not done yet (gradlens queue status shows the progress); nothing was written`);
    try {
      fd = openSync(tmp, 'w');
      for (let i = 0; i < records.length; i += 1000) writeSync(fd, `${records.slice(i, i + 1000).join('\n')}\n`);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      renameSync(tmp, out);
    } catch (e) {
      fail(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return { lines: records.length, errors };
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (existsSync(tmp)) unlinkSync(tmp);
    await queue.close();
    client.disconnect();
  }
}

const positive = (flag: string, max: number) => (v: string): number => {
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1 || Number(v) > max) fail(`${flag} must be an integer from 1 to ${max}, got ${v.slice(0, 40)}`);
  return Number(v);
};

export function registerQueueCommands(program: Command): void {
  const q = program.command('queue').description('explain a dataset on a job queue (BullMQ on Redis): push, status, collect; run `gradlens worker` on each machine');
  const common = (c: Command) => c
    .requiredOption('--redis <url>', 'the Redis server, e.g. redis://127.0.0.1:6379 (rediss:// for TLS; redis://user:password@host:port/db)')
    .option('--queue <name>', 'the queue\'s name', DEFAULT_QUEUE);
  addCommonOptions(common(q.command('push'))
    .description('add one job per input line (job id = the line\'s "id", else line:N); pushing the same file again adds nothing')
    .addOption(new Option('--task <task>', 'task of every line').choices([...TASKS]).makeOptionMandatory())
    .requiredOption('-i, --input <file>', 'JSONL input, as for gradlens batch')
    .option('--force', 'add lines to a queue that holds jobs of another task, model or settings'))
    .addHelpText('after', `
The explain options travel with the jobs; a worker's machine sets its own memory budget. The model is a folder that
exists at the same path on every worker, or a Hub id (each worker uses its own cache).

Examples:
  $ gradlens queue push --redis redis://queue-host:6379 --task classify --input reviews.jsonl --model ./my-model
  $ gradlens worker --redis redis://queue-host:6379          # on every machine
  $ gradlens queue status --redis redis://queue-host:6379 --watch
  $ gradlens queue collect --redis redis://queue-host:6379 --out results.jsonl`)
    .action(async (o: CommonCliOptions & { redis: string; queue: string; task: TaskName; input: string; force?: boolean }) => {
      if (o.target !== undefined) fail('queue push takes each line\'s own "target" field; --target does not apply');
      const r = await push({ redis: o.redis, queue: checkQueueName(o.queue), task: o.task, input: o.input, force: o.force, cli: o });
      console.error(`gradlens: ${r.added} jobs added to queue ${o.queue}, ${r.skipped} already in it`);
    });
  common(q.command('status').description('how many lines are waiting, active, done and failed; throughput and ETA'))
    .option('--watch', 'keep watching with a progress bar until every line is done')
    .action(async (o: { redis: string; queue: string; watch?: boolean }) => {
      const name = checkQueueName(o.queue);
      let s = await status(o.redis, name);
      if (!o.watch) return void console.log(describeStatus(s));
      const bar = new cliProgress.SingleBar({ stream: process.stderr, format: 'gradlens queue |{bar}| {value}/{total} lines · {rate} lines/s · ETA {eta}s · {failed} failed', noTTYOutput: true, notTTYSchedule: 5000 }, cliProgress.Presets.shades_classic);
      bar.start(s.total, s.done + s.failed, { rate: '—', eta: '—', failed: s.failed });
      while (s.done + s.failed < s.total) {
        await new Promise((r) => setTimeout(r, 1000));
        s = await status(o.redis, name);
        bar.setTotal(s.total);
        bar.update(s.done + s.failed, { rate: s.perSecond?.toFixed(2) ?? '—', eta: s.etaSeconds === null ? '—' : Math.round(s.etaSeconds), failed: s.failed });
      }
      bar.stop();
      console.log(describeStatus(s));
    });
  common(q.command('collect').description('write every input line\'s result exactly once, in input order, as gradlens batch does'))
    .requiredOption('-o, --out <file>', 'the JSONL output (written atomically)')
    .action(async (o: { redis: string; queue: string; out: string }) => {
      const r = await collect(o.redis, checkQueueName(o.queue), o.out);
      console.error(`gradlens: ${r.lines} lines (${r.errors} errors) → ${o.out}`);
    });
  common(program.command('worker').description('take jobs from the queue and store their results in Redis, until SIGTERM (or --exit-when-empty)'))
    .option('--concurrency <n>', 'jobs at a time in this process', positive('--concurrency', 64), 1)
    .option('--exit-when-empty', 'exit when no job is waiting or active')
    .option('--lock-duration <ms>', `how long a job stays locked without renewal; a killed worker's job is retried after it (default ${DEFAULT_LOCK_MS})`, positive('--lock-duration', 3_600_000), DEFAULT_LOCK_MS)
    .option('--threads <n>', 'ONNX Runtime threads per model (default: all cores; with several workers on one machine, give each a share)', positive('--threads', 1024))
    .option('--quiet', 'no line per job on stderr')
    .action(async (o: { redis: string; queue: string; concurrency: number; exitWhenEmpty?: boolean; lockDuration: number; quiet?: boolean; threads?: number }) => {
      const r = await work({ redis: o.redis, queue: checkQueueName(o.queue), concurrency: o.concurrency, exitWhenEmpty: !!o.exitWhenEmpty, lockMs: o.lockDuration, quiet: o.quiet, ...(o.threads ? { threads: o.threads } : {}) });
      console.error(`gradlens worker: ${r.completed} jobs done, ${r.failed} failed`);
    });
}
