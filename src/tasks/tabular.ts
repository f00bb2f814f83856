/**
 * Tabular models: one row of named float features in, class scores (or one regression value) out. The chosen method
 * attributes the explained score to each feature of the row.
 */
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { methodSpec, parseIntIn, type ExplainSettings } from '../attr/registry.js';
import type { DenseContext } from '../attr/dense.js';
import type { DenseModel } from '../models/dense.js';
import { rankClasses, targetIndex, type PredictedClass } from './image.js';

export const TABULAR_BASELINES = ['zero', 'mean'] as const;
export type TabularBaseline = (typeof TABULAR_BASELINES)[number];

export interface TabularOptions {
  target?: string;
  /** zero (Captum's default) or the column means of a table (the CSV the row came from). */
  baseline?: TabularBaseline;
  means?: number[];
}

export interface TabularExplanation {
  task: 'tabular';
  model: string;
  method: string;
  captum: string;
  input: string;
  features: { name: string; value: number; baseline: number | null; attribution: number }[];
  /** Classifiers: the predicted class and the top ones; one-output regressors: the value. */
  prediction: PredictedClass | { value: number };
  top?: PredictedClass[];
  target: PredictedClass | { index: 0; label: string };
  baseline: TabularBaseline | null;
  delta: number | null;
  f_x: number;
  f_baseline: number | null;
  settings: Record<string, unknown>;
  warnings: string[];
}

/**
 * A row as the user gives it: a JSON object of feature → number (every feature, no others), or a JSON list of
 * numbers in feature order.
 */
export function rowValues(row: unknown, features: string[], what = '--row'): number[] {
  const check = (v: unknown, name: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what}: feature ${name} is ${JSON.stringify(v)?.slice(0, 40)}, not a finite number`);
    return v;
  };
  if (Array.isArray(row)) {
    if (row.length !== features.length) fail(`${what} has ${row.length} values; the model takes ${features.length} features (${features.slice(0, 10).join(', ')}${features.length > 10 ? ', …' : ''})`);
    return row.map((v, i) => check(v, features[i]!));
  }
  if (!row || typeof row !== 'object') fail(`${what} must be a JSON object of feature values or a list of ${features.length} numbers`);
  const obj = row as Record<string, unknown>;
  const missing = features.filter((f) => !Object.prototype.hasOwnProperty.call(obj, f));
  const extra = Object.keys(obj).filter((k) => !features.includes(k));
  if (missing.length > 0) fail(`${what} is missing feature${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
  if (extra.length > 0) fail(`${what} has feature${extra.length > 1 ? 's' : ''} the model does not take: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ', …' : ''}`);
  return features.map((f) => check(obj[f], f));
}

/** A table's rows (CSV records, header first) as numbers in feature order; the header must name every feature once. */
export function tableRows(records: string[][], features: string[], what: string): number[][] {
  const header = records[0];
  if (!header || records.length < 2) fail(`${what} needs a header line of feature names and at least one row`);
  const missing = features.filter((f) => !header.includes(f));
  if (missing.length > 0) fail(`${what}: the header has no column ${missing.slice(0, 10).join(', ')} (the model's features: ${features.slice(0, 10).join(', ')}${features.length > 10 ? ', …' : ''})`);
  const extra = header.filter((h) => !features.includes(h));
  if (extra.length > 0) fail(`${what}: column${extra.length > 1 ? 's' : ''} ${extra.slice(0, 10).join(', ')} ${extra.length > 1 ? 'are' : 'is'} not a feature of the model`);
  if (new Set(header).size !== header.length) fail(`${what}: the header names a column twice`);
  const index = features.map((f) => header.indexOf(f));
  return records.slice(1).map((r, i) => {
    if (r.length !== header.length) fail(`${what}: row ${i} has ${r.length} fields, the header ${header.length}`);
    return index.map((k) => {
      const text = r[k]!.trim();
      const v = text === '' ? NaN : Number(text);
      if (!Number.isFinite(v)) fail(`${what}: row ${i}, column ${header[k]}: ${JSON.stringify(text.slice(0, 40))} is not a number`);
      return v;
    });
  });
}

export const columnMeans = (rows: number[][]): number[] => rows[0]!.map((_, j) => rows.reduce((a, r) => a + r[j]!, 0) / rows.length);

/** A row given as JSON text (an object of feature values or a list), checked as rowValues checks it. */
export function jsonRow(text: string, features: string[], what: string, hint = ''): number[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail(`${what} must be a JSON object {"feature": value, …} or a JSON list of numbers${hint}`);
  }
  return rowValues(raw, features, what);
}

/**
 * Row `n` (0-based after the header) of a CSV table's records as feature values in the model's order, and the
 * table's column means. A model without feature names of its own (f0, f1, …) takes the header's, in column order.
 * `flag` names the row number in errors, `rowsNote` says how many rows there are.
 */
export function csvRow(model: Pick<DenseModel, 'features' | 'featureSource'>, records: string[][], n: string, o: { what: string; flag: string; rowsNote: (rows: number) => string }): { features: string[]; values: number[]; means: number[] } {
  const header = records[0];
  const features = model.featureSource === 'default' && header?.length === model.features!.length ? header.map((h) => h.trim()) : model.features!;
  const rows = tableRows(records, features, o.what);
  const index = parseIntIn(n, o.flag, 0, rows.length - 1, o.rowsNote(rows.length));
  return { features, values: rows[index]!, means: columnMeans(rows) };
}

/** Explains one row. */
export async function explainTabular(model: DenseModel, values: number[], settings: ExplainSettings, options: TabularOptions = {}): Promise<TabularExplanation> {
  const spec = methodSpec(settings.method, 'tabular');
  const features = model.features!;
  if (values.length !== features.length) fail(`the row has ${values.length} values; the model takes ${features.length} features`);
  const x: HostTensor = { type: 'float32', data: Float32Array.from(values), dims: [1, features.length] };
  const feeds = { [model.input]: x };
  const out = (await model.runner.forward(feeds))[model.output]!;
  const row = Array.from(out.data as Float32Array, Number);
  const classifier = row.length > 1;
  const ranked = rankClasses(row, model.labels);
  const targetIdx = options.target === undefined ? (classifier ? ranked[0]!.index : 0) : targetIndex(options.target, row.length, model.labels);
  const target = classifier ? ranked.find((c) => c.index === targetIdx)! : { index: 0 as const, label: model.labels?.[0] ?? model.output };
  const kind = options.baseline ?? 'zero';
  if (kind === 'mean' && !options.means) fail('--baseline mean takes the column means of a table: give the row with --csv FILE --row N');
  const bvals = kind === 'mean' ? options.means! : features.map(() => 0);
  const baseline: HostTensor = { type: 'float32', data: Float32Array.from(bvals), dims: [1, features.length] };
  const outDims = out.dims;
  const ctx: DenseContext = {
    runner: model.runner, input: model.input, feeds,
    targets: [{ output: model.output, target: outDims.length === 1 ? undefined : targetIdx, label: target.label }],
    internalBatchSize: settings.internalBatchSize ?? 64,
    perturbationsPerEval: settings.perturbationsPerEval === 'auto' ? 64 : settings.perturbationsPerEval,
    settings, baseline, baselineDistribution: baseline,
  };
  const result = (await spec.dense!(ctx))[0]!;
  const attr = result.attributions[model.input]!.data as Float64Array;
  const usesBaseline = !['saliency', 'input-x-gradient'].includes(spec.name);
  const settingsOut: Record<string, unknown> = {};
  for (const key of spec.options) if (key !== 'baseline') settingsOut[key] = settings[key];
  const warnings: string[] = [];
  const fX = result.fX?.[0] ?? row[targetIdx]!;
  const delta = result.delta ? result.delta[0]! : null;
  if (delta !== null && spec.integral && Math.abs(delta) > 0.05 * Math.max(Math.abs(fX - (result.fBaseline?.[0] ?? 0)), 1e-6)) {
    warnings.push(`convergence delta ${delta.toPrecision(3)} is more than 5% of F(x) − F(baseline): use more --steps`);
  }
  return {
    task: 'tabular', model: model.name, method: spec.name, captum: spec.denseCaptum ?? spec.captum, input: model.input,
    features: features.map((name, i) => ({ name, value: values[i]!, baseline: usesBaseline ? bvals[i]! : null, attribution: attr[i]! })),
    prediction: classifier ? ranked[0]! : { value: row[0]! },
    ...(classifier ? { top: ranked.slice(0, 5) } : {}),
    target, baseline: usesBaseline ? kind : null,
    delta, f_x: fX, f_baseline: result.fBaseline ? result.fBaseline[0]! : null, settings: settingsOut, warnings,
  };
}
