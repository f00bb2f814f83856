// The only module that imports ONNX Runtime.
import * as ort from 'onnxruntime-node';
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
  /** Execution providers, e.g. ['cuda', 'cpu'] (CUDA needs onnxruntime-node's CUDA binaries, see README). */
  providers?: string[];
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
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(model: ModelProto | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const bytes = model instanceof Uint8Array ? model : encodeModel(model);
    const opts: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // Attribution runs change batch size between chunks; ORT's memory pattern re-plans (and faults in fresh pages)
      // for each new shape and was measured slower on the gradient graphs (bench/RESULTS.md).
      enableMemPattern: false,
      executionProviders: (options.providers ?? defaultProviders()) as ort.InferenceSession.SessionOptions['executionProviders'],
    };
    if (options.threads) opts.intraOpNumThreads = options.threads;
    try {
      return new Session(await ort.InferenceSession.create(bytes, opts));
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
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
    let result: ort.InferenceSession.ReturnType;
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

/** GRADLENS_PROVIDERS=cuda,cpu selects execution providers without code changes; CPU otherwise. */
function defaultProviders(): string[] {
  const env = process.env['GRADLENS_PROVIDERS'];
  return env ? env.split(',').map((p) => p.trim()).filter(Boolean) : ['cpu'];
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim())?.trim() ?? s;
}
