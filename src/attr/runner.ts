import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { withExtraOutputs } from '../graph/outputs.js';
import { cutModel } from '../graph/cut.js';
import { vjpModel, cotangentName, gradName } from '../autodiff/vjp.js';
import { Session, type HostTensor, type SessionOptions } from '../runtime/session.js';

/**
 * Runs one ONNX model forward and backward for the attribution methods. Each session (forward with extra outputs,
 * gradient model for a set of wrt tensors, outputs and copies) is created once and reused.
 */
export class ModelRunner {
  readonly inputNames: string[];
  readonly outputNames: string[];
  private readonly sessions = new Map<string, Promise<Session>>();
  /** How many forward and backward passes ran, by batch rows (for reports and tests). */
  readonly counters = { forwardRows: 0, gradientRows: 0, gradientRuns: 0 };

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
    this.counters.forwardRows += Object.values(feeds)[0]?.dims[0] ?? 1;
    return session.run(pick(feeds, session.inputNames), [...this.outputNames, ...extraOutputs.filter((n) => !this.outputNames.includes(n))]);
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
   */
  prewarm(wrt: readonly string[], of: readonly string[], copies: number): void {
    this.gradientSession(wrt, of, copies).catch(() => undefined);
  }

  private gradientSession(wrt: readonly string[], of: readonly string[], copies: number): Promise<Session> {
    const key = `grad|${wrt.join('|')}|${of.join('|')}|${copies}`;
    return this.session(key, () => vjpModel(this.model, { of: [...of], wrt: [...wrt], copies }));
  }

  /**
   * One forward pass at the given wrt values and one backward pass per cotangent set.
   * Returns the model outputs and, per cotangent set, the gradient for each wrt tensor.
   */
  async gradient(feeds: Record<string, HostTensor>, wrt: Record<string, HostTensor>, of: readonly string[],
    cotangents: Record<string, HostTensor>[]): Promise<{ outputs: Record<string, HostTensor>; grads: Record<string, HostTensor>[] }> {
    const wrtNames = Object.keys(wrt);
    const copies = cotangents.length;
    const session = await this.gradientSession(wrtNames, of, copies);
    const suffix = (k: number) => (copies === 1 ? undefined : k);
    const allFeeds: Record<string, HostTensor> = { ...pick(feeds, session.inputNames), ...wrt };
    cotangents.forEach((set, k) => {
      for (const o of of) allFeeds[cotangentName(o, suffix(k))] = set[o]!;
    });
    const fetches = [...this.outputNames, ...cotangents.flatMap((_, k) => wrtNames.map((w) => gradName(w, suffix(k))))];
    const result = await session.run(allFeeds, fetches);
    this.counters.gradientRows += Object.values(wrt)[0]?.dims[0] ?? 1;
    this.counters.gradientRuns += 1;
    const outputs = Object.fromEntries(this.outputNames.map((n) => [n, result[n]!]));
    const grads = cotangents.map((_, k) => Object.fromEntries(wrtNames.map((w) => [w, result[gradName(w, suffix(k))]!])));
    return { outputs, grads };
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s.catch(() => undefined))?.release();
    this.sessions.clear();
  }
}

function pick(feeds: Record<string, HostTensor>, names: readonly string[]): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const n of names) if (feeds[n]) out[n] = feeds[n]!;
  return out;
}

/** Methods accept a model or a runner (to share sessions between methods). */
export const asRunner = (model: ModelProto | ModelRunner): ModelRunner => (model instanceof ModelRunner ? model : new ModelRunner(model));
