// Sessions on ONNX Runtime, whichever build runs them: onnxruntime-node (runtime/node.ts) or onnxruntime-web
// (runtime/web.ts) register themselves as the backend; this module imports neither (only their shared types).
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { ModelProto } from '../onnx/proto.js';
import { encodeModel } from '../onnx/model.js';
import { fail } from '../errors.js';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';
export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** A dense tensor on the host: element type, row-major data, dims. */
export interface HostTensor {
  type: DType;
  data: TypedData;
  dims: number[];
}

export interface SessionOptions {
  /** Intra-op threads; ONNX Runtime's default (all cores) when omitted. */
  threads?: number;
  /** Execution providers, e.g. ['cuda', 'cpu'] in Node, ['webgpu', 'wasm'] in a browser (default: the backend's). */
  providers?: string[];
  /** The ONNX Runtime build to use (default: the registered one; in Node, onnxruntime-node). */
  backend?: Backend;
}

/** What gradlens needs of an ONNX Runtime build: onnxruntime-node and onnxruntime-web share this API. */
export interface OrtApi {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: DType, data: TypedData, dims: readonly number[]) => Tensor;
}

/** A registered ONNX Runtime build. */
export interface Backend {
  /** 'node' or 'web'. */
  name: string;
  ort: OrtApi;
  /** Execution providers when the caller names none. */
  defaultProviders(): string[];
  /** Session options this build runs best with (override gradlens' defaults). */
  sessionOptions?: Partial<InferenceSession.SessionOptions>;
}

let registered: Backend | undefined;

/** Makes `backend` the one sessions use unless their options name another. */
export function registerBackend(backend: Backend): void {
  registered = backend;
}

/**
 * The registered backend. In Node, when none is registered, onnxruntime-node is loaded (runtime/node.ts), so library
 * users and tests need no setup; a browser entry registers onnxruntime-web before anything runs.
 */
export async function currentBackend(): Promise<Backend> {
  if (registered) return registered;
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (!isNode) fail('no ONNX Runtime backend is registered (the browser entry gradlens/web registers onnxruntime-web)');
  // A computed specifier: bundlers for the browser leave the Node backend out.
  const nodeBackend = './node.js';
  const mod = (await import(nodeBackend)) as { nodeBackend: Backend };
  registered ??= mod.nodeBackend;
  return registered;
}

export function tensor(type: DType, data: TypedData | number[], dims: number[]): HostTensor {
  if (Array.isArray(data)) {
    switch (type) {
      case 'float32': data = Float32Array.from(data); break;
      case 'float64': data = Float64Array.from(data); break;
      case 'int64': data = BigInt64Array.from(data, (v) => BigInt(v)); break;
      case 'int32': data = Int32Array.from(data); break;
      case 'bool': data = Uint8Array.from(data); break;
    }
  }
  return { type, data, dims };
}

/** An ONNX Runtime inference session, created once and reused. */
export class Session {
  private constructor(private readonly session: InferenceSession, private readonly ort: OrtApi) {}

  static async create(model: ModelProto | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const backend = options.backend ?? await currentBackend();
    const bytes = model instanceof Uint8Array ? model : encodeModel(model);
    const opts: InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // Attribution runs change batch size between chunks; ORT's memory pattern re-plans (and faults in fresh pages)
      // for each new shape and was measured slower on the gradient graphs (bench/RESULTS.md).
      enableMemPattern: false,
      executionProviders: (options.providers ?? backend.defaultProviders()) as InferenceSession.SessionOptions['executionProviders'],
      ...backend.sessionOptions,
    };
    if (options.threads) opts.intraOpNumThreads = options.threads;
    try {
      return new Session(await backend.ort.InferenceSession.create(bytes, opts), backend.ort);
    } catch (e) {
      fail(`ONNX Runtime cannot load the model: ${firstLine((e as Error).message)}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, HostTensor>, fetches?: readonly string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor(t.type, t.data, t.dims);
    let result: InferenceSession.ReturnType;
    try {
      result = fetches ? await this.session.run(ortFeeds, fetches as string[]) : await this.session.run(ortFeeds);
    } catch (e) {
      fail(`ONNX Runtime failed to run the model: ${firstLine((e as Error).message)}`);
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { type: t.type as DType, data: t.data as TypedData, dims: [...t.dims] };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim())?.trim() ?? s;
}
