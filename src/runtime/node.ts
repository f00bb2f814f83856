// The Node backend: onnxruntime-node (native CPU; CUDA with its CUDA binaries, see README).
import * as ort from 'onnxruntime-node';
import type { Backend, OrtApi } from './session.js';

export const nodeBackend: Backend = {
  name: 'node',
  ort: ort as unknown as OrtApi,
  /** GRADLENS_PROVIDERS=cuda,cpu selects execution providers without code changes; CPU otherwise. */
  defaultProviders(): string[] {
    const env = process.env['GRADLENS_PROVIDERS'];
    return env ? env.split(',').map((p) => p.trim()).filter(Boolean) : ['cpu'];
  },
};
