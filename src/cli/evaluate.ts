import { Command, Option } from 'commander';
import { closeSync, existsSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import cliProgress from 'cli-progress';
import { fail } from '../errors.js';
import { LIMITS, openRegularFile } from '../io/files.js';
import { TASKS, type TaskName } from '../tasks/index.js';
import { CONTROL_METHODS, METRICS, evaluate, parseMethods, parseMetrics, type EvalInput, type Evaluation } from '../tasks/evaluate.js';
import { globalSummary, type GlobalSummary } from '../tasks/summarize.js';
import { renderEvaluationHtml, renderEvaluationText, renderSummaryHtml, renderSummaryText } from '../viz/evaluate.js';
import { escapeControls } from '../viz/escape.js';
import { addCommonOptions, modelFor, settingsFrom, type CommonCliOptions } from './explain-commands.js';
import { inputLines, parseLine, scanInput, taskInput, type InputFile } from './batch.js';

const FORMATS = ['text', 'json', 'html'] as const;
type Format = (typeof FORMATS)[number];

function formatOf(o: { format?: string; out?: string }): Format {
  if (o.format) return o.format as Format;
  const ext = o.out ? extname(o.out).toLowerCase() : '';
  return ext === '.json' ? 'json' : ext === '.html' || ext === '.htm' ? 'html' : 'text';
}

function emit(text: string, out: string | undefined): void {
  if (!out) return void process.stdout.write(text);
  try {
    writeFileSync(out, text);
  } catch (e) {
    fail(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  console.error(`wrote ${out}`);
}

/** The dataset: every line checked as batch checks it (unique ids, the task's fields); bad lines are kept as errors. */
function readDataset(task: TaskName, path: string): EvalInput[] {
  if (!existsSync(path)) fail(`cannot read ${path}: no such file`);
  const file: InputFile = { ...openRegularFile(path, LIMITS.batchInput, path), path };
  try {
    const ids = scanInput(file);
    const out: EvalInput[] = [];
    let lineNo = 0;
    for (const line of inputLines(file)) {
      const n = lineNo++;
      if (ids[n] === undefined) continue;
      const parsed = parseLine(line, n);
      if (parsed.error !== undefined) { out.push({ id: parsed.id, line: n, error: parsed.error }); continue; }
      const checked = taskInput(task, parsed.record!);
      out.push('error' in checked ? { id: parsed.id, line: n, error: checked.error } : { id: parsed.id, line: n, input: checked.input });
    }
    if (out.length === 0) fail(`${path} has no input lines`);
    return out;
  } finally {
    closeSync(file.fd);
  }
}

const parsePositive = (flag: string) => (v: string): number => {
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) fail(`${flag} must be a positive integer, got ${v.slice(0, 40)}`);
  return Number(v);
};

/** The global summary of an evaluation: the first real method's attributions, per predicted label. */
function evaluationSummary(ev: Evaluation, o: { by?: 'token' | 'word'; top?: number; minCount?: number }): GlobalSummary {
  const method = ev.methods.map((m) => m.method).find((m) => !(CONTROL_METHODS as readonly string[]).includes(m)) ?? ev.methods[0]!.method;
  const records = ev.examples.flatMap((e) => {
    const a = e.attributions?.[method];
    if (!a || !e.tokens) return [];
    const lists = Array.isArray(a) ? [[e.targets?.[0] ?? 'label', a] as const] : Object.entries(a);
    return [{
      task: ev.task, tokens: e.tokens, prediction: e.prediction,
      attributions: lists.map(([target, values]) => {
        const norm = Math.hypot(...values);
        return { target, normalized: values.map((v) => (norm > 0 ? v / norm : 0)) };
      }),
    }];
  });
  return globalSummary(records, { ...o, by: 'token' });
}

export function registerEvaluateCommands(program: Command): void {
  addCommonOptions(program.command('evaluate')
    .description('which explanation to trust: faithfulness metrics of attribution methods over a dataset (AOPC comprehensiveness and sufficiency, τ-LOO, infidelity, sensitivity_max, seconds per example)')
    .addOption(new Option('--task <task>', 'task of every line').choices([...TASKS]).makeOptionMandatory())
    .requiredOption('-i, --input <file>', 'JSONL dataset, as for gradlens batch ("target" fields are ignored: the predicted class is evaluated)')
    .option('--methods <a,b,…>', `methods to compare: any --method of explain, and the control ${CONTROL_METHODS.join(', ')} (seeded uniform scores)`, 'layer-ig,saliency,occlusion,random')
    .option('--metrics <a,b,…>', `metrics to compute, of ${METRICS.join(', ')} (infidelity and sensitivity: gradient methods only; sensitivity re-explains each example ${10} times)`, METRICS.join(','))
    .addOption(new Option('--format <format>', 'output format (default: from the --out file\'s extension, else text)').choices([...FORMATS]))
    .option('-o, --out <file>', 'write the report to a file (.json, .html, .txt choose the format)')
    .option('--global', 'add a global explanation: per predicted label, the tokens with the largest mean attribution (first method)')
    .option('--top <n>', 'items per label in the global explanation', parsePositive('--top'), 10)
    .option('--min-count <n>', 'leave out items seen fewer times in the global explanation', parsePositive('--min-count'), 1), 'evaluate')
    .addHelpText('after', `
Examples:
  $ gradlens evaluate --task classify --input reviews.jsonl --methods layer-ig,saliency,occlusion,random
  $ gradlens evaluate --task qa --input squad.jsonl --model ./my-squad-model --metrics aopc,loo --format html -o eval.html`)
    .action(async (o: CommonCliOptions & { task: TaskName; input: string; methods: string; metrics: string; global?: boolean; top: number; minCount: number }) => {
      const methods = parseMethods(o.methods);
      const metrics = parseMetrics(o.metrics);
      const settings = settingsFrom({ ...o, method: methods.find((m) => !(CONTROL_METHODS as readonly string[]).includes(m)) ?? 'saliency' });
      const format = formatOf(o);
      const inputs = readDataset(o.task, o.input);
      const model = await modelFor(o.task, o);
      const bar = process.stderr.isTTY && !('CI' in process.env)
        ? new cliProgress.SingleBar({ stream: process.stderr, clearOnComplete: true, format: 'gradlens evaluate |{bar}| {value}/{total} examples · ETA {eta_formatted}' }, cliProgress.Presets.shades_classic)
        : undefined;
      bar?.start(inputs.length, 0);
      let ev: Evaluation;
      try {
        ev = await evaluate(o.task, model, inputs, {
          methods, metrics,
          values: { ...o, method: undefined } as never,
          ...(settings.memoryBudget !== undefined ? { memoryBudget: settings.memoryBudget } : {}),
        }, (done) => bar?.update(done));
      } finally {
        bar?.stop();
      }
      const failed = ev.examples.filter((e) => e.error !== undefined || e.errors);
      for (const e of failed) console.error(`gradlens: warning: ${escapeControls(e.id)} (line ${e.line + 1}): ${escapeControls(e.error ?? Object.entries(e.errors!).map(([m, msg]) => `${m}: ${msg}`).join('; '))}`);
      const summary = o.global ? evaluationSummary(ev, { top: o.top, minCount: o.minCount }) : undefined;
      if (format === 'json') emit(`${JSON.stringify(summary ? { ...ev, global: summary } : ev, null, 2)}\n`, o.out);
      else if (format === 'html') emit(await renderEvaluationHtml(ev, summary), o.out);
      else emit(renderEvaluationText(ev) + (summary ? `\n${renderSummaryText(summary)}` : ''), o.out);
      if (ev.examples.every((e) => e.error !== undefined)) {
        console.error('gradlens: every example failed');
        process.exitCode = 1;
      }
      await model.runner.release();
    });

  program.command('summarize')
    .description('global explanation of a batch output: per predicted label, the tokens (or words) with the largest mean attribution, with counts')
    .argument('<results.jsonl>', 'the output of gradlens batch')
    .addOption(new Option('--by <unit>', 'token, or word (the batch must have been run with --granularity word)').choices(['token', 'word']).default('token', 'token'))
    .option('--top <n>', 'items per label', parsePositive('--top'), 10)
    .option('--min-count <n>', 'leave out items seen fewer times', parsePositive('--min-count'), 1)
    .addOption(new Option('--format <format>', 'output format (default: from the --out file\'s extension, else text)').choices([...FORMATS]))
    .option('-o, --out <file>', 'write the report to a file (.json, .html, .txt choose the format)')
    .action(async (path: string, o: { by: 'token' | 'word'; top: number; minCount: number; format?: string; out?: string }) => {
      if (!existsSync(path)) fail(`cannot read ${path}: no such file`);
      const file: InputFile = { ...openRegularFile(path, LIMITS.batchInput, path), path };
      const records: unknown[] = [];
      let bad = 0;
      try {
        for (const line of inputLines(file)) {
          if (line.trim() === '') continue;
          try {
            records.push(JSON.parse(line));
          } catch {
            bad++;
          }
        }
      } finally {
        closeSync(file.fd);
      }
      const s = globalSummary(records, { by: o.by, top: o.top, minCount: o.minCount });
      s.skipped += bad;
      if (s.groups.length === 0) fail(`${path} holds no explanations (${s.skipped} lines skipped): is it the output of gradlens batch?`);
      const format = formatOf(o);
      if (format === 'json') emit(`${JSON.stringify(s, null, 2)}\n`, o.out);
      else if (format === 'html') emit(await renderSummaryHtml(s, path), o.out);
      else emit(renderSummaryText(s), o.out);
    });
}
