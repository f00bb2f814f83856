import { Command, Option } from 'commander';
import {
  existsSync, openSync, closeSync, fstatSync, ftruncateSync, writeSync, fsyncSync,
  readFileSync, renameSync, unlinkSync, statSync, linkSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { fail, GradlensError } from '../errors.js';
import { LIMITS, byteLines, openRegularFile } from '../io/files.js';
import { TASKS, type TaskName } from '../tasks/index.js';
import { methodSpec } from '../attr/registry.js';
import { addCommonOptions, demoModel, modelFor, runTask, settingsFrom, type CommonCliOptions, type TaskInput } from './explain-commands.js';
import { WorkerPool, runBatchWorker } from './batch-workers.js';

/**
 * Resumable batch runs: JSONL in, JSONL out, exactly one result line per input line, keyed by the input's "id"
 * (else "line:N", N the 0-based line index); ids are unique, checked before any work.
 *
 * - One process writes an output at a time: `<out>.lock` (created with O_EXCL, holding pid, host and start time)
 *   is taken first; a lock whose holder is dead (on this host) is taken over. The lock goes on exit.
 * - `<out>.meta.json` records task, model and settings; an existing output without it is not ours and is refused;
 *   a resume with other task/model/settings is refused unless --force.
 * - Each result is written with one write call and synced; on restart the complete lines already in the output
 *   (found on bytes) are skipped and a torn last line (a crash mid-write) is cut off.
 * - A bad line (not JSON, wrong-typed fields, a failure explaining it) becomes that line's `{ id, line, error }`;
 *   --retry-errors runs those lines again.
 */
export interface BatchOptions extends CommonCliOptions {
  force?: boolean;
  retryErrors?: boolean;
  /** Worker processes on this machine (1: this process explains every line). */
  workers?: number;
}

export function registerBatchCommand(program: Command): void {
  addCommonOptions(program.command('batch')
    .description('explain every line of a JSONL file; resumable (rerun the same command after a crash or Ctrl-C)')
    .addOption(new Option('--task <task>', 'task of every line').choices([...TASKS]).makeOptionMandatory())
    .requiredOption('-i, --input <file>', 'JSONL input: {"question","context"} (qa), {"text","pair"?} (classify), {"text","token"?} (tokens), {"text","labels","template"?} (zero-shot); optional "id" (unique string or number) and "target"'))
    .option('-o, --out <file>', 'the JSONL output, one result per input line: appended to, and resumed from when it exists')
    .option('--force', 'resume an output written with another task, model or settings (the remaining lines use the new ones)')
    .option('--retry-errors', 'run again the lines whose recorded result is an error')
    .option('--workers <n>', 'explain lines in N worker processes on this machine (each loads the model and gets a share of the cores); same output, same resumability', (v) => {
      if (!/^\d{1,3}$/.test(v) || Number(v) < 1 || Number(v) > 64) fail(`--workers must be an integer from 1 to 64, got ${v.slice(0, 40)}`);
      return Number(v);
    }, 1)
    .addHelpText('after', `
The output's task, model and settings are kept in <out>.meta.json; <out>.lock keeps a second process off the output.
Exit status: 0 done, 1 every line run this time failed (or an error), 130/143 interrupted by SIGINT/SIGTERM (rerun to resume).

Examples:
  $ gradlens batch --task qa --input questions.jsonl --out results.jsonl
  $ gradlens batch --task classify --input reviews.jsonl --out results.jsonl --steps auto --model ./my-model
  $ gradlens batch --task classify --input reviews.jsonl --out results.jsonl --retry-errors`)
    .action(async (o: BatchOptions & { task: TaskName; input: string }) => {
      if (!o.out) fail('batch needs --out results.jsonl (the file it appends to and resumes from)');
      // Silently ignoring it would explain other targets than the user asked for.
      if (o.target !== undefined) fail('batch takes each line\'s own "target" field; --target does not apply (add "target" to the input lines)');
      await runBatch(o.task, o.input, o.out, o);
    });
  program.command('batch-worker', { hidden: true }).description('a worker process of gradlens batch --workers').action(async () => {
    // Signals go to the parent, which finishes the lines in flight and disconnects its workers.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => undefined);
    await runBatchWorker(async (task, options, threads) => {
      const settings = settingsFrom(options);
      const model = await modelFor(task, { ...options, sessionThreads: threads });
      return (line, lineNo) => explainLine(task, model, parseLine(line, lineNo), settings);
    });
  });
}

const errorCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);

const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

export async function runBatch(task: TaskName, input: string, out: string, o: BatchOptions): Promise<{ done: number; skipped: number; errors: number }> {
  const parent = process.ppid;
  if (!existsSync(input)) fail(`cannot read ${input}: no such file`);
  const settings = settingsFrom(o);
  const meta = batchMeta(task, input, o, settings);
  // The input is read through one descriptor (a regular file of bounded size), twice: the pre-pass, then the run.
  const source = { ...openRegularFile(input, LIMITS.batchInput, input), path: input };
  try {
    const ids = scanInput(source);
    const lock = acquireLock(out);
    try {
      const { done, retried } = prepareOutput(out, meta, o);
      return await runLines(task, source, out, o, settings, meta, ids, done, retried, lock, parent);
    } finally {
      lock.release();
    }
  } finally {
    closeSync(source.fd);
  }
}

/** The batch input: an open regular file. */
export interface InputFile { fd: number; size: number; path: string }

/** The input's lines (the last one may lack its "\n"), decoded; each at most LIMITS.batchLine bytes. */
export function* inputLines(input: InputFile): Generator<string> {
  for (const { bytes } of byteLines(input.fd, input.size, { last: true, maxLine: LIMITS.batchLine, what: input.path })) yield bytes.toString('utf8');
}

type StopReason = { code: number; why: string };

async function runLines(
  task: TaskName, input: InputFile, out: string, o: BatchOptions, settings: ReturnType<typeof settingsFrom>, meta: BatchMeta,
  ids: (string | undefined)[], done: Set<string>, retried: number, lock: Lock, parent: number,
): Promise<{ done: number; skipped: number; errors: number }> {
  let stop: StopReason | undefined;
  const onSignal = (signal: keyof typeof SIGNAL_CODES) => {
    if (stop) {
      // A second signal: do not wait for the current line.
      lock.release();
      console.error(`gradlens: interrupted (${signal}); the results written so far are kept in ${out}. Rerun the same command to resume.`);
      process.exit(SIGNAL_CODES[signal]);
    }
    stop = { code: SIGNAL_CODES[signal], why: signal };
  };
  const handlers = Object.keys(SIGNAL_CODES).map((s) => [s, () => onSignal(s as keyof typeof SIGNAL_CODES)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  // The parent's death (a killed wrapper, a closed terminal) stops the batch as SIGTERM would; so does losing the lock.
  const watch = setInterval(() => {
    if (stop) return;
    if (process.ppid !== parent) stop = { code: SIGNAL_CODES.SIGTERM, why: 'the parent process exited' };
    else if (!lock.held()) stop = { code: 1, why: `the lock ${lock.path} was removed or taken by another process` };
  }, 1000);
  watch.unref();
  const cleanup = () => {
    clearInterval(watch);
    for (const [s, h] of handlers) process.removeListener(s, h);
  };
  const workers = o.workers ?? 1;
  let model: Awaited<ReturnType<typeof modelFor>> | undefined;
  let pool: WorkerPool | undefined;
  try {
    // Each worker process plans for its share of the memory budget.
    if (workers > 1) pool = await WorkerPool.start(workers, task, { ...o, memoryBudget: String(Math.max(1, Math.floor((settings.memoryBudget ?? 2 ** 30) / workers))) });
    else model = await modelFor(task, o);
  } catch (e) {
    cleanup();
    throw e;
  }
  const explainOne = (line: string, parsed: ParsedLine): Promise<Record<string, unknown>> => (pool ? pool.explain(line, parsed.lineNo) : explainLine(task, model!, parsed, settings));
  let fd: number | undefined;
  const stats = { done: 0, skipped: 0, errors: 0 };
  const bar = new cliProgress.SingleBar({
    format: 'gradlens batch |{bar}| {value}/{total} lines · {rate}/s · ETA {eta_formatted}',
    stream: process.stderr, hideCursor: false, noTTYOutput: false, notTTYSchedule: 5000, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  try {
    writeAtomic(metaPath(out), `${JSON.stringify(meta, null, 2)}\n`);
    try {
      fd = openSync(out, 'a');
    } catch (e) {
      fail(`cannot write ${out}: ${errorCode(e)}`);
    }
    if (retried) console.error(`gradlens: running again the ${retried} lines whose result was an error`);
    bar.start(ids.length, 0, { rate: '0.0' });
    const started = Date.now();
    let index = 0;
    // Lines in flight, in input order; results are written in that order (with one process, one at a time).
    const inFlight: { id: string; result: Promise<Record<string, unknown>> }[] = [];
    const window = pool ? 2 * pool.size : 1;
    const writeFirst = async () => {
      const { id, result } = inFlight.shift()!;
      const r = await result;
      if ('error' in r) stats.errors++;
      writeAll(fd!, out, Buffer.from(`${JSON.stringify(r)}\n`, 'utf8'));
      done.add(id);
      stats.done++;
      bar.increment(1, { rate: (stats.done / Math.max(1e-3, (Date.now() - started) / 1000)).toFixed(1) });
    };
    for (const line of inputLines(input)) {
      if (stop) break;
      const lineNo = index++;
      if (line.trim() === '') { bar.increment(); continue; }
      const parsed = parseLine(line, lineNo);
      if (parsed.id !== ids[lineNo]) fail(`${input.path} changed while the batch ran (line ${lineNo + 1}); rerun the same command`);
      const id = parsed.id;
      if (done.has(id)) { stats.skipped++; bar.increment(); continue; }
      inFlight.push({ id, result: explainOne(line, parsed) });
      while (inFlight.length >= window) await writeFirst();
    }
    // An interruption still writes the lines in flight (they are being explained now).
    while (inFlight.length > 0) await writeFirst();
    if (index < ids.length && !stop) fail(`${input.path} changed while the batch ran (it has fewer lines); rerun the same command`);
  } finally {
    bar.stop();
    cleanup();
    if (fd !== undefined) closeSync(fd);
    await model?.runner.release();
    await pool?.stop();
  }
  const summary = `${stats.done} new results, ${stats.skipped} already done, ${stats.errors} errors → ${out}`;
  if (stop) {
    console.error(`gradlens: interrupted (${stop.why}); ${summary}. Rerun the same command to resume.`);
    process.exitCode = stop.code;
  } else if (stats.done > 0 && stats.errors === stats.done) {
    console.error(`gradlens: every line failed; ${summary}`);
    process.exitCode = 1;
  } else console.error(`gradlens: ${summary}`);
  return stats;
}

/** One input line's result record: the explanation, or `{ id, line, error }`. Never throws. */
async function explainLine(task: TaskName, model: Awaited<ReturnType<typeof modelFor>>, parsed: ParsedLine, settings: ReturnType<typeof settingsFrom>): Promise<Record<string, unknown>> {
  const { id, lineNo } = parsed;
  if (parsed.error !== undefined) return { id, line: lineNo, error: parsed.error };
  const checked = taskInput(task, parsed.record!);
  if ('error' in checked) return { id, line: lineNo, error: checked.error };
  try {
    const explanation = await runTask(task, model, checked.input, checked.target, settings);
    return { id, line: lineNo, ...explanation };
  } catch (e) {
    if (e instanceof GradlensError) return { id, line: lineNo, error: e.message };
    return { id, line: lineNo, error: `internal error: ${(e as Error)?.message ?? String(e)}` };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Input lines

export interface ParsedLine { id: string; lineNo: number; record?: Record<string, unknown>; error?: string }

const describe = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)})`;
  return `a ${typeof v} (${String(v)})`;
};

/** The id results are keyed by: a string as is, a finite number as its JSON text (so 1 and "1" are one id). */
function normalizeId(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Parses one non-blank input line; a bad id is the caller's to refuse (it is checked before any work). */
export function parseLine(line: string, lineNo: number): ParsedLine & { badId?: unknown } {
  const generated = `line:${lineNo}`;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (e) {
    return { id: generated, lineNo, error: `line ${lineNo + 1} is not valid JSON: ${(e as Error).message}` };
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { id: generated, lineNo, error: `line ${lineNo + 1} is not a JSON object (got ${describe(record)})` };
  }
  const r = record as Record<string, unknown>;
  if (r['id'] === undefined) return { id: generated, lineNo, record: r };
  const id = normalizeId(r['id']);
  if (id === undefined) return { id: generated, lineNo, record: r, badId: r['id'] };
  return { id, lineNo, record: r };
}

/**
 * The pre-pass: every line's id (undefined for blank lines), before any work. Refuses ids that are not a string or
 * a finite number, and duplicate ids (after normalisation; generated "line:N" ids included).
 */
export function scanInput(input: InputFile): (string | undefined)[] {
  const ids: (string | undefined)[] = [];
  const seen = new Map<string, number>();
  for (const line of inputLines(input)) {
    const lineNo = ids.length;
    if (line.trim() === '') { ids.push(undefined); continue; }
    const p = parseLine(line, lineNo);
    if ('badId' in p) fail(`line ${lineNo + 1} of ${input.path}: "id" must be a string or a finite number, got ${describe(p.badId)}`);
    const first = seen.get(p.id);
    if (first !== undefined) {
      fail(`duplicate id ${JSON.stringify(p.id)} on lines ${first + 1} and ${lineNo + 1} of ${input.path} (ids must be unique; a line without "id" has the id "line:N", N its 0-based line index)`);
    }
    seen.set(p.id, lineNo);
    ids.push(p.id);
  }
  return ids;
}

/** Checks a line's fields by type for the task; the TaskInput and target to run, or the line's error message. */
export function taskInput(task: TaskName, r: Record<string, unknown>): { input: TaskInput; target?: string } | { error: string } {
  const problems: string[] = [];
  // Optional fields may be null (as JSON writers emit missing values): null is absent.
  const present = (k: string, required: boolean): boolean => {
    if (r[k] !== undefined && (required || r[k] !== null)) return true;
    if (required) problems.push(`missing "${k}"`);
    return false;
  };
  const str = (k: string, required: boolean): string | undefined => {
    if (!present(k, required)) return undefined;
    if (typeof r[k] === 'string') return r[k] as string;
    problems.push(`"${k}" must be a string, got ${describe(r[k])}`);
    return undefined;
  };
  const input: TaskInput = {};
  switch (task) {
    case 'qa':
      input.question = str('question', true);
      input.context = str('context', true);
      break;
    case 'classify':
      input.text = str('text', true);
      input.pair = str('pair', false);
      break;
    case 'tokens':
      input.text = str('text', true);
      if (present('token', false)) {
        const t = r['token'];
        if (typeof t === 'number' && Number.isInteger(t) && t >= 0) input.token = t;
        else problems.push(`"token" must be a non-negative integer, got ${describe(t)}`);
      }
      break;
    case 'zero-shot': {
      input.text = str('text', true);
      if (present('labels', true)) {
        const l = r['labels'];
        if (typeof l === 'string') input.labels = l.split(',');
        else if (Array.isArray(l) && l.every((x) => typeof x === 'string')) input.labels = l as string[];
        else {
          const got = Array.isArray(l) ? `an array with ${describe(l.find((x) => typeof x !== 'string'))}` : describe(l);
          problems.push(`"labels" must be an array of strings or a comma-separated string, got ${got}`);
        }
      }
      input.template = str('template', false);
      break;
    }
  }
  let target: string | undefined;
  if (present('target', false)) {
    const t = r['target'];
    if (typeof t === 'string' || (typeof t === 'number' && Number.isFinite(t))) target = String(t);
    else problems.push(`"target" must be a string or a number, got ${describe(t)}`);
  }
  if (problems.length) return { error: problems.join('; ') };
  return { input, target };
}

// ---------------------------------------------------------------------------------------------------------------
// The sidecar: what the output was written with

interface BatchMeta {
  gradlens: 'batch';
  version: 1;
  task: TaskName;
  model: string;
  settings: Record<string, unknown>;
  input: string;
}

const metaPath = (out: string) => `${out}.meta.json`;

function batchMeta(task: TaskName, input: string, o: BatchOptions, s: ReturnType<typeof settingsFrom>): BatchMeta {
  // A local folder is recorded by its absolute path (the same folder from another directory is the same model).
  const model = o.model === undefined ? demoModel(task).name : existsSync(o.model) ? resolve(o.model) : o.model;
  return {
    gradlens: 'batch', version: 1, task, model,
    settings: {
      method: s.method, steps: s.steps, integration: s.integration, internalBatchSize: s.internalBatchSize ?? null,
      baseline: s.baseline, seed: s.seed, stdevs: s.stdevs, samples: s.samples, layer: o.layer ?? null,
      // Newer settings only where they change results, so outputs written before them still resume.
      ...((methodSpec(s.method).options as readonly string[]).includes('window') ? { window: s.window, stride: s.stride } : {}),
      ...(s.granularity !== 'token' ? { granularity: s.granularity } : {}),
    },
    input: resolve(input),
  };
}

const show = (v: unknown): string => (v === null || v === undefined ? 'unset' : typeof v === 'string' ? v : JSON.stringify(v));

/** What differs between the recorded and the current task/model/settings, for the user. */
function metaDiff(recorded: BatchMeta, now: BatchMeta): string[] {
  const diffs: string[] = [];
  const cmp = (name: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) diffs.push(`${name} ${show(a)} (now ${show(b)})`);
  };
  cmp('task', recorded.task, now.task);
  cmp('model', recorded.model, now.model);
  const rs = (recorded.settings ?? {}) as Record<string, unknown>;
  for (const k of new Set([...Object.keys(rs), ...Object.keys(now.settings)])) cmp(k, rs[k], now.settings[k]);
  return diffs;
}

// ---------------------------------------------------------------------------------------------------------------
// The output

function notOurs(out: string, why: string): never {
  fail(`${out} is not a gradlens batch output (${why}); choose another --out`);
}

/**
 * Checks an existing output against the sidecar and the current run, cuts a torn last line off, and with
 * --retry-errors rewrites it without its error records. Returns the ids that are done.
 */
function prepareOutput(out: string, meta: BatchMeta, o: BatchOptions): { done: Set<string>; retried: number } {
  const done = new Set<string>();
  if (!existsSync(out)) return { done, retried: 0 };
  let fd: number;
  try {
    fd = openSync(out, 'r+');
  } catch (e) {
    fail(`cannot open ${out}: ${errorCode(e)}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return { done, retried: 0 };
    let recorded: BatchMeta;
    try {
      recorded = JSON.parse(readFileSync(metaPath(out), 'utf8')) as BatchMeta;
    } catch (e) {
      return notOurs(out, errorCode(e) === 'ENOENT' ? `no ${metaPath(out)}` : `${metaPath(out)} is unreadable`);
    }
    if (recorded?.gradlens !== 'batch' || recorded.version !== 1) notOurs(out, `${metaPath(out)} is not a gradlens batch record`);
    // Read-only scan first: nothing is cut off a file that turns out not to be ours.
    const errorLines: boolean[] = [];
    let count = 0, end = 0;
    for (const line of byteLines(fd, size, { what: out })) {
      const bytes = line.bytes;
      end = line.end;
      count++;
      let r: unknown;
      try {
        r = JSON.parse(bytes.toString('utf8'));
      } catch {
        r = undefined;
      }
      const rec = r as Record<string, unknown> | undefined;
      const id = rec && typeof rec === 'object' && !Array.isArray(rec) ? normalizeId(rec['id']) : undefined;
      if (id === undefined || !Number.isInteger(rec!['line'])) notOurs(out, `line ${count} is not a result line`);
      const isError = 'error' in rec!;
      errorLines.push(isError);
      if (!(isError && o.retryErrors)) done.add(id);
    }
    const diffs = metaDiff(recorded, meta);
    if (diffs.length && !o.force) {
      fail(`${out} was written with other settings: ${diffs.join(', ')}; rerun with the same options, or pass --force to run the remaining lines with the new ones`);
    }
    const retried = o.retryErrors ? errorLines.filter(Boolean).length : 0;
    if (retried) {
      let k = 0;
      rewriteAtomic(out, (emit) => {
        for (const { bytes } of byteLines(fd, size, { what: out })) if (!errorLines[k++]) emit(bytes);
      });
    } else if (end < size) {
      try {
        ftruncateSync(fd, end);
        fsyncSync(fd);
      } catch (e) {
        fail(`cannot repair ${out}: ${errorCode(e)}`);
      }
    }
    return { done, retried };
  } finally {
    closeSync(fd);
  }
}

/** Writes every byte of buf (writeSync may write fewer). */
function writeFully(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
}

function writeAll(fd: number, path: string, buf: Buffer): void {
  try {
    writeFully(fd, buf);
    fsyncSync(fd);
  } catch (e) {
    fail(`cannot write ${path}: ${errorCode(e)}`);
  }
}

function fsyncDir(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Not every platform syncs directories; the rename itself is atomic.
  }
}

/** Writes a file next to `path` (lines given by fill, each followed by "\n"), syncs it and renames it over `path`. */
function rewriteAtomic(path: string, fill: (emit: (bytes: Buffer) => void) => void): void {
  const tmp = `${path}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    const NL = Buffer.from('\n');
    let parts: Buffer[] = [], bytes = 0;
    const flush = () => {
      writeFully(fd!, Buffer.concat(parts));
      parts = [];
      bytes = 0;
    };
    fill((line) => {
      parts.push(Buffer.from(line), NL);
      bytes += line.length + 1;
      if (bytes >= 1 << 20) flush();
    });
    flush();
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    fsyncDir(path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    if (e instanceof GradlensError) throw e;
    fail(`cannot write ${path}: ${errorCode(e)}`);
  }
}

function writeAtomic(path: string, text: string): void {
  rewriteAtomic(path, (emit) => emit(Buffer.from(text.replace(/\n$/, ''), 'utf8')));
}

// ---------------------------------------------------------------------------------------------------------------
// The lock

interface LockInfo { pid: number; hostname: string; started: string }

interface Lock { path: string; held(): boolean; release(): void }

/** Locks taken by this process (a second runBatch on the same output in one process is refused too). */
const heldHere = new Set<string>();

/** Reads a lock file: its text, parsed content (if it is a lock) and inode; undefined when it is gone. */
function readLock(path: string): { raw: string; info?: LockInfo; ino: number; mtimeMs: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    fail(`cannot read the lock file ${path}: ${errorCode(e)}`);
  }
  try {
    const st = fstatSync(fd);
    const raw = readFileSync(fd, 'utf8');
    let info: LockInfo | undefined;
    try {
      const j = JSON.parse(raw) as LockInfo;
      if (Number.isInteger(j.pid) && j.pid > 0 && typeof j.hostname === 'string') info = j;
    } catch {
      info = undefined;
    }
    return { raw, info, ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return errorCode(e) !== 'ESRCH'; // EPERM: alive, another user's
  }
  // A zombie (exited, not yet reaped by its parent) still answers signal 0 but holds nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Moves a stale lock out of the way, unless another process replaced it in the meantime (then it is put back). */
function removeStale(path: string, stale: { ino: number }): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return;
    fail(`cannot take over the stale lock ${path}: ${errorCode(e)}`);
  }
  let same = false;
  try {
    same = statSync(aside).ino === stale.ino;
  } catch {
    same = false;
  }
  if (!same) {
    try { linkSync(aside, path); } catch { /* yet another process holds it now; the loop sees it */ }
  }
  try { unlinkSync(aside); } catch { /* gone */ }
}

function acquireLock(out: string): Lock {
  const path = `${out}.lock`;
  const key = resolve(path);
  if (heldHere.has(key)) fail(`${out} is being written by this process already (lock ${path})`);
  const mine: LockInfo = { pid: process.pid, hostname: hostname(), started: new Date().toISOString() };
  const content = `${JSON.stringify(mine)}\n`;
  let taken: number | undefined;
  for (let attempt = 0; attempt < 10 && taken === undefined; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, content);
        fsyncSync(fd);
        taken = fstatSync(fd).ino;
      } catch (e) {
        closeSync(fd);
        try { unlinkSync(path); } catch { /* gone */ }
        fail(`cannot write the lock file ${path}: ${errorCode(e)}`);
      }
      closeSync(fd);
      break;
    } catch (e) {
      if (e instanceof GradlensError) throw e;
      if (errorCode(e) !== 'EEXIST') fail(`cannot create the lock file ${path}: ${errorCode(e)}`);
    }
    const holder = readLock(path);
    if (!holder) continue;
    const h = holder.info;
    if (!h) {
      // Created but not yet written (its holder is starting), or left empty by a crash right after creating it.
      if (holder.raw.trim() === '' && Date.now() - holder.mtimeMs > 10_000) { removeStale(path, holder); continue; }
      if (holder.raw.trim() === '') fail(`${out} is being locked by another process (${path}); try again in a moment`);
      fail(`${path} exists and is not a gradlens lock file; remove it or choose another --out`);
    }
    const since = typeof h.started === 'string' ? `, since ${h.started}` : '';
    if (h.hostname !== mine.hostname) {
      fail(`${out} is locked by pid ${h.pid} on host ${h.hostname}${since}; if that batch is gone, remove ${path}`);
    }
    if (h.pid !== process.pid && pidAlive(h.pid)) {
      fail(`${out} is being written by another gradlens batch (pid ${h.pid}${since}); wait for it or stop it (lock ${path})`);
    }
    removeStale(path, holder); // its holder is dead
  }
  if (taken === undefined) fail(`cannot take the lock ${path}: other processes keep taking it`);
  heldHere.add(key);
  const ino = taken;
  let released = false;
  const held = () => {
    if (released) return false;
    try {
      const st = statSync(path);
      return st.ino === ino && readFileSync(path, 'utf8') === content;
    } catch {
      return false;
    }
  };
  const release = () => {
    if (released) return;
    if (held()) {
      try { unlinkSync(path); } catch { /* gone */ }
    }
    released = true;
    heldHere.delete(key);
    process.removeListener('exit', release);
  };
  process.on('exit', release);
  return { path, held, release };
}
