// `gradlens evaluate`: which explanation to trust. For each method over a dataset, the faithfulness metrics people
// cite: ERASER's AOPC comprehensiveness and sufficiency (as ferret computes them), Kendall's τ against leave-one-out
// importance, Captum's infidelity and sensitivity_max (gradient methods), and seconds per example.
import { GradlensError, fail } from '../errors.js';
import type { LoadedModel } from '../models/load.js';
import { methodSpec, parseSettings, type ExplainSettings, type SettingValues } from '../attr/registry.js';
import { Random } from '../attr/random.js';
import { resolveTarget } from '../attr/targets.js';
import { gatherRows, rowSize } from '../attr/host.js';
import { AOPC_STEPS, aopc, aopcSets, infidelity, kendallTau, sensitivityMax } from '../attr/metrics.js';
import type { HostTensor } from '../runtime/session.js';
import { attributeLayer, feedsFor } from './attribute.js';
import { probeFor, deleteTokens, type Probe, type Variant } from './probe.js';
import { runTask, type TaskInput } from './index.js';
import type { Explanation, TaskName } from './common.js';

/** Control methods: not attributions of the model, for comparison. `random`: seeded uniform scores per token. */
export const CONTROL_METHODS = ['random'] as const;

export const METRICS = ['aopc', 'loo', 'infidelity', 'sensitivity'] as const;
export type Metric = (typeof METRICS)[number];

/** Captum's metric settings: 10 perturbations each; sensitivity_max's default uniform radius 0.02; infidelity has no
 * default perturbation in Captum, its documented one is Gaussian noise of standard deviation 0.003. */
export const METRIC_SETTINGS = { perturbations: 10, sensitivityRadius: 0.02, infidelityStdev: 0.003 } as const;

export interface EvaluateOptions {
  methods: string[];
  /** Settings shared by every method (each method reads its own options; method defaults apply where unset). */
  values: SettingValues;
  memoryBudget?: number;
  metrics?: readonly Metric[];
}

/** One dataset line. */
export interface EvalInput { id: string; line: number; input?: TaskInput; error?: string }

export interface MethodSummary {
  method: string;
  /** What the metrics are of: the predicted class (label), or for qa the predicted start or end position. */
  target: string;
  aopc_comprehensiveness: number | null;
  aopc_sufficiency: number | null;
  tau_loo: number | null;
  infidelity: number | null;
  sensitivity_max: number | null;
  seconds_per_example: number | null;
  /** Examples that count (the method ran on them). */
  examples: number;
  failed: number;
  /**
   * Mean probability of the class against q (q = 0, 0.1, …, 1): with the top tokens deleted, and with only them kept
   * (null at q = 0 and where the metric was not computed).
   */
  curves: { q: number[]; comprehensiveness: (number | null)[]; sufficiency: (number | null)[] };
}

export interface ExampleRecord {
  id: string;
  line: number;
  tokens?: string[];
  input_ids?: number[];
  prediction?: Record<string, unknown>;
  /** What the metrics explain (one entry per class: qa has start and end), and the explanations' target labels. */
  classes?: string[];
  targets?: string[];
  /** Per method, per_token (qa: {start, end}). */
  attributions?: Record<string, number[] | Record<string, number[]>>;
  /** Per method and class: the example's metrics. */
  metrics?: Record<string, Record<string, ExampleMetrics>>;
  /** The line's error (nothing ran), or per method the error that method raised. */
  error?: string;
  errors?: Record<string, string>;
}

export interface ExampleMetrics {
  comprehensiveness: number | null; sufficiency: number | null; tau_loo: number | null; infidelity: number | null; sensitivity_max: number | null;
  seconds: number; p: number; deleted: number[]; kept: number[];
}

export interface Evaluation {
  task: TaskName;
  model: string;
  metrics: Metric[];
  settings: Record<string, unknown>;
  methods: MethodSummary[];
  examples: ExampleRecord[];
  notes: string[];
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Checks the method list: known methods or controls, no repeats. */
export function parseMethods(list: string): string[] {
  const methods = list.split(',').map((m) => m.trim()).filter(Boolean);
  if (methods.length === 0) fail('--methods names no method');
  for (const m of methods) if (!(CONTROL_METHODS as readonly string[]).includes(m)) methodSpec(m);
  const dup = methods.find((m, i) => methods.indexOf(m) !== i);
  if (dup) fail(`--methods names ${dup} twice`);
  return methods;
}

export function parseMetrics(list: string): Metric[] {
  const metrics = list.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of metrics) if (!(METRICS as readonly string[]).includes(m)) fail(`unknown metric "${m}"; expected some of: ${METRICS.join(', ')}`);
  return metrics as Metric[];
}

const labelOf = (task: TaskName, k: number): string => (task === 'qa' ? (k === 0 ? 'start' : 'end') : 'label');

/**
 * Evaluates the methods over the inputs. Lines with errors, and methods that fail on an example, are recorded and
 * skipped; the run goes on. `onExample` reports progress.
 */
export async function evaluate(task: TaskName, model: LoadedModel, inputs: EvalInput[], options: EvaluateOptions,
  onExample?: (done: number, total: number) => void): Promise<Evaluation> {
  const metrics = [...(options.metrics ?? METRICS)];
  const settingsFor = (method: string): ExplainSettings => ({
    ...parseSettings({ ...options.values, method: (CONTROL_METHODS as readonly string[]).includes(method) ? undefined : method }),
    ...(options.memoryBudget !== undefined ? { memoryBudget: options.memoryBudget } : {}),
  });
  const base = settingsFor(options.methods.find((m) => !(CONTROL_METHODS as readonly string[]).includes(m)) ?? 'saliency');
  const records: ExampleRecord[] = [];
  for (const [index, line] of inputs.entries()) {
    records.push(await evaluateExample(task, model, line, index, options.methods, settingsFor, base.seed, metrics));
    onExample?.(index + 1, inputs.length);
  }
  const classCount = task === 'qa' ? 2 : 1;
  const methods: MethodSummary[] = options.methods.flatMap((method) => Array.from({ length: classCount }, (_, k) => summarize(method, labelOf(task, k), records)));
  const notes = [
    'AOPC: for q = 0.1 … 1.0 the top ⌈q·n⌉ non-special tokens by signed attribution (ties: earlier first); comprehensiveness = mean of p(x) − p(x without them), sufficiency = mean of p(x) − p(only them kept); deleted tokens are removed (positions close up), special tokens always kept. Higher comprehensiveness and lower sufficiency are better.',
    'τ-LOO: Kendall τ-b between the attribution and the probability drop when each token alone is deleted.',
    `infidelity (Captum, normalize=False): mean of (Σ I⊙attribution − (F(x) − F(x − I)))² over ${METRIC_SETTINGS.perturbations} Gaussian perturbations I of the attributed layer, std ${METRIC_SETTINGS.infidelityStdev}; sensitivity_max (Captum defaults): max over ${METRIC_SETTINGS.perturbations} uniform perturbations of radius ${METRIC_SETTINGS.sensitivityRadius} of ‖attr(x + δ) − attr(x)‖ / ‖attr(x)‖; gradient methods only. Lower is better for both.`,
    task === 'qa' ? 'qa: the class is the predicted start position (target start) and the predicted end position (target end), each with the softmax over all positions; a deleted answer token has probability 0.' : task === 'tokens' ? 'tokens: the class is the explained token\'s predicted label; the token is followed through deletions, and has probability 0 once deleted.' : 'The class is the predicted label.',
  ];
  const shared = settingsFor(options.methods[0]!);
  return {
    task, model: model.name, metrics,
    settings: { methods: options.methods, steps: shared.steps, integration: shared.integration, baseline: shared.baseline, seed: shared.seed, granularity: shared.granularity },
    methods, examples: records, notes,
  };
}

async function evaluateExample(task: TaskName, model: LoadedModel, line: EvalInput, index: number, methods: string[],
  settingsFor: (m: string) => ExplainSettings, seed: number, metrics: Metric[]): Promise<ExampleRecord> {
  const record: ExampleRecord = { id: line.id, line: line.line };
  if (line.error !== undefined || !line.input) return { ...record, error: line.error ?? 'no input' };
  const explanations = new Map<string, { e: Explanation; seconds: number }>();
  const errors: Record<string, string> = {};
  for (const method of methods) {
    if ((CONTROL_METHODS as readonly string[]).includes(method)) continue;
    const t0 = now();
    try {
      const e = await runTask(task, model, line.input, undefined, settingsFor(method));
      explanations.set(method, { e, seconds: (now() - t0) / 1000 });
    } catch (err) {
      if (!(err instanceof GradlensError)) throw err;
      errors[method] = err.message;
    }
  }
  const first = explanations.values().next().value?.e;
  let probe: Probe;
  try {
    // With only control methods, the prediction comes from the cheapest explanation that needs no gradient.
    const e = first ?? await runTask(task, model, line.input, undefined, { ...settingsFor('feature-ablation') });
    probe = await probeFor(task, model, line.input, e);
    Object.assign(record, { tokens: e.tokens, input_ids: e.input_ids, prediction: e.prediction, classes: probe.classes.map((c) => c.name), targets: probe.classes.map((c) => e.attributions[c.attribution]!.target) });
  } catch (err) {
    if (!(err instanceof GradlensError)) throw err;
    return { ...record, error: Object.keys(errors).length === methods.length ? Object.values(errors)[0]! : err.message, ...(Object.keys(errors).length ? { errors } : {}) };
  }
  const enc = probe.enc;
  const free = enc.special.flatMap((s, i) => (s ? [] : [i]));
  if (free.length === 0) return { ...record, error: 'the input has no tokens besides special tokens' };
  const rand = new Random((seed + 0x9e3779b9 * (index + 1)) >>> 0);
  const randomScores = probe.classes.map(() => enc.ids.map((_, i) => (enc.special[i] ? 0 : rand.uniform())));
  record.attributions = {};
  record.metrics = {};
  for (const method of methods) {
    if (errors[method]) continue;
    const scoresOf = (k: number): number[] => (method === 'random' ? randomScores[k]! : explanations.get(method)!.e.attributions[probe.classes[k]!.attribution]!.per_token);
    record.attributions[method] = task === 'qa' ? { start: scoresOf(0), end: scoresOf(1) } : scoresOf(0);
    record.metrics[method] = {};
  }
  for (const [k, cls] of probe.classes.entries()) {
    const full: Variant = { enc, kept: enc.ids.map((_, i) => i) };
    const loo = metrics.includes('loo') ? free.map((i) => deleteTokens(enc, new Set([i]))) : [];
    const active = methods.filter((m) => !errors[m]);
    const sets = active.map((m) => {
      const scores = (m === 'random' ? randomScores[k]! : explanations.get(m)!.e.attributions[cls.attribution]!.per_token);
      return aopcSets(free.map((i) => scores[i]!)).top.map((top) => top.map((j) => free[j]!));
    });
    const aopcVariants = metrics.includes('aopc') ? sets.flatMap((tops) => tops.flatMap((top) => {
      const chosen = new Set(top);
      return [deleteTokens(enc, chosen), deleteTokens(enc, new Set(free.filter((i) => !chosen.has(i))))];
    })) : [];
    // One batch of forward passes for the input, every leave-one-out and every AOPC variant of every method.
    const probs = await cls.probability([full, ...loo, ...aopcVariants]);
    const p0 = probs[0]!;
    const looDrop = loo.map((_, j) => p0 - probs[1 + j]!);
    for (const [mi, method] of active.entries()) {
      const scores = method === 'random' ? randomScores[k]! : explanations.get(method)!.e.attributions[cls.attribution]!.per_token;
      const at = 1 + loo.length + mi * 2 * AOPC_STEPS.length;
      const deleted = metrics.includes('aopc') ? AOPC_STEPS.map((_, s) => probs[at + 2 * s]!) : [];
      const kept = metrics.includes('aopc') ? AOPC_STEPS.map((_, s) => probs[at + 2 * s + 1]!) : [];
      const m: ExampleMetrics = {
        comprehensiveness: deleted.length ? aopc(p0, deleted) : null,
        sufficiency: kept.length ? aopc(p0, kept) : null,
        tau_loo: loo.length ? nullIfNaN(kendallTau(free.map((i) => scores[i]!), looDrop)) : null,
        infidelity: null, sensitivity_max: null,
        seconds: method === 'random' ? 0 : explanations.get(method)!.seconds, p: p0, deleted, kept,
      };
      const spec = method === 'random' ? undefined : methodSpec(method);
      if (spec?.kind === 'gradient' && (metrics.includes('infidelity') || metrics.includes('sensitivity'))) {
        try {
          Object.assign(m, await layerMetrics(model, probe, k, settingsFor(method), metrics, (seed + index) >>> 0));
        } catch (err) {
          if (!(err instanceof GradlensError)) throw err;
          errors[method] = err.message;
        }
      }
      record.metrics[method]![labelOf(task, k)] = m;
    }
  }
  if (Object.keys(errors).length) record.errors = errors;
  return record;
}

const nullIfNaN = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Captum's infidelity and sensitivity_max in the attributed layer (the embeddings output for layer-ig). */
async function layerMetrics(model: LoadedModel, probe: Probe, k: number, settings: ExplainSettings, metrics: Metric[], seed: number): Promise<Partial<ExampleMetrics>> {
  const cls = probe.classes[k]!;
  const enc = probe.enc;
  const { layer, results } = await attributeLayer(model, enc, [cls.target], settings, { texts: probe.texts });
  const attr = results[0]!.attributions[layer]!;
  const feeds = feedsFor(model, enc);
  const x = (await model.runner.forward(feeds, [layer]))[layer]!;
  const n = METRIC_SETTINGS.perturbations;
  const rand = new Random(seed);
  const out: Partial<ExampleMetrics> = {};
  if (metrics.includes('infidelity')) {
    const size = x.data.length;
    const noise = Array.from({ length: n }, () => Float64Array.from({ length: size }, () => METRIC_SETTINGS.infidelityStdev * rand.normal()));
    const values = new Float32Array(n * size);
    noise.forEach((I, s) => { for (let i = 0; i < size; i++) values[s * size + i] = Number(x.data[i]) - I[i]!; });
    const tiled = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, gatherRows(t, Array(n).fill(0))]));
    const outputs = await model.runner.forwardFrom(tiled, { [layer]: { type: 'float32', data: values, dims: [n, ...x.dims.slice(1)] } });
    const dims = Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, t.dims]));
    const target = resolveTarget(cls.target, dims, model.outputNames[0]!, n);
    const fx = results[0]!.fX?.[0] ?? Number((await model.runner.forward(feeds))[target.output]!.data[target.offsets[0]!]);
    const o = outputs[target.output]!;
    const width = rowSize(o);
    const fDiffs = noise.map((_, s) => fx - Number(o.data[s * width + target.offsets[s]!]));
    const dots = noise.map((I) => I.reduce((a, v, i) => a + v * Number(attr.data[i]), 0));
    out.infidelity = infidelity(dots, fDiffs);
  }
  if (metrics.includes('sensitivity')) {
    const r = METRIC_SETTINGS.sensitivityRadius;
    const perturbed: ArrayLike<number>[] = [];
    for (let s = 0; s < n; s++) {
      const at: HostTensor = { type: 'float32', data: Float32Array.from(x.data as Float32Array, (v) => v + (2 * rand.uniform() - 1) * r), dims: x.dims };
      const res = await attributeLayer(model, enc, [cls.target], settings, { texts: probe.texts, at });
      perturbed.push(res.results[0]!.attributions[layer]!.data as Float64Array);
    }
    out.sensitivity_max = sensitivityMax(attr.data as Float64Array, perturbed);
  }
  return out;
}

function summarize(method: string, target: string, records: ExampleRecord[]): MethodSummary {
  const rows = records.flatMap((r) => {
    const m = r.metrics?.[method]?.[target];
    return m && !r.errors?.[method] ? [m] : [];
  });
  const failed = records.filter((r) => r.error !== undefined || r.errors?.[method] !== undefined).length;
  const mean = (pick: (m: ExampleMetrics) => number | null): number | null => {
    const xs = rows.map(pick).filter((v): v is number => v !== null);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  // q = 0: nothing deleted is the input itself; nothing kept has no point (the curve starts at q = 0.1).
  const curve = (pick: (m: ExampleMetrics) => number[], atZero: boolean) => [0, ...AOPC_STEPS].map((_, s) => {
    const xs = rows.flatMap((m) => (s === 0 ? (atZero ? [m.p] : []) : pick(m).length ? [pick(m)[s - 1]!] : []));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  });
  return {
    method, target,
    aopc_comprehensiveness: mean((m) => m.comprehensiveness),
    aopc_sufficiency: mean((m) => m.sufficiency),
    tau_loo: mean((m) => m.tau_loo),
    infidelity: mean((m) => m.infidelity),
    sensitivity_max: mean((m) => m.sensitivity_max),
    seconds_per_example: method === 'random' ? 0 : mean((m) => m.seconds),
    examples: rows.length,
    failed,
    curves: { q: [0, ...AOPC_STEPS], comprehensiveness: curve((m) => m.deleted, true), sufficiency: curve((m) => m.kept, false) },
  };
}
