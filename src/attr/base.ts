import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { ModelRunner, asRunner } from './runner.js';
import { batchOf, concatRows, float32, gatherRows, rowSize, sameDims } from './host.js';
import { resolveTarget, type ResolvedTarget, type Target, type TargetSpec } from './targets.js';
import type { RuleSetName } from '../autodiff/lrp.js';
export type { ResolvedTarget, TargetSpec };

/** Baselines for attributed inputs: one number for all, a tensor (broadcast over the batch if it has one row), or one per input. */
export type Baseline = number | HostTensor;
export type Baselines = Baseline | Record<string, Baseline>;

export interface CommonOptions {
  /** Captum's `target` for the default (first) output, or for `output`. */
  target?: Target;
  output?: string;
  /** Several targets sharing each forward pass (e.g. QA start and end): one forward, one backward per target. */
  targets?: TargetSpec[];
  /** Rows per ONNX Runtime call (steps × examples are split into chunks of this size); default all at once. */
  internalBatchSize?: number;
  /**
   * Explain at these values of the attributed tensors instead of those the inputs give (other inputs, such as the
   * attention mask, still come from the inputs): e.g. at a perturbed embedding, as Captum's sensitivity_max does.
   */
  at?: Record<string, HostTensor>;
}

/** The attributions for one target. */
export interface AttributionResult {
  target: ResolvedTarget;
  /** Float64 attributions per attributed tensor (a graph input or the layer), shaped like it. */
  attributions: Record<string, HostTensor>;
  /** Per example: Σ attributions − (F(x) − F(baseline)), where the method defines one. */
  delta?: Float64Array;
  /** Per example, the target output at the input and at the baseline. */
  fX?: Float64Array;
  fBaseline?: Float64Array;
  /** The attributed tensor's name when it is not the method's space (attention: the chosen layer's probabilities). */
  layer?: string;
  /** Attention methods: the target row's attention weights, per layer and head ([layer][head][key]). */
  attention?: { position: number; weights: number[][][] };
  /** Integration steps used (per example for nSteps 'auto') and model evaluations (gradient rows per example). */
  nSteps?: number[];
  evaluations?: number;
}

/** What an attribution is computed over: float graph inputs, or one intermediate tensor (a "layer"). */
export type Space = { kind: 'inputs'; names: string[] } | { kind: 'layer'; name: string };

/** Points in the attributed space for a batch, with the feeds of the other model inputs and the model outputs there. */
export interface Endpoint {
  values: Record<string, HostTensor>;
  outputs: Record<string, HostTensor>;
}

/**
 * Shared machinery of gradient methods: running the model at points of the attributed space, gradients of several
 * targets per forward pass, and Captum's convergence delta.
 */
export abstract class GradientAttribution<O extends CommonOptions = CommonOptions> {
  readonly runner: ModelRunner;
  /** The backward pass: the gradient, or a rule set's modified gradient (autodiff/lrp.ts). */
  protected ruleSet: RuleSetName = 'gradient';

  constructor(model: ModelProto | ModelRunner, readonly space: Space) {
    this.runner = asRunner(model);
    if (space.kind === 'inputs') {
      for (const n of space.names) if (!this.runner.inputNames.includes(n)) fail(`${n} is not an input of the model (inputs: ${this.runner.inputNames.join(', ')})`);
    }
  }

  get spaceNames(): string[] {
    return this.space.kind === 'inputs' ? this.space.names : [this.space.name];
  }

  /** Attributions of the targets in `options` at the given model inputs (feeds of every model input). */
  attribute(inputs: Record<string, HostTensor>, options: O & { targets: TargetSpec[] }): Promise<AttributionResult[]>;
  attribute(inputs: Record<string, HostTensor>, options?: O): Promise<AttributionResult>;
  async attribute(inputs: Record<string, HostTensor>, options: O = {} as O): Promise<AttributionResult | AttributionResult[]> {
    const x = options.at ? await this.endpointAt(inputs, options.at) : await this.endpoint(inputs);
    const targets = this.resolveTargets(options, x.outputs, batchOf(Object.values(x.values)[0]!));
    const results = await this.compute(x, inputs, options, targets);
    return options.targets ? results : results[0]!;
  }

  /** The method itself, given the attributed values at the input (possibly perturbed, see NoiseTunnel). */
  abstract compute(x: Endpoint, inputs: Record<string, HostTensor>, options: O, targets: ResolvedTarget[]): Promise<AttributionResult[]>;

  /** Model outputs when the attributed tensors take the given values. */
  async outputsAt(feeds: Record<string, HostTensor>, values: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    if (this.space.kind === 'inputs') return this.runner.forward({ ...feeds, ...values });
    return this.runner.forwardFrom(feeds, values);
  }

  /** Gradients of each target at the attributed values (one row per example): [target][name]. */
  async gradientsAtValues(values: Record<string, HostTensor>, feeds: Record<string, HostTensor>, targets: ResolvedTarget[],
    outputs: Record<string, HostTensor>, internalBatchSize?: number): Promise<Record<string, HostTensor>[]> {
    const names = Object.keys(values);
    const examples = batchOf(values[names[0]!]!);
    const out = targets.map(() => Object.fromEntries(names.map((n) => [n, { type: 'float32', data: new Float32Array(values[n]!.data.length), dims: values[n]!.dims } as HostTensor])));
    await this.gradientsAt((rows) => Object.fromEntries(names.map((n) => [n, gatherRows(values[n]!, rows)])),
      Array.from({ length: examples }, (_, e) => e), feeds, targets, outputs, internalBatchSize, (start, grads) => {
        grads.forEach((perName, k) => {
          for (const n of names) (out[k]![n]!.data as Float32Array).set(perName[n]!.data as Float32Array, start * rowSize(values[n]!));
        });
      });
    return out;
  }

  /** Given values of the attributed tensors, and the model outputs there. */
  async endpointAt(feeds: Record<string, HostTensor>, at: Record<string, HostTensor>): Promise<Endpoint> {
    for (const n of this.spaceNames) if (!at[n]) fail(`no value given for ${n}`);
    const values = Object.fromEntries(this.spaceNames.map((n) => [n, asFloat32(at[n], n)]));
    const all = await this.outputsAt(feeds, values);
    return { values, outputs: Object.fromEntries(this.runner.outputNames.map((n) => [n, all[n]!])) };
  }

  /** The attributed values at the given model inputs, and the model outputs there (one forward pass). */
  async endpoint(feeds: Record<string, HostTensor>): Promise<Endpoint> {
    if (this.space.kind === 'inputs') {
      // Float64 inputs are attributed (and run) as float32, like the points on the path.
      const values = Object.fromEntries(this.space.names.map((n) => [n, asFloat32(feeds[n], n)]));
      const outputs = await this.runner.forward({ ...feeds, ...values });
      return { values, outputs };
    }
    const layer = this.space.name;
    const all = await this.runner.forward(feeds, [layer]);
    const outputs = Object.fromEntries(this.runner.outputNames.map((n) => [n, all[n]!]));
    return { values: { [layer]: all[layer]! }, outputs };
  }

  /** Baseline values in the attributed space, broadcast to the shape of `x`. */
  baselineValues(x: Record<string, HostTensor>, baselines: Baselines | undefined): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(x)) {
      const b = baselines === undefined ? 0 : typeof baselines === 'number' || isTensor(baselines) ? baselines : baselines[name];
      if (b === undefined) fail(`no baseline given for ${name}`);
      out[name] = broadcastBaseline(b, t, name);
    }
    return out;
  }

  resolveTargets(options: CommonOptions, outputs: Record<string, HostTensor>, examples: number): ResolvedTarget[] {
    const dims = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.dims]));
    const specs = options.targets ?? [{ output: options.output, target: options.target }];
    if (specs.length === 0) fail('give at least one target');
    return specs.map((s) => resolveTarget(s, dims, this.runner.outputNames[0]!, examples));
  }

  /**
   * Gradients of every target at a set of points, in chunks of `internalBatchSize` rows. `rowExample[r]` says which
   * example point r belongs to (other inputs and the target index are taken from it). Calls `visit` per chunk with
   * the row offset and the per-target gradients.
   */
  async gradientsAt(points: (rows: number[]) => Record<string, HostTensor>, rowExample: readonly number[],
    feeds: Record<string, HostTensor>, targets: ResolvedTarget[], outputs: Record<string, HostTensor>, internalBatchSize: number | undefined,
    visit: (start: number, grads: Record<string, HostTensor>[]) => void): Promise<void> {
    const total = rowExample.length;
    const chunk = internalBatchSize === undefined ? total : internalBatchSize;
    if (!Number.isInteger(chunk) || chunk < 1) fail(`internalBatchSize must be a positive integer, got ${internalBatchSize}`);
    const ofs = [...new Set(targets.map((t) => t.output))];
    const otherInputs = Object.keys(feeds).filter((n) => !(n in points([0])));
    for (let start = 0; start < total; start += chunk) {
      const rows = Array.from({ length: Math.min(chunk, total - start) }, (_, i) => start + i);
      const examples = rows.map((r) => rowExample[r]!);
      const chunkFeeds = Object.fromEntries(otherInputs.map((n) => [n, gatherRows(feeds[n]!, examples)]));
      const cotangents = targets.map((t) => Object.fromEntries(ofs.map((o) => {
        const rowLen = rowSize(outputs[o]!);
        const data = new Float32Array(examples.length * rowLen);
        if (o === t.output) examples.forEach((e, i) => (data[i * rowLen + t.offsets[e]!] = 1));
        return [o, { type: 'float32', data, dims: [examples.length, ...outputs[o]!.dims.slice(1)] } as HostTensor];
      })));
      visit(start, await this.runner.gradient(chunkFeeds, points(rows), ofs, cotangents, this.ruleSet));
    }
  }
}

/** Captum's convergence delta per example: Σ attributions − (F(x) − F(baseline)). */
export function convergenceDelta(attributions: Record<string, HostTensor>, fX: Float64Array, fBaseline: Float64Array): Float64Array {
  const delta = new Float64Array(fX.length);
  for (const t of Object.values(attributions)) {
    const size = rowSize(t);
    for (let e = 0; e < fX.length; e++) {
      let s = 0;
      for (let i = e * size; i < (e + 1) * size; i++) s += Number(t.data[i]);
      delta[e]! += s;
    }
  }
  for (let e = 0; e < fX.length; e++) delta[e] = delta[e]! - (fX[e]! - fBaseline[e]!);
  return delta;
}

/** The target's value per example from a batch of outputs. */
export function targetValues(outputs: Record<string, HostTensor>, target: ResolvedTarget, rowOffset = 0): Float64Array {
  const t = outputs[target.output]!;
  const size = rowSize(t);
  return Float64Array.from(target.offsets, (off, e) => Number(t.data[(rowOffset + e) * size + off]));
}

const isTensor = (v: unknown): v is HostTensor => typeof v === 'object' && v !== null && 'data' in v && 'dims' in v;

function asFloat32(t: HostTensor | undefined, name: string): HostTensor {
  if (!t) fail(`input ${name} is missing`);
  if (t.type === 'float32') return t;
  if (t.type === 'float64') return float32(t.data as Float64Array, t.dims);
  fail(`input ${name} is ${t.type}, not a float tensor: attribute to a layer (e.g. the embeddings) instead`);
}

function broadcastBaseline(b: Baseline, like: HostTensor, name: string): HostTensor {
  if (typeof b === 'number') return float32(new Float32Array(like.data.length).fill(b), like.dims);
  const f = asFloat32(b, `baseline for ${name}`);
  if (sameDims(f.dims, like.dims)) return f;
  const rowDims = like.dims.slice(1);
  if (sameDims(f.dims, [1, ...rowDims])) return concatRows(Array(batchOf(like)).fill(f));
  if (sameDims(f.dims, rowDims)) return concatRows(Array(batchOf(like)).fill({ ...f, dims: [1, ...rowDims] }));
  if (f.data.length === 1) return float32(new Float32Array(like.data.length).fill(Number(f.data[0])), like.dims);
  fail(`baseline for ${name} has shape [${f.dims}] but the input has shape [${like.dims}]`);
}


/** Where a method attributes: named float inputs (default: the first input) or a layer. */
export interface SpaceOptions {
  inputs?: string[];
  layer?: string;
}

export function spaceOf(runner: ModelRunner, options: SpaceOptions): Space {
  if (options.layer !== undefined) {
    if (options.inputs) fail('give either inputs or a layer, not both');
    if (!runner.inputNames.includes(options.layer)) return { kind: 'layer', name: options.layer };
    return { kind: 'inputs', names: [options.layer] };
  }
  return { kind: 'inputs', names: options.inputs ?? [runner.inputNames[0]!] };
}
