import { Command, Option } from 'commander';
import { createReadStream, existsSync, openSync, closeSync, readSync, fstatSync, ftruncateSync, writeSync, fsyncSync } from 'node:fs';
import { createInterface } from 'node:readline';
import cliProgress from 'cli-progress';
import { fail, GradlensError } from '../errors.js';
import { TASKS, type TaskName } from '../models/tasks.js';
import { addCommonOptions, modelFor, runTask, settingsFrom, type CommonCliOptions, type TaskInput } from './explain-commands.js';

/**
 * Resumable batch runs: JSONL in, JSONL out, one result line per input line (keyed by the input's "id", else its
 * line number). Each result is written with one write call and synced; on restart, the complete lines already in
 * the output are skipped and a torn last line (a crash mid-write) is cut off. Bad lines become error results.
 */
export function registerBatchCommand(program: Command): void {
  addCommonOptions(program.command('batch')
    .description('explain every line of a JSONL file; resumable (rerun the same command after a crash or Ctrl-C)')
    .addOption(new Option('--task <task>', 'task of every line').choices([...TASKS]).makeOptionMandatory())
    .requiredOption('-i, --input <file>', 'JSONL input: {"question","context"} (qa), {"text","pair"?} (classify), {"text","token"?} (tokens), {"text","labels"} (zero-shot); optional "id" and "target"'))
    .addHelpText('after', `
Examples:
  $ gradlens batch --task qa --input questions.jsonl --out results.jsonl
  $ gradlens batch --task classify --input reviews.jsonl --out results.jsonl --steps auto --model ./my-model`)
    .action(async (o: CommonCliOptions & { task: TaskName; input: string }) => {
      if (!o.out) fail('batch needs --out results.jsonl (the file it appends to and resumes from)');
      if (o.format !== 'text' && o.format !== 'json') fail('batch writes JSONL; --format does not apply');
      await runBatch(o.task, o.input, o.out, o);
    });
}

export async function runBatch(task: TaskName, input: string, out: string, o: CommonCliOptions): Promise<{ done: number; skipped: number; errors: number }> {
  if (!existsSync(input)) fail(`cannot read ${input}: no such file`);
  const settings = settingsFrom(o);
  const done = recoverOutput(out);
  const total = await countLines(input);
  const model = await modelFor(task, o);
  let fd: number;
  try {
    fd = openSync(out, 'a');
  } catch (e) {
    fail(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const bar = new cliProgress.SingleBar({
    format: 'gradlens batch |{bar}| {value}/{total} lines · {rate}/s · ETA {eta_formatted}',
    stream: process.stderr, hideCursor: false, noTTYOutput: false, notTTYSchedule: 5000, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { rate: '0.0' });
  const started = Date.now();
  let stop = false;
  const onSignal = () => { stop = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stats = { done: 0, skipped: 0, errors: 0 };
  const lines = createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Infinity });
  let index = 0;
  try {
    for await (const line of lines) {
      if (stop) break;
      const lineNo = index++;
      if (line.trim() === '') { bar.increment(); continue; }
      const { id, record, error } = parseLine(line, lineNo);
      if (done.has(id)) { stats.skipped++; bar.increment(); continue; }
      let result: Record<string, unknown>;
      if (error) result = { id, line: lineNo, error };
      else {
        try {
          const explanation = await runTask(task, model, record as TaskInput, record!['target'] as string | undefined, settings);
          result = { id, line: lineNo, ...explanation };
        } catch (e) {
          if (!(e instanceof GradlensError)) throw e;
          result = { id, line: lineNo, error: e.message };
        }
      }
      if (result['error']) stats.errors++;
      writeSync(fd, `${JSON.stringify(result)}\n`);
      fsyncSync(fd);
      done.add(id);
      stats.done++;
      bar.increment(1, { rate: (stats.done / Math.max(1e-3, (Date.now() - started) / 1000)).toFixed(1) });
    }
  } finally {
    bar.stop();
    closeSync(fd);
    lines.close();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await model.runner.release();
  }
  const summary = `${stats.done} new results, ${stats.skipped} already done, ${stats.errors} errors → ${out}`;
  if (stop) {
    console.error(`gradlens: interrupted; ${summary}. Rerun the same command to resume.`);
    process.exitCode = 130;
  } else console.error(`gradlens: ${summary}`);
  return stats;
}

function parseLine(line: string, lineNo: number): { id: string; record?: Record<string, unknown>; error?: string } {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (e) {
    return { id: `line:${lineNo}`, error: `line ${lineNo + 1} is not valid JSON: ${(e as Error).message}` };
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return { id: `line:${lineNo}`, error: `line ${lineNo + 1} is not a JSON object` };
  const r = record as Record<string, unknown>;
  const id = r['id'] === undefined ? `line:${lineNo}` : String(r['id']);
  if (typeof r['labels'] === 'string') r['labels'] = (r['labels'] as string).split(',');
  return { id, record: r };
}

/** Ids already in the output; a torn last line is cut off so the file ends with a complete line. */
export function recoverOutput(path: string): Set<string> {
  const done = new Set<string>();
  if (!existsSync(path)) return done;
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (e) {
    fail(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(1 << 20);
    let carry = '';
    let offset = 0;
    let goodEnd = 0;
    while (offset < size) {
      const n = readSync(fd, chunk, 0, chunk.length, offset);
      if (n <= 0) break;
      const text = carry + chunk.toString('utf8', 0, n);
      const parts = text.split('\n');
      carry = parts.pop()!;
      for (const p of parts) {
        goodEnd += Buffer.byteLength(p, 'utf8') + 1;
        try {
          const r = JSON.parse(p) as { id?: unknown };
          if (r && r.id !== undefined) done.add(String(r.id));
        } catch {
          // A complete but corrupt line cannot come from gradlens' single writes; keep it, it is not a result.
        }
      }
      offset += n;
    }
    if (goodEnd < size) ftruncateSync(fd, goodEnd);
  } finally {
    closeSync(fd);
  }
  return done;
}

async function countLines(path: string): Promise<number> {
  let count = 0, last = 10;
  for await (const chunk of createReadStream(path)) {
    const buf = chunk as Buffer;
    for (let i = 0; i < buf.length; i++) if (buf[i] === 10) count++;
    if (buf.length) last = buf[buf.length - 1]!;
  }
  return count + (last === 10 ? 0 : 1);
}
