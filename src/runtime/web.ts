// The browser backend: onnxruntime-web. WASM (multi-threaded when the page is cross-origin isolated); WebGPU when the
// browser offers it and the caller asks for it. The ONNX Runtime build is loaded on first use, so a page that never
// runs a model does not download it; the .wasm files are fetched from `wasmPaths` (the web app ships them in ort/).
import type { Backend, OrtApi } from './session.js';
import { fail } from '../errors.js';

export interface WebBackendOptions {
  /** URL prefix of ONNX Runtime's .wasm/.mjs files (ending in '/'). */
  wasmPaths: string;
  /** WASM threads; default: all cores when cross-origin isolated, else 1. */
  threads?: number;
  /** Run on WebGPU (falls back to a clear error when the browser has none). */
  webgpu?: boolean;
}

interface OrtEnvLike { env: { wasm: { wasmPaths?: string; numThreads?: number; proxy?: boolean }; logLevel?: string } }

/** Whether the page (or worker) can use WASM threads: SharedArrayBuffer needs cross-origin isolation. */
export function canUseThreads(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer !== 'undefined';
}

export function hasWebGpu(): boolean {
  return typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu === 'object';
}

/** Loads onnxruntime-web and returns a backend for it (register it with registerBackend). */
export async function createWebBackend(options: WebBackendOptions): Promise<Backend & { threads: number; device: 'wasm' | 'webgpu' }> {
  if (options.webgpu && !hasWebGpu()) fail('this browser has no WebGPU (navigator.gpu); run on WASM instead');
  const ort = (options.webgpu ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm')) as unknown as OrtApi & OrtEnvLike;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const threads = canUseThreads() ? Math.max(1, options.threads ?? cores) : 1;
  ort.env.wasm.wasmPaths = options.wasmPaths;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const device = options.webgpu ? 'webgpu' as const : 'wasm' as const;
  return {
    name: 'web',
    ort,
    threads,
    device,
    defaultProviders: () => (device === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm']),
    // Measured on the BERT-base bench model (26 tokens, 50 steps, warm): 16.0–16.5 s with ONNX Runtime's memory
    // pattern against 16.9–17.1 s without; in Node it is off (runtime/session.ts).
    sessionOptions: { enableMemPattern: true },
  };
}
