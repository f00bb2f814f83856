import { Command, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import cliProgress from 'cli-progress';
import { freemem } from 'node:os';
import { fail } from '../errors.js';
import { LIMITS, formatBytes, readTextFile } from '../io/files.js';
import type { LoadedModel } from '../models/load.js';
import { DEMO_MODELS, loadModel } from '../io/folder.js';
import { DEFAULT_SETTINGS, GRANULARITIES, METHODS, OPTIONS, methodsFor, SETTING_LIMITS, defaultFor, methodsUsing, parseIntIn, parseSettings, type ExplainSettings } from '../attr/registry.js';
import { SEED_EXAMPLE, TASK_TABLE, runTask, type Explanation, type TaskInput, type TaskName } from '../tasks/index.js';
import { DOC_STRIDE, QA_TARGETS } from '../tasks/qa.js';
import type { Progress } from '../tasks/attribute.js';
import { renderText } from '../viz/text.js';
import { escapeControls } from '../viz/escape.js';
import { renderHtml, type ReportInput } from '../viz/html.js';
import { renderSvg } from '../viz/svg.js';
import { renderGenerationHtml, renderGenerationSvg, renderGenerationText } from '../viz/generate.js';
import { DEFAULT_MAX_NEW_TOKENS, GENERATE_BASELINES, MAX_NEW_TOKENS_LIMIT, TARGET_FNS, generateAndExplain, type GenerateBaseline, type TargetFn } from '../tasks/generate.js';
import { loadDecoder } from '../io/folder.js';

export const FORMATS = ['text', 'json', 'html', 'svg'] as const;
export type Format = (typeof FORMATS)[number];

export interface CommonCliOptions {
  model?: string;
  method: string;
  steps?: string;
  integration?: string;
  internalBatchSize?: string;
  target?: string;
  baseline?: string;
  layer?: string;
  format?: string;
  values?: boolean;
  qaTarget?: 'position' | 'max';
  out?: string;
  seed?: string;
  stdevs?: string;
  samples?: string;
  window?: string;
  stride?: string;
  perturbationsPerEval?: string;
  attentionLayer?: string;
  granularity?: string;
  offline?: boolean;
  trueLabel?: string;
  memoryBudget?: string;
  /** ONNX Runtime intra-op threads (batch worker processes get a share of the cores); default all. */
  sessionThreads?: number;
}

/**
 * Text arguments may come from a file or stdin, like curl's: "@notes.txt" reads the file (a regular file of at most
 * 16 MiB), "@-" reads stdin (once per command), "@@…" stands for the literal text "@…". So nobody needs a huge
 * argument (and a long command line is handled anyway: bin/gradlens.js).
 */
export async function resolveTextArgs<T extends object>(o: T, keys: readonly (keyof T & string)[]): Promise<T> {
  const out = { ...o } as Record<string, unknown>;
  let stdinUsedBy: string | undefined;
  for (const key of keys) {
    const v = out[key];
    if (typeof v !== 'string' || !v.startsWith('@')) continue;
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (v.startsWith('@@')) out[key] = v.slice(1);
    else if (v === '@-') {
      if (stdinUsedBy) fail(`${flag} @- and ${stdinUsedBy} @- both read stdin; give one of them from a file (@file.txt)`);
      stdinUsedBy = flag;
      out[key] = await readStdin(LIMITS.text, flag);
    } else out[key] = readTextFile(v.slice(1), LIMITS.text, `${flag} ${v.slice(0, 200)}`);
  }
  return out as T;
}

async function readStdin(maxBytes: number, flag: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) fail(`${flag} @-: stdin has more than ${formatBytes(maxBytes)}, more than gradlens reads for a text`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** "4G", "512M", "1.5GiB", "1000000" (bytes) → bytes. */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!(n >= 1 && n <= 2 ** 50)) fail(`${flag} must be a size such as 4G, 512M or a number of bytes (at most 1024T), got ${value.slice(0, 40)}`);
  return Math.floor(n);
}

/** The share of the available memory a run plans for when --memory-budget is not given. */
export const DEFAULT_BUDGET_SHARE = 0.5;

/** The memory a run may use: what the system reports available (MemAvailable), within a cgroup limit if any. */
export function availableMemory(): number {
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const free = freemem();
  return constrained && constrained > 0 ? Math.min(free, constrained) : free;
}

/** What a --target means for each task (help texts). */
const TARGET_HELP: Record<TaskName | 'batch', string> = {
  qa: 'explain these token positions instead of the predicted answer\'s: START:END (0-based, special tokens included)',
  classify: 'explain this label (name or index) instead of the predicted one',
  tokens: 'with --token: explain this label (name or index) at that token instead of the predicted one',
  'zero-shot': 'explain this candidate label instead of the best one',
  batch: 'the target of lines without their own "target" field (a label; qa: START:END)',
};

/**
 * Adds the options explain and batch commands share; the method options come from the registry (attr/registry.ts).
 * Report options (--format, --out, --true-label) only for explain: batch writes JSONL to its own --out.
 */
export function addCommonOptions(cmd: Command, use: TaskName | 'batch' | 'evaluate' | 'generate' = 'batch'): Command {
  cmd.option('-m, --model <path|hub-id>', 'model folder (config.json, tokenizer.json, onnx/model.onnx) or Hugging Face Hub id');
  if (use !== 'evaluate') {
    cmd.addOption(new Option('--method <name>', `attribution method: ${methodsFor('text').map((m) => `${m.name} (${m.captum})`).join(', ')}`)
      .choices([...METHODS]).default(DEFAULT_SETTINGS.method, DEFAULT_SETTINGS.method));
  }
  for (const o of OPTIONS) {
    const users = methodsUsing(o.key);
    // No value default here: a method may have its own (parseSettings applies it); the help says which.
    const own = users.filter((m) => defaultFor(m, o.key) !== o.default);
    const byMethod = [...new Set(own.map((m) => defaultFor(m, o.key)))].map((d) => `; ${own.filter((m) => defaultFor(m, o.key) === d).join(', ')}: ${d}`).join('');
    const option = new Option(`${o.flag} <${o.value}>`, `${o.description} [${users.join(', ')}] (default: ${o.default}${byMethod})`);
    cmd.addOption(o.choices ? option.choices([...o.choices]) : option);
  }
  cmd.addOption(new Option('--granularity <unit>', 'token: one value per token; word: wordpieces summed into words (views and JSON per_word), and the perturbation methods perturb whole words')
    .choices([...GRANULARITIES]).default('token', 'token'));
  cmd
    .option('--internal-batch-size <n>', `rows (steps × examples) per ONNX Runtime call, 1–${SETTING_LIMITS.internalBatchSize} (default: about 1,536 tokens per call); refused when the memory estimate exceeds the memory available`);
  if (use !== 'evaluate' && use !== 'generate') cmd.option('--target <target>', TARGET_HELP[use]);
  cmd
    .option('--layer <tensor>', 'attribute to this tensor instead of the auto-detected embeddings output (gradlens inspect --tensors lists them)')
    .option('--memory-budget <size>', 'memory the rows of a run may use, e.g. 4G or 512M, at most 1024T: rows per ONNX Runtime call are chosen to fit it (default: half the memory available)')
    .option('--offline', 'never download: use local folders and the Hub cache only (also HF_HUB_OFFLINE=1)');
  if (use !== 'batch' && use !== 'evaluate') {
    cmd
      .addOption(new Option('--format <format>', 'output format (default: from the --out file\'s extension, else text)').choices([...FORMATS]))
      .option('-o, --out <file>', 'write the report to a file instead of stdout (.json, .html, .svg, .txt choose the format)')
      .option('--values', 'show each token\'s value in the coloured terminal view too')
      .option('--true-label <label>', 'shown in the HTML report\'s True Label column');
  }
  return cmd;
}

export function settingsFrom(o: CommonCliOptions): ExplainSettings {
  return {
    ...parseSettings(o),
    memoryBudget: o.memoryBudget === undefined ? Math.floor(DEFAULT_BUDGET_SHARE * availableMemory()) : parseSize(o.memoryBudget, '--memory-budget'),
  };
}

export { SEED_EXAMPLE, runTask, type TaskInput };

/** The embedded demo model of each task that has one: its folder, and its name in reports and batch records. */
const DEMOS: Partial<Record<TaskName, { dir: string; name: string }>> = {
  qa: { dir: DEMO_MODELS.qa, name: 'demo/qa' },
  classify: { dir: DEMO_MODELS.sentiment, name: 'demo/sentiment' },
};

/** The demo model of a task (used when --model is not given); a clear error for tasks without one. */
export function demoModel(task: TaskName): { dir: string; name: string } {
  return DEMOS[task] ?? fail(`no demo model for ${task}: pass --model (a folder or Hugging Face Hub id)`);
}

export async function modelFor(task: TaskName, o: CommonCliOptions): Promise<LoadedModel> {
  const demo = o.model === undefined ? demoModel(task) : undefined;
  const model = await loadModel(o.model ?? demo!.dir, { offline: o.offline, layer: o.layer, ...(o.sessionThreads ? { session: { threads: o.sessionThreads } } : {}) });
  if (demo) model.name = `${demo.name} (embedded demo model)`;
  return model;
}

/** --format, else the --out file's extension (.json, .html/.htm, .svg), else text. */
export function formatFor(o: { format?: string; out?: string }): Format {
  if (o.format) return o.format as Format;
  const ext = o.out ? extname(o.out).toLowerCase() : '';
  return ext === '.json' ? 'json' : ext === '.html' || ext === '.htm' ? 'html' : ext === '.svg' ? 'svg' : 'text';
}

/** The input of one explanation as the HTML report shows it (and the original text of [UNK] tokens). */
export function reportInput(task: TaskName, input: TaskInput, e: Explanation): ReportInput {
  const fields = TASK_TABLE.find((t) => t.name === task)!.fields;
  const record: ReportInput = {};
  for (const f of fields) if (input[f] !== undefined && f !== 'token') record[f] = input[f] as string | string[];
  if (e.unk_text) record['unk'] = Object.fromEntries(Object.entries(e.unk_text).map(([k, v]) => [Number(k), v]));
  return record;
}

export function render(e: Explanation, format: Format, o: { trueLabel?: string; color: boolean; values?: boolean; width?: number; input?: ReportInput }): string {
  switch (format) {
    case 'json': return `${JSON.stringify(e, null, 2)}\n`;
    case 'html': return renderHtml([e], { trueLabel: o.trueLabel, ...(o.input ? { inputs: [o.input] } : {}) });
    case 'svg': return renderSvg(e);
    case 'text': return `${renderText(e, o.color, { values: o.values, width: o.width })}\n`;
  }
}

/**
 * A progress bar on stderr for explanations that run longer than about 2 s: only on a terminal, started at the first
 * ONNX Runtime call after 2 s, cleared when done.
 */
export function progressBar(): { onProgress?: (p: Progress) => void; stop(): void } {
  if (!process.stderr.isTTY || 'CI' in process.env) return { stop() {} };
  const start = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  return {
    onProgress: (p) => {
      const total = p.total ?? Math.max(p.done, 1);
      if (!bar) {
        if (Date.now() - start < 2000) return;
        bar = new cliProgress.SingleBar({
          stream: process.stderr, clearOnComplete: true, hideCursor: true,
          format: `gradlens |{bar}| {value}/{total} ${p.unit ?? 'gradient rows'}${p.total === undefined ? ' (steps auto)' : ''} · ETA {eta_formatted}`,
        }, cliProgress.Presets.shades_classic);
        bar.start(total, p.done);
        return;
      }
      if (p.total === undefined) bar.setTotal(total);
      bar.update(p.done);
    },
    stop: () => bar?.stop(),
  };
}

export function useColor(): boolean {
  return !!process.stdout.isTTY && !('NO_COLOR' in process.env) && process.env['TERM'] !== 'dumb';
}

export function emit(text: string | Uint8Array, out: string | undefined): void {
  if (!out) {
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(out, text);
  } catch (e) {
    fail(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  console.error(`wrote ${out}`);
}

export function registerExplainCommands(program: Command): Command {
  const explain = program.command('explain').description('explain one prediction of a model: per token (text tasks), per pixel (image), per feature (tabular)');
  const examples: Record<TaskName, string> = {
    qa: `  $ gradlens explain qa --question "What is important to us?" --context "It is important to us to include, empower and support humans of all kinds."
  $ gradlens explain qa -q "Who founded it?" -c "..." --model ./my-squad-model --format html -o report.html
  $ cat article.txt | gradlens explain qa -q "Who founded it?" -c @- --model ./my-squad-model`,
    classify: `  $ gradlens explain classify --text "This movie was absolutely wonderful!"
  $ gradlens explain classify --text "I love it" --target negative --method saliency --format json
  $ gradlens explain classify --text @review.txt`,
    tokens: `  $ gradlens explain tokens --text "Ada Lovelace was born in London." --model ./my-ner-model
  $ gradlens explain tokens --text "..." --model ./my-ner-model --token 3`,
    'zero-shot': `  $ gradlens explain zero-shot --text "The match ended 2-1." --labels sports,politics,cooking --model ./my-nli-model`,
  };
  const tasks: [TaskName, (c: Command) => Command][] = [
    ['qa', (c) => c
      .option('-q, --question <text>', `the question (default, with the default context: "${SEED_EXAMPLE.question}"); @file or @- (stdin) reads it`)
      .option('-c, --context <text>', 'the passage to answer from; @file reads a file, @- stdin, @@… is a literal "@…"')
      .addOption(new Option('--qa-target <which>', 'position: the start/end logits at the predicted answer\'s positions; max: the largest start/end logit over all positions at each step, the forward function of Captum\'s BERT tutorial (pred.max(1).values)')
        .choices([...QA_TARGETS]).default('position', 'position'))
      .option('--doc-stride <n>', `a context longer than the model's positions is split into windows (as the transformers question-answering pipeline does); consecutive windows share this many context tokens (at most half a window) (default: ${DOC_STRIDE})`, (v) => parseIntIn(v, '--doc-stride', 0, 100_000))],
    ['classify', (c) => c
      .requiredOption('-t, --text <text>', 'the text; @file reads a file, @- stdin, @@… is a literal "@…"').option('--pair <text>', 'second text of a pair (@file, @- too)')],
    ['tokens', (c) => c
      .requiredOption('-t, --text <text>', 'the text; @file reads a file, @- stdin, @@… is a literal "@…"').option('--token <i>', 'explain this token position (0-based, special tokens included)', (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) fail(`--token must be a non-negative integer, got ${v}`);
        return n;
      })],
    ['zero-shot', (c) => c
      .requiredOption('-t, --text <text>', 'the text; @file reads a file, @- stdin, @@… is a literal "@…"').requiredOption('--labels <a,b,c>', 'candidate labels, comma-separated (@file, @- too)')
      .option('--template <text>', 'hypothesis template, {} stands for the label', 'This example is {}.')],
  ];
  for (const [task, extra] of tasks) {
    const description = TASK_TABLE.find((t) => t.name === task)!.description;
    addCommonOptions(extra(explain.command(task).description(description)), task)
      .addHelpText('after', `\nExamples:\n${examples[task]}`)
      .action(async (options: CommonCliOptions & TaskInput & { labels?: string | string[] }) => {
        const settings = settingsFrom(options);
        const o = await resolveTextArgs(options, ['question', 'context', 'text', 'pair', 'labels', 'template']);
        const model = await modelFor(task, o);
        // One explanation per process: one session holds the weights at a time (attr/runner.ts lowMemory).
        model.runner.lowMemory = true;
        const input: TaskInput = { ...o, labels: typeof o.labels === 'string' ? o.labels.split(',') : o.labels };
        if (task === 'qa' && input.question === undefined && input.context === undefined) Object.assign(input, SEED_EXAMPLE);
        if (task === 'qa' && (input.question === undefined || input.context === undefined)) fail('give both --question and --context');
        const format = formatFor(o);
        const progress = progressBar();
        let result: Explanation;
        try {
          result = await runTask(task, model, input, o.target, settings, { onProgress: progress.onProgress });
        } finally {
          progress.stop();
        }
        for (const w of result.warnings) console.error(`gradlens: warning: ${escapeControls(w)}`);
        emit(render(result, format, {
          trueLabel: o.trueLabel, color: !o.out && format === 'text' && useColor(), values: o.values,
          width: process.stdout.columns || 100, input: reportInput(task, input, result),
        }), o.out);
        await model.runner.release();
      });
  }
  registerGenerate(explain);
  return explain;
}

/** `gradlens explain generate`: a decoder LM's continuation, each generated token explained by the earlier ones. */
function registerGenerate(explain: Command): void {
  const int = (flag: string, min: number, max: number) => (v: string) => parseIntIn(v, flag, min, max);
  addCommonOptions(explain.command('generate')
    .description('generation with a decoder LM (GPT-2, Llama family): each generated token explained by the prompt and the tokens before it')
    .requiredOption('-p, --prompt <text>', 'the prompt; @file reads a file, @- stdin, @@… is a literal "@…" (without --model: the embedded demo decoder, trained on synthetic facts and stories)')
    .option('--max-new-tokens <n>', `tokens to generate greedily, 1–${MAX_NEW_TOKENS_LIMIT} (generation stops after eos) (default: ${DEFAULT_MAX_NEW_TOKENS})`, int('--max-new-tokens', 1, MAX_NEW_TOKENS_LIMIT))
    .option('--target-text <text>', 'explain this continuation (forced decoding) instead of generating one')
    .addOption(new Option('--target-fn <fn>', 'what each step explains: the log-probability of the generated token (Captum\'s LLM attribution), its probability, or its logit').choices([...TARGET_FNS]).default('logprob', 'logprob'))
    .option('--contrast-text <text>', 'contrastive: explain logprob(target) − logprob(this text\'s token at each step) (Yin & Neubig 2022)'), 'generate')
    .addHelpText('after', `
Examples:
  $ gradlens explain generate --prompt "The capital of France is"
  $ gradlens explain generate --model ./my-gpt2 --prompt "The capital of France is" --max-new-tokens 5
  $ gradlens explain generate --model ./my-llama -p "Ada Lovelace was" --target-text " a mathematician" --method saliency --format html -o gen.html`)
    .action(async (options: CommonCliOptions & { prompt: string; maxNewTokens?: number; targetText?: string; targetFn: TargetFn; contrastText?: string }) => {
      const o = await resolveTextArgs(options, ['prompt', 'targetText', 'contrastText']);
      if (o.baseline !== undefined && !(GENERATE_BASELINES as readonly string[]).includes(o.baseline)) fail(`--baseline for generate is one of ${GENERATE_BASELINES.join(', ')}, got ${o.baseline}`);
      const settings = settingsFrom({ ...o, baseline: o.baseline === 'eos' ? 'pad' : o.baseline });
      // Without --model: the embedded demo decoder (demo-sized, trained on synthetic text).
      const model = await loadDecoder(o.model ?? DEMO_MODELS.generate, { offline: o.offline, layer: o.layer });
      if (o.model === undefined) model.name = 'demo/generate (embedded demo model)';
      const result = await generateAndExplain(model, {
        prompt: o.prompt, ...(o.maxNewTokens !== undefined ? { maxNewTokens: o.maxNewTokens } : {}),
        ...(o.targetText !== undefined ? { targetText: o.targetText } : {}), targetFn: o.targetFn,
        ...(o.baseline !== undefined ? { baseline: o.baseline as GenerateBaseline } : {}),
        ...(o.contrastText !== undefined ? { contrastText: o.contrastText } : {}),
      }, settings);
      for (const w of result.warnings) console.error(`gradlens: warning: ${escapeControls(w)}`);
      const format = formatFor(o);
      const text = format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : format === 'html' ? renderGenerationHtml(result) : format === 'svg' ? renderGenerationSvg(result)
        : renderGenerationText(result, !o.out && useColor());
      emit(text, o.out);
    });
}
