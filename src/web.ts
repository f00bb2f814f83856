// gradlens for browsers (package export "gradlens/web"): the core, onnxruntime-web, and model sources that work in a
// page (picked or dropped files, URLs, the Hub). Call useWebBackend() once before loading a model.
import { registerBackend } from './runtime/session.js';
import { createWebBackend, type WebBackendOptions } from './runtime/web.js';

export * from './core.js';
export { createWebBackend, canUseThreads, hasWebGpu, type WebBackendOptions } from './runtime/web.js';

/** Loads onnxruntime-web and makes it the backend of every session; returns what it runs on. */
export async function useWebBackend(options: WebBackendOptions): Promise<{ threads: number; device: 'wasm' | 'webgpu' }> {
  const backend = await createWebBackend(options);
  registerBackend(backend);
  return { threads: backend.threads, device: backend.device };
}
