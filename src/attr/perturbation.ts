/**
 * Shared machinery of the perturbation methods (Captum's FeatureAblation family): one graph input of one example is
 * perturbed, element by element, towards a baseline; perturbed copies are stacked into batches of
 * `perturbationsPerEval` rows, each batch is one ONNX Runtime call, and the unperturbed forward pass runs once.
 */
import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { ModelRunner, asRunner } from './runner.js';
import { gatherRows, numel, rowSize } from './host.js';
import { resolveTarget, type ResolvedTarget, type Target, type TargetSpec } from './targets.js';
import type { AttributionResult } from './base.js';

export interface PerturbationOptions {
  /** The graph input that is perturbed (default: input_ids when the model has it, else its first input). */
  input?: string;
  /**
   * What a perturbed element becomes: one number for every element, or a tensor shaped like one row of the input
   * ([1, …] or without the batch axis). Captum's `baselines`; default 0.
   */
  baselines?: number | HostTensor;
  target?: Target;
  output?: string;
  /** Several targets sharing every forward pass (e.g. QA start and end). */
  targets?: TargetSpec[];
  /** Perturbed inputs per ONNX Runtime call (Captum's perturbations_per_eval; default 1). */
  perturbationsPerEval?: number;
}

/**
 * A feature mask: for every element of the input row, the feature it belongs to (0 … features − 1), or −1 for
 * elements no perturbation touches (special tokens).
 */
export interface FeatureMask {
  ids: Int32Array;
  features: number;
}

/** Each element its own feature (Captum's default feature mask). */
export function elementFeatures(size: number): FeatureMask {
  return { ids: Int32Array.from({ length: size }, (_, i) => i), features: size };
}

/** A mask given as one feature id per element (−1: never perturbed): checked and renumbered 0 … n − 1 in order. */
export function featureMask(ids: ArrayLike<number>, size: number): FeatureMask {
  if (ids.length !== size) fail(`the feature mask has ${ids.length} entries but the input has ${size} elements`);
  const renumber = new Map<number, number>();
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const f = ids[i]!;
    if (!Number.isInteger(f) || f < -1) fail(`feature mask entry ${i} is ${f}: expected an integer ≥ 0, or −1 for "never perturbed"`);
    if (f === -1) { out[i] = -1; continue; }
    if (!renumber.has(f)) renumber.set(f, renumber.size);
    out[i] = renumber.get(f)!;
  }
  return { ids: out, features: renumber.size };
}

/** Elements of each feature. */
export function featureElements(mask: FeatureMask): number[][] {
  const out: number[][] = Array.from({ length: mask.features }, () => []);
  mask.ids.forEach((f, i) => { if (f >= 0) out[f]!.push(i); });
  return out;
}

/**
 * One example's input and the target values at perturbed copies of it. A perturbation is a mask over the input
 * row's elements: 1 = replaced by the baseline.
 */
export class Perturber {
  readonly runner: ModelRunner;
  readonly input: string;
  /** Elements per input row, and the row's dims (without the batch axis). */
  readonly size: number;
  readonly rowDims: number[];
  readonly targets: ResolvedTarget[];
  /** Target values at the input, one per target. */
  readonly fX: Float64Array;
  readonly perturbationsPerEval: number;
  /** Perturbed rows evaluated so far. */
  evaluations = 0;
  private readonly row: HostTensor;
  private readonly baseline: HostTensor['data'];

  private constructor(runner: ModelRunner, private readonly feeds: Record<string, HostTensor>, input: string, baseline: HostTensor['data'],
    targets: ResolvedTarget[], fX: Float64Array, perturbationsPerEval: number) {
    this.runner = runner;
    this.input = input;
    this.row = feeds[input]!;
    this.rowDims = this.row.dims.slice(1);
    this.size = rowSize(this.row);
    this.baseline = baseline;
    this.targets = targets;
    this.fX = fX;
    this.perturbationsPerEval = perturbationsPerEval;
  }

  /** Runs the unperturbed forward pass once and resolves the targets against its outputs. */
  static async create(model: ModelProto | ModelRunner, feeds: Record<string, HostTensor>, options: PerturbationOptions): Promise<Perturber> {
    const runner = asRunner(model);
    const input = options.input ?? (runner.inputNames.includes('input_ids') ? 'input_ids' : runner.inputNames[0]!);
    if (!runner.inputNames.includes(input)) fail(`${input} is not an input of the model (inputs: ${runner.inputNames.join(', ')})`);
    const x = feeds[input] ?? fail(`input ${input} is missing`);
    if ((x.dims[0] ?? 1) !== 1) fail(`perturbation methods explain one example at a time; ${input} has ${x.dims[0]} rows`);
    const per = options.perturbationsPerEval ?? 1;
    if (!Number.isInteger(per) || per < 1) fail(`perturbationsPerEval must be a positive integer, got ${per}`);
    const outputs = await runner.forward(feeds);
    const dims = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.dims]));
    const specs = options.targets ?? [{ output: options.output, target: options.target }];
    if (specs.length === 0) fail('give at least one target');
    const targets = specs.map((s) => resolveTarget(s, dims, runner.outputNames[0]!, 1));
    const fX = Float64Array.from(targets, (t) => Number(outputs[t.output]!.data[t.offsets[0]!]));
    return new Perturber(runner, feeds, input, baselineRow(options.baselines, x), targets, fX, per);
  }

  /**
   * Target values at each perturbation, as values[perturbation * targets + target]. Masks come from `mask(i, out)`,
   * which fills `out` (zeroed) for perturbation i; they are made batch by batch, so only one batch is held.
   */
  async evaluate(count: number, mask: (i: number, out: Uint8Array) => void): Promise<Float64Array> {
    const T = this.targets.length;
    const values = new Float64Array(count * T);
    const m = new Uint8Array(this.size);
    const others = Object.keys(this.feeds).filter((n) => n !== this.input);
    for (let start = 0; start < count; start += this.perturbationsPerEval) {
      const rows = Math.min(this.perturbationsPerEval, count - start);
      const x = gatherRows(this.row, Array(rows).fill(0));
      for (let r = 0; r < rows; r++) {
        m.fill(0);
        mask(start + r, m);
        const base = r * this.size;
        for (let e = 0; e < this.size; e++) if (m[e]) (x.data as Float32Array)[base + e] = this.baseline[e] as number;
      }
      const feeds: Record<string, HostTensor> = { [this.input]: x };
      for (const n of others) feeds[n] = gatherRows(this.feeds[n]!, Array(rows).fill(0));
      const out = await this.runner.forward(feeds);
      this.targets.forEach((t, k) => {
        const o = out[t.output]!;
        const width = rowSize(o);
        for (let r = 0; r < rows; r++) values[(start + r) * T + k] = Number(o.data[r * width + t.offsets[0]!]);
      });
      this.evaluations += rows;
    }
    return values;
  }

  /** The input row's values as numbers (e.g. token ids), and the baseline's, for similarity kernels. */
  inputValues(): Float64Array {
    return Float64Array.from(this.row.data as ArrayLike<number | bigint>, Number);
  }

  baselineValues(): Float64Array {
    return Float64Array.from(this.baseline as ArrayLike<number | bigint>, Number);
  }

  /** An attribution tensor [1, …row dims] from per-element values. */
  result(values: Float64Array, k: number, extra: Partial<AttributionResult> = {}): AttributionResult {
    return { target: this.targets[k]!, attributions: { [this.input]: { type: 'float64', data: values, dims: [1, ...this.rowDims] } }, fX: Float64Array.of(this.fX[k]!), ...extra };
  }
}

/** The baseline as one row of the input's element type. */
function baselineRow(b: number | HostTensor | undefined, x: HostTensor): HostTensor['data'] {
  const size = rowSize(x);
  const big = x.type === 'int64';
  const cast = (v: number | bigint) => (big ? BigInt(v) : Number(v));
  const data = big ? new BigInt64Array(size) : x.type === 'int32' ? new Int32Array(size) : x.type === 'float64' ? new Float64Array(size) : new Float32Array(size);
  if (b === undefined || typeof b === 'number') {
    const v = b ?? 0;
    if ((big || x.type === 'int32') && !Number.isInteger(v)) fail(`the baseline ${v} is not an integer but the input is ${x.type}`);
    (data as Float32Array).fill(cast(v) as number);
    return data;
  }
  if (numel(b.dims) !== size) fail(`the baseline has shape [${b.dims}] but one row of the input has shape [${x.dims.slice(1)}]`);
  for (let i = 0; i < size; i++) (data as Float32Array)[i] = cast(b.data[i] as number) as number;
  return data;
}
