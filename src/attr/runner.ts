import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { withExtraOutputs } from '../graph/outputs.js';
import { cutModel } from '../graph/cut.js';
import { vjpModel, cotangentName, gradName } from '../autodiff/vjp.js';
import type { RuleSetName } from '../autodiff/lrp.js';
import { selectRows, pushRowGathers, ROW_SELECTOR, type RowSelection } from '../graph/rows.js';
import { Session, type HostTensor, type SessionOptions } from '../runtime/session.js';
import { sameDims } from './host.js';

/**
 * Runs one ONNX model forward and backward for the attribution methods. Each session (forward with extra outputs,
 * gradient model for a set of wrt tensors, outputs and copies) is created once and reused.
 */
export class ModelRunner {
  readonly inputNames: string[];
  readonly outputNames: string[];
  private readonly sessions = new Map<string, Promise<Session>>();
  /** How many forward and backward passes ran, by batch rows (for reports and tests). */
  readonly counters = { forwardRows: 0, gradientRows: 0, gradientRuns: 0, selectedRowRuns: 0 };
  /**
   * Low-memory mode: the forward sessions are released before a gradient session is built (they are rebuilt if a
   * forward pass is asked for again), and none is built ahead of use. For one explanation per process (the CLI's
   * explain): the weights are held by one session at a time.
   */
  lowMemory = false;
  /** Called after each gradient run (one ONNX Runtime call), e.g. for a progress bar. */
  onGradient: ((counters: Readonly<ModelRunner['counters']>) => void) | undefined;
  /** Called after each forward run (one ONNX Runtime call). */
  onForward: ((counters: Readonly<ModelRunner['counters']>) => void) | undefined;
  private readonly selections = new Map<string, RowSelection | null>();
  private readonly bases = new Map<string, ModelProto>();
  private lastForward: { feeds: Record<string, HostTensor>; result: Record<string, HostTensor> } | undefined;

  /**
   * `fetchable`: intermediate tensors that forward() may be asked for (e.g. the embeddings output). One forward
   * session that exposes all of them serves every forward call, instead of one session per set of extra outputs.
   */
  constructor(readonly model: ModelProto, readonly options: SessionOptions = {}, private readonly fetchable: readonly string[] = []) {
    const graph = new Graph(model);
    this.inputNames = graph.inputNames();
    this.outputNames = graph.outputNames();
  }

  private session(key: string, build: () => ModelProto): Promise<Session> {
    let s = this.sessions.get(key);
    if (!s) {
      s = Session.create(build(), this.options);
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  /** Runs the model; `extraOutputs` names intermediate tensors to fetch as well. */
  async forward(feeds: Record<string, HostTensor>, extraOutputs: readonly string[] = []): Promise<Record<string, HostTensor>> {
    const shared = extraOutputs.every((n) => this.fetchable.includes(n));
    const exposed = shared ? this.fetchable : extraOutputs;
    const session = await this.session(`fwd|${exposed.join('|')}`, () => withExtraOutputs(this.model, exposed));
    const inputs = pick(feeds, session.inputNames);
    // A task's prediction and the attribution's endpoint are the same forward pass: run it once.
    if (shared && this.lastForward && sameFeeds(this.lastForward.feeds, inputs)) return { ...this.lastForward.result };
    this.counters.forwardRows += Object.values(feeds)[0]?.dims[0] ?? 1;
    const fetches = [...this.outputNames, ...exposed.filter((n) => !this.outputNames.includes(n))];
    const result = await session.run(inputs, fetches);
    // A copy: callers may refill their feed arrays in place.
    if (shared) this.lastForward = { feeds: Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, { ...t, data: t.data.slice() }])), result };
    this.onForward?.(this.counters);
    return { ...result };
  }

  /** Runs the model from injected values of intermediate tensors (the graph is cut there). */
  async forwardFrom(feeds: Record<string, HostTensor>, values: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const names = Object.keys(values);
    const session = await this.session(`cut|${names.join('|')}`, () => cutModel(this.model, names));
    this.counters.forwardRows += Object.values(values)[0]?.dims[0] ?? 1;
    return session.run({ ...pick(feeds, session.inputNames), ...values }, this.outputNames);
  }

  /**
   * Starts building the gradient session that gradient() will use for these tensors, outputs and copies, so that
   * ONNX Runtime creates it on another thread while this one does other work (errors surface at first use).
   * `sequenceLength`, when known, tells whether the targets' rows are few enough for the row-selected graph.
   */
  prewarm(wrt: readonly string[], of: readonly string[], copies: number, sequenceLength?: number, rules: RuleSetName = 'gradient'): void {
    const rows = this.rowSelection(wrt, of) !== null && (sequenceLength === undefined || selectionSaves(copies, sequenceLength));
    this.gradientSession(wrt, of, copies, rows, rules).catch(() => undefined);
  }

  /** The model the gradient graphs start from: row gathers (a pooler's [CLS]) moved towards the inputs. */
  private gradientBase(wrt: readonly string[], of: readonly string[]): ModelProto {
    const key = tensorsKey(wrt, of);
    let model = this.bases.get(key);
    if (!model) this.bases.set(key, (model = pushRowGathers(this.model, [...wrt, ...of]).model));
    return model;
  }

  /** The model rewritten to compute `of` at selected sequence rows only, when that moves any work (else null). */
  private rowSelection(wrt: readonly string[], of: readonly string[]): RowSelection | null {
    const key = tensorsKey(wrt, of);
    if (!this.selections.has(key)) {
      let selection: RowSelection | null = null;
      try {
        selection = selectRows(this.gradientBase(wrt, of), of);
      } catch {
        // Outputs without a sequence axis (sentence logits): gradients use the full graph.
      }
      this.selections.set(key, selection && selection.movedNodes > 0 ? selection : null);
    }
    return this.selections.get(key)!;
  }

  private async gradientSession(wrt: readonly string[], of: readonly string[], copies: number, rows: boolean, rules: RuleSetName): Promise<Session> {
    const key = `grad|${rules === 'gradient' ? '' : `${rules}|`}${rows ? 'rows|' : ''}${tensorsKey(wrt, of)}|${copies}`;
    if (this.lowMemory && !this.sessions.has(key)) await this.releaseWhere((k) => !k.startsWith('grad|'));
    const selection = rows ? this.rowSelection(wrt, of) : null;
    const model = selection ? selection.model : this.gradientBase(wrt, of);
    const outputs = selection ? of.map((o) => selection.outputs[o]!) : [...of];
    return this.session(key, () => vjpModel(model, { of: outputs, wrt: [...wrt], copies, rules }));
  }

  /**
   * One forward pass at the given wrt values and one backward pass per cotangent set; per cotangent set, the
   * gradient for each wrt tensor. When the cotangents are non-zero at a few sequence positions only (attribution
   * targets), the graph's token-wise tail runs at those positions only (graph/rows.ts): same gradients, less work.
   * `rules`: another rule set's modified gradient (autodiff/lrp.ts: AttnLRP, CP-LRP).
   */
  async gradient(feeds: Record<string, HostTensor>, wrt: Record<string, HostTensor>, of: readonly string[],
    cotangents: Record<string, HostTensor>[], rules: RuleSetName = 'gradient'): Promise<Record<string, HostTensor>[]> {
    const wrtNames = Object.keys(wrt);
    const copies = cotangents.length;
    const selection = this.rowSelection(wrtNames, of);
    const rows = selection ? selectedRows(of, cotangents) : null;
    const session = await this.gradientSession(wrtNames, of, copies, rows !== null, rules);
    const suffix = (k: number) => (copies === 1 ? undefined : k);
    const allFeeds: Record<string, HostTensor> = { ...pick(feeds, session.inputNames), ...wrt };
    cotangents.forEach((set, k) => {
      for (const o of of) {
        if (rows && selection) allFeeds[cotangentName(selection.outputs[o]!, suffix(k))] = compressRows(set[o]!, rows.positions, rows.count);
        else allFeeds[cotangentName(o, suffix(k))] = set[o]!;
      }
    });
    if (rows) allFeeds[ROW_SELECTOR] = rows.selector;
    const fetches = cotangents.flatMap((_, k) => wrtNames.map((w) => gradName(w, suffix(k))));
    const result = await session.run(allFeeds, fetches);
    this.counters.gradientRows += Object.values(wrt)[0]?.dims[0] ?? 1;
    this.counters.gradientRuns += 1;
    if (rows) this.counters.selectedRowRuns += 1;
    this.onGradient?.(this.counters);
    return cotangents.map((_, k) => Object.fromEntries(wrtNames.map((w) => [w, result[gradName(w, suffix(k))]!])));
  }

  async release(): Promise<void> {
    await this.releaseWhere(() => true);
  }

  private async releaseWhere(which: (key: string) => boolean): Promise<void> {
    for (const [key, s] of [...this.sessions]) {
      if (!which(key)) continue;
      this.sessions.delete(key);
      await (await s.catch(() => undefined))?.release();
    }
    if (which('fwd|')) this.lastForward = undefined;
  }
}

function pick(feeds: Record<string, HostTensor>, names: readonly string[]): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const n of names) if (feeds[n]) out[n] = feeds[n]!;
  return out;
}

/** Methods accept a model or a runner (to share sessions between methods). */
export const asRunner = (model: ModelProto | ModelRunner): ModelRunner => (model instanceof ModelRunner ? model : new ModelRunner(model));

const tensorsKey = (wrt: readonly string[], of: readonly string[]): string => `${wrt.join('|')}|${of.join('|')}`;

/** Whether running the token-wise tail at `rows` of `sequence` positions saves work over the full graph. */
const selectionSaves = (rows: number, sequence: number): boolean => 2 * rows <= sequence;

/**
 * The sequence positions (axis 1) where any cotangent is non-zero, per batch row, padded to the same count by
 * repeating a position; with the one-hot selector [batch, count, sequence]. Null when that would not save work.
 */
function selectedRows(of: readonly string[], cotangents: Record<string, HostTensor>[]): { positions: number[][]; count: number; selector: HostTensor } | null {
  const first = cotangents[0]?.[of[0]!];
  if (!first || first.dims.length < 2 || first.dims.length > 3) return null;
  const [batch, seq] = first.dims as [number, number];
  const positions = Array.from({ length: batch }, () => new Set<number>());
  for (const set of cotangents) {
    for (const o of of) {
      const t = set[o]!;
      if (t.dims[0] !== batch || t.dims[1] !== seq || t.dims.length !== first.dims.length) return null;
      const width = t.data.length / (batch * seq);
      for (let i = 0; i < t.data.length; i++) if (t.data[i] !== 0) positions[Math.floor(i / (seq * width))]!.add(Math.floor(i / width) % seq);
    }
  }
  const count = Math.max(1, ...positions.map((p) => p.size));
  if (!selectionSaves(count, seq)) return null;
  const lists = positions.map((p) => {
    const list = [...p].sort((a, b) => a - b);
    while (list.length < count) list.push(list[0] ?? 0);
    return list;
  });
  const selector = new Float32Array(batch * count * seq);
  lists.forEach((list, b) => list.forEach((pos, r) => (selector[(b * count + r) * seq + pos] = 1)));
  return { positions: lists, count, selector: { type: 'float32', data: selector, dims: [batch, count, seq] } };
}

/** A cotangent [batch, seq, …] reduced to the selected rows [batch, count, …] (padding rows get zeros). */
function compressRows(t: HostTensor, positions: number[][], count: number): HostTensor {
  const [batch, seq] = t.dims as [number, number];
  const width = t.data.length / (batch * seq);
  const out = new Float32Array(batch * count * width);
  positions.forEach((list, b) => {
    const seen = new Set<number>();
    list.forEach((pos, r) => {
      if (seen.has(pos)) return; // a repeated (padding) position contributes nothing
      seen.add(pos);
      out.set((t.data as Float32Array).subarray((b * seq + pos) * width, (b * seq + pos + 1) * width), (b * count + r) * width);
    });
  });
  return { type: 'float32', data: out, dims: [batch, count, ...t.dims.slice(2)] };
}

function sameFeeds(a: Record<string, HostTensor>, b: Record<string, HostTensor>): boolean {
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  return names.every((n) => {
    const x = a[n]!, y = b[n];
    if (!y || x.type !== y.type || !sameDims(x.dims, y.dims)) return false;
    for (let i = 0; i < x.data.length; i++) if (x.data[i] !== y.data[i]) return false;
    return true;
  });
}
